"""The one error type users see.

Every problem with a user's input (a missing file, a score that does not parse, an alignment longer
than its audio, an unknown dataset layout) is raised as :class:`DeepPerformerError`, naming the file
and the problem. The command line prints it as one line and exits with code 2, without a traceback.
"""

from __future__ import annotations

from pathlib import Path

EXIT_BAD_INPUT = 2


class DeepPerformerError(Exception):
    """A problem with an input file or folder, reported as ``"<path>: <problem>"``."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = str(path) if path is not None else None
        # Keep it to one line: error messages from libraries can span several.
        self.problem = " ".join(str(problem).split())
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}" if self.path else self.problem


class DeepPerformerWarning(UserWarning):
    """Input that could be used, but not as asked (repeats played as written, a feature left out):
    the command line shows it as one line ``deepperformer: warning: <file>: <what happened>``."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = str(path) if path is not None else None
        self.problem = " ".join(str(problem).split())
        super().__init__(f"{self.path}: {self.problem}" if self.path else self.problem)


def require_file(path: str | Path, what: str = "file") -> Path:
    """Return ``path`` as a Path if it is an existing file, else raise a DeepPerformerError."""
    p = Path(path)
    if not p.exists():
        raise DeepPerformerError(p, f"{what} not found")
    if not p.is_file():
        raise DeepPerformerError(p, f"{what} is not a file")
    if p.stat().st_size == 0:
        raise DeepPerformerError(p, f"{what} is empty")
    return p


def require_dir(path: str | Path, what: str = "folder") -> Path:
    """Return ``path`` as a Path if it is an existing folder, else raise a DeepPerformerError."""
    p = Path(path)
    if not p.exists():
        raise DeepPerformerError(p, f"{what} not found")
    if not p.is_dir():
        raise DeepPerformerError(p, f"{what} is not a folder")
    return p
