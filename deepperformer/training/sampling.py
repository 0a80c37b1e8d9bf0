"""Training batches as a function of the step, so a run killed at any moment and resumed from its last
checkpoint trains on exactly the batches, crops and dropout masks an uninterrupted run would.

:class:`StepBatchSampler` gives batch ``k`` from the permutation of epoch ``k // batches_per_epoch``
(seeded by the run's seed and the epoch), each index paired with a seed for its random crop
(:class:`~deepperformer.core.seeding.Draw`); it never ends (training stops at ``max_steps``).
:class:`StepSeeding` counts the batches trained, keeps the count in the Lightning checkpoint, restarts
the sampler there on resume, and seeds torch before every batch (dropout, a VAE's sampled latent).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from deepperformer.core.seeding import Draw, derive_seed


class StepBatchSampler(Sampler):
    """Endless batches of :class:`Draw` keys over ``n`` items; starts at batch ``start``.

    >>> s = StepBatchSampler(10, 4, seed=1)
    >>> first_epoch = [d.index for k in (0, 1) for d in s.batch(k)]
    >>> s.batches_per_epoch, len(s.batch(0)), len(set(first_epoch))  # no item twice in an epoch
    (2, 4, 8)
    >>> s.batch(5) == StepBatchSampler(10, 4, seed=1).batch(5)
    True
    """

    def __init__(self, n: int, batch_size: int, seed: int = 0, drop_last: bool = True):
        if n < 1:
            raise ValueError("no items to sample")
        self.n, self.batch_size, self.seed = n, min(batch_size, n), int(seed)
        self.batches_per_epoch = n // self.batch_size if drop_last else math.ceil(n / self.batch_size)
        self.start = 0

    def batch(self, k: int) -> list[Draw]:
        epoch, j = divmod(k, self.batches_per_epoch)
        order = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        rows = order[j * self.batch_size : (j + 1) * self.batch_size]
        return [Draw(int(i), derive_seed(self.seed, k, m)) for m, i in enumerate(rows)]

    def __iter__(self):
        k = self.start
        while True:
            yield self.batch(k)
            k += 1


def step_loader(dataset, batch_size: int, seed: int, collate_fn=None, num_workers: int = 0) -> DataLoader:
    """A training DataLoader over ``dataset`` with a :class:`StepBatchSampler`."""
    sampler = StepBatchSampler(len(dataset), batch_size, seed, drop_last=len(dataset) > batch_size)
    return DataLoader(
        dataset, batch_sampler=sampler, collate_fn=collate_fn, num_workers=num_workers, persistent_workers=num_workers > 0
    )


def step_seeding(sampler: StepBatchSampler):
    """The Lightning callback that keeps ``sampler`` and torch's generator (seeded from the sampler's
    seed) in step with the batches trained."""
    import lightning as L

    seed = sampler.seed

    class StepSeeding(L.Callback):
        def __init__(self):
            self.batches = 0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            torch.manual_seed(derive_seed(seed, self.batches, 1))

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.batches += 1

        def state_dict(self):
            return {"batches": self.batches}

        def load_state_dict(self, state):
            self.batches = int(state["batches"])
            sampler.start = self.batches  # the resumed run goes on with the next batch

    return StepSeeding()
