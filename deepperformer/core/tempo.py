"""Global tempo of a performance aligned with its score (data preparation and stage 1 both use it)."""

from __future__ import annotations

import numpy as np

from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import Performance
from deepperformer.core.score import Score

#: Tempos a user may ask for (--tempo), in quarter notes per minute.
QPM_RANGE = (10.0, 400.0)


def check_qpm(qpm: float | None, option: str = "--tempo") -> None:
    """A one-line error for a tempo outside QPM_RANGE (None: no tempo asked for)."""
    lo, hi = QPM_RANGE
    if qpm is not None and not (lo <= qpm <= hi):
        raise DeepPerformerError(None, f"{option} {qpm}: expected {lo:g}..{hi:g} quarter notes per minute")


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
