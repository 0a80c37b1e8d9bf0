"""Griffin-Lim as a vocoder: the classical floor every neural vocoder is held to.

The log-mel is turned back into a linear magnitude spectrogram (torchaudio's ``InverseMelScale``, a
least-squares inverse of the very filterbank of :class:`~deepperformer.audio.mel.MelConfig`), then
torchaudio's ``GriffinLim`` (Griffin & Lim 1984, with the fast momentum of Perraudin et al. 2013)
finds a phase for it. Nothing is learnt: it needs no checkpoint, and it is what ``--vocoder
griffin-lim`` means everywhere a vocoder is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchaudio
from torch import nn

from deepperformer.audio.mel import MelConfig
from deepperformer.core.configs import ConfigMixin

NAME = "griffin-lim"


@dataclass
class GriffinLimConfig(ConfigMixin):
    """Griffin-Lim's settings; ``hop_length`` (the mel's) is what callers read of every vocoder."""

    n_iter: int = 64
    momentum: float = 0.99
    hop_length: int = 256


class InverseMel(nn.Module):
    """``log_mel [B, T, n_mels]`` -> linear magnitude ``[B, n_fft / 2 + 1, T]``: torchaudio's
    least-squares inverse of the mel filterbank of ``mel_config``, clamped at 0."""

    def __init__(self, mel_config: MelConfig = MelConfig()):
        super().__init__()
        c = mel_config
        self.inverse = torchaudio.transforms.InverseMelScale(
            n_stft=c.n_fft // 2 + 1,
            n_mels=c.n_mels,
            sample_rate=c.sample_rate,
            f_min=c.f_min,
            f_max=c.f_max,
            norm=c.norm,
            mel_scale=c.mel_scale,
        )

    @torch.no_grad()
    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        return self.inverse(torch.exp(log_mel.float()).transpose(1, 2)).clamp(min=0.0)


class GriffinLimVocoder(nn.Module):
    """``forward(log_mel [B, T, n_mels]) -> waveform [B, T * hop]``, as the neural vocoders.

    >>> wav = GriffinLimVocoder(n_iter=2)(torch.full((1, 10, 80), -5.0))
    >>> wav.shape
    torch.Size([1, 2560])
    """

    def __init__(self, mel_config: MelConfig = MelConfig(), n_iter: int = 64, momentum: float = 0.99, seed: int = 0):
        super().__init__()
        c = self.mel_config = mel_config
        self.config = GriffinLimConfig(n_iter, momentum, c.hop_length)
        self.seed = seed
        self.inverse_mel = InverseMel(mel_config)
        self.griffin_lim = torchaudio.transforms.GriffinLim(
            n_fft=c.n_fft, n_iter=n_iter, win_length=c.win_length, hop_length=c.hop_length, power=c.power, momentum=momentum
        )

    @torch.no_grad()
    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        linear = self.inverse_mel(log_mel)  # [B, n_fft / 2 + 1, T]
        torch.manual_seed(self.seed)  # the random initial phase: the same audio every run
        wav = self.griffin_lim(linear)  # [B, (T - 1) * hop] with centred frames
        n = log_mel.shape[1] * self.config.hop_length
        return nn.functional.pad(wav, (0, max(0, n - wav.shape[-1])))[..., :n]

    def vocode(self, log_mel: np.ndarray, progress: bool = False) -> np.ndarray:
        """Waveform float32 ``[T * hop]`` of a log-mel ``[T, n_mels]`` (all at once: Griffin-Lim's
        phase estimate is global, and its memory is a few spectrograms of the piece)."""
        mel = torch.from_numpy(np.ascontiguousarray(log_mel, dtype=np.float32))[None]
        return self(mel)[0].numpy()


def with_griffin_lim(vocoders: list) -> list:
    """Griffin-Lim first, then the other vocoders (paths or names) of ``vocoders``: every vocoder table
    has its row, the floor each neural vocoder is held to."""
    return [NAME, *[v for v in vocoders if str(v) != NAME]]


def griffin_lim_checkpoint(mel_config: MelConfig = MelConfig(), n_iter: int = 64) -> dict:
    """What the tables and ``info`` read of a vocoder checkpoint, for Griffin-Lim (nothing trained)."""
    return {
        "stage": "vocoder",
        "config": {
            "variant": NAME,
            "instrument": None,
            "model": GriffinLimConfig(n_iter, hop_length=mel_config.hop_length).to_dict(),
        },
        "mel_config": mel_config.to_dict(),
        "performer_vocab": [],
        "provenance": {"steps": 0, "data": [], "metrics": {}},
    }
