"""The renderers a learnt one is held to: deadpan, the mean curve, and a linear basis model.

Every renderer answers ``render(score, performer=None, qpm=None) -> Encoded`` (codec parameters for
every note of the score, :mod:`deepperformer.render.codec`). The learnt ones predict each note's

- velocity (/ 127),
- tempo as the log ratio of its beat period to the piece's reference beat period (so that a global
  tempo, from ``qpm``, the score's marking, or the training mean, sets the speed and the model the
  shape),
- timing and articulation as the codec defines them.

- :class:`Deadpan`: today's ``render`` (markings only), encoded.
- :class:`MeanCurve`: each parameter's training mean by metrical position (position inside the beat
  in twelfths, and whether the note is on a downbeat).
- :class:`BasisRidge`: ridge regression from the score's basis features, in the spirit of the Basis
  Mixer (Cancino-Chacón & Grachten 2016).
- :class:`AlwaysPedal`: deadpan with the pedal always down, the reference row for pedal F1.
"""

from __future__ import annotations

import numpy as np

from deepperformer.core.performance import DEFAULT_QPM
from deepperformer.core.score import Score
from deepperformer.render.codec import PARAM_DTYPE, Encoded, encode
from deepperformer.render.corpus import Example
from deepperformer.render.deadpan import deadpan
from deepperformer.render.pedal import recalibrated
from deepperformer.render.targets import N_TIMING_TARGETS, TARGETS, targets_of

DOWNBEAT = "metrical_strength_feature.metrical_strength_downbeat"


def reference_qpm(score: Score, default: float) -> float:
    """The score's first metronome marking, else ``default``."""
    return float(score.tempos["qpm"][0]) if len(score.tempos) else float(default)


def targets(ex: Example) -> np.ndarray:
    """``[M, len(TARGETS)]`` float32 for the performed notes ``ex.enc.rows``."""
    return targets_of(ex.enc)


def from_targets(score: Score, values: np.ndarray, qpm: float, pedal_threshold: float = 0.5) -> Encoded:
    """Codec parameters of every score note from predicted TARGETS ``[N, 4]`` (no pedal) or ``[N, 6]`` at
    global tempo ``qpm``; a predicted pedal share of ``pedal_threshold`` becomes 0.5, pedal down
    (:func:`~deepperformer.render.pedal.recalibrated`; 0.5: as predicted).

    The beat period is shared by the notes of one onset (the codec's tempo curve has one value per
    onset), so the notes' predictions are averaged there."""
    rows = np.lexsort((score.notes["pitch"], score.notes["onset_quarter"]))
    v = values[rows]
    onsets = score.notes["onset_quarter"][rows]
    _, group = np.unique(onsets, return_inverse=True)
    log_ratio = np.bincount(group, v[:, 1]) / np.bincount(group)
    params = np.zeros(len(rows), PARAM_DTYPE)
    params["velocity"] = np.clip(v[:, 0], 1 / 127, 1.0)
    params["beat_period"] = 60.0 / qpm * np.exp(log_ratio[group])
    params["timing"] = v[:, 2]
    params["articulation_log"] = v[:, 3]
    if v.shape[1] > N_TIMING_TARGETS:  # a system that predicts the pedal (else there is none)
        params["pedal_down"], params["pedal_change"] = np.clip(v[:, 4], 0, 1), np.clip(v[:, 5], 0, 1)
        if pedal_threshold != 0.5:
            params["pedal_down"] = recalibrated(params["pedal_down"], pedal_threshold)
    return Encoded(rows, params)


class Deadpan:
    """The score as marked: metronomic at its tempo marking (or ``qpm``), velocities from dynamics."""

    name = "deadpan"

    def render(self, score: Score, performer: str | None = None, qpm: float | None = None) -> Encoded:
        # a score of one chord has no beat to measure: it is encoded at the tempo it was played at
        return encode(score, deadpan(score, qpm=qpm), score.source, qpm or reference_qpm(score, DEFAULT_QPM))


class AlwaysPedal(Deadpan):
    """Deadpan with the sustain pedal down for every note: not a baseline to beat but the reference for
    pedal F1, which it scores well on (most notes are pedalled) while its pedal r is 0."""

    name = "always pedal down"

    def render(self, score: Score, performer: str | None = None, qpm: float | None = None) -> Encoded:
        enc = super().render(score, performer, qpm)
        enc.params["pedal_down"] = 1.0
        return enc


