"""``deepperformer train recipes/vocoder/...``: train (or fine-tune) the HiFi-GAN vocoder, then export
the generator alone (no discriminator or optimizer state) in the one checkpoint format.

Fine-tuning on predicted mels (``data.predicted_mels_from: ACOUSTIC.pt``, ``init_from: VOCODER.pt``):
the acoustic model predicts, teacher-forced, the mel of every recording of the training and
validation splits from its aligned performance notes, so each prediction is time-aligned with the
real audio; the vocoder then learns to turn *those* mels into the real audio (HiFi-GAN's
recommendation for two-stage systems). Predictions are cached in the run folder.
"""

from __future__ import annotations

from pathlib import Path

import torch
import yaml
from torch.utils.data import DataLoader

from deepperformer.audio.mel import MelConfig
from deepperformer.core.atomic import atomic_path, write_text
from deepperformer.core.checkpoint import export_checkpoint, load_checkpoint, round_to_stored, total_steps
from deepperformer.core.errors import DeepPerformerError, require_file
from deepperformer.data.audio_clips import AudioClipDataset, collate_audio
from deepperformer.pipeline.predicted_mels import cache_predicted_mels
from deepperformer.training.fit import file_sha256, fit_resumably, init_provenance, load_best
from deepperformer.training.sampling import step_loader
from deepperformer.vocoders.build import vocoder_config
from deepperformer.vocoders.metrics import copy_synthesis_errors
from deepperformer.vocoders.task import VocoderTask

#: What a discriminator state file is (see save_discriminator_state).
DISCRIMINATOR_STATE = "deepperformer-discriminator-state"


