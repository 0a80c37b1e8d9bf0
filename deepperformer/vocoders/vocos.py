"""A Vocos-style vocoder (Siuzdak 2023): log-mel -> STFT magnitude and phase -> inverse STFT.

Where HiFi-GAN upsamples the mel to the sample rate with transposed convolutions (whose overlaps
leave a comb of partials at multiples of the frame rate until a discriminator trains it away),
Vocos stays at the frame rate: a ConvNeXt stack turns each mel frame into one STFT frame
(``n_fft / 2 + 1`` log-magnitudes and phases) and the inverse STFT, with the mel's own window and hop,
makes the samples. Nothing runs at the sample rate but the iFFT, so it trains and runs far faster on
a CPU than HiFi-GAN. It trains with the same task, losses and discriminators as HiFi-GAN
(:mod:`deepperformer.vocoders.task`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deepperformer.audio.mel import MelConfig
from deepperformer.core.configs import ConfigMixin
from deepperformer.vocoders.base import vocode_chunked


@dataclass
class VocosConfig(ConfigMixin):
    """Sizes of Vocos's mel vocoder (dim 512, 1536 hidden, 8 blocks: 13.5 M parameters); the STFT
    is the mel's (``n_fft``, ``hop_length``), so one mel frame makes one STFT frame."""

    family: str = "vocos"
    n_mels: int = 80
    dim: int = 512
    intermediate_dim: int = 1536
    num_layers: int = 8
    kernel_size: int = 7
    n_fft: int = 1024
    hop_length: int = 256

    def validate(self, mel_config: MelConfig | None = None) -> None:
        if self.family != "vocos":
            raise ValueError(f"family must be 'vocos', not {self.family!r}")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, not {self.kernel_size}")
        if mel_config is not None:
            if (self.n_fft, self.hop_length, self.n_mels) != (mel_config.n_fft, mel_config.hop_length, mel_config.n_mels):
                raise ValueError(
                    f"n_fft/hop_length/n_mels {self.n_fft}/{self.hop_length}/{self.n_mels} differ from the mel "
                    f"configuration's {mel_config.n_fft}/{mel_config.hop_length}/{mel_config.n_mels}"
                )

    def receptive_field_frames(self) -> int:
        """Mel frames of context on each side that reach an output sample: the convolutions' reach
        plus the inverse STFT's overlap (a window spans n_fft / hop frames)."""
        return (self.kernel_size // 2) * (self.num_layers + 1) + self.n_fft // self.hop_length


class ConvNeXtBlock(nn.Module):
    """Depthwise conv -> LayerNorm -> pointwise MLP (GELU) -> layer scale, residual; ``[B, C, T]``."""

    def __init__(self, dim: int, intermediate_dim: int, kernel_size: int, layer_scale: float):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(layer_scale * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dwconv(x).transpose(1, 2)  # [B, T, C]
        h = self.pwconv2(self.act(self.pwconv1(self.norm(h))))
        return x + (self.gamma * h).transpose(1, 2)


class Vocos(nn.Module):
    """``forward(log_mel [B, T, n_mels]) -> waveform [B, T * hop]``.

    >>> m = Vocos(VocosConfig(dim=32, intermediate_dim=64, num_layers=2))
    >>> m(torch.zeros(2, 10, 80)).shape
    torch.Size([2, 2560])
    """

    def __init__(self, config: VocosConfig | None = None):
        super().__init__()
        config = config if config is not None else VocosConfig()  # a fresh default: configs are mutable
        config.validate()
        self.config = c = config
        self.embed = nn.Conv1d(c.n_mels, c.dim, c.kernel_size, padding=c.kernel_size // 2)
        self.norm = nn.LayerNorm(c.dim, eps=1e-6)
        self.blocks = nn.ModuleList(
            [ConvNeXtBlock(c.dim, c.intermediate_dim, c.kernel_size, 1.0 / c.num_layers) for _ in range(c.num_layers)]
        )
        self.final_norm = nn.LayerNorm(c.dim, eps=1e-6)
        self.head = nn.Linear(c.dim, c.n_fft + 2)  # log-magnitude and phase of n_fft / 2 + 1 bins
        self.register_buffer("window", torch.hann_window(c.n_fft), persistent=False)
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv1d, nn.Linear)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    def spectrum(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``[B, n_fft / 2 + 1, T]`` predicted from ``log_mel [B, T, n_mels]``."""
        x = self.embed(log_mel.transpose(1, 2))  # [B, dim, T]
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        h = self.head(self.final_norm(x.transpose(1, 2))).float()  # [B, T, n_fft + 2]
        log_mag, phase = h.chunk(2, dim=-1)
        mag = torch.exp(log_mag.clamp(max=10.0))  # the clamp keeps a diverging start finite
        return torch.polar(mag, phase).transpose(1, 2)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        c = self.config
        spec = self.spectrum(log_mel)
        # frames centred on samples 0, hop, 2 hop, ... exactly as the mel's (center=True)
        return torch.istft(
            spec, c.n_fft, c.hop_length, c.n_fft, window=self.window, center=True, length=log_mel.shape[1] * c.hop_length
        )

    def vocode(self, log_mel: np.ndarray, chunk_frames: int = 4096, progress: bool = False) -> np.ndarray:
        """Waveform float32 ``[T * hop]`` of a log-mel ``[T, n_mels]`` of any length, chunk by chunk
        (:func:`~deepperformer.vocoders.base.vocode_chunked`): equal to the one-shot output."""

        return vocode_chunked(self, log_mel, chunk_frames, progress)
