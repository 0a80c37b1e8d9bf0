"""Clips of prepared manifests as (log-mel, waveform) pairs for the vocoder.

Frame ``f`` of a recording's cached ``mel.npy`` is centred on sample ``f * hop`` of its ``audio.flac``
(the mel was computed from that very file, ``center=True``), so frames ``[f0, f1)`` pair with samples
``[f0 * hop, f1 * hop)``: the generator makes ``hop`` samples per frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from deepperformer.audio.mel import MelConfig
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.seeding import draw_rng
from deepperformer.data.clips import check_manifest_mel_config
from deepperformer.data.manifest import ClipRow, read_manifest


class AudioClipDataset(Dataset):
    """Clips with audio of one split (any instrument unless ``instrument`` is given).

    Item: dict with ``mel`` ``[T, n_mels]`` float32 (the cached mel, or the acoustic model's
    prediction when ``mel_dirs`` maps the corpus folder to a folder of ``<recording>.npy``; recordings
    of such a corpus without a prediction are left out), ``audio``
    ``[T * hop]`` float32, ``clip_id``. With ``segment_frames``, a random crop of that many frames
    (HiFi-GAN trains on 8192-sample segments); otherwise the whole clip.
    """

    def __init__(
        self,
        manifests: list[Path],
        split: str,
        instrument: str | None = None,
        mel_config: MelConfig = MelConfig(),
        segment_frames: int | None = None,
        mel_dirs: dict[Path, Path] | None = None,
        max_clips: int | None = None,
    ):
        self.mel_config, self.segment_frames = mel_config, segment_frames
        self.mel_dirs = {Path(k): Path(v) for k, v in (mel_dirs or {}).items()}
        self.rows: list[tuple[Path, ClipRow]] = []
        for m in manifests:
            m = Path(m)
            check_manifest_mel_config(m, mel_config)
            for r in read_manifest(m):
                if r.split == split and r.audio and r.mel and instrument in (None, r.instrument):
                    if segment_frames is None or r.end_frame - r.start_frame >= segment_frames:
                        self.rows.append((m.parent, r))
        if self.mel_dirs:  # predictions exist only for the acoustic model's instrument and performers
            self.rows = [(root, r) for root, r in self.rows if root not in self.mel_dirs or self.mel_path(root, r).exists()]
        if max_clips is not None and len(self.rows) > max_clips:  # evenly spaced: every recording type stays
            keep = np.linspace(0, len(self.rows) - 1, max_clips).round().astype(int)
            self.rows = [self.rows[i] for i in keep]
        if not self.rows:
            raise DeepPerformerError(
                manifests[0] if manifests else None, f"no {instrument or ''} clips with audio in split {split!r}"
            )

    def __len__(self) -> int:
        return len(self.rows)

    def mel_path(self, root: Path, row: ClipRow) -> Path:
        if root in self.mel_dirs:
            return self.mel_dirs[root] / f"{row.recording}.npy"
        return root / row.mel

    def __getitem__(self, key) -> dict:
        i, rng = draw_rng(key)  # an index, or a Draw: the index and the seed of its crop
        root, r = self.rows[i]
        f0, f1 = r.start_frame, r.end_frame
        if self.segment_frames:
            f0 += int(rng.integers(0, f1 - f0 - self.segment_frames + 1))
            f1 = f0 + self.segment_frames
        mel = np.load(self.mel_path(root, r), mmap_mode="r")[f0:f1].astype(np.float32)
        hop = self.mel_config.hop_length
        audio, sr = sf.read(root / r.audio, start=f0 * hop, frames=(f1 - f0) * hop, dtype="float32", always_2d=False)
        if sr != self.mel_config.sample_rate:
            raise DeepPerformerError(
                root / r.audio, f"sample rate {sr}, expected {self.mel_config.sample_rate} (re-prepare the corpus)"
            )
        want = mel.shape[0] * hop  # the last frame of a file may reach past its last sample
        audio = np.pad(audio, (0, max(0, want - len(audio))))[:want]
        return {"mel": mel, "audio": audio, "clip_id": r.clip_id}


def collate_audio(items: list[dict]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[str]]:
    """-> (mel ``[B, T, n_mels]``, audio ``[B, T * hop]``, frame lengths ``[B]``, clip ids), zero-padded."""
    lengths = [it["mel"].shape[0] for it in items]
    hop = len(items[0]["audio"]) // max(1, lengths[0])
    t = max(lengths)
    mel = torch.full((len(items), t, items[0]["mel"].shape[1]), float(np.log(MelConfig().log_floor)))  # padding = silence
    audio = torch.zeros(len(items), t * hop)
    for i, it in enumerate(items):
        mel[i, : lengths[i]] = torch.from_numpy(it["mel"])
        audio[i, : len(it["audio"])] = torch.from_numpy(it["audio"])
    return mel, audio, torch.tensor(lengths), [it["clip_id"] for it in items]
