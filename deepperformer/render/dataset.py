"""Renderer examples as tensors: segments of a score's notes with the human performance's targets.

Notes are in score order (onset, then pitch). Every note of a segment is an input (the model reads
the whole score), but only performed notes carry targets (``known``): a note the pianist skipped, or
the aligner could not match, says nothing about how it was played.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from deepperformer.core.performers import PerformerVocab
from deepperformer.core.seeding import draw_rng
from deepperformer.render.baselines import targets
from deepperformer.render.corpus import Example
from deepperformer.render.targets import TARGETS


def score_order(score) -> np.ndarray:
    """``[N]`` rows of ``score.notes`` in score order (onset, then pitch)."""
    return np.lexsort((score.notes["pitch"], score.notes["onset_quarter"]))


def run_ids(keys: np.ndarray) -> np.ndarray:
    """``[N]`` ids 0, 1, 2, ... of the runs of equal consecutive ``keys`` ``[N]``.

    >>> run_ids(np.array([3, 3, 4, 4, 4, 1, 3])).tolist()
    [0, 0, 1, 1, 1, 2, 3]
    """
    keys = np.asarray(keys)
    return np.concatenate([[0], np.cumsum(keys[1:] != keys[:-1])]).astype(np.int64) if len(keys) else np.zeros(0, np.int64)


def note_levels(score, order: np.ndarray) -> np.ndarray:
    """``[N, 2]`` int64, for the notes in ``order``: the beat and the bar each belongs to, as run ids
    (beats: the whole beats of the time signature its onset falls in; bars: the printed bar number, or
    every four quarters for a score without bars). Runs, not the numbers themselves, because an
    unfolded repeat plays bar 12 twice: each time is a bar of its own. The renderer's hierarchy
    (``RendererConfig.hierarchy``) pools the notes of each beat and each bar."""
    notes = score.notes[order]
    beat = np.floor(notes["onset_beat"] + 1e-6).astype(np.int64)
    bars = score.bars[order] if score.bars is not None else np.floor(notes["onset_quarter"] / 4 + 1e-6).astype(np.int64)
    return np.stack([run_ids(beat), run_ids(bars)], axis=1)


def rebased(levels: np.ndarray) -> np.ndarray:
    """``levels`` ``[n, 2]`` of a segment, renumbered from 0 (its first beat and bar)."""
    return levels - levels[:1] if len(levels) else levels


def example_arrays(ex: Example, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Whole-piece arrays in score order: x ``[N, F]``, onset ``[N]``, target ``[N, len(TARGETS)]`` (0 where
    unknown), known ``[N]`` bool, levels ``[N, 2]`` (beat and bar run ids: :func:`note_levels`)."""
    order = score_order(ex.score)
    pos = np.empty(len(order), np.int64)
    pos[order] = np.arange(len(order))
    target = np.zeros((len(order), len(TARGETS)), np.float32)
    known = np.zeros(len(order), bool)
    target[pos[ex.enc.rows]] = targets(ex)
    known[pos[ex.enc.rows]] = True
    return {
        "x": ex.score.features.columns(names)[order],
        "onset": ex.score.notes["onset_quarter"][order].astype(np.float32),
        "target": target,
        "known": known,
        "levels": note_levels(ex.score, order),
    }


class NoteSegments(Dataset):
    """Training: one random segment of ``segment_notes`` per example per epoch (``random=True``).
    Validation: every example tiled into consecutive segments.

    Item: dict with x ``[n, F]``, onset ``[n]``, target ``[n, len(TARGETS)]``, known ``[n]``, levels ``[n, 2]``
    (from 0 at the segment's first note), performer (row), log_qpm (the performance's global tempo), recording.
    """

    def __init__(
        self,
        examples: list[Example],
        names: tuple[str, ...],
        performers: PerformerVocab,
        segment_notes: int = 256,
        random: bool = True,
    ):
        self.examples = [ex for ex in examples if ex.performer in performers]
        self.arrays = [example_arrays(ex, names) for ex in self.examples]
        self.performers, self.segment, self.random = performers, segment_notes, random
        self.index = (
            [(i, 0) for i in range(len(self.examples))]
            if random
            else [(i, s) for i, a in enumerate(self.arrays) for s in range(0, len(a["onset"]), segment_notes)]
        )

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key) -> dict:
        k, rng = draw_rng(key)  # an index, or a Draw: the index and the seed of its crop
        i, start = self.index[k]
        a, ex = self.arrays[i], self.examples[i]
        n = len(a["onset"])
        if self.random and n > self.segment:
            start = int(rng.integers(0, n - self.segment + 1))
        sl = slice(start, start + self.segment)
        seg = {key: v[sl] for key, v in a.items()}
        seg["levels"] = rebased(seg["levels"])
        return {
            **seg,
            "performer": self.performers.index(ex.performer),
            "log_qpm": float(np.log(ex.enc.qpm())),
            "recording": ex.recording,
        }


def collate_segments(items: list[dict]) -> dict:
    """Pad to the longest segment: x ``[B, N, F]``, onset ``[B, N]``, target ``[B, N, len(TARGETS)]``, known and
    mask ``[B, N]`` bool, levels ``[B, N, 2]`` long (0 where padded), performer ``[B]``, log_qpm ``[B]``,
    recording (list)."""
    n = max(len(it["onset"]) for it in items)
    b, f = len(items), items[0]["x"].shape[1]
    out = {
        "x": torch.zeros(b, n, f),
        "onset": torch.zeros(b, n),
        "target": torch.zeros(b, n, len(TARGETS)),
        "known": torch.zeros(b, n, dtype=torch.bool),
        "mask": torch.zeros(b, n, dtype=torch.bool),
        "levels": torch.zeros(b, n, 2, dtype=torch.long),
    }
    for i, it in enumerate(items):
        m = len(it["onset"])
        out["x"][i, :m] = torch.from_numpy(it["x"])
        out["onset"][i, :m] = torch.from_numpy(it["onset"])
        out["onset"][i, m:] = float(it["onset"][-1]) if m else 0.0
        out["target"][i, :m] = torch.from_numpy(it["target"])
        out["known"][i, :m] = torch.from_numpy(it["known"])
        out["mask"][i, :m] = True
        out["levels"][i, :m] = torch.from_numpy(it["levels"])
    out["performer"] = torch.tensor([it["performer"] for it in items])
    out["log_qpm"] = torch.tensor([it["log_qpm"] for it in items], dtype=torch.float32)
    out["recording"] = [it["recording"] for it in items]
    return out
