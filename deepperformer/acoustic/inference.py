"""Acoustic-model inference on performances of any length: overlapping chunks, cross-faded.

Memory stays flat (one chunk at a time). With a bounded receptive field R (relative positions and
attention windows, :meth:`AcousticConfig.receptive_field`), chunks overlap by at least 2R frames and
the cross-fade ramp lies where both chunks are exact, so the result equals the unchunked prediction.
Without one (full attention, the paper's setting) the chunks overlap by ``overlap_seconds`` and a
linear cross-fade hides the joins. The paper's baseline, which makes audio from the notes directly,
runs chunk by chunk the same way (:func:`predict_baseline_audio`)."""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from deepperformer.acoustic.baseline import RollBaseline
from deepperformer.acoustic.model import AcousticModel
from deepperformer.audio.mel import MelConfig
from deepperformer.core.performance import Performance
from deepperformer.data.notes import collate_notes, note_arrays

TAIL_SEC = 0.5  # synthesized after the last note ends (release, room)


def plan_chunks(total: int, chunk: int, overlap: int) -> list[int]:
    """Chunk start frames covering ``total`` frames with chunks of ``chunk`` overlapping by ``overlap``."""
    if total <= chunk:
        return [0]
    hop = chunk - overlap
    starts = list(range(0, total - chunk, hop)) + [total - chunk]
    return sorted(set(starts))


@torch.no_grad()
def predict_mel(
    model: AcousticModel,
    perf: Performance,
    performer: int = 0,
    tempo: float = 0.0,
    mel_config: MelConfig = MelConfig(),
    chunk_seconds: float = 30.0,
    overlap_seconds: float = 3.0,
    n_frames: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Log-mel ``[T, n_mels]`` for a whole performance (T from its duration + TAIL_SEC unless given)."""
    model.eval()
    fps = 1.0 / mel_config.frame_seconds
    total = n_frames or mel_config.n_frames(int((perf.duration + TAIL_SEC) * mel_config.sample_rate))
    chunk = max(1, int(round(chunk_seconds * fps)))
    rf = model.config.receptive_field()
    if rf is not None:
        overlap, ramp_margin = 2 * rf + 32, rf  # ramp only where both chunks are exact
    else:
        overlap, ramp_margin = int(round(overlap_seconds * fps)), 0
    if total > chunk and overlap >= chunk:
        chunk = overlap + max(chunk, overlap)  # keep moving forward
    out = np.zeros((total, model.config.n_mels), np.float32)
    starts = plan_chunks(total, chunk, overlap)
    prev_end = 0
    for i, s in enumerate(
        tqdm(starts, desc="acoustic model", unit="chunk", disable=not progress or len(starts) < 2, dynamic_ncols=True)
    ):
        e = min(total, s + chunk)
        window = perf.window(s / fps, e / fps)
        batch = collate_notes([note_arrays(window, e - s, mel_config)], [e - s], [performer], [tempo])
        pred = model(batch)[0].numpy()  # [e - s, n_mels]
        if i == 0:
            out[s:e] = pred
        else:
            # cross-fade over the overlap [s, prev_end): weight of the new chunk rises 0 -> 1
            t = np.arange(s, prev_end)
            lo, hi = s + ramp_margin, prev_end - ramp_margin
            w = np.clip((t - lo) / max(1, hi - lo), 0.0, 1.0)[:, None]
            out[s:prev_end] = (1 - w) * out[s:prev_end] + w * pred[: prev_end - s]
            out[prev_end:e] = pred[prev_end - s :]
        prev_end = e
    return out


@torch.no_grad()
def predict_baseline_audio(
    model: RollBaseline,
    perf: Performance,
    performer: int = 0,
    mel_config: MelConfig = MelConfig(),
    chunk_seconds: float = 30.0,
    progress: bool = False,
) -> np.ndarray:
    """Waveform float32 ``[T * hop]`` of the paper's baseline (notes straight to audio, no mel) for a
    whole performance (T from its duration + TAIL_SEC).

    The baseline is a convolutional generator with a bounded receptive field, so each chunk of
    ``chunk_seconds`` is generated from the rolls of its notes with ``receptive_field_frames()`` of
    context on both sides (notes keep their full extent across the cut) and only its own samples are
    kept: the joins are seamless and memory stays flat for any length."""
    model.eval()
    fps, hop = 1.0 / mel_config.frame_seconds, mel_config.hop_length
    total = mel_config.n_frames(int((perf.duration + TAIL_SEC) * mel_config.sample_rate))
    chunk, pad = max(1, int(round(chunk_seconds * fps))), model.config.receptive_field_frames()
    out = np.zeros(total * hop, np.float32)
    starts = range(0, total, chunk)
    for s in tqdm(starts, desc="baseline", unit="chunk", disable=not progress or len(starts) < 2, dynamic_ncols=True):
        e = min(total, s + chunk)
        lo, hi = s - pad, e + pad  # the context before the first frame holds no notes: silence, as in training
        window = perf.window(lo / fps, hi / fps)
        batch = collate_notes([note_arrays(window, hi - lo, mel_config)], [hi - lo], [performer], [0.0])
        wav = model(batch)[0]  # [(hi - lo) * hop]
        out[s * hop : e * hop] = wav[pad * hop : (pad + e - s) * hop].float().numpy()
    return out
