"""``listening-test analyze DIR ANSWERS... -o REPORT``: the test's result, from the listeners' answers.

- Answers are what the page saves (JSON, or its CSV ``listener,trial,file,score``), joined with
  ``DIR/key.csv``; a malformed file is one error naming it.
- MUSHRA post-screening (ITU-R BS.1534-3, 4.1.2): a listener who rates the hidden reference below 90
  in more than 15 % of the trials is excluded (and listed).
- Per system: mean score with two 95 % confidence intervals, t-based over all ratings and a
  bootstrap that resamples listeners and excerpts (the two sources of variance), seeded.
- Pairwise: Wilcoxon signed-rank tests on the ratings paired by listener and excerpt, with Holm's
  correction for the number of pairs.
- REPORT: ``report.md``, ``systems.csv``, ``pairs.csv``, and PNG box/strip plots per system and per
  excerpt.
"""

from __future__ import annotations

import csv
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepperformer.core.atomic import atomic_path, write_text
from deepperformer.core.errors import DeepPerformerError
from deepperformer.listening.build import read_key

HIDDEN_REFERENCE_MIN = 90.0
HIDDEN_REFERENCE_SHARE = 0.15


@dataclass(frozen=True)
class Rating:
    listener: str
    excerpt: str
    system: str
    role: str
    score: float


def read_answers(path: Path) -> tuple[str | None, list[dict]]:
    """(mode or None, [{"listener", "trial", "file", "score"}]) from one answers file (JSON or CSV)."""
    path = Path(path)
    if not path.is_file():
        raise DeepPerformerError(path, "answers file not found")
    text = path.read_text(errors="replace")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
            rows = [{"listener": data["listener"], **r} for r in data["ratings"]]
            mode = data.get("mode")
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise DeepPerformerError(path, f"not an answers file of this test's page ({type(e).__name__}: {e})") from None
    elif path.suffix.lower() == ".csv":
        rows, mode = list(csv.DictReader(text.splitlines())), None
        if not rows or any(k not in rows[0] for k in ("listener", "trial", "file", "score")):
            raise DeepPerformerError(path, "not an answers CSV (columns listener, trial, file, score expected)")
    else:
        raise DeepPerformerError(path, "answers must be the page's .json or .csv")
    for r in rows:
        try:
            r["score"] = float(r["score"])
        except (TypeError, ValueError, KeyError):
            raise DeepPerformerError(path, f"a rating without a numeric score ({r})") from None
        if not str(r.get("listener", "")).strip() or not r.get("file"):
            raise DeepPerformerError(path, f"a rating without listener or file ({r})")
    return mode, rows


def join(key: dict[str, dict], answers: list[tuple[Path, list[dict]]], mode: str) -> list[Rating]:
    """Ratings with their systems; a file unknown to the key, a score out of range, or one listener
    rating one file twice is an error naming the answers file."""
    lo, hi = (0.0, 100.0) if mode == "mushra" else (1.0, 5.0)
    seen: set[tuple[str, str]] = set()
    out = []
    for path, rows in answers:
        for r in rows:
            k = key.get(r["file"])
            if k is None:
                raise DeepPerformerError(
                    path, f"rates {r['file']}, which this test's key does not know (another test's answers?)"
                )
            if not lo <= r["score"] <= hi:
                raise DeepPerformerError(path, f"score {r['score']:g} for {r['file']} is outside {lo:g}..{hi:g}")
            if (r["listener"], r["file"]) in seen:
                raise DeepPerformerError(
                    path, f"listener {r['listener']} rated {r['file']} twice (the same answers given twice?)"
                )
            seen.add((r["listener"], r["file"]))
            out.append(Rating(str(r["listener"]), k["excerpt"], k["system"], k["role"], r["score"]))
    return out


