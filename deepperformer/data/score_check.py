"""Load every score of the datasets at hand, or of any folder of scores, and report which load and which
fail (and why).

Each dataset's scores are read the way its alignments need them: (n)ASAP, Batik and Bach Violin
unfolded maximally, Vienna 4x22 as written. Any other folder (the corpus in the music21 wheel, a user's
collection) is searched recursively for score files, read as ``synthesize`` reads them. For every
file that fails, partitura alone is tried too: the pass rate that matters is over the files partitura
itself can read.
"""

from __future__ import annotations

import csv
import multiprocessing as mp
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

from deepperformer.core.atomic import atomic_path
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.score import SCORE_SUFFIXES, load_score
from deepperformer.data import match_corpus, nasap
from deepperformer.data.base import read_csv_rows


def score_files(root: Path, work: Path) -> list[tuple[str, Path, str]]:
    """(dataset, score path, unfold mode) for every score under a data folder of the four datasets."""
    out: list[tuple[str, Path, str]] = []
    if (root / "nasap" / "metadata.csv").exists():
        nroot = root / "nasap"
        rows = read_csv_rows(nroot / "metadata.csv", ("folder", "xml_score"))
        data = nasap.data_folder(nroot, rows, work)
        out += [("nasap", data / x, "maximal") for x in sorted({r["xml_score"] for r in rows})]
    if (root / "vienna4x22" / "musicxml").is_dir():
        out += [("vienna4x22", p, "none") for p in sorted((root / "vienna4x22" / "musicxml").glob("*.musicxml"))]
    if (root / "batik").is_dir():
        broot = match_corpus.batik_root(root / "batik", work)
        out += [("batik", p, "maximal") for p in sorted((broot / "scores").glob("*.musicxml"))]
    if (root / "bach-violin" / "scores").is_dir():
        out += [("bach-violin", p, "maximal") for p in sorted((root / "bach-violin" / "scores").glob("*/*.mxl"))]
    if not out:  # any folder of scores
        out = [("folder", p, "maximal") for p in sorted(root.rglob("*")) if p.suffix.lower() in SCORE_SUFFIXES and p.is_file()]
    if not out:
        raise DeepPerformerError(root, "no score files found (nor nasap/, vienna4x22/, batik/ or bach-violin/)")
    return out


def _partitura_reads(path: Path) -> bool:
    import warnings

    import partitura as pt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pt.load_score(str(path))
            return True
        except Exception:  # noqa: BLE001 - any failure means partitura cannot read it either
            return False


def _check(item: tuple[str, Path, str]) -> tuple[str, str, str, int, str, bool]:
    """(dataset, path, unfold, notes, error, partitura alone reads it)."""
    import warnings

    dataset, path, unfold = item
    if not path.exists():
        return dataset, str(path), unfold, 0, f"{path}: score file not found", False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a repeat fallback is a warning, and the file loads
            return dataset, str(path), unfold, len(load_score(path, unfold=unfold)), "", True
    except DeepPerformerError as e:
        return dataset, str(path), unfold, 0, str(e), _partitura_reads(path)
    except Exception as e:  # report, do not stop: this is a survey
        return dataset, str(path), unfold, 0, f"{path}: unexpected error ({type(e).__name__}: {e})", _partitura_reads(path)


def check_scores(root: Path, out_csv: Path | None, work: Path, workers: int = 1, sample: int | None = None) -> dict:
    """Load the scores (``sample``: at most that many, evenly spaced); -> counts per dataset, errors,
    and the pass rate over the files partitura itself reads."""
    items = score_files(root, work)
    if sample and sample < len(items):
        items = [items[round(i * (len(items) - 1) / max(sample - 1, 1))] for i in range(sample)]
    results = []
    with tqdm(total=len(items), desc="load scores", unit="score", dynamic_ncols=True) as bar:
        if workers > 1:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as ex:
                for r in ex.map(_check, items):
                    results.append(r)
                    bar.update(1)
        else:
            for it in items:
                results.append(_check(it))
                bar.update(1)
    if out_csv:
        with atomic_path(out_csv) as tmp, open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["dataset", "path", "unfold", "notes", "error", "partitura_reads"])
            w.writerows(results)
    ok, failed = Counter(), Counter()
    for d, _, _, _, err, _ in results:
        (failed if err else ok)[d] += 1
    readable = [r for r in results if r[5]]
    rate = sum(1 for r in readable if not r[4]) / len(readable) if readable else float("nan")
    return {
        "ok": dict(ok),
        "failed": dict(failed),
        "errors": [r[4] for r in results if r[4]],
        "partitura_reads": len(readable),
        "pass_rate": rate,
        "failed_partitura_reads": [r[4] for r in readable if r[4]],
    }
