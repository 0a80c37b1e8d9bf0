"""The HiFi-GAN generator both waveform models use: its sizes as a config and its construction.

The vocoder (mel -> audio) and the paper's baseline (piano roll + position roll -> audio) are the same
SpeechBrain ``HifiganGenerator`` with different inputs. HiFi-GAN's three published sizes are
:data:`SIZES` (the dataclass defaults are V2's, the Deep Performer paper's choice); a recipe's model
section names one with ``sizes: v1|v2|v3`` and may override single keys beside it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

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

    def receptive_field_frames(self) -> int:
        """Input frames (mel frames for the vocoder, roll frames for the baseline) of context on each side
        that reach an output sample (an upper bound): what chunked inference must give each chunk."""
        r, frames = 1, 3.0  # conv_pre: kernel 7
        for u, k in zip(self.upsample_factors, self.upsample_kernel_sizes):
            frames += k / (2 * u) / r + 1.0 / r  # transposed conv, at the input rate
            r *= u
            per_block = []
            for kern, dil in zip(self.resblock_kernel_sizes, self.resblock_dilation_sizes):
                # type 1: each dilation has a dilated conv and a plain one; type 2: only the dilated one
                ext = sum((kern - 1) * d / 2 for d in dil)
                if self.resblock_type == "1":
                    ext += len(dil) * (kern - 1) / 2
                per_block.append(ext)
            frames += max(per_block) / r
        frames += 3.0 / r  # conv_post
        return int(np.ceil(frames)) + 1


#: HiFi-GAN's published sizes (config_v1/v2/v3.json of the authors' code), for a hop of 256.
SIZES = {
    "v1": HifiganSizes(upsample_initial_channel=512),
    "v2": HifiganSizes(),
    "v3": HifiganSizes(
        upsample_initial_channel=256,
        upsample_factors=[8, 8, 4],
        upsample_kernel_sizes=[16, 16, 8],
        resblock_type="2",
        resblock_kernel_sizes=[3, 5, 7],
        resblock_dilation_sizes=[[1, 2], [2, 6], [3, 12]],
    ),
}


def resolve_sizes(model: dict) -> dict:
    """A model section with ``sizes: v1|v2|v3`` expanded into those sizes (keys given beside it win).

    >>> resolve_sizes({"sizes": "v3", "upsample_initial_channel": 32})["upsample_factors"]
    [8, 8, 4]
    """
    if "sizes" not in model:
        return model
    model = dict(model)
    name = model.pop("sizes")
    if name not in SIZES:
        raise ValueError(f"unknown HiFi-GAN sizes {name!r} (known: {', '.join(SIZES)})")
    return {**asdict(SIZES[name]), **model}


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
