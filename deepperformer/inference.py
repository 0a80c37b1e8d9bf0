"""Acoustic-model inference on performances of any length: overlapping chunks, cross-faded.

Memory stays flat (one chunk at a time). With a bounded receptive field R (relative positions and
attention windows, :meth:`AcousticConfig.receptive_field`), chunks overlap by at least 2R frames and
the cross-fade ramp lies where both chunks are exact, so the result equals the unchunked prediction.
Without one (full attention, the paper's setting) the chunks overlap by ``overlap_seconds`` and a
linear cross-fade hides the joins.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from deepperformer.audio import MelConfig
from deepperformer.models.acoustic import AcousticModel
from deepperformer.models.notes import collate_notes, note_arrays
from deepperformer.performance import Performance

TAIL_SEC = 0.5  # synthesized after the last note ends (release, room)


def plan_chunks(total: int, chunk: int, overlap: int) -> list[int]:
    """Chunk start frames covering ``total`` frames with chunks of ``chunk`` overlapping by ``overlap``."""
    if total <= chunk:
        return [0]
    hop = chunk - overlap
    starts = list(range(0, total - chunk, hop)) + [total - chunk]
    return sorted(set(starts))


@torch.no_grad()
def predict_mel(model: AcousticModel, perf: Performance, performer: int = 0, tempo: float = 0.0,
                mel_config: MelConfig = MelConfig(), chunk_seconds: float = 30.0, overlap_seconds: float = 3.0,
                n_frames: int | None = None, progress: bool = False) -> np.ndarray:
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
    for i, s in enumerate(tqdm(starts, desc="acoustic model", unit="chunk", disable=not progress or len(starts) < 2, dynamic_ncols=True)):
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


def cache_predicted_mels(acoustic_path: Path, manifests: list[Path], out_dir: Path, splits=("train", "validation"),
                         log=print) -> dict[Path, Path]:
    """Predict, teacher-forced, the mel of every recording (of the acoustic model's instrument and
    performers) in ``splits``; -> {corpus folder: folder of ``<recording>.npy`` float16 [T, n_mels]}."""
    from deepperformer.atomic import save_npy
    from deepperformer.data.manifest import read_manifest
    from deepperformer.loading import load_acoustic
    from deepperformer.performance import Performance

    model, ckpt = load_acoustic(acoustic_path)
    vocab = {p: i for i, p in enumerate(ckpt["performer_vocab"])}
    instrument = ckpt["config"].get("instrument")
    dirs = {}
    for k, m in enumerate(manifests):
        root, target = Path(m).parent, out_dir / f"{k}-{Path(m).parent.name}"
        recs = {}
        for r in read_manifest(m):
            if r.split in splits and r.mel and r.instrument == instrument and r.performer in vocab:
                recs.setdefault(r.recording, r)
        for rec, r in tqdm(sorted(recs.items()), desc=f"predicting mels ({root.name})", unit="recording", dynamic_ncols=True):
            path = target / f"{rec}.npy"
            if path.exists():
                continue  # resumed
            n = np.load(root / r.mel, mmap_mode="r").shape[0]
            mel = predict_mel(model, Performance.load(root / r.performance), vocab[r.performer], r.tempo_qpm, n_frames=n)
            save_npy(path, mel.astype(np.float16))
        dirs[root] = target
        log(f"predicted mels: {len(recs)} recordings of {m} in {target}")
    return dirs