def post_screen(ratings: list[Rating]) -> tuple[list[Rating], dict[str, float]]:
    """MUSHRA post-screening: (the ratings of the listeners kept, {excluded listener: share of trials
    with the hidden reference below 90})."""
    excluded = {}
    for who in sorted({r.listener for r in ratings}):
        hidden = [r.score for r in ratings if r.listener == who and r.role == "hidden-reference"]
        share = float(np.mean(np.array(hidden) < HIDDEN_REFERENCE_MIN)) if hidden else 0.0
        if share > HIDDEN_REFERENCE_SHARE:
            excluded[who] = share
    return [r for r in ratings if r.listener not in excluded], excluded


def t_interval(x: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The t-based confidence interval of the mean of ``x``.

    >>> [round(v, 3) for v in t_interval(np.array([1.0, 2.0, 3.0, 4.0]))]
    [0.446, 4.554]
    """
    from scipy.stats import t

    if len(x) < 2:
        return float("nan"), float("nan")
    half = t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return float(x.mean() - half), float(x.mean() + half)


def bootstrap_interval(ratings: list[Rating], system: str, reps: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % interval of ``system``'s mean score, resampling listeners and excerpts with replacement."""
    mine = [r for r in ratings if r.system == system]
    listeners = sorted({r.listener for r in mine})
    excerpts = sorted({r.excerpt for r in mine})
    if len(listeners) < 2 and len(excerpts) < 2:
        return float("nan"), float("nan")
    table = {(r.listener, r.excerpt): [] for r in mine}
    for r in mine:
        table[(r.listener, r.excerpt)].append(r.score)
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(reps):
        ls = rng.choice(listeners, len(listeners))
        es = rng.choice(excerpts, len(excerpts))
        vals = [s for a in ls for e in es for s in table.get((a, e), [])]
        if vals:
            means.append(np.mean(vals))
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order.

    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    m = len(pvalues)
    order = np.argsort(pvalues)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return [round(float(a), 12) for a in adjusted]


def system_table(ratings: list[Rating], seed: int = 0) -> list[dict]:
    rows = []
    for system in dict.fromkeys(r.system for r in ratings):
        x = np.array([r.score for r in ratings if r.system == system])
        lo, hi = t_interval(x)
        blo, bhi = bootstrap_interval(ratings, system, seed=seed)
        rows.append(
            {"system": system, "n": len(x), "mean": float(x.mean()), "t_low": lo, "t_high": hi, "boot_low": blo, "boot_high": bhi}
        )
    return sorted(rows, key=lambda r: -r["mean"])


def pair_table(ratings: list[Rating]) -> list[dict]:
    """Wilcoxon signed-rank test for every pair of systems, paired by (listener, excerpt), Holm-adjusted."""
    from scipy.stats import wilcoxon

    by = {}
    for r in ratings:
        by.setdefault(r.system, {}).setdefault((r.listener, r.excerpt), []).append(r.score)
    systems = list(by)
    rows = []
    for a, b in itertools.combinations(systems, 2):
        shared = sorted(set(by[a]) & set(by[b]))
        x = np.array([np.mean(by[a][k]) for k in shared])
        y = np.array([np.mean(by[b][k]) for k in shared])
        p = float(wilcoxon(x, y).pvalue) if len(shared) >= 2 and np.any(x != y) else 1.0
        rows.append(
            {"a": a, "b": b, "pairs": len(shared), "mean_difference": float((x - y).mean()) if len(x) else float("nan"), "p": p}
        )
    for row, adj in zip(rows, holm([r["p"] for r in rows])):
        row["p_holm"] = adj
    return rows


def analyze(test_dir: Path, answer_files: list[Path], out: Path, seed: int = 0) -> str:
    """Write the report into ``out``; -> its markdown."""
    key = read_key(Path(test_dir) / "key.csv")
    loaded = [(Path(p), *read_answers(p)) for p in answer_files]
    modes = {m for _, m, _ in loaded if m}
    roles = {k["role"] for k in key.values()}
    mode = "mushra" if "hidden-reference" in roles else "mos"
    if modes - {mode}:
        bad = next(p for p, m, _ in loaded if m and m != mode)
        raise DeepPerformerError(bad, f"answers of a {modes - {mode}} test; {test_dir} holds a {mode} test")
    ratings = join(key, [(p, rows) for p, _, rows in loaded], mode)
    if not ratings:
        raise DeepPerformerError(answer_files[0] if answer_files else None, "no ratings")
    excluded: dict[str, float] = {}
    if mode == "mushra":
        ratings, excluded = post_screen(ratings)
        if not ratings:
            raise DeepPerformerError(None, f"every listener was excluded by the post-screening ({', '.join(excluded)})")
    systems, pairs = system_table(ratings, seed), pair_table([r for r in ratings if r.role != "reference"])
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "systems.csv", systems)
    _write_csv(out / "pairs.csv", pairs)
    _plots(ratings, out, mode)
    listeners = sorted({r.listener for r in ratings})
    lines = [
        f"# Listening test: {mode.upper()}",
        "",
        f"{len(listeners)} listeners kept ({', '.join(listeners)}), {len(ratings)} ratings, "
        f"{len({r.excerpt for r in ratings})} excerpts.",
    ]
    if mode == "mushra":
        lines.append(
            "Post-screening (hidden reference below 90 in more than 15 % of trials): "
            + (", ".join(f"{w} excluded ({100 * s:.0f} %)" for w, s in excluded.items()) if excluded else "nobody excluded")
            + "."
        )
    lines += ["", "| system | n | mean | 95 % CI (t) | 95 % CI (bootstrap: listeners x excerpts) |", "|---|---:|---:|---|---|"]
    for r in systems:
        lines.append(
            f"| {r['system']} | {r['n']} | {r['mean']:.2f} | {r['t_low']:.2f} - {r['t_high']:.2f} | "
            f"{r['boot_low']:.2f} - {r['boot_high']:.2f} |"
        )
    lines += ["", "Wilcoxon signed-rank, paired by listener and excerpt, Holm-adjusted:", ""]
    lines += ["| a | b | pairs | mean a - b | p | p (Holm) |", "|---|---|---:|---:|---:|---:|"]
    for r in pairs:
        lines.append(f"| {r['a']} | {r['b']} | {r['pairs']} | {r['mean_difference']:+.2f} | {r['p']:.3g} | {r['p_holm']:.3g} |")
    lines += ["", "Plots: systems.png (per system), excerpts.png (per excerpt)."]
    report = "\n".join(lines) + "\n"
    write_text(out / "report.md", report)
    return report


