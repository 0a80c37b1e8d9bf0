"""The global tempo a renderer plays a score at, when no ``--tempo`` is given.

The score's marked tempo is where a pianist starts: the median beat of the score as marked (deadpan,
every metronome marking in its place; ``DEFAULT_QPM`` without any). Pianists do not play it exactly,
and not at random either: over the 709 training performances of the piano corpora they play a marked
score 3.3 % slower than marked (mean log ratio -0.034), and a score without a metronome marking at
about 97 quarters per minute rather than 120 (-0.210). :class:`TempoReference` holds those two mean
log ratios, fitted on the training performances (:func:`fit_tempo_reference`) and stored in the
renderer's checkpoint (``config["tempo_reference"]``).

Why not the model's own guess of the tempo from the notes: on the unmarked validation scores it errs
by 32 % against the constant's 29 % (test 26 % against 16 %); with a marking, the marking is the better
start by far (session 26, checkpoints/README.md). The renderer's tempo curve is then centred on the
reference (its median beat is the reference's), so that ``--tempo QPM`` plays at exactly that median
tempo and the curve shapes the piece around it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from deepperformer.core.score import Score


def marked_qpm(score: Score) -> float:
    """The score's marked global tempo: the median beat of the score played as marked (every metronome
    marking in its place, ``DEFAULT_QPM`` without any), as :meth:`Encoded.qpm` reads a performance. A
    score with a single onset has no beat to measure: its first marking (or ``DEFAULT_QPM``)."""
    from deepperformer.render.baselines import Deadpan

    return Deadpan().render(score).qpm()


@dataclass(frozen=True)
class TempoReference:
    """Mean log ratios of the human global tempo to the marked one, for scores with a metronome
    marking (``marked``) and without (``unmarked``), and how many training performances each came from."""

    marked: float
    unmarked: float
    marked_performances: int = 0
    unmarked_performances: int = 0

    def shift(self, score: Score) -> float:
        """The log ratio that applies to ``score``: ``marked`` when it has a metronome marking."""
        return self.marked if len(score.tempos) else self.unmarked

    def qpm(self, score: Score) -> float:
        """The global tempo to play ``score`` at (quarters per minute of the median beat)."""
        return float(marked_qpm(score) * np.exp(self.shift(score)))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> TempoReference | None:
        """The reference a checkpoint stores, or None (older exports: the first marking, the curve as predicted)."""
        if not d:
            return None
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _against_marked(examples: list):
    """``(example, human qpm, marked qpm)`` for each example with a measured tempo; the marked tempo
    (a deadpan rendering) is computed once per score, however many performances it has."""
    cache: dict[int, float] = {}
    for ex in examples:
        human = ex.enc.qpm()
        if human <= 0:
            continue
        if id(ex.score) not in cache:
            cache[id(ex.score)] = marked_qpm(ex.score)
        yield ex, human, cache[id(ex.score)]


def fit_tempo_reference(examples: list) -> TempoReference | None:
    """The mean log ratio of each training performance's global tempo (``ex.enc.qpm()``) to its score's
    marked one, apart for marked and unmarked scores (0 where a kind has no performance); None without
    examples. ``examples``: :class:`~deepperformer.render.corpus.Example` (the training split)."""
    groups: dict[bool, list[float]] = {True: [], False: []}
    for ex, human, marked in _against_marked(examples):
        groups[len(ex.score.tempos) > 0].append(float(np.log(human / marked)))
    if not groups[True] and not groups[False]:
        return None
    mean = {k: float(np.mean(v)) if v else 0.0 for k, v in groups.items()}
    return TempoReference(mean[True], mean[False], len(groups[True]), len(groups[False]))


def tempo_errors(reference: TempoReference | None, examples: list) -> dict:
    """The relative global-tempo error ``|qpm / human - 1|`` of the reference and of the marked tempo
    alone, as means over ``examples`` (held-out performances), for the checkpoint's provenance."""
    ours, alone = [], []
    for ex, human, marked in _against_marked(examples):
        alone.append(abs(marked / human - 1))
        ours.append(abs(marked * np.exp(reference.shift(ex.score) if reference else 0.0) / human - 1))
    mean = lambda v: float(np.mean(v)) if v else None  # noqa: E731
    return {"performances": len(ours), "error": mean(ours), "marked_error": mean(alone)}
