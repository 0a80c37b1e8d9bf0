"""The renderer table: each system against every human test performance, with the human ceiling.

For every test performance, a system renders the same score (as that performance's performer, at
the score's reference tempo) and :func:`deepperformer.render.metrics.compare` measures it. The human
ceiling compares each test performance with the other human performances of its piece (mean over
them). Systems are compared per feature with Wilcoxon signed-rank tests over the test performances.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import wilcoxon

from deepperformer.render.corpus import Example
from deepperformer.render.metrics import FEATURES, compare

HUMAN = "human ceiling"


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
            out[s.name].append(compare(s.render(ex.score, ex.performer), ex.enc) | {"recording": ex.recording})
        others = [compare(o.enc, ex.enc) for o in by_piece[ex.piece] if o is not ex]
        out[HUMAN].append({k: float(np.mean([o[k] for o in others])) for k in others[0]} | {"recording": ex.recording})
    return out


def summarize(results: dict[str, list[dict]]) -> dict[str, dict[str, float]]:
    """Mean of every figure per system."""
    return {
        name: {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "recording"}
        for name, rows in results.items()
        if rows
    }


def wins(results: dict[str, list[dict]], system: str, baseline: str) -> dict[str, tuple[float, float]]:
    """Per feature r: (mean difference system - baseline, Wilcoxon signed-rank p) over test performances."""
    out = {}
    for f in FEATURES:
        a = np.array([r[f"{f}_r"] for r in results[system]])
        b = np.array([r[f"{f}_r"] for r in results[baseline]])
        d = a - b
        p = float(wilcoxon(a, b).pvalue) if len(d) >= 2 and np.any(d != 0) else 1.0
        out[f] = (float(d.mean()), p)
    return out


def format_renderer_table(summary: dict[str, dict[str, float]], n: int) -> str:
    """Markdown table: Pearson r and MAE per feature, global tempo error, per system."""
    head = "| system | " + " | ".join(f"{f} r | {f} MAE" for f in FEATURES) + " | tempo error |"
    lines = [
        f"Renderers against {n} human test performances (mean over performances)",
        "",
        head,
        "|" + "---|" * (2 * len(FEATURES) + 2),
    ]
    for name, s in summary.items():
        cells = " | ".join(f"{s[f + '_r']:.3f} | {s[f + '_mae']:.3f}" for f in FEATURES)
        lines.append(f"| {name} | {cells} | {100 * s['tempo_error']:.1f} % |")
    return "\n".join(lines)
