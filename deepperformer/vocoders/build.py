"""Vocoders from their ``model`` section (a recipe's or a checkpoint's), by ``family``."""

from __future__ import annotations

from torch import nn

from deepperformer.vocoders.hifigan import Vocoder, VocoderConfig


def vocoder_config(model: dict):
    """The config of a recipe's or checkpoint's ``model`` section, by its ``family`` (default HiFi-GAN)."""
    from deepperformer.vocoders.vocos import VocosConfig

    families = {"hifigan": VocoderConfig, "vocos": VocosConfig}
    family = model.get("family", "hifigan")
    if family not in families:
        raise ValueError(f"unknown vocoder family {family!r} (known: {', '.join(families)})")
    return families[family].from_dict(model)


def make_vocoder(model: dict) -> nn.Module:
    """A HiFi-GAN or Vocos vocoder from a ``model`` section: ``forward(log_mel [B, T, n_mels]) -> [B, T * hop]``."""
    from deepperformer.vocoders.vocos import Vocos, VocosConfig

    config = vocoder_config(model)
    return Vocos(config) if isinstance(config, VocosConfig) else Vocoder(config)
