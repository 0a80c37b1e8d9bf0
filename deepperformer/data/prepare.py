"""``deepperformer prepare DATASET ROOT -o OUT``: one dataset in its official layout -> manifest.

Writes into OUT: ``manifest.csv`` (:mod:`deepperformer.data.manifest`), ``splits.json`` (the
held-out pieces), ``mel_config.json``, ``recordings/<id>/`` caches, ``skipped.csv`` (recordings that
failed, with the reason) and ``summary.json`` (counts per performer and split). Interrupted runs
resume: finished recordings are not done again, and the manifest is written last.
"""

from __future__ import annotations

import csv
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from deepperformer.audio.mel import MelConfig
from deepperformer.core.atomic import atomic_path, write_json
from deepperformer.core.errors import DeepPerformerError, require_dir
from deepperformer.core.performance import Performance
from deepperformer.core.plots import save_mel_with_notes
from deepperformer.data import bach_violin, maestro, match_corpus, nasap, synthetic
from deepperformer.data.base import DatasetSpec, PrepareOptions
from deepperformer.data.manifest import write_manifest
from deepperformer.data.parallel import run_recordings
from deepperformer.data.splits import (
    assign_splits,
    load_splits,
    piece_durations,
    save_splits,
)

DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        bach_violin.SPEC,
        bach_violin.SPEC_TIMING,
        maestro.SPEC,
        nasap.SPEC,
        match_corpus.VIENNA,
        match_corpus.BATIK,
        synthetic.SPEC,
    )
}


def get_dataset(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DeepPerformerError(None, f"unknown dataset {name!r} (choose from {', '.join(DATASETS)})")
    return DATASETS[name]


def prepare(
    name: str,
    root: str | Path,
    out: str | Path,
    workers: int = 1,
    strict: bool = False,
    splits_file: str | Path | None = None,
    limit: int | None = None,
    options: PrepareOptions | None = None,
    log=print,
) -> dict:
    """Prepare one dataset; returns the summary (also written to OUT/summary.json)."""
    spec = get_dataset(name)
    root, out = require_dir(root, "dataset folder").resolve(), Path(out)
    options = options or PrepareOptions()
    fixed = load_splits(splits_file) if splits_file else {}
    options.fixed_splits = fixed
    t0 = time.time()
    recs, remarks = spec.find(root, out, options)  # checks the layout before anything is written
    if limit:
        recs = recs[:limit]
    if not recs:
        raise DeepPerformerError(root, "no recordings to prepare")
    out.mkdir(parents=True, exist_ok=True)
    _check_mel_config(out / "mel_config.json", MelConfig())

    piece_seconds = piece_durations(recs)
    official = {r.piece: spec.official_split(r) for r in recs}
    if all(v is not None for v in official.values()):
        splits = official
    else:
        splits = assign_splits(piece_seconds, fixed=fixed)
    save_splits(out / "splits.json", splits, piece_seconds)
    for line in remarks:
        log(line)

    rows, failures, resumed = run_recordings(
        spec.process, recs, out, workers=workers, strict=strict, desc=f"prepare {name}", group_by=_score_of
    )
    if resumed:
        log(f"resumed: {resumed} recordings were already prepared")
    for r in rows:
        r.split = splits[r.piece]
    write_manifest(out / "manifest.csv", rows)
    _write_skipped(out / "skipped.csv", failures)
    write_previews(out, rows)
    summary = summarize(name, rows, failures, remarks, time.time() - t0)
    write_json(out / "summary.json", summary)
    return summary


def write_previews(out: Path, rows) -> None:
    """One PNG per performer in OUT/previews: the mel of a clip above its notes (audio corpora only)."""

    cfg = MelConfig()
    first: dict[str, object] = {}
    for r in sorted((r for r in rows if r.mel), key=lambda r: (r.recording, r.start_sec)):
        cur = first.get(r.performer)
        # the second clip of the performer's first recording: the first clip often starts in silence
        if cur is None or (cur.recording == r.recording and cur.start_sec == 0 and r.start_sec > 0):
            first[r.performer] = r
    for performer, r in first.items():
        mel = np.load(out / r.mel, mmap_mode="r")[r.start_frame : r.end_frame]
        perf = Performance.load(out / r.performance).window(r.start_sec, r.end_sec)
        save_mel_with_notes(
            np.asarray(mel), perf, out / "previews" / f"{performer}.png", cfg.frame_seconds, title=f"{r.clip_id} ({performer})"
        )


def _check_mel_config(path: Path, cfg: MelConfig) -> None:
    if path.exists():
        try:
            old = MelConfig.from_dict(json.loads(path.read_text()))
        except (json.JSONDecodeError, ValueError, TypeError) as e:
            raise DeepPerformerError(path, f"unreadable mel config ({e})") from None
        cfg.check_compatible(old, path, "this output folder")
    else:
        write_json(path, cfg.to_dict())


def _write_skipped(path: Path, failures: list[tuple[str, str]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["recording", "reason"])
        w.writerows(sorted(failures))


def _score_of(rec) -> str:
    """The score a recording is aligned to (the recordings of one score are prepared by one worker)."""
    return str(rec.extra.get("score") or rec.rec_id)


def summarize(name: str, rows, failures, remarks, seconds: float) -> dict:
    """Counts of clips and hours per performer and split."""
    table: dict[str, dict[str, dict[str, float]]] = defaultdict(
        lambda: defaultdict(lambda: {"recordings": 0, "clips": 0, "hours": 0.0})
    )
    recs_seen = set()
    for r in rows:
        cell = table[r.performer][r.split]
        cell["clips"] += 1
        cell["hours"] += r.duration / 3600
        if r.recording not in recs_seen:
            recs_seen.add(r.recording)
            cell["recordings"] += 1
    by_instrument: dict[str, float] = defaultdict(float)
    for r in rows:
        by_instrument[r.instrument] += r.duration / 3600
    return {
        "dataset": name,
        "recordings": len(recs_seen),
        "clips": len(rows),
        "hours": round(sum(r.duration for r in rows) / 3600, 4),
        "hours_per_instrument": {k: round(v, 4) for k, v in by_instrument.items()},
        "failed": len(failures),
        "remarks": remarks,
        "wall_seconds": round(seconds, 1),
        "per_performer": {
            p: {s: {k: round(v, 4) for k, v in c.items()} for s, c in sorted(d.items())} for p, d in sorted(table.items())
        },
    }


def format_summary(summary: dict) -> str:
    """The summary as a plain-text table (performer x split: recordings / clips / minutes)."""
    splits = ("train", "validation", "test")
    # a cell can pass 24 characters ("28 rec 1459 clips 120.9 min"): one space before every cell keeps
    # the columns apart
    lines = [f"{'performer':<28}" + "".join(f" {s:>28}" for s in splits)]
    for perf, cells in summary["per_performer"].items():
        row = f"{perf:<28}"
        for s in splits:
            c = cells.get(s)
            cell = f"{int(c['recordings'])} rec {int(c['clips'])} clips {c['hours'] * 60:.1f} min" if c else "-"
            row += f" {cell:>28}"
        lines.append(row)
    lines.append(
        f"total: {summary['recordings']} recordings, {summary['clips']} clips, {summary['hours'] * 60:.1f} min "
        f"({', '.join(f'{k} {v:.2f} h' for k, v in summary['hours_per_instrument'].items())}); "
        f"{summary['failed']} failed; {summary['wall_seconds']:.0f} s"
    )
    return "\n".join(lines)
