"""The acoustic stage's own measure: log-mel MSE over a clip dataset (training's validation
export and ``evaluate`` report the same number).
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from deepperformer.data.clips import ClipDataset, collate_clips


def masked_mse(pred: torch.Tensor, target: torch.Tensor, frame_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of squared errors over real frames and all bins, number of such elements).

    pred, target: ``[B, T, n_mels]``; frame_mask: ``[B, T]``. MSE = sse / count.
    """
    m = frame_mask[..., None].to(pred.dtype)
    sse = ((pred - target) ** 2 * m).sum()
    return sse, m.sum() * pred.shape[-1]


@torch.no_grad()
def evaluate_mse(
    model: torch.nn.Module, dataset: ClipDataset, batch_size: int = 16, device: str = "cpu", progress: bool = False
) -> float:
    """Log-mel MSE of ``model`` over ``dataset`` (mean over real frames and all mel bins)."""
    from tqdm import tqdm

    model.eval().to(device)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_clips)
    sse = count = 0.0
    for notes, mel, _ in tqdm(loader, desc="evaluate", unit="batch", disable=not progress, dynamic_ncols=True):
        s, c = masked_mse(model.predict_log_mel(notes.to(device)), mel.to(device), notes.frame_mask.to(device))
        sse, count = sse + float(s), count + float(c)
    return sse / max(count, 1.0)
