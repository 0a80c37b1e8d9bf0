"""Do the renderer's controls do what they say? Shares over test pieces, printed by ``evaluate``.

- :func:`direction_shares`: for each direction word, the share of pieces where rendering with it
  moves its axis's measure the right way (against the plain rendering), and the share where the notes
  played stay exactly the same (directions change how, never what).
- :func:`performer_share`: the performer embedding. For every pair of performers (A, B) of a test
  piece, whether the rendering as A is closer to A's own performance than to B's. Distance: the mean
  absolute difference over the four features of :mod:`deepperformer.render.metrics`, each in units of
  its spread over the piece's human performances. Not Pearson r: r ignores level, and a pianist's
  habits are largely levels (louder, faster, more legato than another). Chance is 0.5; a one-sided
  binomial test says how far above it the share is.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

from deepperformer.render.codec import Encoded, decode
from deepperformer.render.corpus import Example
from deepperformer.render.directions import AXES, Direction
from deepperformer.render.metrics import FEATURES, feature_values


def axis_value(enc: Encoded, axis: str) -> float:
    """A rendering's measure on ``axis``: mean velocity, global tempo (log qpm), spread of the log tempo
    curve, or mean articulation."""
    p = enc.params
    if axis == "dynamics":
        return float(np.mean(p["velocity"]))
    if axis == "tempo":
        return float(np.log(enc.qpm()))
    if axis == "rubato":
        return float(np.std(np.log(p["beat_period"])))
    return float(np.mean(p["articulation_log"]))


def _notes_key(score, enc: Encoded) -> np.ndarray:
    perf = decode(score, enc)
    return np.sort(perf.notes["pitch"])


def direction_shares(renderer, scores: list, performer: str | None = None) -> dict[str, dict[str, float]]:
    """{word: {"right_way": share of ``scores``, "same_notes": share, "pieces": n}} for every word the
    renderer has a direction for."""
    words = [w for axis, pair in AXES.items() if axis in renderer.directions for w in pair]
    right = {w: [] for w in words}
    same = {w: [] for w in words}
    for score in scores:
        base = renderer.render(score, performer)
        base_notes = _notes_key(score, base)
        for w in words:
            d = Direction(w)
            enc = renderer.render(score, performer, directions=(d,))
            moved = axis_value(enc, d.axis) - axis_value(base, d.axis)
            right[w].append(moved * d.sign > 0)
            same[w].append(np.array_equal(_notes_key(score, enc), base_notes))
    n = len(scores)
    return {w: {"right_way": float(np.mean(right[w])), "same_notes": float(np.mean(same[w])), "pieces": n} for w in words}


def distance(rendered: Encoded, human: Encoded, spread: dict[str, float]) -> float:
    """Mean over FEATURES of the mean absolute difference on the shared notes, in units of ``spread``."""
    _, i, j = np.intersect1d(rendered.rows, human.rows, return_indices=True)
    a, b = feature_values(rendered), feature_values(human)
    return float(np.mean([np.mean(np.abs(a[f][i] - b[f][j])) / spread[f] for f in FEATURES]))


def feature_spread(performances: list[Encoded]) -> dict[str, float]:
    """Each feature's standard deviation over the notes of all ``performances`` (floored)."""
    values = [feature_values(p) for p in performances]
    return {f: max(float(np.std(np.concatenate([v[f] for v in values]))), 1e-6) for f in FEATURES}


def performer_share(renderer, test: list[Example]) -> dict[str, float]:
    """{"share", "pairs", "p_value", "pieces"}: how often the rendering as A is closer to A's
    performance than to B's, over every ordered pair of known performers of a test piece."""
    by_piece: dict[str, list[Example]] = {}
    for ex in test:
        if ex.performer in renderer.performers:
            by_piece.setdefault(ex.piece, []).append(ex)
    wins = []
    pieces = 0
    for exs in by_piece.values():
        if len(exs) < 2:
            continue
        pieces += 1
        spread = feature_spread([ex.enc for ex in exs])
        for a in exs:
            rendered = renderer.render(a.score, a.performer)
            own = distance(rendered, a.enc, spread)
            wins += [own < distance(rendered, b.enc, spread) for b in exs if b is not a]
    n, k = len(wins), int(np.sum(wins))
    p = float(binomtest(k, n, 0.5, alternative="greater").pvalue) if n else float("nan")
    return {"share": k / n if n else float("nan"), "pairs": n, "p_value": p, "pieces": pieces}


def format_controls(name: str, directions: dict, performers: dict | None) -> str:
    """Markdown lines of the control checks of one renderer."""
    lines = [f"Controls of {name}:", "", "| direction | moves its measure the right way | same notes | pieces |"]
    lines.append("|---|---:|---:|---:|")
    for w, s in directions.items():
        lines.append(f"| {w} | {100 * s['right_way']:.0f} % | {100 * s['same_notes']:.0f} % | {s['pieces']} |")
    if performers is not None and performers["pairs"]:
        lines += [
            "",
            f"Performer embedding: the rendering as A is closer to A's performance than to B's in "
            f"{100 * performers['share']:.1f} % of {performers['pairs']} pairs over {performers['pieces']} pieces "
            f"(chance 50 %, one-sided binomial p = {performers['p_value']:.3g}).",
        ]
    return "\n".join(lines)