def save_discriminator_state(path: Path, discriminator, steps: int) -> None:
    """The discriminators' weights (fp16: they only need to resume judging) beside an exported
    generator, so that adversarial training can go on in another session or on another machine
    without the run folder: ``init_from`` (generator) + ``init_discriminator_from`` (this file)."""

    payload = {
        "kind": DISCRIMINATOR_STATE,
        "format_version": 1,
        "config": discriminator.config.to_dict(),
        "steps": int(steps),
        "state_dict": {k: v.detach().cpu().half() for k, v in discriminator.state_dict().items()},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_discriminator_state(path: Path, discriminator) -> int:
    """Load a :func:`save_discriminator_state` file into ``discriminator``; -> the steps it had."""

    path = require_file(path, "discriminator state")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise DeepPerformerError(path, f"not a discriminator state ({type(e).__name__})") from None
    if not isinstance(state, dict) or state.get("kind") != DISCRIMINATOR_STATE:
        raise DeepPerformerError(path, "not a discriminator state (export one by training a vocoder)")
    if state["config"] != discriminator.config.to_dict():
        raise DeepPerformerError(path, "its discriminators differ from the recipe's discriminator section")
    discriminator.load_state_dict({k: v.float() for k, v in state["state_dict"].items()})
    return int(state["steps"])


def train_vocoder(recipe: dict, run_dir: Path, log=print) -> Path:
    import lightning as L

    data, tr, optim = recipe["data"], recipe["trainer"], dict(recipe.get("optim", {}))
    manifests = [Path(m) for m in (data["manifests"] if isinstance(data["manifests"], list) else [data["manifests"]])]
    instrument = data.get("instrument")  # None: every instrument (one shared vocoder)
    mel_config = MelConfig()
    L.seed_everything(int(tr.get("seed", 0)), workers=True, verbose=False)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "recipe.yaml", yaml.safe_dump(recipe, sort_keys=False))

    mel_dirs, acoustic = None, data.get("predicted_mels_from")
    if acoustic:
        mel_dirs = cache_predicted_mels(Path(acoustic), manifests, run_dir / "predicted_mels", log=log)
    segment = int(data.get("segment_frames", 32))
    train_set = AudioClipDataset(manifests, "train", instrument, mel_config, segment_frames=segment, mel_dirs=mel_dirs)
    val_set = AudioClipDataset(
        manifests, "validation", instrument, mel_config, mel_dirs=mel_dirs, max_clips=data.get("validation_clips")
    )
    # what validation measures: copy synthesis of the recordings' own mels, or the predicted mels' synthesis
    measured = "predicted-mel synthesis" if acoustic else "copy synthesis"
    log(f"train: {len(train_set)} clips, validation: {len(val_set)} clips ({measured}), instrument: {instrument or 'all'}")

    model_cfg = recipe["model"]
    try:
        vocoder_config(model_cfg).validate(mel_config)
        task = VocoderTask(
            model_cfg,
            discriminator=recipe.get("discriminator"),
            png_dir=str(run_dir / "mels"),
            wav_dir=str(run_dir / "wavs"),
            **optim,
        )
    except (ValueError, TypeError) as e:
        raise DeepPerformerError(recipe.get("recipe"), f"bad model or optim setting ({e})") from None
    init = recipe.get("init_from")
    init_ckpt = load_checkpoint(Path(init), "vocoder", mel_config) if init else None  # read once: weights and provenance
    if init and not (run_dir / "ckpt" / "last.ckpt").exists():  # a resumed run has its weights in last.ckpt
        if vocoder_config(init_ckpt["config"]["model"]) != task.model.config:
            raise DeepPerformerError(init, "its generator sizes differ from the recipe's model section")
        task.model.load_state_dict(init_ckpt["state_dict"])
        log(f"generator initialised from {init} ({total_steps(init_ckpt['provenance'])} steps in all)")
        d_init = recipe.get("init_discriminator_from")
        if d_init:
            log(f"discriminators initialised from {d_init} ({load_discriminator_state(Path(d_init), task.discriminator)} steps)")

    workers = int(data.get("num_workers", 0))
    bs = int(data.get("batch_size", 16))
    loader_args = dict(collate_fn=collate_audio, num_workers=workers, persistent_workers=workers > 0)
    train_loader = step_loader(train_set, bs, int(tr.get("seed", 0)), collate_audio, workers)
    val_loader = DataLoader(val_set, batch_size=int(data.get("validation_batch_size", 4)), shuffle=False, **loader_args)
    trainer, sec_per_step = fit_resumably(task, train_loader, val_loader, tr, run_dir, None, log)
    if not trainer.is_global_zero:
        return run_dir / "model.pt"

    exported_step = load_best(task, trainer, tr, run_dir, log)  # the best validation weights, with their discriminators
    round_to_stored(task.model)  # the recorded figures are those of the float16 weights exported below
    metrics = copy_synthesis_errors(task.model.cpu(), val_set)
    out = run_dir / "model.pt"
    save_discriminator_state(run_dir / "discriminator.pt", task.discriminator, exported_step)
    export_checkpoint(
        out,
        "vocoder",
        config={
            "model": task.model.config.to_dict(),
            "instrument": instrument,
            "recipe": recipe.get("recipe", ""),
            "variant": recipe.get("variant", "v2"),
            "input": "predicted" if acoustic else "ground-truth mels",
        },
        mel_config=mel_config,
        performer_vocab=[],
        state_dict=task.model.state_dict(),
        half=True,
        provenance={
            "data": [{"manifest": str(m), "sha256": file_sha256(m)} for m in manifests],
            "predicted_mels_from": str(acoustic) if acoustic else None,
            # the files behind those paths may be replaced later (shipped checkpoints are): their hashes say which
            "predicted_mels_from_sha256": file_sha256(Path(acoustic)) if acoustic else None,
            # init_from, its hash and steps; total_steps: the generator's through every run before, to the exported weights
            **init_provenance(init, init_ckpt, exported_step),
            "exported_step": exported_step,  # the best validation step with trainer.keep_best, else the last
            "init_discriminator_from": recipe.get("init_discriminator_from"),
            "train_clips": len(train_set),
            "validation_clips": len(val_set),
            "steps": int(trainer.global_step),
            "batch_size": bs,
            "segment_frames": segment,
            # this run's adversarial steps up to the exported weights (the best step, not the run's last)
            "adversarial_steps": max(0, exported_step - int(optim.get("adversarial_start", 0))),
            "seconds_per_step": sec_per_step and round(sec_per_step, 4),
            "device": str(trainer.strategy.root_device),
            # the key says copy synthesis for every vocoder (shipped checkpoints carry it); config.input says which mels
            "metrics": {f"validation_copy_synthesis_{k}": round(v, 6) if isinstance(v, float) else v for k, v in metrics.items()},
            "recipe": recipe,
        },
    )
    log(
        f"exported {out}: the weights of step {exported_step} of {trainer.global_step}, "
        f"validation {measured} log-mel MSE {metrics['logmel_mse']:.4f}, "
        f"MR-STFT SC {metrics['stft_sc']:.3f} mag {metrics['stft_mag']:.3f}, {sec_per_step or 0:.3f} s/step"
    )
    return out
