"""Rendering a whole score with a trained renderer: windows with flat memory, style, tempo and
expressiveness.

The score is cut into windows of ``window`` notes that overlap by ``overlap``; each window keeps
the predictions of its middle (the overlap split between neighbours), so every note is predicted
with context on both sides, and memory does not grow with the piece. The global tempo is ``qpm`` when
given, else the renderer's tempo reference (:mod:`deepperformer.render.global_tempo`: the marked tempo as
the training performers strayed from it, the curve centred on it), else (older exports) the score's
first metronome marking, else the mean of the windows' predictions.

Each target may be read with its own window (``windows``, fitted on the validation performances at
export: :func:`deepperformer.training.renderer.fit_windows`). Why: the CPU renderers train on
128-note segments, and the onset positions of a 512-note window reach past what they saw; the
piano renderer's tempo curve, articulation and pedal follow the validation pianists better read in
128-note windows, its velocity in 512-note ones (more of the piece's dynamics in view). Each
distinct window is one pass over the score.

Each target may also be read as the mean of ``phases`` passes whose window grids are shifted by a
fraction of the window step (``phases``, fitted at export: :func:`deepperformer.training.renderer.fit_phases`).
Why: a note near a window's seam is read with less context on one side; with shifted grids no note
sits at a seam in every pass, and the mean of the passes (an ensemble over context) follows the
validation pianists a little better on every target than one grid (the piano renderer's 109
validation performances, session 23, 1 -> 4 grids: velocity r 0.521 -> 0.528, tempo curve 0.337 ->
0.339, timing 0.225 -> 0.229, articulation 0.367 -> 0.372; README, stage 1).

``expressiveness`` blends with deadpan (the score as marked): 0 gives deadpan exactly (its tempo
too), 1 the model as learnt, above 1 exaggerates every deviation (in log beat period for tempo).

Directions (:mod:`deepperformer.render.directions`) steer the style latent; each is rendered apart and
its change from the plain rendering added, weighted per note by the bars it covers, so several
directions on overlapping bars add up. A global-tempo change enters as a change of the tempo curve,
so ``faster@12-20`` speeds up bars 12-20 only, and ``faster`` with ``--tempo`` plays faster than asked.
"""

from __future__ import annotations

import numpy as np
import torch

from deepperformer.core.performers import PerformerVocab
from deepperformer.core.score import Score
from deepperformer.core.tempo import QPM_RANGE
from deepperformer.render.baselines import Deadpan, from_targets, reference_qpm
from deepperformer.render.codec import PEDAL_PARAMS, Encoded
from deepperformer.render.dataset import note_levels, rebased, score_order
from deepperformer.render.directions import Direction, steer
from deepperformer.render.global_tempo import TempoReference
from deepperformer.render.model import Renderer
from deepperformer.render.targets import TARGET_HIGH, TARGET_LOW


def window_starts(n: int, window: int, overlap: int, offset: int = 0) -> list[int]:
    """Starts of windows of ``window`` notes covering ``n`` notes with ``overlap`` in common, the grid
    shifted by ``offset`` notes (``0 <= offset < window - overlap``; the first window still starts at 0
    and the last still ends at ``n``, so neighbours never overlap by less than ``overlap``).

    >>> window_starts(10, 4, 2), window_starts(3, 4, 2), window_starts(10, 4, 2, 1)
    ([0, 2, 4, 6], [0], [0, 1, 3, 5, 6])
    """
    if n <= window:
        return [0]
    step = window - overlap
    if not 0 <= offset < step:
        raise ValueError(f"offset {offset} outside [0, {step})")
    starts = [0] + list(range(offset, n - window, step)) + [n - window]
    return sorted(set(starts))


def curve_centre(score: Score, values: np.ndarray) -> float:
    """The log of the median beat period (in units of the global one) that predicted targets
    ``values [N, n_targets]`` give (``from_targets``, per onset): subtracted from their log beat-period
    column, the rendering's median beat is its global tempo exactly."""
    return float(np.log(60.0 / from_targets(score, values[:, :4], 60.0).qpm()))


