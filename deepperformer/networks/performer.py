"""The performer embedding lookup shared by the acoustic model and the baseline."""

from __future__ import annotations

import torch
from torch import nn


def embed_performers(emb: nn.Embedding, performer: torch.Tensor) -> torch.Tensor:
    """Rows ``[B, d]`` of ``emb`` for performer indices ``[B]``; an index outside the table is refused
    (a clamp would silently play another performer).

    >>> embed_performers(nn.Embedding(2, 3), torch.tensor([1])).shape
    torch.Size([1, 3])
    >>> embed_performers(nn.Embedding(2, 3), torch.tensor([2]))
    Traceback (most recent call last):
    ...
    IndexError: performer index 2 outside the model's 2 performers (0..1)
    """
    n = emb.num_embeddings
    if performer.numel() and (int(performer.min()) < 0 or int(performer.max()) >= n):
        bad = int(performer.max()) if int(performer.max()) >= n else int(performer.min())
        raise IndexError(f"performer index {bad} outside the model's {n} performers (0..{n - 1})")
    return emb(performer)
