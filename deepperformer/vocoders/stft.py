"""Multi-resolution STFT distance: the vocoders' auxiliary loss and the copy-synthesis metric."""

from __future__ import annotations

import torch


def stft_magnitude(wav: torch.Tensor, n_fft: int, hop: int, win: int) -> torch.Tensor:
    """|STFT| ``[B, F, frames]`` of ``wav [B, S]`` with a Hann window, floored at 1e-7 (for the log)."""
    window = torch.hann_window(win, device=wav.device, dtype=wav.dtype)
    spec = torch.stft(wav, n_fft, hop, win, window=window, return_complex=True)
    return spec.abs().clamp(min=1e-7)


#: Parallel WaveGAN's three resolutions (n_fft, hop, window), also SpeechBrain's defaults.
STFT_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))


#: The training loss adds a long window (256 ms): a low piano note's partials lie closer together
#: (27.5 Hz for A0) than the 600- and 1200-sample windows resolve, so only this one penalises
#: smeared harmonics there. The evaluation distance keeps Parallel WaveGAN's three, comparable to
#: published figures.
LOSS_STFT_RESOLUTIONS = STFT_RESOLUTIONS + ((4096, 512, 4096),)


def multi_resolution_stft(
    y_hat: torch.Tensor, y: torch.Tensor, resolutions=STFT_RESOLUTIONS
) -> tuple[torch.Tensor, torch.Tensor]:
    """(spectral convergence, log-magnitude L1), each averaged over the resolutions.

    ``y_hat``, ``y``: ``[B, S]``. This is Parallel WaveGAN's auxiliary loss, used both as the warm-up
    loss and as the copy-synthesis distance of ``evaluate``. (SpeechBrain's ``STFTLoss`` calls
    ``torch.stft`` without ``return_complex``, which torch 2.x refuses, hence this version.)
    """
    # a window longer than twice the signal cannot be reflect-padded: such resolutions are left out
    # (only tiny test segments are that short)
    usable = [r for r in resolutions if r[0] // 2 < y.shape[-1]] or [min(resolutions)]
    sc = mag = 0.0
    for n_fft, hop, win in usable:
        a, b = stft_magnitude(y_hat, n_fft, hop, win), stft_magnitude(y, n_fft, hop, win)
        sc = sc + torch.linalg.norm(b - a) / torch.linalg.norm(b).clamp(min=1e-7)
        mag = mag + (a.log() - b.log()).abs().mean()
    return sc / len(usable), mag / len(usable)
