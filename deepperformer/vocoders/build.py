"""Vocoders from their ``model`` section (a recipe's or a checkpoint's), by ``family``."""

from __future__ import annotations

from torch import nn

from deepperformer.audio.mel import MelConfig
from deepperformer.vocoders.hifigan import Vocoder, VocoderConfig
from deepperformer.vocoders.vocos import Vocos, VocosConfig


def vocoder_config(model: dict, mel_config: MelConfig | None = None):
    """The config of a recipe's or checkpoint's ``model`` section, by its ``family`` (default HiFi-GAN);
    with ``mel_config``, checked to fit that mel (hop, bins; ValueError otherwise)."""

    families = {"hifigan": VocoderConfig, "vocos": VocosConfig}
    family = model.get("family", "hifigan")
    if family not in families:
        raise ValueError(f"unknown vocoder family {family!r} (known: {', '.join(families)})")
    config = families[family].from_dict(model)
    if mel_config is not None:
        config.validate(mel_config)
    return config


def make_vocoder(model: dict, mel_config: MelConfig | None = None) -> nn.Module:
    """A HiFi-GAN or Vocos vocoder from a ``model`` section: ``forward(log_mel [B, T, n_mels]) -> [B, T * hop]``."""

    config = vocoder_config(model, mel_config)
    return Vocos(config) if isinstance(config, VocosConfig) else Vocoder(config)
