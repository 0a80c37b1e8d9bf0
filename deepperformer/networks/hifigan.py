"""The HiFi-GAN generator both waveform models use: its sizes as a config and its construction.

The vocoder (mel -> audio) and the paper's baseline (piano roll + position roll -> audio) are the same
SpeechBrain ``HifiganGenerator`` with different inputs; the sizes below are HiFi-GAN V2's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class HifiganSizes:
    upsample_initial_channel: int = 128
    upsample_factors: list[int] = field(default_factory=lambda: [8, 8, 2, 2])
    upsample_kernel_sizes: list[int] = field(default_factory=lambda: [16, 16, 4, 4])
    resblock_type: str = "1"
    resblock_kernel_sizes: list[int] = field(default_factory=lambda: [3, 7, 11])
    resblock_dilation_sizes: list[list[int]] = field(default_factory=lambda: [[1, 3, 5], [1, 3, 5], [1, 3, 5]])

    @property
    def hop_length(self) -> int:
        """Output samples per input frame: the product of the upsampling factors."""
        return int(np.prod(self.upsample_factors))


def make_generator(sizes: HifiganSizes, in_channels: int):
    """SpeechBrain's generator: ``[B, in_channels, T] -> [B, 1, T * hop]``."""
    from speechbrain.lobes.models.HifiGAN import HifiganGenerator

    return HifiganGenerator(
        in_channels=in_channels,
        out_channels=1,
        resblock_type=sizes.resblock_type,
        resblock_dilation_sizes=sizes.resblock_dilation_sizes,
        resblock_kernel_sizes=sizes.resblock_kernel_sizes,
        upsample_kernel_sizes=sizes.upsample_kernel_sizes,
        upsample_initial_channel=sizes.upsample_initial_channel,
        upsample_factors=sizes.upsample_factors,
    )
