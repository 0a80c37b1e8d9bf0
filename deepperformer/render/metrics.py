"""How close a rendering is to a human performance of the same score, feature by feature.

Per performance (the issue's definitions, and PianoFlow's): Pearson r and mean absolute error over the
score notes both performances played, of

- ``velocity`` (MIDI units),
- ``log_beat_period`` (the tempo curve, natural log of seconds per quarter),
- ``timing`` (onset deviation from the local beat, seconds),
- ``articulation`` (log2 duration ratio),

and ``tempo_error``: the global tempo's relative error, ``|qpm_rendered / qpm_human - 1|``. A feature a
rendering holds constant (deadpan's timing) has no correlation: its r is 0, not undefined.

``pedal_f1`` (piano): F1 of "the sustain pedal is down for most of the note" (``pedal_down`` >= 0.5,
:mod:`deepperformer.render.pedal`) over the shared notes, the human performance's notes as the truth;
NaN where the human used no pedal (there is nothing to find), and left out of the means. Per-note F1
rewards a base rate: "always down" scores about 0.62 on the piano validation performances, more than
one human against another (0.54 on test), because most notes are pedalled. ``pedal_r`` (Pearson r of
the per-note ``pedal_down`` shares) and ``pedal_mae`` hold no threshold and no base rate, and say
whether a rendering pedals *where* the human did (NaN without human pedal, as F1).

:func:`evaluate_renderers` runs systems over test performances: each renders the same score as that
performance's performer; the human ceiling compares each test performance with the other human
performances of its piece (mean over them).
"""

from __future__ import annotations

import numpy as np

from deepperformer.render.codec import Encoded
from deepperformer.render.corpus import Example
from deepperformer.render.pedal import base_rate_threshold

FEATURES = ("velocity", "log_beat_period", "timing", "articulation")


