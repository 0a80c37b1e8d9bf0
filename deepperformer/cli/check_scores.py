"""``deepperformer check-scores DATA``: load every score of the datasets at hand and report failures."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    """Add this module's command(s) to the ``deepperformer`` sub-parsers."""
    cs = sub.add_parser("check-scores", help="load every score of the datasets under a data folder and report failures")
    cs.add_argument("root", type=Path, help="folder holding nasap/, vienna4x22/, batik/, bach-violin/, or any folder of scores")
    cs.add_argument("--sample", type=int, help="check at most this many files, evenly spaced")
    cs.add_argument("-o", "--out", type=Path, help="CSV with one row per score")
    cs.add_argument("--work", type=Path, default=Path("prepared/_work"), help="where archives are extracted")
    cs.add_argument("--workers", type=int, default=1)
    cs.set_defaults(run=cmd_check_scores)


def cmd_check_scores(a) -> int:
    from deepperformer.core.errors import require_dir
    from deepperformer.data.score_check import check_scores

    res = check_scores(require_dir(a.root, "data folder"), a.out, a.work, workers=a.workers, sample=a.sample)
    for d in sorted(set(res["ok"]) | set(res["failed"])):
        print(f"{d:<12} loaded {res['ok'].get(d, 0):>4}  failed {res['failed'].get(d, 0):>4}")
    for e in res["errors"]:
        print(f"  failed: {e}")
    print(f"pass rate over the {res['partitura_reads']} files partitura itself reads: {100 * res['pass_rate']:.1f} %")
    return 0
