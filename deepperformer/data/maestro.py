"""MAESTRO v3.0.0 (official layout): ``maestro-v3.0.0.csv`` (or ``.json``) beside ``YYYY/*.midi`` and
``YYYY/*.wav``. The official train/validation/test split is kept; the competition year is the
performer (as in the paper). A piece is composer + title; where the official split puts one piece in
several splits, all its recordings go to the most held-out of them, so no piece crosses splits.
"""

from __future__ import annotations

import json
from pathlib import Path

from deepperformer.audio.io import load_audio
from deepperformer.audio.mel import MelConfig
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import load_performance_midi
from deepperformer.data.base import DatasetSpec, PrepareOptions, read_csv_rows
from deepperformer.data.naming import slug
from deepperformer.data.recording import Recording, cache_recording

COLUMNS = ("canonical_composer", "canonical_title", "split", "year", "midi_filename", "audio_filename", "duration")
HELD_OUT_ORDER = {"test": 2, "validation": 1, "train": 0}


def read_metadata(root: Path) -> list[dict]:
    """Rows of maestro-v*.csv, or of the column-oriented maestro-v*.json."""
    csvs = sorted(root.glob("maestro-v*.csv"))
    if csvs:
        return read_csv_rows(csvs[-1], COLUMNS)
    jsons = sorted(root.glob("maestro-v*.json"))
    if not jsons:
        raise DeepPerformerError(root, "unknown layout: no maestro-v*.csv or maestro-v*.json found")
    try:
        doc = json.loads(jsons[-1].read_text(encoding="utf-8"))
        keys = list(doc[COLUMNS[0]].keys())
        return [{c: str(doc[c][k]) for c in COLUMNS} for k in keys]
    except (json.JSONDecodeError, KeyError, AttributeError, TypeError) as e:
        raise DeepPerformerError(jsons[-1], f"not a MAESTRO metadata file ({type(e).__name__}: {e})") from None


def find(root: Path, out: Path, opts: PrepareOptions) -> tuple[list[Recording], list[str]]:
    rows = read_metadata(root)
    recs, missing = [], 0
    piece_split: dict[str, str] = {}
    for row in rows:
        midi, audio = root / row["midi_filename"], root / row["audio_filename"]
        if not midi.exists() or not audio.exists():
            missing += 1
            continue
        split = row["split"].strip()
        if split not in HELD_OUT_ORDER:
            raise DeepPerformerError(root, f"unknown split {split!r} for {row['midi_filename']}")
        piece = f"{row['canonical_composer']} - {row['canonical_title']}"
        if HELD_OUT_ORDER[split] > HELD_OUT_ORDER.get(piece_split.get(piece, "train"), 0):
            piece_split[piece] = split
        piece_split.setdefault(piece, split)
        recs.append(
            Recording(
                rec_id=slug(Path(row["midi_filename"]).with_suffix("").as_posix()),
                dataset="maestro",
                piece=piece,
                performer=f"maestro-{row['year'].strip()}",
                instrument="piano",
                source=str(audio),
                seconds=float(row["duration"] or 0.0),
                extra={"midi": str(midi), "split": split},
            )
        )
    moved = 0
    for rec in recs:
        if rec.extra["split"] != piece_split[rec.piece]:
            rec.extra["split"] = piece_split[rec.piece]
            moved += 1
    remarks = [f"{missing} of {len(rows)} recordings skipped: MIDI or audio file not present"]
    if moved:
        remarks.append(f"{moved} recordings moved to a more held-out split so that no piece is in two splits")
    return recs, remarks


def process(rec: Recording, out: Path) -> list:
    perf = load_performance_midi(rec.extra["midi"])
    cfg = MelConfig()
    audio = load_audio(rec.source, cfg.sample_rate)
    return cache_recording(out, rec, perf, audio=audio, mel_config=cfg, alignment_source=rec.extra["midi"])


SPEC = DatasetSpec(
    "maestro",
    True,
    find,
    process,
    official_split=lambda rec: rec.extra["split"],
    description="MAESTRO v3.0.0: piano audio + performance MIDI (official splits)",
)
