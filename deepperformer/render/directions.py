"""Performance directions ("louder", "slower@12-20", ...) as directions in the renderer's style space.

After the NIME 2023 co-creation system: a direction classifier, fitted after training, finds for
each expressive axis the direction of the style latent ``z`` along which human performances are,
say, louder than the renderer's typical rendering of the same notes. Steering ``z`` along it plays
the score that way, with the learnt model's sense of how (a louder pianist also shapes phrases
differently), not by scaling one number.

- Axes and their words (:data:`AXES`): dynamics (louder / softer), tempo (faster / slower), rubato
  (more-rubato / less-rubato), articulation (legato / staccato).
- Labels: for every training segment, whether the human performance lies above the model's own
  z = 0 rendering of the same notes with the same performer, on the axis's measure
  (:func:`axis_measures`). What ``z`` has to explain is exactly that residual, since the model
  sees the score and the performer already.
- Classifier: logistic regression from the posterior mean ``mu`` ``[L]`` of each segment to its
  label; the direction is its unit weight vector, and one step of strength 1 moves ``z`` by twice the
  spread of the training segments along it (a clear change, inside what training performances did).
- Checked against the decoder (:func:`choose_by_effect`): that the encoder puts the residual along a
  direction does not mean the decoder follows it. The pedal renderer's rubato classifier (78 %
  held-out accuracy) moved the tempo curve's spread by 0.0001 per step, the wrong way. So each axis
  also gets the decoder's own response direction (least squares of the measure on draws of ``z`` from
  the prior, :func:`response_vectors`), both candidates are decoded one step out on the segments, and
  the one that moves the measure further the right way is kept (``"method"`` says which).
- A direction can cover bars (``softer@12-20``, the score's printed bar numbers, both ends in): the
  change fades in over the bar before and out over the bar after, so the tempo never jumps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from deepperformer.core.errors import DeepPerformerError

#: axis -> (word for +, word for -); the measures of :func:`axis_measures` grow with the + word.
AXES = {
    "dynamics": ("louder", "softer"),
    "tempo": ("faster", "slower"),
    "rubato": ("more-rubato", "less-rubato"),
    "articulation": ("legato", "staccato"),
}
WORDS = {w: (axis, sign) for axis, (up, down) in AXES.items() for w, sign in ((up, 1.0), (down, -1.0))}
_SPEC = re.compile(r"^(?P<word>[a-z-]+)(?::(?P<strength>[0-9.]+))?(?:@(?P<first>\d+)(?:-(?P<last>\d+))?)?$")


@dataclass(frozen=True)
class Direction:
    """One direction: ``word`` (a key of :data:`WORDS`), ``strength`` (1 = the default step), and
    the bars it covers (``first``..``last`` inclusive; None = the whole piece)."""

    word: str
    strength: float = 1.0
    first: int | None = None
    last: int | None = None

    @classmethod
    def parse(cls, text: str) -> Direction:
        """``WORD[:STRENGTH][@FIRST[-LAST]]``.

        >>> Direction.parse("softer@12-20"), Direction.parse("faster:0.5")
        (Direction(word='softer', strength=1.0, first=12, last=20), Direction(word='faster', strength=0.5, first=None, last=None))
        """
        m = _SPEC.match(text.strip().lower())
        if not m or m["word"] not in WORDS:
            raise DeepPerformerError(
                None, f"--direction {text!r}: expected WORD[:STRENGTH][@BAR[-BAR]] with WORD one of {', '.join(WORDS)}"
            )
        strength = float(m["strength"]) if m["strength"] else 1.0
        if not 0.0 < strength <= 4.0:
            raise DeepPerformerError(None, f"--direction {text!r}: strength must be in (0, 4]")
        first = int(m["first"]) if m["first"] else None
        last = int(m["last"]) if m["last"] else first
        if first is not None and last < first:
            raise DeepPerformerError(None, f"--direction {text!r}: the bar range ends before it starts")
        return cls(m["word"], strength, first, last)

    @property
    def axis(self) -> str:
        return WORDS[self.word][0]

    @property
    def sign(self) -> float:
        return WORDS[self.word][1]

    def weights(self, bars: np.ndarray | None, source: str = "") -> np.ndarray | float:
        """How much of the change each note gets: 1 inside the bars, fading linearly to 0 over one bar
        on each side (``bars``: ``[N]`` printed bar numbers); 1.0 when the direction has no bars."""
        if self.first is None:
            return 1.0
        if bars is None:
            raise DeepPerformerError(source or None, f"--direction {self.word}@{self.first}-{self.last}: the score has no bars")
        if not np.any((bars >= self.first) & (bars <= self.last)):
            raise DeepPerformerError(
                source or None, f"--direction bars {self.first}-{self.last}: the score's bars are {bars.min()}-{bars.max()}"
            )
        below, above = self.first - bars, bars - self.last
        return np.clip(1.0 - np.maximum(np.maximum(below, above), 0) / 2.0, 0.0, 1.0)


def axis_measures(values: torch.Tensor, known: torch.Tensor, log_qpm: torch.Tensor) -> torch.Tensor:
    """``[B, 4]`` measures of the axes (AXES order) from raw targets ``values`` ``[B, N, >= 4]`` (velocity,
    log beat-period ratio, timing, articulation[, pedal]), ``known`` ``[B, N]`` bool and ``log_qpm`` ``[B]``:
    mean velocity, log qpm, spread of the log beat-period ratio, mean articulation."""
    k = known.to(values.dtype)
    n = k.sum(1).clamp(min=1)
    mean = (values * k[..., None]).sum(1) / n[:, None]
    spread = (((values[..., 1] - mean[:, 1:2]) ** 2 * k).sum(1) / n).sqrt()
    return torch.stack([mean[:, 0], log_qpm, spread, mean[:, 3]], dim=1)


def _decoded_measures(model, b: dict, z: torch.Tensor) -> torch.Tensor:
    """``[B, 4]`` axis measures of the model's rendering of batch ``b`` with style ``z`` ``[B, L]``."""
    pred, q = model(b["x"], b["onset"], b["mask"], b["performer"], z, levels=b.get("levels"))
    return axis_measures(pred * model.y_std + model.y_mean, b["mask"], q * model.qpm_std + model.qpm_mean)


