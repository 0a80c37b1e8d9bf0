"""Run per-recording work in worker processes, with a progress bar and resumable results.

Each unit's result is saved as ``recordings/<id>/rows.json`` once all its files are written, so an
interrupted run picks up where it stopped: units with a rows.json are not done again.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from deepperformer.core.atomic import write_json
from deepperformer.core.errors import DeepPerformerError
from deepperformer.data.manifest import ClipRow
from deepperformer.data.recording import Recording, recording_dir


def _init_worker() -> None:
    import torch

    # Parallelism comes from the processes; more threads per process would only oversubscribe.
    torch.set_num_threads(1)


def _run_one(fn: Callable, rec: Recording, out: Path) -> tuple[str, list[dict] | None, str | None]:
    try:
        rows = fn(rec, out)
    except DeepPerformerError as e:
        return rec.rec_id, None, str(e)
    except Exception as e:  # a bug or an unexpected file: report it against the recording, keep going
        return rec.rec_id, None, f"{rec.source}: unexpected error ({type(e).__name__}: {e})"
    dicts = [asdict(r) for r in rows]
    write_json(recording_dir(out, rec.rec_id) / "rows.json", dicts)
    return rec.rec_id, dicts, None


def _run_group(fn: Callable, recs: list[Recording], out: Path) -> list[tuple[str, list[dict] | None, str | None]]:
    return [_run_one(fn, rec, out) for rec in recs]


def group_recordings(recs: list[Recording], key: Callable[[Recording], str] | None) -> list[list[Recording]]:
    """``recs`` in groups of equal ``key`` (in order of first appearance; one group per recording without a key).

    >>> rs = [Recording(f"r{i}", "d", "p", "x", "piano", "s", extra={"score": s}) for i, s in enumerate("abab")]
    >>> [[r.rec_id for r in g] for g in group_recordings(rs, lambda r: r.extra["score"])]
    [['r0', 'r2'], ['r1', 'r3']]
    """
    if key is None:
        return [[r] for r in recs]
    groups: dict[str, list[Recording]] = {}
    for r in recs:
        groups.setdefault(key(r), []).append(r)
    return list(groups.values())


def run_recordings(
    fn: Callable[[Recording, Path], list[ClipRow]],
    recs: list[Recording],
    out: Path,
    workers: int = 1,
    strict: bool = False,
    desc: str = "prepare",
    group_by: Callable[[Recording], str] | None = None,
) -> tuple[list[ClipRow], list[tuple[str, str]], int]:
    """Process ``recs`` with ``fn(rec, out)``; return (rows, failures [(rec_id, message)], n_resumed).

    ``fn`` must be a module-level function (it is sent to worker processes). With ``strict``, the
    first failure raises DeepPerformerError (finished recordings stay cached for a resume).
    ``group_by``: recordings with the same key (their score) go to one worker, one after the other,
    so a score that many performances share is parsed once (the workers cache the last scores they
    read) instead of once in every worker.
    """
    rows: list[ClipRow] = []
    failures: list[tuple[str, str]] = []
    todo = []
    resumed = 0
    for rec in recs:
        done = recording_dir(out, rec.rec_id) / "rows.json"
        if done.exists():
            rows += [ClipRow(**d) for d in json.loads(done.read_text())]
            resumed += 1
        else:
            todo.append(rec)

    def collect(rec_id, dicts, err):
        if err is not None:
            if strict:
                raise DeepPerformerError(None, err)
            failures.append((rec_id, err))
            tqdm.write(f"skipped {rec_id}: {err}", file=sys.stderr)
        else:
            rows.extend(ClipRow(**d) for d in dicts)

    bar = tqdm(total=len(recs), initial=resumed, desc=desc, unit="rec", dynamic_ncols=True)
    try:
        groups = group_recordings(todo, group_by)
        if workers <= 1 or len(groups) <= 1:
            for rec in (r for g in groups for r in g):
                collect(*_run_one(fn, rec, out))
                bar.update(1)
        else:
            ctx = mp.get_context("spawn")  # torch is not fork-safe once its thread pools exist
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker) as ex:
                futures = [ex.submit(_run_group, fn, g, out) for g in groups]
                try:
                    for fut in as_completed(futures):
                        for result in fut.result():
                            collect(*result)
                            bar.update(1)
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
    finally:
        bar.close()
    return rows, failures, resumed
