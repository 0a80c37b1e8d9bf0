"""Building models from exported checkpoints, and where the shipped checkpoints are: one place that
every command uses (synthesize, vocode, evaluate, training's fine-tuning), so none imports another.

A model is built from its checkpoint's own stored configuration; the mel configuration is checked
against the caller's (:func:`deepperformer.checkpoint.load_checkpoint`). ``griffin-lim`` is accepted
wherever a vocoder checkpoint is, and needs no file.
"""

from __future__ import annotations

from pathlib import Path

import torch

from deepperformer.acoustic.model import AcousticConfig, AcousticModel
from deepperformer.audio.mel import MelConfig
from deepperformer.core.checkpoint import load_checkpoint
from deepperformer.core.errors import DeepPerformerError
from deepperformer.vocoders.build import make_vocoder

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"
#: Shipped (acoustic model, vocoder) per instrument, in CHECKPOINTS. The Vocos-style vocoder, shared by both
#: instruments, won the quality table against every shipped HiFi-GAN (checkpoints/README.md); Griffin-Lim
#: (--vocoder griffin-lim) still scores higher there, but runs 4x slower and its memory grows with length.
DEFAULTS = {
    "piano": {"acoustic": "acoustic_synthetic_piano.pt", "vocoder": "vocoder_vocos.pt"},
    "violin": {"acoustic": "acoustic_bach_violin.pt", "vocoder": "vocoder_vocos.pt"},
}
#: The vocoder `vocode` uses unless told: the shipped one shared by both instruments.
SHARED_VOCODER = "vocoder_vocos.pt"


def default_checkpoint(instrument: str, stage: str) -> Path:
    """The shipped checkpoint of ``stage`` ("acoustic" or "vocoder") for ``instrument``."""
    path = CHECKPOINTS / DEFAULTS[instrument][stage]
    if not path.exists():
        raise DeepPerformerError(
            path, "shipped checkpoint not found (is this a clone of the repository? pass --acoustic/--vocoder)"
        )
    return path


def build_acoustic(ckpt: dict) -> AcousticModel:
    """The acoustic model of a loaded checkpoint dict, ready for inference."""
    model = AcousticModel(AcousticConfig.from_dict(ckpt["config"]["model"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


def load_acoustic(path: Path) -> tuple[AcousticModel, dict]:
    """An exported acoustic model, ready for inference, and its checkpoint dict."""
    ckpt = load_checkpoint(path, "acoustic", MelConfig())
    return build_acoustic(ckpt), ckpt


def load_stage_two(path: Path):
    """An exported acoustic model or baseline (either predicts log-mels), and its checkpoint dict."""
    from deepperformer.acoustic.baseline import BaselineConfig, RollBaseline

    ckpt = load_checkpoint(path, ("acoustic", "baseline"), MelConfig())
    if ckpt["stage"] == "acoustic":
        return build_acoustic(ckpt), ckpt
    model = RollBaseline(BaselineConfig.from_dict(ckpt["config"]["model"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt


def build_vocoder(ckpt: dict) -> torch.nn.Module:
    """The vocoder of a loaded checkpoint dict, ready for inference."""
    model = make_vocoder(ckpt["config"]["model"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


def load_vocoder(path: Path | str, mel_config: MelConfig = MelConfig()) -> tuple[torch.nn.Module, dict]:
    """An exported vocoder, ready for inference, and its checkpoint dict; ``griffin-lim`` (the
    name, not a file) gives the classical vocoder and a checkpoint-like dict that describes it."""
    from deepperformer.vocoders import griffin_lim

    if str(path) == griffin_lim.NAME:
        return griffin_lim.GriffinLimVocoder(mel_config), griffin_lim.griffin_lim_checkpoint(mel_config)
    ckpt = load_checkpoint(path, "vocoder", mel_config)
    return build_vocoder(ckpt), ckpt
