"""The vocoder stage's own measure: copy synthesis of held-out clips (real mel -> vocoder -> mel)."""

from __future__ import annotations

import numpy as np
import torch

from deepperformer.audio.mel import LogMel
from deepperformer.data.audio_clips import collate_audio
from deepperformer.vocoders.stft import multi_resolution_stft


@torch.no_grad()
def copy_synthesis_errors(model: torch.nn.Module, dataset, batch_size: int = 8, progress: bool = False) -> dict:
    """Vocoder on held-out clips (an AudioClipDataset): log-mel MSE between the mels of real and vocoded audio, and the
    multi-resolution STFT distance (spectral convergence, log-magnitude L1), means over clips."""
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    log_mel, hop = LogMel(dataset.mel_config), model.config.hop_length
    model.eval()
    sse = count = 0.0
    sc_all, mag_all = [], []
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_audio)
    for mel, audio, lengths, _ in tqdm(loader, desc="copy synthesis", unit="batch", disable=not progress, dynamic_ncols=True):
        y_hat = model(mel)
        for i in range(mel.shape[0]):
            n = int(lengths[i]) * hop
            a, b = log_mel(y_hat[i : i + 1, :n]), log_mel(audio[i : i + 1, :n])
            sse, count = sse + float(((a - b) ** 2).sum()), count + a.numel()
            sc, mag = multi_resolution_stft(y_hat[i : i + 1, :n], audio[i : i + 1, :n])
            sc_all.append(float(sc))
            mag_all.append(float(mag))
    return {
        "logmel_mse": sse / max(count, 1.0),
        "stft_sc": float(np.mean(sc_all)),
        "stft_mag": float(np.mean(mag_all)),
        "clips": len(dataset),
    }