def _write_csv(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        if rows:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


def _plots(ratings: list[Rating], out: Path, mode: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(dict.fromkeys(r.system for r in ratings))
    excerpts = list(dict.fromkeys(r.excerpt for r in ratings))
    label = "score (0-100)" if mode == "mushra" else "opinion score (1-5)"
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(systems)), 4), dpi=100)
    data = [[r.score for r in ratings if r.system == s] for s in systems]
    ax.boxplot(data, showfliers=False)
    ax.set_xticks(range(1, len(systems) + 1), systems, rotation=20, ha="right")
    for i, d in enumerate(data, 1):
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(d)), d, s=8, alpha=0.6)
    ax.set_ylabel(label)
    fig.tight_layout()
    with atomic_path(out / "systems.png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    fig, axes = plt.subplots(1, len(excerpts), figsize=(max(5, 3 * len(excerpts)), 4), dpi=100, squeeze=False, sharey=True)
    for ax, e in zip(axes[0], excerpts):
        data = [[r.score for r in ratings if r.system == s and r.excerpt == e] for s in systems]
        ax.boxplot(data, showfliers=False)
        ax.set_xticks(range(1, len(systems) + 1), systems, rotation=30, ha="right", fontsize=7)
        ax.set_title(e, fontsize=9)
    axes[0][0].set_ylabel(label)
    fig.tight_layout()
    with atomic_path(out / "excerpts.png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
