"""The renderer table: systems against human test performances (:func:`~deepperformer.render.metrics.evaluate_renderers`),
compared per feature with Wilcoxon signed-rank tests over the test performances, as markdown."""

from __future__ import annotations

import copy

import numpy as np
from scipy.stats import wilcoxon

from deepperformer.core.errors import DeepPerformerError
from deepperformer.render.baselines import AlwaysPedal, BasisRidge, Deadpan, MeanCurve
from deepperformer.render.controls import direction_shares, format_controls, performer_share
from deepperformer.render.corpus import load_examples
from deepperformer.render.metrics import FEATURES, HUMAN, evaluate_renderers, summarize

#: (label, per-performance key) of every figure the Wilcoxon lines compare, in their order
COMPARED = [(f"{f} r", f"{f}_r") for f in FEATURES] + [
    ("velocity MAE, level removed", "velocity_level_mae"),
    ("tempo error", "tempo_error"),
    ("pedal r", "pedal_r"),
    ("pedal F1", "pedal_f1"),
]


def wins(results: dict[str, list[dict]], system: str, baseline: str) -> dict[str, tuple[float, float]]:
    """{"<feature> r", "tempo error" (and "pedal r", "pedal F1" where the test performances used the
    pedal): (mean difference system - baseline, Wilcoxon signed-rank p)} over the test performances
    where the figure is defined. The velocity MAE (level removed) and the global tempo error are the
    figures where lower is better: a negative difference is the system's win."""
    out = {}
    for label, key in COMPARED:
        a = np.array([r[key] for r in results[system]], float)
        b = np.array([r[key] for r in results[baseline]], float)
        keep = ~(np.isnan(a) | np.isnan(b))
        if not keep.any():
            continue  # no pedal in these performances (violin)
        a, b = a[keep], b[keep]
        d = a - b
        p = float(wilcoxon(a, b).pvalue) if len(d) >= 2 and np.any(d != 0) else 1.0
        out[label] = (float(d.mean()), p)
    return out


def format_renderer_table(summary: dict[str, dict[str, float]], n: int) -> str:
    """Markdown table: Pearson r and MAE per feature, global tempo error and (where the human
    performances used the pedal) pedal r, MAE and F1, per system."""
    pedal = any(not np.isnan(s.get("pedal_f1", np.nan)) for s in summary.values())
    head = (
        "| system | "
        + " | ".join(f"{f} r | {f} MAE" for f in FEATURES)
        + " | velocity MAE, level removed | tempo error |"
        + (" pedal r | pedal MAE | pedal F1 |" if pedal else "")
    )
    lines = [
        f"Renderers against {n} human test performances (mean over performances)",
        "",
        head,
        "|" + "---|" * (2 * len(FEATURES) + 3 + 3 * pedal),
    ]
    for name, s in summary.items():
        cells = " | ".join(f"{s[f + '_r']:.3f} | {s[f + '_mae']:.3f}" for f in FEATURES)
        extra = f" {s.get('pedal_r', np.nan):.3f} | {s.get('pedal_mae', np.nan):.3f} | {s['pedal_f1']:.3f} |" if pedal else ""
        level = s.get("velocity_level_mae", np.nan)
        lines.append(f"| {name} | {cells} | {level:.3f} | {100 * s['tempo_error']:.1f} % |{extra}")
    return "\n".join(lines)


def renderer_report(
    renderers: list,
    manifests: list,
    split: str = "test",
    instrument: str | None = None,
    min_performances: int = 3,
    controls: bool = True,
) -> tuple[str, dict]:
    """The renderer table on ``split`` of ``manifests``: deadpan, the mean curve and the basis ridge
    (fitted on the training split), the given renderers, and the human ceiling (where the performances
    used the pedal, also "always pedal down" and each recalibrated renderer with its pedal as
    predicted, rows to read the pedal columns by); then, for each
    renderer, its Wilcoxon comparison with each baseline, and (``controls``) its control checks
    (:mod:`deepperformer.render.controls`) over the split's pieces. -> (markdown, per-performance results)."""
    if instrument is None:  # the renderers' own instrument; with baselines alone, every instrument of the manifests
        made_for = {getattr(r, "instrument", None) for r in renderers} - {None}
        if len(made_for) > 1:
            raise DeepPerformerError(None, f"renderers for different instruments ({', '.join(sorted(made_for))}): one table each")
        instrument = made_for.pop() if made_for else None
    train = load_examples(manifests, ("train",), instrument, progress=True)
    test = load_examples(manifests, (split,), instrument, progress=True)
    baselines = [Deadpan(), MeanCurve().fit(train), BasisRidge().fit(train)]
    references = []  # rows to read the others by, not compared in the Wilcoxon lines
    if any(len(ex.pedal) for ex in test):
        references.append(AlwaysPedal())  # what pedal F1's base rate alone scores
        for r in renderers:
            if getattr(r, "pedal_threshold", 0.5) != 0.5:  # the ablation of its pedal recalibration
                raw = copy.copy(r)
                raw.name, raw.pedal_threshold = f"{r.name}, pedal as predicted", 0.5
                references.append(raw)
    for r in renderers:
        if getattr(r, "residual_scale", None) is not None:  # the ablation of its fitted residual share
            raw = copy.copy(r)
            raw.name, raw.residual_scale = f"{r.name}, residual as trained", None
            references.append(raw)
        if getattr(r, "windows", None) is not None:  # the ablation of its fitted windows
            raw = copy.copy(r)
            raw.name, raw.windows = f"{r.name}, one window", None
            references.append(raw)
    results = evaluate_renderers(baselines + list(renderers) + references, test, min_performances)
    n = len(results[HUMAN])
    lines = [
        format_renderer_table(summarize(results), n),
        "",
        f"Split {split!r}: {n} performances of {len({r['recording'].split('/')[0] for r in results[HUMAN]})} recordings "
        f"in pieces with at least {min_performances} performances; baselines fitted on {len(train)} training performances.",
    ]
    for r in renderers:
        for b in baselines:
            w = wins(results, r.name, b.name)
            lines.append(f"{r.name} vs {b.name}: " + ", ".join(f"{f} {d:+.3f} (p={p:.3g})" for f, (d, p) in w.items()))
    if controls:
        scores = list({ex.piece: ex.score for ex in test}.values())
        for r in renderers:
            lines += ["", format_controls(r.name, direction_shares(r, scores), performer_share(r, test))]
    return "\n".join(lines), results