def metrical_keys(score: Score) -> np.ndarray:
    """``[N]`` int: position inside the beat in twelfths (0..11), + 12 on a downbeat."""
    pos = np.round((score.notes["onset_beat"] % 1.0) * 12).astype(int) % 12
    down = np.zeros(len(score.notes), bool)
    if score.features is not None and DOWNBEAT in score.features.names:
        down = score.features.columns([DOWNBEAT])[:, 0] > 0.5
    return pos + 12 * down


class MeanCurve:
    """Each target's training mean by metrical position (:func:`metrical_keys`); the global tempo is
    the marking, else the training performances' mean."""

    name = "mean-curve"

    def fit(self, examples: list[Example]) -> MeanCurve:
        sums, counts = np.zeros((24, len(TARGETS))), np.zeros(24)
        for ex in examples:
            k = metrical_keys(ex.score)[ex.enc.rows]
            np.add.at(sums, k, targets(ex))
            np.add.at(counts, k, 1)
        overall = sums.sum(0) / max(counts.sum(), 1)
        self.table = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], overall)
        self.qpm = float(np.exp(np.mean([np.log(ex.enc.qpm()) for ex in examples])))
        return self

    def render(self, score: Score, performer: str | None = None, qpm: float | None = None) -> Encoded:
        return from_targets(score, self.table[metrical_keys(score)], qpm or reference_qpm(score, self.qpm))


def ridge_solve(pairs, alpha: float) -> np.ndarray:
    """Ridge coefficients ``[F + 1, T]`` (the last row the intercept, which is not shrunk) from an iterable
    of (standardized features ``[n, F]``, targets ``[n, T]``) blocks.

    The normal equations are summed block by block: the stacked feature matrix of (n)ASAP's training
    notes (about 2 M x 244) would take gigabytes, these sums kilobytes."""
    xtx = xty = None
    for x, y in pairs:
        xs = np.c_[np.asarray(x, np.float64), np.ones(len(x))]
        if xtx is None:
            xtx, xty = np.zeros((xs.shape[1],) * 2), np.zeros((xs.shape[1], y.shape[1]))
        xtx += xs.T @ xs
        xty += xs.T @ np.asarray(y, np.float64)
    if xtx is None:
        raise ValueError("ridge_solve: no data")
    reg = alpha * np.eye(len(xtx))
    reg[-1, -1] = 0.0
    return np.linalg.solve(xtx + reg, xty)


class BasisRidge:
    """Ridge regression from the score's basis features (the training scores' columns) to TARGETS."""

    name = "basis-ridge"

    def __init__(self, alpha: float = 10.0):
        self.alpha = alpha
        # the pedal share that becomes 0.5, as an exported renderer's (render/pedal.py); 0.5: as predicted.
        # The renderer table's ridge plays as fitted; a recalibrated one is an ablation (README, stage 1).
        self.pedal_threshold = 0.5

    def fit(self, examples: list[Example]) -> BasisRidge:
        # statistics and normal equations are summed performance by performance (ridge_solve)
        self.names = tuple(sorted({n for ex in examples for n in ex.score.features.names}))
        f = len(self.names)
        n, s1, s2 = 0, np.zeros(f), np.zeros(f)
        for ex in examples:
            x = ex.score.features.columns(self.names)[ex.enc.rows].astype(np.float64)
            n, s1, s2 = n + len(x), s1 + x.sum(0), s2 + (x**2).sum(0)
        self.mean = s1 / max(n, 1)
        self.scale = np.sqrt(np.maximum(s2 / max(n, 1) - self.mean**2, 0.0)) + 1e-6
        self.coef = ridge_solve(
            (((ex.score.features.columns(self.names)[ex.enc.rows] - self.mean) / self.scale, targets(ex)) for ex in examples),
            self.alpha,
        )
        self.qpm = float(np.exp(np.mean([np.log(ex.enc.qpm()) for ex in examples])))
        return self

    def render(self, score: Score, performer: str | None = None, qpm: float | None = None) -> Encoded:
        x = (score.features.columns(self.names) - self.mean) / self.scale
        values = np.c_[x, np.ones(len(x))] @ self.coef
        return from_targets(score, values, qpm or reference_qpm(score, self.qpm), self.pedal_threshold)
