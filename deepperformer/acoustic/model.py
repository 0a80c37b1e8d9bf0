"""Stage 2: the Deep Performer acoustic model, timed notes -> log-mel spectrogram.

As in the paper: a note encoder (pitch, duration and velocity embeddings -> transformer encoder,
3 layers, d 128, 2 heads, FFN 256) plus performer and tempo embeddings; a polyphonic mixer that makes
each frame the sum of the vectors of the notes sounding in it, with the note-wise positional encoding
``v_frame = (1 + p * w) * v_note`` (p in [0, 1) the frame's relative position inside the note, w a
learned vector); a transformer decoder (6 layers, d 128, 2 heads, FFN 512) -> 80 log-mel bins.
Switches give the paper's ablations (no note-wise PE, no performer, no encoder: piano roll + position
roll straight into the decoder).

Two deliberate differences, both configurable:
- ``positional="relative"`` (default): attention is biased by the time distance between notes
  (onsets) and between frames (ALiBi-style, fixed slopes per head) instead of absolute sinusoidal
  encodings, so the model behaves the same at any offset inside a long performance and chunked
  inference matches unchunked inference. ``positional="absolute"`` is the paper's sinusoidal
  encoding (note index in the encoder, frame index in the decoder).
- the performer/tempo condition is also added to every frame (``condition_frames``), so that frames
  without notes (silence, room noise) know whose recording they belong to.
Optional: sustain pedal input (``use_pedal``: the per-frame pedal state), attention windows
(``encoder_window``/``decoder_window`` in frames, 0 = unlimited) that bound the receptive field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from deepperformer.core.configs import ConfigMixin
from deepperformer.data.notes import (
    NoteBatch,
    frame_positions,
    piano_and_position_rolls,
)
from deepperformer.networks.performer import embed_performers

#: Tempo bins: index 0 = unknown, then log-spaced bins between these tempos (quarter notes per minute).
TEMPO_RANGE = (30.0, 300.0)


@dataclass
class AcousticConfig(ConfigMixin):
    n_mels: int = 80
    d_model: int = 128
    n_heads: int = 2
    encoder_layers: int = 3
    encoder_ffn: int = 256
    decoder_layers: int = 6
    decoder_ffn: int = 512
    dropout: float = 0.1
    n_performers: int = 1
    max_duration_frames: int = 512  # longer notes share the last duration embedding
    tempo_bins: int = 32
    positional: str = "relative"  # relative | absolute
    encoder_window: int = 0  # frames of onset distance a note attends over (0 = all)
    decoder_window: int = 0  # frames a frame attends over on each side (0 = all)
    use_encoder: bool = True
    use_notewise_pe: bool = True
    use_performer: bool = True
    use_tempo: bool = True
    use_velocity: bool = True
    use_pedal: bool = False
    condition_frames: bool = True
    w_init_std: float = 0.01

    def validate(self) -> None:
        if self.positional not in ("relative", "absolute"):
            raise ValueError(f"positional must be 'relative' or 'absolute', not {self.positional!r}")

    def receptive_field(self) -> int | None:
        """Frames on each side that can influence a frame, or None when unbounded."""
        if self.positional != "relative" or self.decoder_window <= 0 or (self.use_encoder and self.encoder_window <= 0):
            return None
        enc = self.encoder_layers * self.encoder_window if self.use_encoder else 0
        # a note reaches frames up to its offset: bounded by the longest note we expect to see
        return self.decoder_layers * self.decoder_window + enc + self.max_duration_frames


def sinusoid(positions: torch.Tensor, d: int) -> torch.Tensor:
    """Sinusoidal encoding of (possibly fractional) positions ``[..., L]`` -> ``[..., L, d]``."""
    half = d // 2
    freq = torch.exp(-math.log(10000.0) * torch.arange(half, device=positions.device, dtype=torch.float32) / half)
    ang = positions.float()[..., None] * freq
    return torch.cat([ang.sin(), ang.cos()], dim=-1)


class BiasedEncoder(nn.Module):
    """A stack of transformer encoder layers whose attention is biased by time distance.

    ``x`` ``[B, L, d]``, ``times`` ``[B, L]`` (frames), ``pad`` ``[B, L]`` True for padding.
    With ``relative`` the bias is -slope_h * |t_i - t_j| (ALiBi slopes), and ``window`` > 0 forbids
    attention beyond that distance.
    """

    def __init__(self, d: int, heads: int, ffn: int, layers: int, dropout: float, relative: bool, window: int):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d, heads, ffn, dropout, batch_first=True, norm_first=True)
        self.stack = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.heads, self.relative, self.window = heads, relative, window
        self.register_buffer("slopes", torch.tensor([2.0 ** (-8.0 * (h + 1) / heads) for h in range(heads)]), persistent=False)
        self.norm = nn.LayerNorm(d)

    def forward(self, x: torch.Tensor, times: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        # A row with nothing to attend to would give NaN: let such rows see their first position.
        empty = pad.all(dim=1)
        if empty.any():
            pad = pad.clone()
            pad[empty, 0] = False
        mask = None
        if self.relative or self.window > 0:
            dist = (times[:, :, None] - times[:, None, :]).abs()  # [B, L, L]
            bias = torch.zeros_like(dist)[:, None].repeat(1, self.heads, 1, 1)
            if self.relative:
                bias = bias - self.slopes[None, :, None, None] * dist[:, None]
            if self.window > 0:
                bias = bias.masked_fill(dist[:, None] > self.window, float("-inf"))
            bias = bias.masked_fill(pad[:, None, None, :], float("-inf"))
            mask = bias.flatten(0, 1)  # [B * heads, L, L]
        # PyTorch's inference fast path mishandles per-batch float masks with -inf entries (NaN for
        # padded rows); the regular path is exact and, at these sizes, as fast.
        fast = torch.backends.mha.get_fastpath_enabled()
        torch.backends.mha.set_fastpath_enabled(False)
        try:
            if mask is not None:
                return self.norm(self.stack(x, mask=mask))
            return self.norm(self.stack(x, src_key_padding_mask=pad))
        finally:
            torch.backends.mha.set_fastpath_enabled(fast)


class AcousticModel(nn.Module):
    """Notes -> log-mel. ``forward(batch: NoteBatch) -> [B, T, n_mels]`` (T = batch.n_frames).

    >>> import numpy as np
    >>> from deepperformer.data.notes import collate_notes
    >>> clip = {"pitch": np.array([60, 64]), "velocity": np.array([80, 80]), "onset": np.array([0., 10.], dtype=np.float32),
    ...         "offset": np.array([20., 30.], dtype=np.float32), "pedal": np.zeros(40, np.float32)}
    >>> m = AcousticModel(AcousticConfig(d_model=16, encoder_ffn=32, decoder_ffn=32, decoder_layers=1, encoder_layers=1))
    >>> m(collate_notes([clip], [40], [0], [0.0])).shape
    torch.Size([1, 40, 80])
    """

    def __init__(self, config: AcousticConfig | None = None):
        super().__init__()
        config = config if config is not None else AcousticConfig()  # a fresh default: configs are mutable
        c = self.config = config
        d = c.d_model
        relative = c.positional == "relative"
        if c.use_encoder:
            self.pitch_emb = nn.Embedding(128, d)
            self.velocity_emb = nn.Embedding(128, d) if c.use_velocity else None
            self.duration_emb = nn.Embedding(c.max_duration_frames, d)
            self.encoder = BiasedEncoder(d, c.n_heads, c.encoder_ffn, c.encoder_layers, c.dropout, relative, c.encoder_window)
            # w starts small so training begins close to a plain sum of note vectors (as in the paper)
            self.notewise_w = nn.Parameter(torch.randn(d) * c.w_init_std) if c.use_notewise_pe else None
        else:
            self.roll_proj = nn.Linear(2 * 128, d)
        self.performer_emb = nn.Embedding(max(1, c.n_performers), d) if c.use_performer else None
        self.tempo_emb = nn.Embedding(c.tempo_bins + 1, d) if c.use_tempo else None
        self.pedal_proj = nn.Linear(1, d) if c.use_pedal else None
        self.decoder = BiasedEncoder(d, c.n_heads, c.decoder_ffn, c.decoder_layers, c.dropout, relative, c.decoder_window)
        self.out = nn.Linear(d, c.n_mels)

    @torch.no_grad()
    def init_output_bias(self, mean_log_mel: torch.Tensor) -> None:
        """Set the output bias to the data's mean log-mel ``[n_mels]``, so that training starts near the mean."""
        self.out.bias.copy_(mean_log_mel.to(self.out.bias))

    # ---------------------------------------------------------------------------------------------
    def tempo_bin(self, tempo: torch.Tensor) -> torch.Tensor:
        """``[B]`` qpm -> bin index (0 = unknown)."""
        lo, hi = map(math.log, TEMPO_RANGE)
        x = (torch.log(tempo.clamp(min=1e-3)) - lo) / (hi - lo)
        idx = 1 + (x.clamp(0, 1 - 1e-6) * self.config.tempo_bins).long()
        return torch.where(tempo > 0, idx, torch.zeros_like(idx))

    def bin_tempo(self, index: int) -> float:
        """Centre (qpm) of tempo bin ``index`` (1..tempo_bins); 0 for bin 0 (unknown)."""
        if index <= 0:
            return 0.0
        lo, hi = map(math.log, TEMPO_RANGE)
        return math.exp(lo + (index - 0.5) / self.config.tempo_bins * (hi - lo))

    def condition(self, batch: NoteBatch) -> torch.Tensor | None:
        """Performer + tempo embedding ``[B, d]`` (None when both are switched off)."""
        parts = []
        if self.performer_emb is not None:
            parts.append(embed_performers(self.performer_emb, batch.performer))
        if self.tempo_emb is not None:
            parts.append(self.tempo_emb(self.tempo_bin(batch.tempo)))
        return sum(parts) if parts else None

    def encode_notes(self, batch: NoteBatch, cond: torch.Tensor | None) -> torch.Tensor:
        """Note vectors ``[B, N, d]``."""
        c = self.config
        dur = (batch.offset - batch.onset).round().long().clamp(0, c.max_duration_frames - 1)
        x = self.pitch_emb(batch.pitch.clamp(0, 127)) + self.duration_emb(dur)
        if self.velocity_emb is not None:
            x = x + self.velocity_emb(batch.velocity.clamp(0, 127))
        if c.positional == "absolute":
            x = x + sinusoid(torch.arange(x.shape[1], device=x.device).expand(x.shape[0], -1), c.d_model)
        h = self.encoder(x, batch.onset, ~batch.note_mask)
        if cond is not None:
            h = h + cond[:, None, :]
        return h * batch.note_mask[..., None]

    def mix(self, notes: torch.Tensor, batch: NoteBatch) -> torch.Tensor:
        """Polyphonic mixer: frame vectors ``[B, T, d]`` = sum over sounding notes of
        ``(1 + p * w) * v_note`` (or of ``v_note`` without the note-wise PE)."""
        sounding, position = frame_positions(batch)  # [B, T, N] each
        frames = torch.bmm(sounding, notes)
        if self.notewise_w is not None:
            frames = frames + torch.bmm(position, notes * self.notewise_w)
        return frames

    def rolls(self, batch: NoteBatch) -> torch.Tensor:
        """Piano roll and position roll ``[B, T, 256]`` (the no-encoder ablation's input)."""
        return piano_and_position_rolls(batch, self.config.use_velocity)

    def predict_log_mel(self, batch: NoteBatch) -> torch.Tensor:
        """``[B, T, n_mels]``: what every stage-2 model offers evaluation and synthesis."""
        return self(batch)

    def forward(self, batch: NoteBatch) -> torch.Tensor:
        c = self.config
        cond = self.condition(batch)
        if c.use_encoder:
            frames = self.mix(self.encode_notes(batch, cond), batch)
        else:
            frames = self.roll_proj(self.rolls(batch))
        if cond is not None and (c.condition_frames or not c.use_encoder):
            frames = frames + cond[:, None, :]
        if self.pedal_proj is not None:
            frames = frames + self.pedal_proj(batch.pedal[..., None])
        t = torch.arange(batch.n_frames, device=frames.device, dtype=torch.float32).expand(frames.shape[0], -1)
        if c.positional == "absolute":
            frames = frames + sinusoid(t, c.d_model)
        h = self.decoder(frames, t, ~batch.frame_mask)
        return self.out(h)
