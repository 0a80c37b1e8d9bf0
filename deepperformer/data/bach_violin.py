"""Bach Violin Dataset (official layout): info.csv, audio/, notes/, alignments/, tempos/, scores/.

Each info.csv row is a movement slice [start, end] of ``audio/<collection>/<source_filename>``;
notes are at 24 ticks per quarter with repeats expanded, alignments in seconds from the slice start.
Movements whose audio is absent are skipped and counted.

``baroque_tuning``: 35 movements were played about a semitone flat (A = 415 Hz) while their note
pitches are written at concert pitch. Default "transpose": the performance pitches of those
movements are lowered by one semitone so that the notes name what sounds (the score keeps the
written pitches); "keep" leaves them; "skip" drops those movements.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepperformer.audio.io import load_audio
from deepperformer.audio.mel import MelConfig
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import load_bach_violin
from deepperformer.data.base import DatasetSpec, PrepareOptions, read_csv_rows
from deepperformer.data.naming import hms_to_seconds
from deepperformer.data.recording import Recording, cache_recording

INFO_COLUMNS = ("filename", "collection", "violinist", "work", "mov", "source_filename", "start", "end", "baroque_tuning")
TICKS_PER_QUARTER = 24


def movement_files(root: Path, row: dict) -> tuple[Path, Path, Path]:
    """(notes CSV, alignment CSV, tempo TXT) of one info.csv row."""
    c, f = row["collection"], row["filename"]
    return root / "notes" / c / f"{f}.csv", root / "alignments" / c / f"{f}.csv", root / "tempos" / c / f"{f}.txt"


def read_tempo(path: Path) -> float:
    """The movement's global tempo (quarter notes per minute) from ``tempos/<c>/<f>.txt``; 0 if absent."""
    if not path.exists():
        return 0.0
    try:
        return float(path.read_text().strip())
    except ValueError:
        raise DeepPerformerError(path, "tempo file does not hold a number") from None


def piece_id(row: dict) -> str:
    return f"{row['work'].lower()}_mov{row['mov']}"


def read_info(root: Path) -> list[dict]:
    info = root / "info.csv"
    if not info.exists() or not (root / "notes").is_dir():
        raise DeepPerformerError(root, "unknown layout: not a Bach Violin Dataset folder (info.csv and notes/ expected)")
    return read_csv_rows(info, INFO_COLUMNS)


def movement_recording(row: dict, dataset: str, **fields) -> Recording:
    """The :class:`Recording` of one info.csv row (its id, piece and violinist), with ``fields``."""
    return Recording(
        rec_id=row["filename"], dataset=dataset, piece=piece_id(row), performer=row["violinist"], instrument="violin", **fields
    )


def find(root: Path, out: Path, opts: PrepareOptions) -> tuple[list[Recording], list[str]]:
    rows = read_info(root)
    recs, no_audio, baroque_skipped = [], 0, 0
    for row in rows:
        audio = root / "audio" / row["collection"] / row["source_filename"]
        if not audio.exists():
            no_audio += 1
            continue
        baroque = row["baroque_tuning"].strip() == "1"
        if baroque and opts.baroque_tuning == "skip":
            baroque_skipped += 1
            continue
        start, end = hms_to_seconds(row["start"], root / "info.csv"), hms_to_seconds(row["end"], root / "info.csv")
        notes, align, tempo = movement_files(root, row)
        recs.append(
            movement_recording(
                row,
                "bach-violin",
                source=str(audio),
                source_offset_sec=start,
                seconds=end - start,
                tempo_qpm=read_tempo(tempo),
                extra={
                    "notes": str(notes),
                    "alignment": str(align),
                    "end": end,
                    "transpose": -1 if (baroque and opts.baroque_tuning == "transpose") else 0,
                },
            )
        )
    remarks = [f"{no_audio} of {len(rows)} movements skipped: audio not present"]
    if baroque_skipped:
        remarks.append(f"{baroque_skipped} baroque-tuning movements skipped (--baroque-tuning skip)")
    return recs, remarks


