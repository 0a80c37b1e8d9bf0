"""Audio files in and out: the only code that reads or writes audio.

Reading accepts anything libsndfile decodes at any rate (mixed to mono, resampled); writing is
atomic (a temporary file renamed into place), 16-bit WAV or FLAC.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

from deepperformer.core.atomic import atomic_path
from deepperformer.core.errors import DeepPerformerError, require_file

#: What soundfile (libsndfile) decodes and we read.
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".opus", ".ogg", ".aif", ".aiff", ".au", ".caf", ".w64")


@contextlib.contextmanager
def _quiet_decoder():
    """Silence what the C decoders print straight to file descriptor 2 (libmpg123 writes a line per
    damaged mp3 frame): a damaged file gets our one-line error, not a screenful of theirs."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (some embedding hosts): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def load_audio(path: str | Path, sample_rate: int = 16000, offset: float = 0.0, duration: float | None = None) -> np.ndarray:
    """Read a wav, flac, mp3 or opus file as mono float32 ``[S]`` at ``sample_rate``.

    Channels are averaged; the signal is resampled with torchaudio's windowed-sinc resampler.
    ``offset``/``duration`` (seconds) select a span of the file.
    """
    path = require_file(path, "audio file")
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        raise DeepPerformerError(path, f"unsupported audio format {path.suffix!r} (use {', '.join(AUDIO_SUFFIXES)})")
    try:
        with _quiet_decoder(), sf.SoundFile(str(path)) as f:
            sr = f.samplerate
            start = int(round(offset * sr))
            if start > 0:
                f.seek(min(start, f.frames) if f.frames > 0 else start)
            frames = -1 if duration is None else int(round(duration * sr))
            data = f.read(frames=frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError) as e:
        raise DeepPerformerError(path, f"cannot decode audio ({e})") from None
    mono = data.mean(axis=1)
    if sr != sample_rate:
        mono = torchaudio.functional.resample(torch.from_numpy(mono), sr, sample_rate).numpy()
    return np.ascontiguousarray(mono, dtype=np.float32)


#: What write_audio writes.
OUTPUT_SUFFIXES = (".wav", ".flac")


def require_audio_output(path: str | Path) -> Path:
    """``path`` if write_audio can write it; else a one-line error before any work is done."""
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise DeepPerformerError(path, "output must end in .wav or .flac")
    return path


def limit_peak(audio: np.ndarray, peak: float = 0.99) -> np.ndarray:
    """``audio`` scaled down to ``peak`` when it goes above it (never clipped), else unchanged."""
    top = float(np.abs(audio).max()) if len(audio) else 0.0
    return audio * (peak / top) if top > peak else audio


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int = 16000) -> None:
    """Write mono float audio ``[S]`` atomically; the format follows the suffix (.wav: 16-bit PCM, .flac)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise DeepPerformerError(path, "can only write .wav or .flac")
    clipped = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), clipped, sample_rate, subtype="PCM_16", format=suffix[1:].upper())
