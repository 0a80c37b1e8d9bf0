"""Assertions shared by the test modules."""

from __future__ import annotations

from pathlib import Path


def assert_one_line_error(code: int, err: str, out_file: Path, *fragments: str) -> None:
    """Bad input: exit code 2, one line on stderr naming what it must, no traceback, and neither the
    output file nor a temporary file of it left behind."""
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for f in fragments:
        assert f in err, err
    assert not out_file.exists() and not list(out_file.parent.glob(f".{out_file.name}*"))