def process(rec: Recording, out: Path) -> list:
    x = rec.extra
    score, perf = load_bach_violin(x["notes"], x["alignment"], TICKS_PER_QUARTER)
    if x["transpose"]:
        perf.notes["pitch"] += np.int16(x["transpose"])
    cfg = MelConfig()
    audio = load_audio(rec.source, cfg.sample_rate, offset=rec.source_offset_sec, duration=x["end"] - rec.source_offset_sec)
    return cache_recording(out, rec, perf, audio=audio, score=score, mel_config=cfg, alignment_source=x["alignment"])


SPEC = DatasetSpec("bach-violin", True, find, process, description="Bach Violin Dataset: real violin audio + note alignments")


# --- bach-violin-timing: every movement's alignment against its MusicXML score, for the renderer ---

#: At least this share of a movement's notes must be found in its MusicXML score (by onset and pitch).
MIN_MATCHED = 0.9


def score_path(root: Path, row: dict) -> Path:
    return root / "scores" / row["work"].lower() / f"{row['score_filename']}.mxl"


def find_timing(root: Path, out: Path, opts: PrepareOptions) -> tuple[list[Recording], list[str]]:
    """Every movement with notes, alignment and score, audio or not (timing needs no audio)."""
    rows = read_info(root)
    recs, missing = [], 0
    for row in rows:
        notes, align, tempo = movement_files(root, row)
        score = score_path(root, row)
        if not (notes.exists() and align.exists() and score.exists()):
            missing += 1
            continue
        recs.append(
            movement_recording(
                row,
                "bach-violin-timing",
                source=str(align),
                tempo_qpm=read_tempo(tempo),
                extra={"notes": str(notes), "alignment": str(align), "score": str(score)},
            )
        )
    return recs, [f"{missing} of {len(rows)} movements skipped: notes, alignment or score missing"] if missing else []


def relabel(perf, tick_score, score, source: Path):
    """``perf`` (aligned to the notes CSV's ids) with the MusicXML ``score``'s note ids instead, matched
    by onset (to 1/48 quarter, both scores starting at 0) and pitch, in order; unmatched notes keep
    no id. Raises DeepPerformerError when fewer than MIN_MATCHED of the notes are found."""
    index: dict[tuple[int, int], list[str]] = {}
    for sid, on, p in zip(score.notes["id"], score.notes["onset_quarter"], score.notes["pitch"]):
        index.setdefault((round(on * 48), int(p)), []).append(str(sid))
    t0 = float(tick_score.notes["onset_quarter"].min())
    where = {
        str(sid): (round((on - t0) * 48), int(p))
        for sid, on, p in zip(tick_score.notes["id"], tick_score.notes["onset_quarter"], tick_score.notes["pitch"])
    }
    ids = []
    for sid in perf.notes["score_id"]:
        candidates = index.get(where[str(sid)])  # the score's notes at that onset and pitch, in order
        ids.append(candidates.pop(0) if candidates else "")
    matched = sum(1 for i in ids if i) / max(len(ids), 1)
    if matched < MIN_MATCHED:
        raise DeepPerformerError(source, f"only {matched:.0%} of its notes found in {Path(score.source).name} by onset and pitch")
    perf.notes["score_id"] = ids
    return perf


def process_timing(rec: Recording, out: Path) -> list:
    from deepperformer.core.tempo import estimate_tempo
    from deepperformer.data.aligned import cached_score

    x = rec.extra
    tick_score, perf = load_bach_violin(x["notes"], x["alignment"], TICKS_PER_QUARTER)
    # The notes CSVs have the repeats the violinist played; the MusicXML unfolded with every repeat taken
    # is the same sequence (the `_XY` files were written out for the partial ones).
    score = cached_score(x["score"], "maximal")  # up to 6 violinists per movement: parsed once
    perf = relabel(perf, tick_score, score, Path(x["notes"]))
    return cache_recording(out, rec, perf, score=score, tempo_qpm=estimate_tempo(perf, score))


SPEC_TIMING = DatasetSpec(
    "bach-violin-timing",
    False,
    find_timing,
    process_timing,
    description="Bach Violin Dataset: all 105 movements' note alignments against their MusicXML scores (renderer timing)",
)