class ExpressiveRenderer:
    """A trained renderer as a stage-1 system: ``render(score, performer=None, qpm=None) -> Encoded``."""

    name = "renderer"

    def __init__(
        self,
        model: Renderer,
        feature_names: tuple[str, ...],
        performers: PerformerVocab,
        window: int = 512,
        overlap: int = 128,
        directions: dict | None = None,
        instrument: str | None = None,
        source: str = "",
        pedal_threshold: float = 0.5,
        residual_scale=None,
        windows=None,
        phases=None,
        tempo_reference: TempoReference | None = None,
    ):
        self.model, self.names, self.performers = model.eval(), tuple(feature_names), performers
        self.instrument, self.source = instrument, source  # what it was trained for; its checkpoint
        self.window, self.overlap = window, overlap
        self.directions = directions or {}  # axis -> {"vector", "scale", ...}: fit_directions
        self.z: torch.Tensor | None = None  # the style; None = zeros (the most typical performance)
        self.expressiveness = 1.0
        # the predicted pedal share that becomes 0.5 (pedal down) after recalibration: fitted at export so
        # that the renderer pedals as many notes as the validation pianists (render/pedal.py); 0.5: as predicted
        self.pedal_threshold = float(pedal_threshold)
        # per target, the share of the transformer's residual over the ridge path that is played (a
        # renderer with linear_skip): fitted at export on the validation performances; None: all of it
        self.residual_scale = None if residual_scale is None else tuple(float(v) for v in residual_scale)
        # the global tempo without --tempo: the marked one as the training pianists strayed from it, the
        # curve centred on it (render/global_tempo.py); None (older exports): the first marking, the curve as predicted
        self.tempo_reference = tempo_reference
        # per target, the (window, overlap) in notes it is read with; None: (window, overlap) for all
        self.windows = None if windows is None else tuple((int(w), int(o)) for w, o in windows)
        # per target, how many shifted window grids it is read as the mean of; None: one for all
        self.phases = None if phases is None else tuple(int(p) for p in phases)

    def sample_style(self, seed: int) -> None:
        """Draw the style latent from the prior with ``seed`` (the same seed, the same performance)."""
        g = torch.Generator().manual_seed(int(seed))
        self.z = torch.randn(1, self.model.config.latent_dim, generator=g)

    @torch.no_grad()
    def predict(self, score: Score, performer: str | None = None, z: torch.Tensor | None = None) -> tuple[np.ndarray, float]:
        """(targets ``[N, n_targets]`` in ``score.notes`` row order, predicted global qpm) with style ``z``
        ``[1, L]`` (default: the renderer's own)."""
        if score.features is None:
            raise ValueError("the score was loaded without features (load_score(..., features=True))")
        m = self.model
        row = self.performers.index(performer if performer is not None else self.performers.default, self.source or None)
        order = score_order(score)
        x = torch.from_numpy(score.features.columns(self.names)[order])[None]
        onset = torch.from_numpy(score.notes["onset_quarter"][order].astype(np.float32))[None]
        levels = note_levels(score, order)
        z = z if z is not None else self.style()
        width = m.config.n_targets
        windows = list(self.windows or [])[:width]
        windows += [(self.window, self.overlap)] * (width - len(windows))
        phases = list(self.phases or [])[:width]
        phases += [1] * (width - len(phases))
        per_target = [(*wo, p) for wo, p in zip(windows, phases)]
        out = np.zeros((len(order), width), np.float32)
        passes = {}
        for wop in dict.fromkeys(per_target):  # one pass per distinct (window, phases), in first-use order
            passes[wop] = self._phased(x, onset, levels, row, z, *wop)
        for k, wop in enumerate(per_target):
            out[:, k] = passes[wop][0][:, k]
        qs = passes[per_target[1]][1]  # the global tempo from the tempo curve's window
        values = np.empty_like(out)
        values[order] = np.clip(out, TARGET_LOW[:width], TARGET_HIGH[:width])
        return values, float(np.clip(np.exp(np.mean(qs)), *QPM_RANGE))

    def _phased(self, x, onset, levels, row: int, z, window: int, overlap: int, phases: int) -> tuple[np.ndarray, list[float]]:
        """The mean targets ``[N, n_targets]`` (score order) of ``phases`` passes whose window grids are
        shifted by ``k / phases`` of the window step, and all their windows' log-qpm predictions."""
        step, phases = window - overlap, max(1, phases)
        offsets = sorted({k * step // phases for k in range(phases)})
        runs = [self._windowed(x, onset, levels, row, z, window, overlap, o) for o in offsets]
        return np.mean([r[0] for r in runs], axis=0), [q for r in runs for q in r[1]]

    def _windowed(
        self, x, onset, levels, row: int, z, window: int, overlap: int, offset: int = 0
    ) -> tuple[np.ndarray, list[float]]:
        """(targets ``[N, n_targets]`` in score order, the windows' log-qpm predictions) of one pass over
        the notes in windows of ``window`` notes overlapping by ``overlap``, the grid shifted by ``offset``."""
        m = self.model
        n = x.shape[1]
        out = np.zeros((n, m.config.n_targets), np.float32)
        qs = []
        starts = window_starts(n, window, overlap, offset)
        for k, s in enumerate(starts):
            e = min(n, s + window)
            lv = torch.from_numpy(rebased(levels[s:e]))[None]
            pred, q = m(
                x[:, s:e],
                onset[:, s:e],
                torch.ones(1, e - s, dtype=torch.bool),
                torch.tensor([row]),
                z,
                levels=lv,
                residual_scale=self.residual_scale,
            )
            pred = (pred[0] * m.y_std + m.y_mean).numpy()
            lo = s if k == 0 else s + overlap // 2  # keep the middle; the neighbours keep the rest
            hi = e if k == len(starts) - 1 else e - (overlap - overlap // 2)
            out[lo:hi] = pred[lo - s : hi - s]
            qs.append(float(q[0] * m.qpm_std + m.qpm_mean))
        return out, qs

    def style(self) -> torch.Tensor:
        """The style latent ``[1, L]`` in use (zeros unless one was drawn)."""
        return self.z if self.z is not None else torch.zeros(1, self.model.config.latent_dim)

    def render(
        self, score: Score, performer: str | None = None, qpm: float | None = None, directions: tuple[Direction, ...] = ()
    ) -> Encoded:
        """Every note's codec parameters. The global tempo is ``qpm`` when given, else (with a
        ``tempo_reference``) the score's marked tempo as the training pianists strayed from it, with the
        tempo curve centred on it (its median beat is that tempo; directions still move it), else (older
        exports) the score's first metronome marking (against the test performances this errs by 12 %,
        the model's own guess from the notes by 30 %), else the model's, the curve as predicted around
        it. The deadpan it is blended with (``expressiveness`` < 1) plays at the score's marked tempo
        (or ``qpm``)."""
        values, predicted_qpm = self.predict(score, performer)
        centre = curve_centre(score, values) if self.tempo_reference is not None else 0.0  # of the plain rendering
        if directions:
            values = self._directed(score, performer, values, predicted_qpm, directions)
        if self.tempo_reference is not None:
            values = values.copy()
            values[:, 1] -= centre
            global_qpm = qpm or self.tempo_reference.qpm(score)
        else:
            global_qpm = qpm or reference_qpm(score, predicted_qpm)
        enc = from_targets(score, values, global_qpm, self.pedal_threshold)
        x = float(self.expressiveness)
        learn_velocity = self.model.config.learn_velocity
        if x == 1.0 and learn_velocity:
            return enc
        flat = Deadpan().render(score, qpm=qpm)  # every note, like enc; matched row by row below
        at = np.empty(len(score.notes), np.int64)
        at[flat.rows] = np.arange(len(flat.rows))
        p, f = enc.params.copy(), flat.params[at[enc.rows]]
        if not learn_velocity:
            p["velocity"] = f["velocity"]  # not learnt: the score's dynamics
        p["beat_period"] = f["beat_period"] * (p["beat_period"] / f["beat_period"]) ** x  # blended in log tempo
        for k in ("velocity", "timing", "articulation_log", *PEDAL_PARAMS):  # deadpan has no pedal: less of it below 1
            p[k] = f[k] + x * (p[k] - f[k])
        p["velocity"] = np.clip(p["velocity"], 1 / 127, 1.0)
        for k in PEDAL_PARAMS:
            p[k] = np.clip(p[k], 0.0, 1.0)
        return Encoded(enc.rows, p)

    def _directed(self, score: Score, performer, values: np.ndarray, qpm: float, directions) -> np.ndarray:
        """``values`` ``[N, n_targets]`` plus each direction's change, weighted by the bars it covers."""
        out = values.astype(np.float64)
        for d in directions:
            w = d.weights(score.bars, score.source)
            steered, steered_qpm = self.predict(score, performer, steer(self.style(), self.directions, d))
            change = steered - values
            change[:, 1] -= np.log(steered_qpm / qpm)  # the global tempo's change, as the curve's
            out += (w[:, None] if isinstance(w, np.ndarray) else w) * change
        k = values.shape[1]
        return np.clip(out, TARGET_LOW[:k], TARGET_HIGH[:k]).astype(np.float32)
