"""The paper's baseline: a HiFi-GAN generator (SpeechBrain's) that turns the piano roll + position
roll straight into a waveform, conditioned on the performer (no mel spectrogram in between).

Default sizes are HiFi-GAN V2's (upsample 8, 8, 2, 2 = the mel hop of 256; kernels 16, 16, 4, 4;
initial channels 128; resblock type 1 with kernels 3, 7, 11 and dilations 1, 3, 5). Its log-mel MSE is
measured on the MelConfig mel of the generated audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from deepperformer.audio.mel import LogMel, MelConfig
from deepperformer.core.configs import ConfigMixin
from deepperformer.data.notes import NoteBatch, piano_and_position_rolls
from deepperformer.networks.hifigan import HifiganSizes, make_generator, resolve_sizes
from deepperformer.networks.performer import embed_performers


@dataclass
class BaselineConfig(HifiganSizes, ConfigMixin):
    n_performers: int = 1
    performer_dim: int = 64
    use_performer: bool = True
    use_velocity: bool = True

    @classmethod
    def from_dict(cls, d: dict) -> BaselineConfig:
        """From a recipe's or checkpoint's model section; ``sizes: v1|v2|v3`` names HiFi-GAN's sizes."""
        return super().from_dict(resolve_sizes(d))


class RollBaseline(nn.Module):
    """``forward(batch: NoteBatch) -> waveform [B, T * hop]`` (T = batch.n_frames).

    >>> import numpy as np
    >>> from deepperformer.data.notes import collate_notes
    >>> clip = {"pitch": np.array([60]), "velocity": np.array([90]), "onset": np.array([0.], dtype=np.float32),
    ...         "offset": np.array([6.], dtype=np.float32), "pedal": np.zeros(8, np.float32)}
    >>> RollBaseline(BaselineConfig(upsample_initial_channel=16))(collate_notes([clip], [8], [0], [0.0])).shape
    torch.Size([1, 2048])
    """

    def __init__(self, config: BaselineConfig | None = None, mel_config: MelConfig | None = None):
        super().__init__()
        config = config if config is not None else BaselineConfig()  # a fresh default: configs are mutable
        c = self.config = config
        # The performer embedding joins the input as extra channels at every frame: SpeechBrain's own
        # global-conditioning layer (cond_channels) returns [B, T, C] where its generator adds [B, C, T].
        cond = c.performer_dim if c.use_performer else 0
        self.performer_emb = nn.Embedding(max(1, c.n_performers), c.performer_dim) if c.use_performer else None
        # The mel definition is part of the model (as in Vocos), so training and evaluation agree.
        self.log_mel = LogMel(mel_config or MelConfig())
        self.generator = make_generator(c, in_channels=256 + cond)

    def predict_log_mel(self, batch: NoteBatch) -> torch.Tensor:
        """The MelConfig log-mel of the generated audio, ``[B, T, n_mels]`` (T = batch.n_frames)."""
        return self.log_mel(self(batch))[:, : batch.n_frames]

    def forward(self, batch: NoteBatch) -> torch.Tensor:
        x = piano_and_position_rolls(batch, self.config.use_velocity).transpose(1, 2)  # [B, 256, T]
        if self.performer_emb is not None:
            g = embed_performers(self.performer_emb, batch.performer)  # [B, C]
            x = torch.cat([x, g[:, :, None].expand(-1, -1, x.shape[2])], dim=1)
        return self.generator(x)[:, 0]
