"""The paper's baseline: a HiFi-GAN generator (SpeechBrain's) that turns the piano roll + position
roll straight into a waveform, conditioned on the performer (no mel spectrogram in between).

Default sizes are HiFi-GAN V2's (upsample 8, 8, 2, 2 = the mel hop of 256; kernels 16, 16, 4, 4;
initial channels 128; resblock type 1 with kernels 3, 7, 11 and dilations 1, 3, 5). Its log-mel MSE is
measured on the MelConfig mel of the generated audio.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from deepperformer.audio import LogMel, MelConfig
from deepperformer.configs import ConfigMixin
from deepperformer.models.notes import NoteBatch, piano_and_position_rolls


@dataclass
class BaselineConfig(ConfigMixin):
    upsample_initial_channel: int = 128
    upsample_factors: list[int] = field(default_factory=lambda: [8, 8, 2, 2])
    upsample_kernel_sizes: list[int] = field(default_factory=lambda: [16, 16, 4, 4])
    resblock_type: str = "1"
    resblock_kernel_sizes: list[int] = field(default_factory=lambda: [3, 7, 11])
    resblock_dilation_sizes: list[list[int]] = field(default_factory=lambda: [[1, 3, 5], [1, 3, 5], [1, 3, 5]])
    n_performers: int = 1
    performer_dim: int = 64
    use_performer: bool = True
    use_velocity: bool = True

    @property
    def hop_length(self) -> int:
        hop = 1
        for u in self.upsample_factors:
            hop *= u
        return hop


class RollBaseline(nn.Module):
    """``forward(batch: NoteBatch) -> waveform [B, T * hop]`` (T = batch.n_frames).

    >>> import numpy as np
    >>> from deepperformer.models.notes import collate_notes
    >>> clip = {"pitch": np.array([60]), "velocity": np.array([90]), "onset": np.array([0.], dtype=np.float32),
    ...         "offset": np.array([6.], dtype=np.float32), "pedal": np.zeros(8, np.float32)}
    >>> RollBaseline(BaselineConfig(upsample_initial_channel=16))(collate_notes([clip], [8], [0], [0.0])).shape
    torch.Size([1, 2048])
    """

    def __init__(self, config: BaselineConfig = BaselineConfig()):
        super().__init__()
        from speechbrain.lobes.models.HifiGAN import HifiganGenerator

        c = self.config = config
        # The performer embedding joins the input as extra channels at every frame: SpeechBrain's own
        # global-conditioning layer (cond_channels) returns [B, T, C] where its generator adds [B, C, T].
        cond = c.performer_dim if c.use_performer else 0
        self.performer_emb = nn.Embedding(max(1, c.n_performers), c.performer_dim) if c.use_performer else None
        # The mel definition is part of the model (as in Vocos), so training and evaluation agree.
        self.log_mel = LogMel(MelConfig())
        self.generator = HifiganGenerator(
            in_channels=256 + cond, out_channels=1, resblock_type=c.resblock_type,
            resblock_dilation_sizes=c.resblock_dilation_sizes, resblock_kernel_sizes=c.resblock_kernel_sizes,
            upsample_kernel_sizes=c.upsample_kernel_sizes, upsample_initial_channel=c.upsample_initial_channel,
            upsample_factors=c.upsample_factors,
        )

    def predict_log_mel(self, batch: NoteBatch) -> torch.Tensor:
        """The MelConfig log-mel of the generated audio, ``[B, T, n_mels]`` (T = batch.n_frames)."""
        return self.log_mel(self(batch))[:, : batch.n_frames]

    def forward(self, batch: NoteBatch) -> torch.Tensor:
        x = piano_and_position_rolls(batch, self.config.use_velocity).transpose(1, 2)  # [B, 256, T]
        if self.performer_emb is not None:
            g = self.performer_emb(batch.performer.clamp(0, self.performer_emb.num_embeddings - 1))  # [B, C]
            x = torch.cat([x, g[:, :, None].expand(-1, -1, x.shape[2])], dim=1)
        return self.generator(x)[:, 0]
