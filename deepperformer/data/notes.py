"""Performance notes as model input: padded tensors at the mel frame rate.

One place turns a :class:`~deepperformer.core.performance.Performance` (or a window of one) into the
tensors every model reads, so training, evaluation and synthesis cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from deepperformer.audio.mel import MelConfig
from deepperformer.core.performance import Performance


@dataclass
class NoteBatch:
    """A batch of note sequences.

    pitch, velocity: ``[B, N]`` long (MIDI numbers); onset, offset: ``[B, N]`` float, in frames from
    the start of the clip (an onset may be negative: the note began before the clip); note_mask:
    ``[B, N]`` bool, True for real notes; pedal: ``[B, T]`` float in [0, 1] (sustain pedal down);
    frame_mask: ``[B, T]`` bool, True for real frames; performer: ``[B]`` long; tempo: ``[B]`` float
    (quarter notes per minute, 0 if unknown).
    """

    pitch: torch.Tensor
    velocity: torch.Tensor
    onset: torch.Tensor
    offset: torch.Tensor
    note_mask: torch.Tensor
    pedal: torch.Tensor
    frame_mask: torch.Tensor
    performer: torch.Tensor
    tempo: torch.Tensor

    @property
    def n_frames(self) -> int:
        return self.frame_mask.shape[1]

    def to(self, device) -> NoteBatch:
        return NoteBatch(**{k: v.to(device) for k, v in self.__dict__.items()})


def note_arrays(perf: Performance, n_frames: int, mel_config: MelConfig = MelConfig()) -> dict[str, np.ndarray]:
    """Arrays of one clip: notes of ``perf`` (times relative to the clip start) in frames, and the
    pedal state per frame. Frame t is centred at t * hop / sample_rate seconds."""
    fps = 1.0 / mel_config.frame_seconds
    n = perf.notes
    onset = n["onset_sec"] * fps
    offset = np.maximum((n["onset_sec"] + n["duration_sec"]) * fps, onset + 1e-3)
    keep = (offset > 0) & (onset < n_frames)
    pedal = np.zeros(n_frames, np.float32)
    if len(perf.pedal):
        t = np.arange(n_frames) / fps
        idx = np.searchsorted(perf.pedal["time_sec"], t, side="right") - 1
        down = perf.pedal_down()
        pedal = np.where(idx >= 0, down[np.clip(idx, 0, None)], False).astype(np.float32)
    return {
        "pitch": n["pitch"][keep].astype(np.int64),
        "velocity": n["velocity"][keep].astype(np.int64),
        "onset": onset[keep].astype(np.float32),
        "offset": offset[keep].astype(np.float32),
        "pedal": pedal,
    }


def collate_notes(items: list[dict[str, np.ndarray]], n_frames: list[int], performer: list[int], tempo: list[float]) -> NoteBatch:
    """Pad per-clip arrays (from :func:`note_arrays`) into a NoteBatch."""
    b = len(items)
    n_max = max(1, max(len(it["pitch"]) for it in items))
    t_max = max(n_frames)
    out = {
        "pitch": torch.zeros(b, n_max, dtype=torch.long),
        "velocity": torch.zeros(b, n_max, dtype=torch.long),
        "onset": torch.zeros(b, n_max),
        "offset": torch.zeros(b, n_max),
        "note_mask": torch.zeros(b, n_max, dtype=torch.bool),
        "pedal": torch.zeros(b, t_max),
        "frame_mask": torch.zeros(b, t_max, dtype=torch.bool),
    }
    for i, (it, t) in enumerate(zip(items, n_frames)):
        k = len(it["pitch"])
        for key in ("pitch", "velocity", "onset", "offset"):
            out[key][i, :k] = torch.from_numpy(it[key])
        out["note_mask"][i, :k] = True
        out["pedal"][i, :t] = torch.from_numpy(it["pedal"][:t])
        out["frame_mask"][i, :t] = True
    return NoteBatch(**out, performer=torch.tensor(performer, dtype=torch.long), tempo=torch.tensor(tempo, dtype=torch.float32))


def piano_and_position_rolls(batch: NoteBatch, use_velocity: bool = True) -> torch.Tensor:
    """The paper's frame-level inputs without a note encoder: ``[B, T, 256]`` = piano roll (128
    pitches; velocity / 127, or 1) and position roll (128 pitches; 1 at a note's onset falling
    linearly towards 0 at its end)."""
    sounding, position = frame_positions(batch)
    onehot = torch.nn.functional.one_hot(batch.pitch.clamp(0, 127), 128).to(sounding.dtype)  # [B, N, 128]
    level = batch.velocity.to(sounding.dtype) / 127 if use_velocity else torch.ones_like(batch.onset)
    piano = torch.bmm(sounding, onehot * level[..., None]).clamp(max=1)
    pos = torch.bmm(sounding * (1 - position), onehot).clamp(max=1)
    return torch.cat([piano, pos], dim=-1)


def frame_positions(batch: NoteBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Which notes sound in which frames, and how far into each note a frame is.

    Returns ``sounding`` ``[B, T, N]`` float (1 where note n sounds in frame t, i.e.
    onset <= t < offset) and ``position`` ``[B, T, N]`` float: (t - onset) / (offset - onset) in
    [0, 1) where sounding, 0 elsewhere. It restarts at 0 at each note's onset.
    """
    t = torch.arange(batch.n_frames, device=batch.onset.device, dtype=batch.onset.dtype)[None, :, None]
    on, off = batch.onset[:, None, :], batch.offset[:, None, :]
    sounding = (t >= on) & (t < off) & batch.note_mask[:, None, :] & batch.frame_mask[:, :, None]
    position = torch.where(sounding, (t - on) / (off - on), torch.zeros((), device=t.device))
    return sounding.to(batch.onset.dtype), position
