"""Stage 1's entry: what the user gives (a score or a performance file) -> the notes to play.

A score is rendered, by a trained renderer when one is given (:class:`~deepperformer.render.inference.ExpressiveRenderer`)
or deadpan; a performance (MIDI, match, note CSV) is played as it is, its tempo estimated from its
score alignment when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deepperformer.core.errors import DeepPerformerError, require_file
from deepperformer.core.performance import (
    PERFORMANCE_SUFFIXES,
    Performance,
    load_performance,
)
from deepperformer.core.score import SCORE_SUFFIXES, Score, load_score
from deepperformer.core.tempo import check_qpm, estimate_tempo
from deepperformer.render.codec import Encoded, decode
from deepperformer.render.deadpan import deadpan
from deepperformer.render.directions import Direction
from deepperformer.render.inference import ExpressiveRenderer


@dataclass
class Rendered:
    """Stage 1's result: the notes to play and the tempo to condition on (qpm, 0 = unknown)."""

    performance: Performance
    tempo_qpm: float
    source: str  # "score" or "performance"


def render_score(
    score: Score,
    renderer: ExpressiveRenderer | None = None,
    performer: str | None = None,
    tempo: float | None = None,
    directions: tuple[Direction, ...] = (),
) -> tuple[Performance, Encoded | None]:
    """Stage 1 on a loaded score: (the renderer's performance, its codec parameters; the score needs
    its features), or (deadpan, None) when ``renderer`` is None."""
    if renderer is None:
        if directions:
            raise DeepPerformerError(score.source or None, "--direction needs a renderer (none for this instrument: --renderer)")
        return deadpan(score, qpm=tempo), None
    enc = renderer.render(score, performer, tempo, directions)
    return decode(score, enc, source=score.source), enc


def load_input(
    path: Path,
    tempo: float | None = None,
    unfold: str = "maximal",
    renderer: ExpressiveRenderer | None = None,
    performer: str | None = None,
    parts: list[str] | None = None,
    directions: tuple[Direction, ...] = (),
) -> Rendered:
    """A score (rendered by ``renderer``, else deadpan) or a performance (taken as played).

    MIDI is read as a performance, with its own timing and pedal, unless ``tempo`` is given: then it
    is read as a score and rendered at that tempo.
    """
    path = require_file(path, "input")
    suffix = path.suffix.lower()
    check_qpm(tempo)
    if suffix in PERFORMANCE_SUFFIXES and not (tempo is not None and suffix in SCORE_SUFFIXES):
        if tempo is not None:
            raise DeepPerformerError(path, "--tempo applies to scores; a performance keeps its own timing")
        if parts or directions:
            raise DeepPerformerError(path, "--part and --direction apply to scores; a performance is played as it is")
        return Rendered(load_performance(path), 0.0, "performance")
    if suffix not in SCORE_SUFFIXES:
        raise DeepPerformerError(
            path,
            f"unsupported input {suffix!r} (scores: {', '.join(SCORE_SUFFIXES)}; performances: "
            f"{', '.join(PERFORMANCE_SUFFIXES)})",
        )

    score = load_score(path, unfold=unfold, features=renderer is not None, parts=parts)
    perf, _ = render_score(score, renderer, performer, tempo, directions)
    return Rendered(perf, estimate_tempo(perf, score), "score")
