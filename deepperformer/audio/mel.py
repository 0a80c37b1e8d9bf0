"""Audio: the one mel-spectrogram definition and the only audio I/O code.

Every stage computes, stores and compares log-mels through :class:`MelConfig` and :class:`LogMel`.
The config is saved beside every cached mel and in every checkpoint, and stages whose configs differ
are refused (:meth:`MelConfig.check_compatible`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchaudio

from deepperformer.core.configs import ConfigMixin
from deepperformer.core.errors import DeepPerformerError


@dataclass(frozen=True)
class MelConfig(ConfigMixin):
    """Log-mel parameters (the paper's: 16 kHz, n_fft 1024, window 1024, hop 256, 80 mels).

    The paper leaves fmin/fmax and the log unstated; we use fmin 0, fmax 8000 and the natural log of
    max(mel, 1e-5), on a magnitude (power 1) spectrogram with Slaney mel filters, as HiFi-GAN and
    SpeechBrain's HiFi-GAN recipes do, so that a SpeechBrain vocoder sees the mels it expects.
    Frames are centred (reflect padding): a clip of S samples has ``1 + S // hop_length`` frames.

    >>> cfg = MelConfig()
    >>> cfg.n_frames(80000)
    313
    >>> cfg.frame_seconds
    0.016
    """

    sample_rate: int = 16000
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 256
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float = 8000.0
    log_floor: float = 1e-5
    power: float = 1.0
    norm: str = "slaney"
    mel_scale: str = "slaney"
    center: bool = True

    @property
    def frame_seconds(self) -> float:
        return self.hop_length / self.sample_rate

    def n_frames(self, n_samples: int) -> int:
        """Number of mel frames for ``n_samples`` samples of audio."""
        if self.center:
            return 1 + n_samples // self.hop_length
        return 1 + max(0, n_samples - self.n_fft) // self.hop_length

    def seconds_to_frame(self, seconds: float) -> int:
        return int(round(seconds * self.sample_rate / self.hop_length))

    def check_compatible(self, other: MelConfig, where: str | Path | None, what: str) -> None:
        """Raise a DeepPerformerError naming ``where`` if ``other`` differs from this config."""
        if self != other:
            a, b = self.to_dict(), other.to_dict()
            diffs = ", ".join(f"{k} {b[k]}, expected {a[k]}" for k in a if a[k] != b[k])
            raise DeepPerformerError(where, f"{what} uses another mel configuration ({diffs})")


class LogMel(torch.nn.Module):
    """Waveform to log-mel spectrogram, as a module so that training and inference share it.

    Input ``[B, S]`` or ``[S]`` float waveform at ``config.sample_rate``; output
    ``[B, T_frames, n_mels]`` (or ``[T_frames, n_mels]``), time-major as the models consume it.

    >>> m = LogMel(MelConfig())
    >>> m(torch.zeros(2, 16000)).shape
    torch.Size([2, 63, 80])
    """

    def __init__(self, config: MelConfig = MelConfig()):
        super().__init__()
        self.config = config
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=config.sample_rate,
            n_fft=config.n_fft,
            win_length=config.win_length,
            hop_length=config.hop_length,
            f_min=config.f_min,
            f_max=config.f_max,
            n_mels=config.n_mels,
            power=config.power,
            norm=config.norm,
            mel_scale=config.mel_scale,
            center=config.center,
            pad_mode="reflect",
        )

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        mel = self.mel(wave)  # [B, n_mels, T]
        return torch.log(torch.clamp(mel, min=self.config.log_floor)).transpose(-1, -2)


def log_mel(audio: np.ndarray, config: MelConfig = MelConfig(), chunk_seconds: float = 60.0) -> np.ndarray:
    """Log-mel of a mono float waveform ``[S]`` -> float32 ``[T_frames, n_mels]``.

    Long recordings are processed in chunks (overlapping by one window) so memory stays flat; the
    result equals the one-shot computation except for floating-point rounding.
    """
    module = _logmel_module(config)
    n = len(audio)
    total = config.n_frames(n)
    hop = config.hop_length
    chunk_frames = max(1, int(chunk_seconds * config.sample_rate) // hop)
    pad = config.n_fft // 2
    # Reflect-pad the whole signal once, then compute frames [f0, f1) from the matching span with
    # center=False semantics, so chunk borders are exact.
    wave = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    if config.center:
        if n <= pad:
            padded = torch.nn.functional.pad(wave[None, None], (pad, pad), mode="constant")[0, 0]
        else:
            padded = torch.nn.functional.pad(wave[None, None], (pad, pad), mode="reflect")[0, 0]
    else:
        padded = wave
    out = np.empty((total, config.n_mels), dtype=np.float32)
    with torch.no_grad():
        for f0 in range(0, total, chunk_frames):
            f1 = min(total, f0 + chunk_frames)
            seg = padded[f0 * hop : (f1 - 1) * hop + config.n_fft]
            if len(seg) < config.n_fft:
                seg = torch.nn.functional.pad(seg, (0, config.n_fft - len(seg)))
            frames = _frames_no_center(module, seg, config)
            out[f0:f1] = frames[: f1 - f0]
    return out


_MODULES: dict[MelConfig, LogMel] = {}


def mel_filterbank(config: MelConfig = MelConfig()) -> torch.Tensor:
    """The filterbank ``[n_fft / 2 + 1, n_mels]`` that :class:`LogMel` applies (read, not copied)."""
    return _logmel_module(config).mel.mel_scale.fb


def _logmel_module(config: MelConfig) -> LogMel:
    if config not in _MODULES:
        _MODULES[config] = LogMel(config)
    return _MODULES[config]


def _frames_no_center(module: LogMel, seg: torch.Tensor, config: MelConfig) -> np.ndarray:
    """Log-mel frames of an already padded segment (no further centring)."""
    spec = torch.stft(
        seg,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
        win_length=config.win_length,
        window=module.mel.spectrogram.window,
        center=False,
        return_complex=True,
    ).abs()
    if config.power != 1.0:
        spec = spec.pow(config.power)
    mel = module.mel.mel_scale(spec)  # [n_mels, T]
    return torch.log(torch.clamp(mel, min=config.log_floor)).T.numpy()
