"""Stage 3: the HiFi-GAN vocoder (SpeechBrain's generator), log-mel -> waveform.

The three sizes of the HiFi-GAN paper (Kong et al. 2020) are named, not restated:
:data:`~deepperformer.networks.hifigan.SIZES` (``sizes: v1`` in a recipe). V2 (the Deep Performer
paper's choice, 0.9 M parameters) is the default; V1 has 13.9 M, V3 1.5 M (resblock type 2). Input is
a log-mel of :class:`~deepperformer.audio.mel.MelConfig` (natural log of magnitude with a 1e-5 floor,
as HiFi-GAN's own mels), so the upsampling factors must multiply to the mel hop.

Whole recordings are vocoded chunk by chunk with enough mel context on both sides that every chunk's
kept samples equal the one-shot output (the generator is convolutional with a bounded receptive
field), so memory stays flat for any length."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deepperformer.audio.mel import MelConfig
from deepperformer.core.configs import ConfigMixin
from deepperformer.networks.hifigan import HifiganSizes, make_generator, resolve_sizes
from deepperformer.vocoders.base import vocode_chunked


@dataclass
class VocoderConfig(HifiganSizes, ConfigMixin):
    n_mels: int = 80
    family: str = "hifigan"  # the vocoder family (vocos: models/vocos.py); checkpoints without it are HiFi-GAN

    @classmethod
    def variant(cls, name: str, **overrides) -> VocoderConfig:
        return cls.from_dict(resolve_sizes({"sizes": name, **overrides}))

    @classmethod
    def from_dict(cls, d: dict) -> VocoderConfig:
        """From a recipe's or checkpoint's model section; ``sizes: v1|v2|v3`` names HiFi-GAN's sizes."""
        return super().from_dict(resolve_sizes(d))

    def validate(self, mel_config: MelConfig | None = None) -> None:
        """Value ranges; with ``mel_config``, also that the generator fits that mel (hop, bins)."""
        if self.family != "hifigan":
            raise ValueError(f"family must be 'hifigan', not {self.family!r}")
        if self.resblock_type not in ("1", "2"):
            raise ValueError(f"resblock_type must be '1' or '2', not {self.resblock_type!r}")
        if mel_config is None:
            return
        if self.hop_length != mel_config.hop_length:
            raise ValueError(
                f"upsample factors {self.upsample_factors} multiply to {self.hop_length}, not the mel hop {mel_config.hop_length}"
            )
        if self.n_mels != mel_config.n_mels:
            raise ValueError(f"n_mels {self.n_mels} differs from the mel configuration's {mel_config.n_mels}")


class Vocoder(nn.Module):
    """``forward(log_mel [B, T, n_mels]) -> waveform [B, T * hop]`` in [-1, 1].

    >>> Vocoder(VocoderConfig(upsample_initial_channel=16))(torch.zeros(2, 10, 80)).shape
    torch.Size([2, 2560])
    """

    def __init__(self, config: VocoderConfig | None = None):
        super().__init__()
        config = config if config is not None else VocoderConfig()  # a fresh default: configs are mutable
        config.validate()
        self.config = config
        self.generator = make_generator(config, in_channels=config.n_mels)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        return self.generator(log_mel.transpose(1, 2))[:, 0]

    def vocode(self, log_mel: np.ndarray, chunk_frames: int = 2048, progress: bool = False) -> np.ndarray:
        """Waveform float32 ``[T * hop]`` of a log-mel ``[T, n_mels]`` of any length (:func:`vocode_chunked`)."""
        return vocode_chunked(self, log_mel, chunk_frames, progress)
