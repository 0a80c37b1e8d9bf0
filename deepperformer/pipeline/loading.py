"""Models from exported checkpoints, and where the shipped checkpoints are: the one loader that every
command uses (synthesize, vocode, evaluate, training's fine-tuning), so none imports another.

:func:`load_model` builds any exported model from what its checkpoint stores: the model's
configuration, the mel configuration it was trained on and its performer vocabulary. Nothing is
taken from this version's defaults, so a model trained on another mel configuration loads and
plays; callers that combine stages check the stages' mel configurations against each other.
``griffin-lim`` is accepted wherever a vocoder checkpoint is, and needs no file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from deepperformer.acoustic.baseline import BaselineConfig, RollBaseline
from deepperformer.acoustic.model import AcousticConfig, AcousticModel
from deepperformer.audio.mel import MelConfig
from deepperformer.core.checkpoint import load_checkpoint
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performers import PerformerVocab
from deepperformer.render.global_tempo import TempoReference
from deepperformer.render.inference import ExpressiveRenderer
from deepperformer.render.model import Renderer, RendererConfig
from deepperformer.vocoders import griffin_lim, refine_settings
from deepperformer.vocoders.build import make_vocoder

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"
#: Shipped (acoustic model, vocoder) per instrument, in CHECKPOINTS. The Vocos-style vocoder, shared by both
#: instruments, won the quality table against every shipped HiFi-GAN (checkpoints/README.md); followed by the
#: mel-consistency refinement (REFINE_ITERS) it beats Griffin-Lim on log-mel error, STFT distance and piano
#: note F1 (session 10), and runs faster, in flat memory.
#: Piano plays through that vocoder fine-tuned on the piano acoustic model's predicted mels
#: (recipes/vocoder/vocos_cpu_finetune_piano.yaml): better on every column of the piano chain. Violin
#: likewise (vocos_cpu_finetune_violin.yaml, session 13): on the violin test excerpts its chain comb is
#: 1.02 against 1.37 at the same pitch accuracy, and its copy of real violin no worse.
DEFAULTS = {
    "piano": {"renderer": "renderer_piano.pt", "acoustic": "acoustic_synthetic_piano.pt", "vocoder": "vocoder_vocos_piano.pt"},
    "violin": {"renderer": "renderer_violin.pt", "acoustic": "acoustic_bach_violin.pt", "vocoder": "vocoder_vocos_violin.pt"},
}
#: The vocoder `vocode` uses unless told: the shipped one shared by both instruments.
SHARED_VOCODER = "vocoder_vocos.pt"


def default_checkpoint(instrument: str, stage: str) -> Path:
    """The shipped checkpoint of ``stage`` ("renderer", "acoustic" or "vocoder") for ``instrument``."""
    path = CHECKPOINTS / DEFAULTS[instrument][stage]
    if not path.exists():
        raise DeepPerformerError(
            path, "shipped checkpoint not found (is this a clone of the repository? pass --acoustic/--vocoder)"
        )
    return path


#: The stages whose checkpoints hold a model this version can build.
MODEL_STAGES = ("renderer", "acoustic", "baseline", "vocoder")


@dataclass
class LoadedModel:
    """An exported model in eval mode, with what its checkpoint says about it."""

    model: torch.nn.Module
    checkpoint: dict
    mel_config: MelConfig  # the mel configuration it was trained on (from the checkpoint)
    performers: PerformerVocab  # empty for vocoders

    @property
    def stage(self) -> str:
        return self.checkpoint["stage"]

    @property
    def instrument(self) -> str | None:
        """The instrument it was trained for; None for a vocoder shared by every instrument."""
        return self.checkpoint["config"].get("instrument")


def _build(stage: str, model: dict, mel: MelConfig) -> torch.nn.Module:
    if stage == "acoustic":
        config = AcousticConfig.from_dict(model)
        if config.n_mels != mel.n_mels:
            raise ValueError(f"the model predicts {config.n_mels} mel bins, its mel configuration has {mel.n_mels}")
        return AcousticModel(config)
    if stage == "baseline":
        return RollBaseline(BaselineConfig.from_dict(model), mel)
    if stage == "renderer":
        return Renderer(RendererConfig.from_dict(model))
    return make_vocoder(model, mel)


def load_model(
    path: Path | str,
    stages: str | tuple[str, ...] = MODEL_STAGES,
    mel_config: MelConfig | None = None,
    what: str = "this checkpoint",
) -> LoadedModel:
    """Any exported model of ``stages``, built from its checkpoint alone and ready for inference.

    ``mel_config``: when given, a checkpoint made for another mel configuration is refused (a clear
    one-line error naming the file; ``what`` names the checkpoint in it). ``griffin-lim`` gives the
    classical vocoder for ``mel_config`` (default: this version's) and a checkpoint-like dict
    describing it.
    """
    if str(path) == griffin_lim.NAME:
        mel = mel_config or MelConfig()
        return LoadedModel(griffin_lim.GriffinLimVocoder(mel), griffin_lim.griffin_lim_checkpoint(mel), mel, PerformerVocab([]))
    ckpt = load_checkpoint(path, stages, mel_config, what)
    if ckpt["stage"] not in MODEL_STAGES:
        raise DeepPerformerError(path, f"{ckpt['stage']} checkpoints cannot be loaded by this version of deepperformer")
    mel = MelConfig.from_dict(ckpt["mel_config"])
    try:
        model = _build(ckpt["stage"], ckpt["config"]["model"], mel)
        model.load_state_dict(ckpt["state_dict"])
    except (ValueError, TypeError, RuntimeError, KeyError) as e:  # sizes that do not match the weights, unknown settings
        raise DeepPerformerError(path, f"cannot build its model ({_first_reason(e)})") from None
    return LoadedModel(model.eval(), ckpt, mel, PerformerVocab.of(ckpt))


def _first_reason(e: Exception) -> str:
    """The line of a (multi-line) load_state_dict error that says what differs."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()] or [type(e).__name__]
    keys = ("size mismatch", "Missing key", "Unexpected key")
    return next((line for line in lines if any(k in line for k in keys)), lines[0])[:200]


def load_renderer(path: Path | str) -> ExpressiveRenderer:
    """An exported renderer as a stage-1 system (its feature columns and performers from the checkpoint)."""
    m = load_model(path, "renderer")
    config = m.checkpoint["config"]
    return ExpressiveRenderer(
        m.model,
        tuple(config["feature_names"]),
        m.performers,
        directions=config.get("directions"),
        instrument=config.get("instrument"),
        source=str(path),
        pedal_threshold=float(config.get("pedal_threshold", 0.5)),  # older exports: as predicted
        residual_scale=config.get("residual_scale"),  # older exports: the residual as trained
        windows=config.get("windows"),  # older exports: one window for all targets
        phases=config.get("phases"),  # older exports: one window grid per target
        tempo_reference=TempoReference.from_dict(config.get("tempo_reference")),  # older: the first marking
    )


def stage_one(
    instrument: str,
    path: Path | str | None = None,
    deadpan: bool = False,
    expressiveness: float = 1.0,
    seed: int | None = None,
) -> ExpressiveRenderer | None:
    """The renderer stage 1 uses: ``path``, else the one shipped for ``instrument``; None (deadpan) with
    ``deadpan`` or when no renderer is shipped for the instrument. ``expressiveness`` 0..4 (0: deadpan,
    1: as learnt); ``seed`` draws a style (default: the most typical one, z = 0)."""
    if not 0.0 <= expressiveness <= 4.0:
        raise DeepPerformerError(None, f"--expressiveness {expressiveness}: expected 0..4")
    if deadpan:
        return None
    if path is None:
        if "renderer" not in DEFAULTS.get(instrument, {}):
            return None
        path = default_checkpoint(instrument, "renderer")
    renderer = load_renderer(path)
    made_for = renderer.instrument
    if made_for not in (None, instrument):
        raise DeepPerformerError(path, f"is a {made_for} renderer, not a {instrument} one")
    renderer.expressiveness = expressiveness
    if seed is not None:
        renderer.sample_style(seed)
    return renderer


def load_acoustic(path: Path) -> tuple[AcousticModel, dict]:
    """An exported acoustic model, ready for inference, and its checkpoint dict."""
    m = load_model(path, "acoustic", MelConfig())
    return m.model, m.checkpoint


def load_stage_two(path: Path) -> tuple[torch.nn.Module, dict]:
    """An exported acoustic model or baseline (either predicts log-mels), and its checkpoint dict."""
    m = load_model(path, ("acoustic", "baseline"), MelConfig())
    return m.model, m.checkpoint


def load_vocoder(
    path: Path | str, mel_config: MelConfig | None = None, refine: int | None = None
) -> tuple[torch.nn.Module, dict]:
    """An exported vocoder (or ``griffin-lim``), ready for inference, and its checkpoint dict; refused
    when made for another mel configuration than ``mel_config`` (default: this version's). ``refine``:
    iterations of the mel-consistency refinement after it (None: none)."""
    m = with_refinement(load_model(path, "vocoder", mel_config or MelConfig()), refine)
    return m.model, m.checkpoint


def vocoder_variants(specs: list, mel_config: MelConfig | None = None, refine: tuple[int, ...] = ()) -> list[tuple]:
    """``(spec, label suffix, model, checkpoint dict)`` for every vocoder of ``specs`` (paths or
    ``griffin-lim``), and after each neural one the same vocoder with each refinement of ``refine``
    (suffix ``+refineN``): the rows of the evaluation tables."""
    out = []
    for spec in specs:
        m = load_model(spec, "vocoder", mel_config or MelConfig())
        out.append((spec, "", m.model, m.checkpoint))
        if not isinstance(m.model, griffin_lim.GriffinLimVocoder):
            for n in refine:
                r = with_refinement(m, n)
                out.append((spec, f"+refine{n}", r.model, r.checkpoint))
    return out


def with_refinement(vocoder: LoadedModel, n_iter: int | None) -> LoadedModel:
    """``vocoder`` followed by ``n_iter`` iterations of the mel-consistency refinement
    (:class:`~deepperformer.vocoders.refine.RefinedVocoder`); unchanged for None and for Griffin-Lim,
    which is consistent with its mel by construction. The settings are the vocoder's instrument's
    (:func:`~deepperformer.vocoders.refine_settings`); the checkpoint dict records them and the iterations."""
    from deepperformer.vocoders.refine import RefinedVocoder

    if n_iter is None or isinstance(vocoder.model, griffin_lim.GriffinLimVocoder):
        return vocoder
    settings = refine_settings(vocoder.checkpoint.get("config", {}).get("instrument"))  # per-instrument fits
    ckpt = {**vocoder.checkpoint, "refine_iters": n_iter, **{f"refine_{k}": v for k, v in settings.items()}}
    model = RefinedVocoder(vocoder.model, vocoder.mel_config, n_iter, **settings)
    return LoadedModel(model, ckpt, vocoder.mel_config, vocoder.performers)


def describe_vocoder(checkpoint: dict) -> str:
    """What a (possibly refined) vocoder checkpoint is, for logs and plot titles: its variant, and
    the refinement after it when there is one (e.g. "vocos-cpu + 32 refinement iterations")."""
    name = checkpoint["config"].get("variant", "vocoder")
    if "refine_iters" in checkpoint:
        name += f" + {checkpoint['refine_iters']} refinement iterations"
    return name
