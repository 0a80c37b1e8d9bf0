"""Mel-consistency refinement: a neural vocoder's audio projected back onto the mel it was asked for.

A vocoder trained for a few thousand steps on a CPU gets the fine structure and the phase of its
audio roughly right but its spectral envelope only approximately: the mel of what it plays differs
from the mel it was given by more than Griffin-Lim's does (Griffin-Lim matches the mel by
construction, but from a smeared magnitude and a phase found from scratch). The refinement keeps the
best of both. Of the vocoder's output ``y0`` it takes the STFT (the mel's own window and hop),

1. rescales every bin's magnitude by the gain that brings its mel band to the requested mel (the
   band gains, log-interpolated to the linear bins through the mel filterbank's own weights), which
   keeps the vocoder's harmonics and noise but puts them at the right level, and silences what the
   vocoder adds where the mel is quiet;
2. runs ``n_iter`` Griffin-Lim iterations on that magnitude, starting from the vocoder's phase
   instead of a random one (the fast variant of Perraudin et al. 2013, as torchaudio's
   ``GriffinLim``, whose API takes no initial phase), so the STFT becomes consistent again. With
   ``phase_keep_nats`` the vocoder's phase is kept only in each frame's strong bins (the partials,
   the attacks) and reseeded in the weak ones, where a generator's phase repeating from hop to hop
   makes the comb at multiples of the frame rate.

The target magnitude may blend (in log magnitude, weight ``vocoder_weight`` for the vocoder's) the
gain-corrected vocoder magnitude with the mel's pseudo-inverse, Griffin-Lim's smooth magnitude. On
piano the vocoder's magnitude is where the spurious notes a transcriber hears come from (partials
re-struck at other notes' onsets: with a random phase and 64 iterations it still transcribed at
precision 0.53), while its phase keeps the attacks sharp; the pipeline's default weight is
``deepperformer.vocoders.REFINE_VOCODER_WEIGHT``.

Two settings serve a vocoder whose own magnitude is worth keeping (the violin's,
``deepperformer.vocoders.REFINE_BY_INSTRUMENT``): ``gain_strength`` applies only part of each band
gain, and ``weak_from_mel`` takes the weak bins' magnitude from the mel's pseudo-inverse (the comb is in
their magnitude too) and applies the gains once more to the mix.

With ``n_iter = 0`` only the gains (and the blend) are applied. Nothing is learnt; the result depends on the mel alone,
so it is copy synthesis and synthesis as before. Each iteration couples a frame with its window's
neighbours (``n_fft / hop`` frames), so the refinement of a long piece runs chunk by chunk with that
reach as context (:func:`~deepperformer.vocoders.base.vocode_chunked`): memory stays flat.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deepperformer.audio.mel import MelConfig, mel_filterbank
from deepperformer.vocoders.base import vocode_chunked
from deepperformer.vocoders.griffin_lim import InverseMel


@functools.lru_cache(maxsize=4)
def band_shares(mel_config: MelConfig) -> torch.Tensor:
    """``[n_fft / 2 + 1, n_mels]``: each linear bin's share of every mel band (rows sum to 1 where a
    band covers the bin, 0 above ``f_max``), to spread the band gains over the bins; computed once."""
    fb = mel_filterbank(mel_config)
    return fb / fb.sum(1, keepdim=True).clamp(min=1e-12)


def refine(
    wave: torch.Tensor,
    log_mel: torch.Tensor,
    mel_config: MelConfig,
    n_iter: int = 8,
    vocoder_weight: float = 1.0,
    inverse: nn.Module | None = None,
    momentum: float = 0.99,
    phase_keep_nats: float | None = None,
    frame_offset: int = 0,
    gain_strength: float = 1.0,
    weak_from_mel: bool = False,
    weak_above_hz: float | None = None,
) -> torch.Tensor:
    """``wave [B, S]`` made from ``log_mel [B, T, n_mels]`` -> the refined wave ``[B, S]`` (module
    docstring). ``vocoder_weight``: the share (in log magnitude) of the vocoder's gain-corrected
    magnitude in the target, the rest from ``inverse`` (an :class:`InverseMel` of the mel config).
    ``phase_keep_nats``: start from the vocoder's phase only in the bins whose target magnitude lies
    within that many nats of its frame's loudest bin, from a pseudo-random phase elsewhere (a fixed
    function of the bin and of the frame's index in the piece, ``frame_offset`` being that of the first:
    the same audio every run and chunk by chunk); None keeps the vocoder's phase everywhere.
    ``gain_strength``: the share (in log) of each band gain that is applied (1: the mel exactly; below,
    some of the vocoder's own spectral balance is kept). ``weak_from_mel``: in the bins that are weak by
    ``phase_keep_nats`` the target takes the mel's pseudo-inverse instead of the vocoder's magnitude
    (the generator's comb lives in its weak bins' magnitude as well as their phase), and the band gains
    are applied once more, to the result, so that its mel is the requested one again.
    ``weak_above_hz``: every bin above that frequency counts as weak too (with ``phase_keep_nats``),
    whatever its level: up there a violin's partials are faint, the pitch is heard and tracked from
    the ones below, and the vocoder's comb is strongest (session 26, checkpoints/README.md)."""
    c = mel_config
    first_weak = None if weak_above_hz is None else int(np.ceil(weak_above_hz * c.n_fft / c.sample_rate))
    window = torch.hann_window(c.win_length, device=wave.device)

    def stft(y):
        return torch.stft(y, c.n_fft, c.hop_length, c.win_length, window, center=c.center, return_complex=True)

    def istft(spec):
        return torch.istft(spec, c.n_fft, c.hop_length, c.win_length, window, center=c.center, length=wave.shape[-1])

    fb, shares = mel_filterbank(c).to(wave.device), band_shares(c).to(wave.device)  # [F, M] each
    spec = stft(wave.float())  # [B, F, T']: T' = T + 1 for a wave of T * hop samples
    mag = spec.abs()
    t = min(spec.shape[-1], log_mel.shape[1])

    def band_gain(m):
        """``[B, F, T']``: the per-bin gain (``gain_strength`` of it, in log) that brings the mel of
        magnitude ``m`` to ``log_mel``, the band gains log-interpolated to the bins."""
        current = torch.einsum("fm,bft->bmt", fb, m[..., :t].pow(c.power)).clamp(min=c.log_floor)
        log_gain = gain_strength * (log_mel[:, :t].float().transpose(1, 2) - current.log())  # [B, M, t]
        log_gain = torch.nn.functional.pad(log_gain, (0, m.shape[-1] - t))  # frames past the mel: as they are
        return torch.einsum("fm,bmt->bft", shares, log_gain).div(c.power).exp()

    target = mag * band_gain(mag)
    if vocoder_weight < 1.0 or weak_from_mel:  # the mel's pseudo-inverse (Griffin-Lim's magnitude) enters
        inverse = inverse or InverseMel(c).to(wave.device)
        smooth = inverse(log_mel[:, :t]).pow(1.0 / c.power)
        smooth = torch.nn.functional.pad(smooth, (0, spec.shape[-1] - t))
        smooth[..., t:] = target[..., t:]
        w = vocoder_weight  # blended in log magnitude
        target = target.clamp(min=1e-8).pow(w) * smooth.clamp(min=1e-8).pow(1.0 - w)
        if weak_from_mel and phase_keep_nats is not None:
            target = torch.where(weak_bins(target, phase_keep_nats, first_weak), smooth.clamp(min=1e-8), target)
        if weak_from_mel:  # the gains once more, on the mixed magnitude
            target = target * band_gain(target)
    angles = spec / mag.clamp(min=1e-8)
    if phase_keep_nats is not None:
        angles = _reseed_weak_phase(angles, target, phase_keep_nats, frame_offset, first_weak)
    previous = torch.zeros_like(spec)
    alpha = momentum / (1 + momentum)
    for _ in range(n_iter):
        rebuilt = stft(istft(target * angles))
        angles = rebuilt - alpha * previous
        angles = angles / angles.abs().clamp(min=1e-8)
        previous = rebuilt
    return istft(target * angles)


def weak_bins(magnitude: torch.Tensor, nats: float, first_weak: int | None = None) -> torch.Tensor:
    """``[B, F, T]`` bool: the bins of ``magnitude [B, F, T]`` more than ``nats`` below their frame's
    loudest (where a generator's comb lives; the strong ones carry the notes), and every bin from
    index ``first_weak`` up (None: none)."""
    log_m = magnitude.clamp(min=1e-8).log()
    weak = log_m < log_m.amax(dim=1, keepdim=True) - nats
    if first_weak is not None:
        weak[:, first_weak:] = True
    return weak


def _reseed_weak_phase(
    angles: torch.Tensor, target: torch.Tensor, nats: float, frame_offset: int, first_weak: int | None = None
) -> torch.Tensor:
    """``angles [B, F, T]`` (unit complex) with a pseudo-random phase in the bins of ``target [B, F, T]``
    more than ``nats`` below their frame's loudest.

    Why: a generator that never quite learnt its phase repeats it from hop to hop in the weak bins
    (between partials, in the noise floor), which is where the comb at multiples of the frame rate
    lives; Griffin-Lim started from that phase keeps much of it. The strong bins' phase (the partials
    and the attacks) is what the vocoder does get right, and what note recall depends on. The phase
    of bin ``f`` in frame ``t`` of the piece is a hash of ``(f, t)`` (the shader-style fraction of a
    sine), not a generator's draw, so that a chunk gets the same phases as the whole piece does.
    """
    weak = weak_bins(target, nats, first_weak)
    f = torch.arange(angles.shape[1], device=angles.device, dtype=torch.float64)[:, None]
    t = torch.arange(angles.shape[2], device=angles.device, dtype=torch.float64)[None] + frame_offset
    u = torch.frac(torch.sin(f * 12.9898 + t * 78.233) * 43758.5453).abs()  # [F, T] in [0, 1)
    noise = torch.polar(torch.ones_like(u), u * 2 * torch.pi).to(angles.dtype)
    return torch.where(weak, noise, angles)


@dataclass
class RefinedConfig:
    """What callers read of a vocoder (``hop_length``, ``receptive_field_frames()``), for the pair."""

    inner: object
    n_iter: int
    frames_per_window: int

    @property
    def hop_length(self) -> int:
        return self.inner.hop_length

    def receptive_field_frames(self) -> int:
        # the vocoder's own reach, then the window's overlap once per projection (the gains' STFT and
        # each iteration's pair of transforms)
        return self.inner.receptive_field_frames() + self.frames_per_window * (self.n_iter + 1)


class RefinedVocoder(nn.Module):
    """A vocoder followed by :func:`refine`: ``forward(log_mel [B, T, n_mels]) -> wave [B, T * hop]``."""

    def __init__(
        self,
        vocoder: nn.Module,
        mel_config: MelConfig = MelConfig(),
        n_iter: int = 8,
        vocoder_weight: float = 1.0,
        phase_keep_nats: float | None = None,
        gain_strength: float = 1.0,
        weak_from_mel: bool = False,
        weak_above_hz: float | None = None,
    ):
        super().__init__()
        if n_iter < 0:
            raise ValueError(f"refinement iterations must be >= 0, not {n_iter}")
        if not 0.0 <= vocoder_weight <= 1.0:
            raise ValueError(f"the vocoder's magnitude weight must lie in [0, 1], not {vocoder_weight}")
        if phase_keep_nats is not None and phase_keep_nats < 0:
            raise ValueError(f"the phase threshold must be >= 0 nats, not {phase_keep_nats}")
        if not 0.0 <= gain_strength <= 1.0:
            raise ValueError(f"the gain strength must lie in [0, 1], not {gain_strength}")
        self.vocoder, self.mel_config, self.n_iter, self.vocoder_weight = vocoder, mel_config, n_iter, vocoder_weight
        if weak_above_hz is not None and not 0.0 < weak_above_hz <= mel_config.sample_rate / 2:
            raise ValueError(f"the weak-bin cutoff must lie in (0, {mel_config.sample_rate / 2:g}] Hz, not {weak_above_hz}")
        self.phase_keep_nats, self.gain_strength, self.weak_from_mel = phase_keep_nats, gain_strength, weak_from_mel
        self.weak_above_hz = weak_above_hz
        self.inverse = InverseMel(mel_config)
        self.config = RefinedConfig(vocoder.config, n_iter, mel_config.n_fft // mel_config.hop_length)

    @property
    def position_dependent(self) -> bool:
        """Whether the output depends on where the mel lies in the piece (the seeded phase), for
        :func:`~deepperformer.vocoders.base.vocode_chunked`."""
        return self.phase_keep_nats is not None

    @torch.no_grad()
    def forward(self, log_mel: torch.Tensor, frame_offset: int = 0) -> torch.Tensor:
        """``log_mel [B, T, n_mels]`` -> wave ``[B, T * hop]``; ``frame_offset``: the index of its first
        frame in the piece (only the seeded phase reads it)."""
        wave = self.vocoder(log_mel)
        return refine(
            wave,
            log_mel,
            self.mel_config,
            self.n_iter,
            self.vocoder_weight,
            self.inverse,
            phase_keep_nats=self.phase_keep_nats,
            frame_offset=frame_offset,
            gain_strength=self.gain_strength,
            weak_from_mel=self.weak_from_mel,
            weak_above_hz=self.weak_above_hz,
        )

    def vocode(self, log_mel: np.ndarray, chunk_frames: int = 4096, progress: bool = False) -> np.ndarray:
        """Waveform float32 ``[T * hop]`` of a log-mel ``[T, n_mels]`` of any length, chunk by chunk."""
        return vocode_chunked(self, log_mel, chunk_frames, progress)