def feature_values(enc: Encoded) -> dict[str, np.ndarray]:
    """Each feature ``[M]`` for the rows of ``enc``."""
    p = enc.params
    return {
        "velocity": p["velocity"] * 127.0,
        "log_beat_period": np.log(np.maximum(p["beat_period"], 1e-6)),
        "timing": p["timing"],
        "articulation": p["articulation_log"],
    }


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r; 0 when either side is constant (or fewer than 2 values).

    >>> pearson(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 7.0])) > 0.98, pearson(np.ones(3), np.arange(3.0))
    (True, 0.0)
    """
    if len(a) < 2 or np.std(a) < 1e-12 or np.std(b) < 1e-12:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def compare(rendered: Encoded, human: Encoded) -> dict[str, float]:
    """{"<feature>_r", "<feature>_mae" for FEATURES, "velocity_level_mae", "tempo_error", "notes", and the
    pedal figures} over the shared notes."""
    _, i, j = np.intersect1d(rendered.rows, human.rows, return_indices=True)
    a = {k: v[i] for k, v in feature_values(rendered).items()}
    b = {k: v[j] for k, v in feature_values(human).items()}
    out: dict[str, float] = {"notes": float(len(i))}
    for f in FEATURES:
        out[f"{f}_r"] = pearson(a[f], b[f])
        out[f"{f}_mae"] = float(np.mean(np.abs(a[f] - b[f]))) if len(i) else float("nan")
    # Velocity MAE with each performance's own mean removed: how well the dynamics are shaped, apart
    # from the loudness level, which the recording sets as much as the pianist (the 22 Vienna 4x22
    # performances of Mozart's K331-1 average velocity 95, its Chopin op. 10/3 47; no score feature
    # tells them apart, and that one level decides the plain velocity MAE of the test table)
    shape = (a["velocity"] - a["velocity"].mean()) - (b["velocity"] - b["velocity"].mean()) if len(i) else np.zeros(0)
    # rounded: a constant velocity (violin: none in the data) leaves float noise of 1e-14 that a
    # signed-rank test would read as a consistent difference
    out["velocity_level_mae"] = round(float(np.mean(np.abs(shape))), 9) if len(i) else float("nan")
    out["tempo_error"] = abs(rendered.qpm() / human.qpm() - 1.0) if human.qpm() > 0 else float("nan")
    a_pedal, b_pedal = rendered.params["pedal_down"][i], human.params["pedal_down"][j]
    out["pedal_f1"] = pedal_f1(a_pedal, b_pedal)
    used = not np.isnan(out["pedal_f1"])  # NaN where the human used no pedal, for every pedal figure
    out["pedal_r"] = pearson(a_pedal, b_pedal) if used else float("nan")
    out["pedal_mae"] = float(np.mean(np.abs(a_pedal - b_pedal))) if used else float("nan")
    return out


def pedal_f1(rendered: np.ndarray, human: np.ndarray) -> float:
    """F1 of pedal-down notes (share >= 0.5) of a rendering against the human's; NaN without human pedal.

    >>> pedal_f1(np.array([1.0, 1.0, 0.0, 0.0]), np.array([1.0, 0.0, 1.0, 0.0])), pedal_f1(np.ones(2), np.zeros(2))
    (0.5, nan)
    """
    r, h = rendered >= 0.5, human >= 0.5
    if not h.any():
        return float("nan")
    return float(2 * (r & h).sum() / (r.sum() + h.sum()))


HUMAN = "human ceiling"


def _as_performer(system, performer: str) -> str | None:
    """The human performance's performer when the system knows them, else its default (a pianist met
    only in the test pieces has no embedding to play as)."""
    known = getattr(system, "performers", None)
    return performer if known is None or performer in known else None


def fit_pedal_threshold(system, examples: list[Example], limit: int = 200) -> dict:
    """:func:`~deepperformer.render.pedal.base_rate_threshold` of ``system`` (as it renders before any
    recalibration) over up to ``limit`` of ``examples`` (held-out performances, spread over the list: a
    model pedals its training pieces better than new ones), each played as its performer ->
    {"threshold", "human_share", "predicted_share" (at 0.5), "performances", "notes"}, the record a
    checkpoint keeps."""
    pick = np.unique(np.linspace(0, len(examples) - 1, min(limit, len(examples))).astype(int)) if examples else []
    predicted, human = [np.zeros(0)], [np.zeros(0)]
    for k in pick:
        ex = examples[k]
        enc = system.render(ex.score, _as_performer(system, ex.performer))
        _, i, j = np.intersect1d(enc.rows, ex.enc.rows, return_indices=True)
        predicted.append(enc.params["pedal_down"][i])
        human.append(ex.enc.params["pedal_down"][j])
    p, h = np.concatenate(predicted), np.concatenate(human)
    return {
        "threshold": round(base_rate_threshold(p, h), 4),
        "human_share": round(float(np.mean(h >= 0.5)), 4) if len(h) else 0.0,
        "predicted_share": round(float(np.mean(p >= 0.5)), 4) if len(p) else 0.0,
        "performances": len(pick),
        "notes": int(len(p)),
    }


def evaluate_renderers(systems: list, test: list[Example], min_performances: int = 3) -> dict[str, list[dict]]:
    """{system name: one dict of figures per test performance}, plus HUMAN. Pieces with fewer than
    ``min_performances`` human performances are left out (the ceiling needs others to compare with)."""
    by_piece: dict[str, list[Example]] = {}
    for ex in test:
        by_piece.setdefault(ex.piece, []).append(ex)
    kept = [ex for ex in test if len(by_piece[ex.piece]) >= min_performances]
    out: dict[str, list[dict]] = {s.name: [] for s in systems}
    out[HUMAN] = []
    for ex in kept:
        for s in systems:
            out[s.name].append(compare(s.render(ex.score, _as_performer(s, ex.performer)), ex.enc) | {"recording": ex.recording})
        others = [compare(o.enc, ex.enc) for o in by_piece[ex.piece] if o is not ex]
        if others:
            out[HUMAN].append({k: float(np.mean([o[k] for o in others])) for k in others[0]} | {"recording": ex.recording})
    return out


def _mean(values: list[float]) -> float:
    """Mean over the defined values (NaN: a figure that does not apply, such as pedal F1 without pedal)."""
    v = np.asarray(values, float)
    v = v[~np.isnan(v)]
    return float(v.mean()) if len(v) else float("nan")


def summarize(results: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    """Mean of every figure per system (over the performances where it is defined)."""
    return {name: {k: _mean([r[k] for r in rows]) for k in rows[0] if k != "recording"} for name, rows in results.items() if rows}
