"""Score + aligned performance, shared by the alignment datasets (nasap, vienna4x22, batik)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import Performance
from deepperformer.core.score import Score, load_score

#: At least this share of the aligned score ids must exist in the score, or the pair is refused:
#: fewer means the score was unfolded differently from the alignment (or is another edition).
MIN_ID_COVERAGE = 0.9


@functools.lru_cache(maxsize=4)
def cached_score(path: str, unfold: str) -> Score:
    """The score at ``path`` with its features, parsed once per worker while it stays among the last
    four asked for: many performances share a score ((n)ASAP has up to 20 per piece, the Bach Violin
    Dataset up to 6 violinists per movement) and parsing it with its features is the slow part of
    preparing them (`prepare` hands the recordings of one score to one worker in a row). Callers
    must not modify the result."""
    return load_score(path, unfold=unfold, features=True)  # the renderer learns from the score features


def id_coverage(perf: Performance, score: Score) -> float:
    """Share of the performance's aligned score ids that exist in ``score``."""
    ids = perf.notes["score_id"]
    ids = ids[ids != ""]
    return float(np.isin(ids, score.notes["id"]).mean()) if len(ids) else 0.0


def load_aligned_score(score_path: str | Path, perf: Performance, unfold: str, alignment_path: str | Path) -> Score:
    """Load the score an alignment refers to and check that the note ids agree."""
    score = cached_score(str(score_path), unfold)
    cov = id_coverage(perf, score)
    if cov < MIN_ID_COVERAGE:
        raise DeepPerformerError(
            alignment_path, f"only {cov:.0%} of the aligned score ids exist in {score_path} (unfold={unfold})"
        )
    return score
