"""Clips of prepared manifests as torch datasets: target log-mel + the notes sounding in it."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from deepperformer.audio.mel import MelConfig
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import Performance
from deepperformer.core.performers import PerformerVocab
from deepperformer.core.seeding import draw_rng
from deepperformer.data.manifest import ClipRow, read_manifest
from deepperformer.data.notes import NoteBatch, collate_notes, note_arrays


def check_manifest_mel_config(manifest: Path, mel_config: MelConfig) -> None:
    """Refuse a prepared corpus whose cached mels were made with another mel configuration."""
    path = Path(manifest).parent / "mel_config.json"
    if not path.exists():
        raise DeepPerformerError(path, "missing: prepare the corpus with `deepperformer prepare`")
    mel_config.check_compatible(MelConfig.from_dict(json.loads(path.read_text())), path, "this corpus")


def performer_vocab(manifests: list[Path], instrument: str | None = None) -> PerformerVocab:
    """The performers of the training clips of the given manifests, sorted by name."""
    names = set()
    for m in manifests:
        names |= {r.performer for r in read_manifest(m) if r.split == "train" and r.mel and instrument in (None, r.instrument)}
    return PerformerVocab(sorted(names))


@functools.lru_cache(maxsize=64)
def _performance(path: str) -> Performance:
    return Performance.load(path)


class ClipDataset(Dataset):
    """Clips of one split of one or more prepared manifests.

    Item: dict with ``mel`` ``[T, n_mels]`` float32, ``notes`` (arrays from
    :func:`~deepperformer.data.notes.note_arrays`), ``performer`` (index in ``performers``),
    ``tempo`` (qpm, 0 unknown), ``clip_id``. Clips without notes are left out (nothing to learn),
    and so are clips of performers outside ``performers`` (a performer embedding cannot speak for a
    performer it never heard); ``unknown_performers`` counts them.
    """

    def __init__(
        self,
        manifests: list[Path],
        split: str,
        performers: PerformerVocab | list[str],
        instrument: str | None = None,
        mel_config: MelConfig = MelConfig(),
        min_notes: int = 1,
        segment_frames: int | None = None,
    ):
        self.mel_config = mel_config
        # Random crops of this many frames (waveform models train on short segments, as HiFi-GAN does).
        self.segment_frames = segment_frames
        self.performers = performers if isinstance(performers, PerformerVocab) else PerformerVocab(performers)
        self.rows: list[tuple[Path, ClipRow]] = []
        self.unknown_performers: dict[str, int] = {}
        for m in manifests:
            m = Path(m)
            check_manifest_mel_config(m, mel_config)
            for r in read_manifest(m):
                if r.split == split and r.mel and instrument in (None, r.instrument) and r.n_notes >= min_notes:
                    if r.performer not in self.performers:
                        self.unknown_performers[r.performer] = self.unknown_performers.get(r.performer, 0) + 1
                        continue
                    self.rows.append((m.parent, r))
        if not self.rows:
            raise DeepPerformerError(
                manifests[0] if manifests else None,
                f"no {instrument or ''} clips with notes of known performers in split {split!r}",
            )

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key) -> dict:
        i, rng = draw_rng(key)  # an index, or a Draw: the index and the seed of its crop
        root, r = self.rows[i]
        f0, f1 = r.start_frame, r.end_frame
        if self.segment_frames and f1 - f0 > self.segment_frames:
            f0 += int(rng.integers(0, f1 - f0 - self.segment_frames + 1))
            f1 = f0 + self.segment_frames
        mel = np.load(root / r.mel, mmap_mode="r")[f0:f1].astype(np.float32)
        start = r.start_sec + (f0 - r.start_frame) * self.mel_config.frame_seconds
        perf = _performance(str(root / r.performance)).window(start, start + mel.shape[0] * self.mel_config.frame_seconds)
        return {
            "mel": mel,
            "notes": note_arrays(perf, mel.shape[0], self.mel_config),
            "performer": self.performers.index(r.performer),
            "tempo": r.tempo_qpm,
            "clip_id": r.clip_id,
        }


def collate_clips(items: list[dict]) -> tuple[NoteBatch, torch.Tensor, list[str]]:
    """-> (NoteBatch, target mel ``[B, T, n_mels]`` zero-padded, clip ids)."""
    lengths = [it["mel"].shape[0] for it in items]
    batch = collate_notes(
        [it["notes"] for it in items], lengths, [it["performer"] for it in items], [it["tempo"] for it in items]
    )
    mel = torch.zeros(len(items), max(lengths), items[0]["mel"].shape[1])
    for i, it in enumerate(items):
        mel[i, : lengths[i]] = torch.from_numpy(it["mel"])
    return batch, mel, [it["clip_id"] for it in items]
