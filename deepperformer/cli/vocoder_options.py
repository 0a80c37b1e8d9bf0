"""The vocoder's options, shared by ``synthesize`` and ``vocode`` (a helper module, not a command)."""

from __future__ import annotations

from deepperformer.vocoders import REFINE_ITERS


def add_refine_arguments(p) -> None:
    """``--refine N`` / ``--no-refine`` on parser ``p`` (dest ``refine``: iterations, or None)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--refine",
        type=int,
        default=REFINE_ITERS,
        metavar="N",
        help="after a neural vocoder, put its audio back on the mel with N Griffin-Lim iterations from its phase "
        f"(0: band gains only; default {REFINE_ITERS})",
    )
    g.add_argument("--no-refine", dest="refine", action="store_const", const=None, help="the vocoder's raw output")


def refine_from(a) -> int | None:
    """The refinement iterations asked for (None: none); a negative count is refused."""
    from deepperformer.core.errors import DeepPerformerError

    if a.refine is not None and a.refine < 0:
        raise DeepPerformerError(None, f"--refine {a.refine}: expected 0 or more iterations")
    return a.refine
