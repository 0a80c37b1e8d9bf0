"""``deepperformer prepare`` and ``datasets``: a dataset in its official layout -> manifest, splits, caches."""

from __future__ import annotations

from pathlib import Path

from deepperformer.core.errors import DeepPerformerError


def register(sub) -> None:
    """Add this module's command(s) to the ``deepperformer`` sub-parsers."""
    from deepperformer.data.synthetic import SOURCE_NAMES

    pr = sub.add_parser("prepare", help="prepare a dataset in its official layout: manifest, splits, cached mels and notes")
    pr.add_argument("dataset", help="bach-violin | maestro | nasap | vienna4x22 | batik | synthetic")
    pr.add_argument("root", type=Path, help="the dataset's folder (for synthetic: a folder holding the source datasets)")
    pr.add_argument("-o", "--out", type=Path, required=True, help="output folder (resumed if it exists)")
    pr.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    pr.add_argument("--strict", action="store_true", help="stop at the first recording that fails instead of skipping it")
    pr.add_argument("--splits", type=Path, help="a splits.json whose held-out pieces are kept (e.g. from another corpus)")
    pr.add_argument("--limit", type=int, help="prepare only the first N recordings (for trials)")
    pr.add_argument(
        "--baroque-tuning",
        choices=("transpose", "keep", "skip"),
        default="transpose",
        help="bach-violin: movements played a semitone flat (default: lower their performance pitches by one)",
    )
    pr.add_argument("--all-alignments", action="store_true", help="nasap: also use rows without a robust note alignment")
    pr.add_argument("--piano-hours", type=float, default=2.2, help="synthetic: hours of piano to render (default 2.2)")
    pr.add_argument("--violin-hours", type=float, default=1.1, help="synthetic: hours of violin to render (default 1.1)")
    pr.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help=f"synthetic: folder of a source dataset ({', '.join(SOURCE_NAMES)}); default ROOT/NAME",
    )
    pr.set_defaults(run=cmd_prepare)

    p = sub.add_parser("datasets", help="list the datasets `prepare` knows")
    p.set_defaults(run=cmd_datasets)


def cmd_prepare(a) -> int:
    from deepperformer.data.base import PrepareOptions
    from deepperformer.data.prepare import format_summary, prepare

    sources = {}
    for s in a.source:
        if "=" not in s:
            raise DeepPerformerError(None, f"--source {s!r}: expected NAME=PATH")
        k, v = s.split("=", 1)
        sources[k] = v
    if a.workers < 1:
        raise DeepPerformerError(None, "--workers must be at least 1")
    opts = PrepareOptions(
        baroque_tuning=a.baroque_tuning,
        all_alignments=a.all_alignments,
        piano_hours=a.piano_hours,
        violin_hours=a.violin_hours,
        sources=sources,
    )
    summary = prepare(
        a.dataset, a.root, a.out, workers=a.workers, strict=a.strict, splits_file=a.splits, limit=a.limit, options=opts
    )
    print(format_summary(summary))
    print(f"manifest: {a.out / 'manifest.csv'}")
    return 0


def cmd_datasets(a) -> int:
    from deepperformer.data.prepare import DATASETS

    for name, spec in DATASETS.items():
        print(f"{name:<12} {spec.description}")
    return 0
