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


def check_iterations(n: int | None) -> int | None:
    """``n`` refinement iterations (None: none); a negative count is refused with a one-line error."""
    from deepperformer.core.errors import DeepPerformerError

    if n is not None and n < 0:
        raise DeepPerformerError(None, f"--refine {n}: expected 0 or more iterations")
    return n


def refine_from(a) -> int | None:
    """The refinement iterations asked for (None: none); a negative count is refused."""
    return check_iterations(a.refine)
