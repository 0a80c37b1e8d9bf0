"""What every dataset module provides, and the options they share."""

from __future__ import annotations

import csv
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deepperformer.core.errors import DeepPerformerError
from deepperformer.data.manifest import ClipRow
from deepperformer.data.recording import Recording


@dataclass
class PrepareOptions:
    """Options of ``deepperformer prepare`` that dataset modules read."""

    baroque_tuning: str = "transpose"  # bach-violin: transpose | keep | skip
    all_alignments: bool = False  # nasap: also rows without robust_note_alignment == 1
    piano_hours: float = 2.2  # synthetic: audio to render per instrument
    violin_hours: float = 1.1
    sources: dict[str, str] = field(default_factory=dict)  # synthetic: dataset name -> folder
    fixed_splits: dict[str, str] = field(default_factory=dict)  # piece -> split from --splits (set by prepare)


@dataclass
class DatasetSpec:
    """A dataset module's entry points.

    ``find(root, out, options)`` checks the layout (raising DeepPerformerError for an unknown one,
    before anything is written) and returns the recordings plus remarks for the summary.
    ``process(rec, out)`` loads and caches one recording (module-level, run in workers).
    ``official_split(rec)``: the dataset's own split for a recording, or None to split by piece.
    """

    name: str
    has_audio: bool
    find: Callable[[Path, Path, PrepareOptions], tuple[list[Recording], list[str]]]
    process: Callable[[Recording, Path], list[ClipRow]]
    official_split: Callable[[Recording], str | None] = lambda rec: None
    description: str = ""


def read_csv_rows(path: Path, required: tuple[str, ...]) -> list[dict]:
    """Rows of a metadata CSV, checking that the columns exist."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise DeepPerformerError(path, f"missing columns {missing}: not the expected layout")
        return list(reader)


def extracted_root(root: Path, archive: str, inner: str, marker: str, out: Path) -> Path:
    """Return the folder holding the dataset: ``root`` itself if ``marker`` is there, else the
    ``inner`` folder of ``root/archive`` extracted (once) under ``out/_source``."""
    if (root / marker).exists():
        return root
    tar = root / archive
    if not tar.exists():
        raise DeepPerformerError(root, f"unknown layout: neither {marker} nor {archive} found")
    dest = out / "_source" / Path(archive).name.split(".")[0]
    done = dest / ".extracted"
    if not done.exists():
        dest.mkdir(parents=True, exist_ok=True)
        try:
            with tarfile.open(tar) as t:
                t.extractall(dest, filter="data")
        except (tarfile.TarError, OSError) as e:
            raise DeepPerformerError(tar, f"cannot extract archive ({e})") from None
        done.touch()
    target = dest / inner if inner else dest
    if not (target / marker).exists():
        raise DeepPerformerError(tar, f"archive does not contain {inner + '/' if inner else ''}{marker}")
    return target
