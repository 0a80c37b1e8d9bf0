"""Stage 1 without expression: a score played at its marked tempo and dynamics."""

from __future__ import annotations

import numpy as np

from deepperformer.core.performance import (
    DEFAULT_QPM,
    DEFAULT_VELOCITY,
    DYNAMIC_VELOCITY,
    Performance,
    make_notes,
)
from deepperformer.core.score import Score

GRACE_SEC = 0.06  # length of a grace note in deadpan rendering, played just before its main note


def deadpan(score: Score, qpm: float | None = None, velocity: int | None = None) -> Performance:
    """Render a score mechanically: onsets and durations from the tempo markings, velocity from the
    dynamics markings.

    ``qpm``: a constant tempo overriding the markings; without markings DEFAULT_QPM (120) is used.
    ``velocity``: a constant velocity overriding the dynamics (DEFAULT_VELOCITY where none is marked).
    Grace notes last GRACE_SEC each and end where their main note starts. Score ids are kept.
    """
    n = score.notes
    if qpm is not None and qpm <= 0:
        raise ValueError("qpm must be positive")
    if qpm is not None or len(score.tempos) == 0:
        tempo_q = np.array([0.0])
        tempo_qpm = np.array([qpm or DEFAULT_QPM])
    else:
        tempo_q = np.concatenate([[0.0], score.tempos["onset_quarter"]])
        tempo_qpm = np.concatenate([[score.tempos["qpm"][0]], score.tempos["qpm"]])
        # The first marking also governs notes before it; repeated positions keep the last value.
        tempo_q, last = np.unique(tempo_q[::-1], return_index=True)
        tempo_qpm = tempo_qpm[::-1][last]
    sec_per_q = 60.0 / tempo_qpm
    seg_start_sec = np.concatenate([[0.0], np.cumsum(np.diff(tempo_q) * sec_per_q[:-1])])

    def to_sec(q: np.ndarray) -> np.ndarray:
        i = np.clip(np.searchsorted(tempo_q, q, side="right") - 1, 0, len(tempo_q) - 1)
        return seg_start_sec[i] + (q - tempo_q[i]) * sec_per_q[i]

    onset = to_sec(n["onset_quarter"])
    offset = to_sec(n["onset_quarter"] + n["duration_quarter"])
    duration = offset - onset
    grace = n["is_grace"]
    if grace.any():
        # Each run of grace notes sharing an onset is played in order right before that onset.
        for q in np.unique(n["onset_quarter"][grace]):
            idx = np.flatnonzero(grace & (n["onset_quarter"] == q))
            idx = idx[np.argsort(n["grace_order"][idx], kind="stable")]
            k = len(idx)
            onset[idx] = onset[idx] - GRACE_SEC * (k - np.arange(k))
            duration[idx] = GRACE_SEC
    # Nothing may start before 0 (a grace note on the first beat).
    onset -= min(0.0, float(onset.min()))
    if velocity is not None:
        vel = np.full(len(n), int(velocity))
    else:
        vel = np.array([DYNAMIC_VELOCITY.get(d, DEFAULT_VELOCITY) for d in n["dynamic"]])
    notes = make_notes(onset, np.maximum(duration, 1e-3), n["pitch"], vel, n["id"])
    return Performance(notes, source=score.source)