@torch.no_grad()
def response_vectors(model, loader, draws: int = 64, seed: int = 0) -> np.ndarray:
    """``[4, L]``: per axis, the least-squares slope of the decoded measure on the style latent, from
    ``draws`` draws of ``z`` from the prior shared by every segment of ``loader`` (each segment's own
    mean taken out, so a segment's level does not count, only how it moves with ``z``)."""
    model.eval()
    g = torch.Generator().manual_seed(seed)
    zs = torch.randn(draws, model.config.latent_dim, generator=g)
    total = torch.zeros(draws, 4, dtype=torch.float64)
    for b in loader:
        n = b["x"].shape[0]
        m = torch.stack([_decoded_measures(model, b, z.expand(n, -1)) for z in zs])  # [draws, B, 4]
        total += (m - m.mean(0, keepdim=True)).sum(1).double()
    zc = (zs - zs.mean(0, keepdim=True)).double()
    slope = torch.linalg.lstsq(zc, total).solution  # [L, 4], summed over segments: the sign and direction count
    return slope.T.numpy()


@torch.no_grad()
def steering_effects(model, loader, vectors: dict[str, tuple[np.ndarray, float]]) -> dict[str, float]:
    """{axis: mean change of its measure over the segments of ``loader`` when ``z`` moves from 0 by one
    step (``scale`` along the unit ``vector``)} for ``vectors`` {axis: (vector [L], scale)}."""
    model.eval()
    sums = dict.fromkeys(vectors, 0.0)
    count = 0
    for b in loader:
        n = b["x"].shape[0]
        zero = _decoded_measures(model, b, torch.zeros(n, model.config.latent_dim))
        for axis, (v, scale) in vectors.items():
            k = list(AXES).index(axis)
            z = torch.as_tensor(scale * np.asarray(v), dtype=torch.float32).expand(n, -1)
            sums[axis] += float((_decoded_measures(model, b, z)[:, k] - zero[:, k]).sum())
        count += n
    return {axis: total / max(count, 1) for axis, total in sums.items()}


