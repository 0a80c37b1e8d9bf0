"""Stage 1's options, shared by ``render`` and ``synthesize`` (a helper module, not a command)."""

from __future__ import annotations

from pathlib import Path

DIRECTION_HELP = (
    "a performance direction, WORD[:STRENGTH][@BAR[-BAR]] (repeatable): louder, softer, faster, slower, "
    "more-rubato, less-rubato, legato, staccato; e.g. softer@12-20, faster:0.5"
)


def add_arguments(p, performer_help: str) -> None:
    """The renderer's flags on parser ``p``."""
    p.add_argument("--renderer", type=Path, help="a trained renderer checkpoint (default: the one shipped for the instrument)")
    p.add_argument("--deadpan", action="store_true", help="play the score as marked (metronomic, dynamics only)")
    p.add_argument("--performer", action="append", help=performer_help)
    p.add_argument(
        "--expressiveness", type=float, default=1.0, help="0 = deadpan, 1 = as the renderer learnt (default), >1 exaggerated"
    )
    p.add_argument("--direction", action="append", default=[], help=DIRECTION_HELP)
    p.add_argument("--seed", type=int, help="draw the renderer's style with this seed (default: its most typical style)")


def renderer_from(a, instrument: str):
    """(renderer or None for deadpan, directions) from parsed arguments."""
    from deepperformer.pipeline.loading import stage_one
    from deepperformer.render.directions import Direction

    directions = tuple(Direction.parse(d) for d in a.direction)
    return stage_one(instrument, a.renderer, a.deadpan, a.expressiveness, a.seed), directions
