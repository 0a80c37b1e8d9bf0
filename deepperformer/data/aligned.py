"""Score + aligned performance, shared by the alignment datasets (nasap, vienna4x22, batik)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from deepperformer.errors import DeepPerformerError
from deepperformer.performance import Performance
from deepperformer.score import Score, load_score

#: At least this share of the aligned score ids must exist in the score, or the pair is refused:
#: fewer means the score was unfolded differently from the alignment (or is another edition).
MIN_ID_COVERAGE = 0.9


@functools.lru_cache(maxsize=4)
def _cached_score(path: str, unfold: str) -> Score:
    # Many performances share a score ((n)ASAP has up to 20 per piece); parsing it is the slow part.
    return load_score(path, unfold=unfold)


def id_coverage(perf: Performance, score: Score) -> float:
    """Share of the performance's aligned score ids that exist in ``score``."""
    ids = perf.notes["score_id"]
    ids = ids[ids != ""]
    return float(np.isin(ids, score.notes["id"]).mean()) if len(ids) else 0.0


def estimate_tempo(perf: Performance, score: Score) -> float:
    """Global tempo (quarter notes per minute) of an aligned performance: the slope of a robust line
    through (score onset in quarters, performed onset in seconds) over the matched notes; 0 if fewer
    than two distinct score onsets are matched."""
    q_of = dict(zip(score.notes["id"], score.notes["onset_quarter"]))
    pairs = np.array([(q_of[i], t) for i, t in zip(perf.notes["score_id"], perf.notes["onset_sec"]) if i in q_of])
    if len(pairs) < 2 or np.ptp(pairs[:, 0]) <= 0:
        return 0.0
    # Theil-Sen on consecutive distinct onsets: robust to the odd misaligned note.
    q, t = pairs[np.argsort(pairs[:, 0])].T
    keep = np.concatenate([[True], np.diff(q) > 0])
    q, t = q[keep], t[keep]
    slopes = np.diff(t) / np.diff(q)
    sec_per_quarter = float(np.median(slopes[slopes > 0])) if np.any(slopes > 0) else 0.0
    return 60.0 / sec_per_quarter if sec_per_quarter > 0 else 0.0


def load_aligned_score(score_path: str | Path, perf: Performance, unfold: str, alignment_path: str | Path) -> Score:
    """Load the score an alignment refers to and check that the note ids agree."""
    score = _cached_score(str(score_path), unfold)
    cov = id_coverage(perf, score)
    if cov < MIN_ID_COVERAGE:
        raise DeepPerformerError(alignment_path, f"only {cov:.0%} of the aligned score ids exist in {score_path} (unfold={unfold})")
    return score
