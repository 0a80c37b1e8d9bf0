"""One recording -> cached audio, log-mel, performance (and score) -> clip rows.

Shared by every dataset: a dataset module only finds its recordings and loads them; this module
checks them, writes the caches (each file atomically) and cuts the clips.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepperformer.audio.io import load_audio, write_audio
from deepperformer.audio.mel import MelConfig, log_mel
from deepperformer.core.atomic import save_npy
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import Performance
from deepperformer.core.score import Score
from deepperformer.data.manifest import ClipRow

CLIP_SECONDS = 5.0
#: A last clip shorter than this is dropped (too little context to learn from).
MIN_CLIP_SECONDS = 1.0
#: An alignment may end this much after its audio (alignment quantisation, frame rounding).
ALIGNMENT_SLACK_SEC = 0.5


@dataclass
class Recording:
    """What a dataset module hands over for one recording (picklable, for worker processes)."""

    rec_id: str  # unique within the dataset, safe as a folder name
    dataset: str
    piece: str
    performer: str
    instrument: str
    source: str  # original audio (or performance) file
    source_offset_sec: float = 0.0
    seconds: float = 0.0  # expected duration, used to weigh the splits before any decoding
    tempo_qpm: float = 0.0  # global tempo (quarter notes per minute), 0 if unknown
    extra: dict = field(default_factory=dict)  # dataset-specific paths and settings for `process`


def recording_dir(out: Path, rec_id: str) -> Path:
    return out / "recordings" / rec_id


def cache_recording(
    out: Path,
    rec: Recording,
    perf: Performance,
    audio: np.ndarray | None = None,
    score: Score | None = None,
    mel_config: MelConfig = MelConfig(),
    clip_seconds: float = CLIP_SECONDS,
    alignment_source: str | None = None,
    tempo_qpm: float | None = None,
) -> list[ClipRow]:
    """Write the caches of one recording and return its clip rows (split left empty).

    ``audio``: mono float32 ``[S]`` at ``mel_config.sample_rate``, or None for alignment-only data
    (then one row spans the whole performance). Raises DeepPerformerError if the performance ends
    after the audio (beyond ALIGNMENT_SLACK_SEC) or has no notes. ``tempo_qpm`` overrides
    ``rec.tempo_qpm`` (for corpora whose tempo is only known once score and alignment are loaded).
    """
    if len(perf) == 0:
        raise DeepPerformerError(alignment_source or rec.source, "performance has no notes")
    rdir = recording_dir(out, rec.rec_id)
    rel = Path("recordings") / rec.rec_id
    perf.save(rdir / "performance.npz")
    score_rel = ""
    if score is not None:
        score.save(rdir / "score.npz")
        score_rel = str(rel / "score.npz")
    common = dict(
        dataset=rec.dataset,
        recording=rec.rec_id,
        piece=rec.piece,
        performer=rec.performer,
        instrument=rec.instrument,
        split="",
        performance=str(rel / "performance.npz"),
        score=score_rel,
        source=rec.source,
        source_offset_sec=rec.source_offset_sec,
        tempo_qpm=round(float(rec.tempo_qpm if tempo_qpm is None else tempo_qpm), 3),
    )
    if audio is None:
        end = perf.duration
        return [
            ClipRow(
                clip_id=f"{rec.rec_id}/0",
                audio="",
                mel="",
                start_sec=0.0,
                end_sec=end,
                start_frame=0,
                end_frame=mel_config.seconds_to_frame(end),
                n_notes=len(perf),
                **common,
            )
        ]

    sr = mel_config.sample_rate
    audio_sec = len(audio) / sr
    if perf.duration > audio_sec + ALIGNMENT_SLACK_SEC:
        raise DeepPerformerError(
            alignment_source or rec.source,
            f"alignment ends at {perf.duration:.2f} s, after the end of its audio ({audio_sec:.2f} s of {rec.source})",
        )
    write_audio(rdir / "audio.flac", audio, sr)
    # The mel is computed from the audio as stored (16-bit), so that a vocoder trained on the FLAC
    # sees exactly the cached mels.
    audio = load_audio(rdir / "audio.flac", sr)
    mel = log_mel(audio, mel_config)  # [T, n_mels]
    save_npy(rdir / "mel.npy", mel.astype(np.float16))

    rows = []
    n_frames = mel.shape[0]
    starts = np.arange(0.0, audio_sec, clip_seconds)
    for k, start in enumerate(starts):
        end = min(start + clip_seconds, audio_sec)
        if end - start < MIN_CLIP_SECONDS:
            break
        f0 = mel_config.seconds_to_frame(start)
        f1 = min(n_frames, f0 + mel_config.seconds_to_frame(end - start))
        on, off = perf.notes["onset_sec"], perf.notes["onset_sec"] + perf.notes["duration_sec"]
        n_notes = int(np.count_nonzero((on < end) & (off > start)))
        rows.append(
            ClipRow(
                clip_id=f"{rec.rec_id}/{k}",
                audio=str(rel / "audio.flac"),
                mel=str(rel / "mel.npy"),
                start_sec=float(start),
                end_sec=float(end),
                start_frame=f0,
                end_frame=f1,
                n_notes=n_notes,
                **common,
            )
        )
    return rows