def choose_by_effect(model, loader, directions: dict, mu: np.ndarray) -> dict:
    """``directions`` (of :func:`fit_directions`) with each axis's vector replaced by the decoder's
    response direction (:func:`response_vectors`) when that moves the measure further the right way
    one step out on ``loader``'s segments; the step is twice the spread of ``mu`` ``[S, L]`` along the
    kept vector either way. Adds ``"method"`` ("classifier" or "decoder response") and ``"effect"``
    (the measure's change per step) to each axis."""
    response = response_vectors(model, loader)
    candidates = {}
    for axis, d in directions.items():
        r = response[list(AXES).index(axis)]
        r = r / max(np.linalg.norm(r), 1e-12)
        v = np.asarray(d["vector"])
        candidates[axis] = {"classifier": (v, d["scale"]), "decoder response": (r, float(2.0 * np.std(mu @ r)))}
    effects = {
        method: steering_effects(model, loader, {a: c[method] for a, c in candidates.items()})
        for method in ("classifier", "decoder response")
    }
    out = {}
    for axis, d in directions.items():
        method = max(effects, key=lambda m: effects[m][axis])
        v, scale = candidates[axis][method]
        out[axis] = d | {
            "vector": [float(x) for x in v],
            "scale": float(scale),
            "method": method,
            "effect": round(effects[method][axis], 6),
        }
    return out


@torch.no_grad()
def segment_codes(model, loader) -> tuple[np.ndarray, np.ndarray]:
    """(posterior means ``[S, L]``, human - model measures ``[S, 4]``) over the segments of ``loader``
    (batches of :func:`~deepperformer.render.dataset.collate_segments`)."""
    model.eval()
    mus, deltas = [], []
    for b in loader:
        y = model.standardize(b["target"])
        known = b["known"]
        mu, _ = model.posterior(b["x"], b["onset"], b["mask"], y * known[..., None], b["log_qpm"])
        pred, q = model(b["x"], b["onset"], b["mask"], b["performer"], torch.zeros_like(mu), levels=b.get("levels"))
        pred = pred * model.y_std + model.y_mean
        q = q * model.qpm_std + model.qpm_mean
        human = axis_measures(b["target"], known, b["log_qpm"])
        deltas.append((human - axis_measures(pred, known, q)).numpy())
        mus.append(mu.numpy())
    return np.concatenate(mus), np.concatenate(deltas)


def fit_directions(
    train: tuple[np.ndarray, np.ndarray], held_out: tuple[np.ndarray, np.ndarray] | None = None, skip: tuple[str, ...] = ()
) -> dict:
    """{axis: {"vector": [L] unit, "scale": step of strength 1, "accuracy": share of held-out segments
    whose label the classifier gets right (training segments when none are held out), "segments"}}
    from (mu, delta) pairs of :func:`segment_codes`; the axes in ``skip`` get none (a renderer that
    does not learn velocity has no dynamics to steer)."""
    from sklearn.linear_model import LogisticRegression

    mu, delta = train
    out = {}
    for k, axis in enumerate(AXES):
        if axis in skip:
            continue
        label = delta[:, k] > 0
        if label.all() or not label.any():
            continue  # nothing to tell apart: the axis gets no direction
        clf = LogisticRegression(class_weight="balanced", max_iter=1000).fit(mu, label)
        w = clf.coef_[0]
        v = w / max(np.linalg.norm(w), 1e-12)
        eval_mu, eval_delta = held_out if held_out is not None and len(held_out[0]) else train
        accuracy = float(np.mean(clf.predict(eval_mu) == (eval_delta[:, k] > 0)))
        out[axis] = {
            "vector": [float(x) for x in v],
            "scale": float(2.0 * np.std(mu @ v)),
            "accuracy": round(accuracy, 4),
            "segments": len(mu),
        }
    return out


def steer(z: torch.Tensor, directions: dict, d: Direction) -> torch.Tensor:
    """``z`` ``[1, L]`` moved along ``d``'s axis by ``d.strength`` steps in its sense."""
    if d.axis not in directions:
        raise DeepPerformerError(None, f"--direction {d.word}: this renderer has no {d.axis} direction (fit-directions)")
    spec = directions[d.axis]
    v = torch.tensor(spec["vector"], dtype=z.dtype)[None]
    return z + d.sign * d.strength * spec["scale"] * v
