"""Randomness that a resumed training run replays exactly: every random choice of a training item
comes from a seed its batch sampler hands over with the item's index (``Draw``), not from a global
generator whose state a killed process takes with it."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Draw(NamedTuple):
    """A dataset key: the item's index and the seed of its random choices (a crop's start, ...)."""

    index: int
    seed: int


def draw_rng(key) -> tuple[int, np.random.Generator]:
    """(index, generator for the item's random choices) from a :class:`Draw`, or from a plain index
    (then the generator is freshly seeded from the OS: ad-hoc use outside training).

    >>> i, rng = draw_rng(Draw(3, 7)); j, again = draw_rng(Draw(3, 7))
    >>> i, int(rng.integers(1000)) == int(again.integers(1000))
    (3, True)
    """
    if isinstance(key, Draw):
        return int(key.index), np.random.default_rng(key.seed)
    return int(key), np.random.default_rng()


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers (a run's seed, a step, a position), well mixed.

    >>> derive_seed(0, 1) != derive_seed(1, 0)
    True
    """
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> np.uint64(1))
