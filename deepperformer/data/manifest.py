"""The one manifest format: a CSV with one row per clip.

Audio datasets have one row per 5-second clip of a recording; alignment-only datasets (nasap,
vienna4x22, batik: no audio) have one row per whole performance, with empty ``audio`` and ``mel``.
Paths are relative to the manifest's folder. Per-recording caches live in ``recordings/<id>/``:
``audio.flac`` (16 kHz mono), ``mel.npy`` (float16 ``[T_frames, n_mels]``), ``performance.npz``
(:class:`~deepperformer.core.performance.Performance`) and, when the score is known, ``score.npz``.
A clip's notes are the performance notes overlapping ``[start_sec, end_sec)``.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from deepperformer.core.atomic import atomic_path
from deepperformer.core.errors import DeepPerformerError, require_file

SPLITS = ("train", "validation", "test")
INSTRUMENTS = ("piano", "violin")


@dataclass
class ClipRow:
    clip_id: str  # "<recording>/<index>"
    dataset: str
    recording: str
    piece: str  # the unit of the train/validation/test split
    performer: str
    instrument: str
    split: str
    audio: str  # cached 16 kHz FLAC of the whole recording ("" for alignment-only datasets)
    mel: str  # cached log-mel .npy of the whole recording ("")
    performance: str  # performance.npz of the whole recording
    score: str  # score.npz ("" when no score is known)
    start_sec: float  # clip span inside the cached recording
    end_sec: float
    start_frame: int  # the same span in mel frames
    end_frame: int
    n_notes: int  # performance notes overlapping the clip
    tempo_qpm: float  # the recording's global tempo in quarter notes per minute, 0 if unknown
    source: str  # the original file (audio, or performance for alignment-only datasets)
    source_offset_sec: float  # where the recording starts inside ``source``

    @property
    def duration(self) -> float:
        return self.end_sec - self.start_sec


COLUMNS = tuple(f.name for f in fields(ClipRow))
_TYPES = {f.name: f.type for f in fields(ClipRow)}


def write_manifest(path: str | Path, rows: list[ClipRow]) -> None:
    """Write rows atomically, sorted by clip id for stable diffs."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        for r in sorted(rows, key=lambda r: (r.recording, r.start_sec)):
            d = asdict(r)
            d["start_sec"], d["end_sec"] = f"{r.start_sec:.6f}", f"{r.end_sec:.6f}"
            d["source_offset_sec"] = f"{r.source_offset_sec:.6f}"
            d["tempo_qpm"] = f"{r.tempo_qpm:.3f}"
            w.writerow(d)


def read_manifest(path: str | Path) -> list[ClipRow]:
    """Read and check a manifest; raises DeepPerformerError on a wrong header or bad value."""
    path = require_file(path, "manifest")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise DeepPerformerError(path, f"not a deepperformer manifest (columns {reader.fieldnames})")
        rows = []
        for i, d in enumerate(reader, start=2):
            try:
                row = ClipRow(
                    **{k: (float(v) if _TYPES[k] == "float" else int(v) if _TYPES[k] == "int" else v) for k, v in d.items()}
                )
            except (TypeError, ValueError) as e:
                raise DeepPerformerError(path, f"line {i}: bad value ({e})") from None
            if row.split not in SPLITS:
                raise DeepPerformerError(path, f"line {i}: unknown split {row.split!r}")
            rows.append(row)
    return rows
