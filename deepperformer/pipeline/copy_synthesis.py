"""``deepperformer vocode AUDIO -o OUT.wav``: copy synthesis of a recording (audio -> log-mel -> vocoder).

The quickest way to hear what a vocoder can do, as HiFi-GAN's own inference script offers: any
recording that soundfile reads, at any sample rate (resampled to the mel's), is turned into the
project's log-mel and back into audio by a vocoder checkpoint or by Griffin-Lim. It reports the
log-mel MSE between the original and the result (the measure of ``evaluate``'s copy-synthesis rows)
and, with ``--png``, draws the two mels one above the other.
"""

from __future__ import annotations

import time
from pathlib import Path

from deepperformer.audio.io import (
    limit_peak,
    load_audio,
    require_audio_output,
    write_audio,
)
from deepperformer.audio.mel import MelConfig, log_mel
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.plots import save_mel_comparison
from deepperformer.pipeline.loading import CHECKPOINTS, SHARED_VOCODER, describe_vocoder, load_vocoder
from deepperformer.vocoders import REFINE_ITERS


def vocode_file(
    audio_path: Path,
    out: Path,
    vocoder: Path | str | None = None,
    png: bool = False,
    refine: int | None = REFINE_ITERS,
    log=print,
) -> dict:
    """Copy synthesis of ``audio_path`` into ``out`` (.wav or .flac, written atomically); -> figures.
    ``refine``: mel-consistency refinement iterations after a neural vocoder (None: none)."""

    require_audio_output(out)
    t0 = time.perf_counter()
    voc, ckpt = load_vocoder(vocoder or CHECKPOINTS / SHARED_VOCODER, refine=refine)
    cfg = MelConfig.from_dict(ckpt["mel_config"])
    audio = load_audio(audio_path, cfg.sample_rate)
    if len(audio) < cfg.n_fft:
        raise DeepPerformerError(audio_path, f"too short to vocode ({len(audio)} samples at {cfg.sample_rate} Hz)")
    mel = log_mel(audio, cfg)  # [T, n_mels]
    wav = voc.vocode(mel, progress=True)[: len(audio)]
    wav = limit_peak(wav)  # never clip
    write_audio(out, wav, cfg.sample_rate)
    again = log_mel(wav, cfg)[: len(mel)]
    mse = float(((again - mel[: len(again)]) ** 2).mean())
    name = describe_vocoder(ckpt)
    if png:
        save_mel_comparison(
            mel,
            again,
            out.with_suffix(".png"),
            title=f"{Path(audio_path).name}: copy synthesis ({name})",
            labels=("original", "vocoded"),
        )
    wall = time.perf_counter() - t0
    seconds = len(wav) / cfg.sample_rate
    log(
        f"wrote {out}: {seconds:.1f} s of audio through {name}, log-mel MSE against the original {mse:.4f}, "
        f"{wall:.1f} s (real-time factor {wall / seconds:.3f})"
    )
    return {"audio_seconds": seconds, "logmel_mse": mse, "wall_seconds": wall}
