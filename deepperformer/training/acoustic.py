"""``deepperformer train RECIPE``: train a stage from a recipe with Lightning, resumably, then export.

The run folder holds the resolved recipe, Lightning's checkpoints (``ckpt/last.ckpt``, saved every
``trainer.checkpoint_every_steps``; a second run of the same command resumes from it), the CSV log,
validation mel PNGs (``mels/``) and, at the end, the exported model (``model.pt``) whose provenance
records the data, the steps, the time per step and the validation log-mel MSE of the exported weights."""

from __future__ import annotations

from pathlib import Path

import torch
import yaml
from torch.utils.data import DataLoader

from deepperformer.acoustic.metrics import evaluate_mse
from deepperformer.acoustic.task import AcousticTask, BaselineTask
from deepperformer.audio.mel import MelConfig
from deepperformer.core.atomic import write_text
from deepperformer.core.checkpoint import export_checkpoint, load_checkpoint, round_to_stored, total_steps
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performers import PerformerVocab
from deepperformer.data.clips import ClipDataset, collate_clips, performer_vocab
from deepperformer.training.fit import file_sha256, fit_resumably, init_provenance, load_best
from deepperformer.training.sampling import step_loader


def mean_log_mel(dataset: ClipDataset, max_clips: int = 200) -> torch.Tensor:
    """Mean log-mel per bin ``[n_mels]`` over (up to ``max_clips`` evenly spaced) clips."""
    idx = range(0, len(dataset), max(1, len(dataset) // max_clips))
    mels = [torch.from_numpy(dataset[i]["mel"]) for i in idx]
    return torch.cat(mels).mean(dim=0)


def _tempo_bins_seen(model, dataset: ClipDataset) -> list[int] | None:
    """Tempo-embedding rows that training clips used (0 = unknown tempo): synthesis conditions on a
    tempo only if the model learnt some (the others keep their random initialisation)."""
    if not hasattr(model, "tempo_bin"):
        return None
    tempos = torch.tensor([r.tempo_qpm for _, r in dataset.rows], dtype=torch.float32)
    return sorted(int(b) for b in torch.unique(model.tempo_bin(tempos)))


def warm_start(model: torch.nn.Module, ckpt: dict, performers: PerformerVocab, path: Path, log=print) -> None:
    """Load an exported stage-2 checkpoint's weights into ``model`` (same sizes) for fine-tuning on
    another corpus: the performer embedding's rows are copied by performer name, and performers the
    checkpoint does not know keep their fresh initialisation (pretraining on the synthetic violin
    corpus, then fine-tuning on the real Bach Violin recordings, changes every performer)."""
    state = dict(ckpt["state_dict"])
    own = model.state_dict()
    shared = performers.rows_from(PerformerVocab.of(ckpt))  # {our row: the checkpoint's row}
    for key in [k for k in state if k.endswith("performer_emb.weight")]:
        rows = own[key].clone()
        for new, old in shared.items():
            rows[new] = state[key][old]
        state[key] = rows
        log(f"performer embedding: {len(shared)} of {len(performers)} performers taken from {path}")
    bad = {k for k in state if k in own and state[k].shape != own[k].shape}
    if bad or set(state) != set(own):
        raise DeepPerformerError(
            path, f"its model differs from the recipe's (sizes or switches: {sorted(bad or set(state) ^ set(own))[:3]})"
        )
    model.load_state_dict(state)


def _make_task(stage: str, recipe: dict, performers: list[str], optim: dict, run_dir: Path):

    tasks = {"acoustic": AcousticTask, "baseline": BaselineTask}
    if stage not in tasks:
        raise DeepPerformerError(recipe.get("recipe"), f"stage {stage!r} is not a stage-2 model")
    return tasks[stage](recipe["model"], performers, png_dir=str(run_dir / "mels"), **optim)


def train_stage_two(recipe: dict, run_dir: Path, log=print) -> Path:
    """Train the acoustic model (``stage: acoustic``) or the baseline (``stage: baseline``)."""
    import lightning as L

    data, tr, optim = recipe["data"], recipe["trainer"], recipe.get("optim", {})
    manifests = [Path(m) for m in (data["manifests"] if isinstance(data["manifests"], list) else [data["manifests"]])]
    instrument = data.get("instrument")
    mel_config = MelConfig()
    L.seed_everything(int(tr.get("seed", 0)), workers=True, verbose=False)
    performers = performer_vocab(manifests, instrument)
    if not performers:
        raise DeepPerformerError(manifests[0], f"no training clips for instrument {instrument!r}")
    stage = recipe["stage"]
    segment = data.get("segment_frames")  # random crops for waveform models
    train_set = ClipDataset(manifests, "train", performers, instrument, mel_config, segment_frames=segment)
    val_set = ClipDataset(manifests, "validation", performers, instrument, mel_config)
    log(f"train: {len(train_set)} clips, validation: {len(val_set)} clips, performers: {', '.join(performers)}")
    if val_set.unknown_performers:
        log(f"validation clips left out (performers not in the training split): {val_set.unknown_performers}")

    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "recipe.yaml", yaml.safe_dump(recipe, sort_keys=False))
    workers = int(data.get("num_workers", 0))
    loader_args = dict(
        batch_size=int(data.get("batch_size", 16)), collate_fn=collate_clips, num_workers=workers, persistent_workers=workers > 0
    )
    train_loader = step_loader(train_set, loader_args["batch_size"], int(tr.get("seed", 0)), collate_clips, workers)
    val_loader = DataLoader(val_set, shuffle=False, **loader_args)

    try:
        task = _make_task(stage, recipe, performers.to_list(), optim, run_dir)
    except (ValueError, TypeError) as e:  # a misspelt or out-of-range recipe setting
        raise DeepPerformerError(recipe.get("recipe"), f"bad model or optim setting ({e})") from None
    init = recipe.get("init_from")
    init_ckpt = None
    if init:  # fine-tuning: read once, for the weights (a fresh run only) and the provenance
        init_ckpt = load_checkpoint(Path(init), stage, mel_config)
    if init_ckpt and not (run_dir / "ckpt" / "last.ckpt").exists():
        warm_start(task.model, init_ckpt, performers, Path(init), log)
        log(f"{stage} model initialised from {init} ({total_steps(init_ckpt['provenance'])} steps in all)")
    elif stage == "acoustic":
        # Start the output layer at the mean training log-mel per bin (about -7 where the data sits
        # near the floor of log(1e-5) = -11.5), so the first thousand steps are not spent finding it.
        task.model.init_output_bias(mean_log_mel(train_set))
    trainer, sec_per_step = fit_resumably(task, train_loader, val_loader, tr, run_dir, optim.get("grad_clip", 1.0), log)
    if not trainer.is_global_zero:
        return run_dir / "model.pt"
    exported_step = load_best(task, trainer, tr, run_dir, log)  # with trainer.keep_best (small corpora overfit)

    # the exported weights' figure, computed exactly as `deepperformer evaluate` computes it, on the
    # weights as stored (float16, below)
    round_to_stored(task.model)
    val_mse = evaluate_mse(task.model, val_set, loader_args["batch_size"])
    out = run_dir / "model.pt"
    export_checkpoint(
        out,
        stage,
        config={
            "model": task.model.config.to_dict(),
            "instrument": instrument,
            "recipe": recipe.get("recipe", ""),
            "variant": recipe.get("variant", "full"),
        },
        mel_config=mel_config,
        performer_vocab=performers.to_list(),
        state_dict=task.model.state_dict(),
        # float16 storage: half the file, and so half of what each shipped model adds to the repository's
        # history; the 51500-step piano model's test log-mel MSE is the same to 4 decimals (0.3476)
        half=True,
        provenance={
            "data": [{"manifest": str(m), "sha256": file_sha256(m)} for m in manifests],
            "train_clips": len(train_set),
            "validation_clips": len(val_set),
            "steps": int(trainer.global_step),
            "exported_step": exported_step,  # the best validation step with trainer.keep_best, else the last
            "batch_size": loader_args["batch_size"],
            "seconds_per_step": sec_per_step and round(sec_per_step, 4),
            "device": str(trainer.strategy.root_device),
            "metrics": {"validation_logmel_mse": round(val_mse, 6)},
            "tempo_bins_seen": _tempo_bins_seen(task.model, train_set),
            **init_provenance(init, init_ckpt, exported_step),
            "recipe": recipe,
        },
    )
    log(f"exported {out}: {trainer.global_step} steps, validation log-mel MSE {val_mse:.4f}, {sec_per_step or 0:.3f} s/step")
    return out
