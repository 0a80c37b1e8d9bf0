"""What every vocoder is: a module ``forward(log_mel [B, T, n_mels]) -> wave [B, T * hop]`` with a
``config`` that gives ``hop_length`` and ``receptive_field_frames()`` (:class:`MelVocoder`), and the
one chunked inference that vocodes any length with flat memory.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm


@runtime_checkable
class MelVocoder(Protocol):
    """Stage 3, as the pipeline sees it: HiFi-GAN, Vocos and Griffin-Lim all fit it."""

    config: Any  # a config dataclass with ``hop_length`` (samples per mel frame)

    def __call__(self, log_mel: torch.Tensor) -> torch.Tensor:
        """``log_mel [B, T, n_mels]`` -> waveform ``[B, T * hop]``."""
        ...

    def vocode(self, log_mel: np.ndarray, progress: bool = False) -> np.ndarray:
        """A whole piece: ``log_mel [T, n_mels]`` -> float32 waveform ``[T * hop]``."""
        ...


@torch.no_grad()
def vocode_chunked(model: nn.Module, log_mel: np.ndarray, chunk_frames: int, progress: bool = False) -> np.ndarray:
    """Waveform float32 ``[T * hop]`` of a log-mel ``[T, n_mels]`` of any length, for any vocoder
    whose ``config`` gives ``hop_length`` and ``receptive_field_frames()``.

    Each chunk of ``chunk_frames`` is generated with ``receptive_field_frames()`` of real mel context
    on both sides (the edge frames of the whole input are repeated, as in HiFi-GAN's own inference
    padding), and only its own samples are kept: the result equals the one-shot output up to float
    rounding, with memory bounded by the chunk size. A model whose output depends on where a frame
    lies in the piece (``position_dependent = True``: the refinement's seeded phase) is told the index of
    its chunk's first frame, ``forward(mel, frame_offset=i)``, so that chunks agree with one shot.
    """
    model.eval()
    hop, pad = model.config.hop_length, model.config.receptive_field_frames()
    mel = torch.from_numpy(np.ascontiguousarray(log_mel, dtype=np.float32))
    total = mel.shape[0]
    mel = torch.cat([mel[:1].expand(pad, -1), mel, mel[-1:].expand(pad, -1)])  # replicate the edges
    out = np.zeros(total * hop, np.float32)
    starts = range(0, total, chunk_frames)
    device = next(model.parameters()).device
    for s in tqdm(starts, desc="vocoder", unit="chunk", disable=not progress or len(starts) < 2, dynamic_ncols=True):
        e = min(total, s + chunk_frames)
        kwargs = {"frame_offset": s - pad} if getattr(model, "position_dependent", False) else {}
        wav = model(mel[s : e + 2 * pad][None].to(device), **kwargs)[0]  # covers frames [s - pad, e + pad)
        out[s * hop : e * hop] = wav[pad * hop : (pad + e - s) * hop].float().cpu().numpy()
    return out
