"""``deepperformer train RECIPE``: train a stage from a recipe with Lightning, resumably, then export.

The run folder holds the resolved recipe, Lightning's checkpoints (``ckpt/last.ckpt``, saved every
``trainer.checkpoint_every_steps``; a second run of the same command resumes from it), the CSV log,
validation mel PNGs (``mels/``) and, at the end, the exported model (``model.pt``) whose provenance
records the data, the steps, the time per step and the validation log-mel MSE of the exported weights.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import torch
import yaml
from torch.utils.data import DataLoader

from deepperformer.atomic import write_text
from deepperformer.audio import MelConfig
from deepperformer.checkpoint import export_checkpoint
from deepperformer.data.clips import ClipDataset, collate_clips, performer_vocab
from deepperformer.errors import DeepPerformerError


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@torch.no_grad()
def evaluate_mse(model: torch.nn.Module, dataset: ClipDataset, batch_size: int = 16, device: str = "cpu", progress: bool = False) -> float:
    """Log-mel MSE of ``model`` over ``dataset`` (mean over real frames and all mel bins)."""
    from tqdm import tqdm

    from deepperformer.tasks.acoustic import masked_mse

    model.eval().to(device)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=collate_clips)
    sse = count = 0.0
    for notes, mel, _ in tqdm(loader, desc="evaluate", unit="batch", disable=not progress, dynamic_ncols=True):
        s, c = masked_mse(model.predict_log_mel(notes.to(device)), mel.to(device), notes.frame_mask.to(device))
        sse, count = sse + float(s), count + float(c)
    return sse / max(count, 1.0)


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


def warm_start(model: torch.nn.Module, ckpt: dict, performers: list[str], path: Path, log=print) -> None:
    """Load an exported stage-2 checkpoint's weights into ``model`` (same sizes) for fine-tuning on
    another corpus: the performer embedding's rows are copied by performer name, and performers the
    checkpoint does not know keep their fresh initialisation (pretraining on the synthetic violin
    corpus, then fine-tuning on the real Bach Violin recordings, changes every performer)."""
    state = dict(ckpt["state_dict"])
    own = model.state_dict()
    old_vocab = ckpt["performer_vocab"]
    for key in [k for k in state if k.endswith("performer_emb.weight")]:
        rows = own[key].clone()
        shared = [p for p in performers if p in old_vocab]
        for p in shared:
            rows[performers.index(p)] = state[key][old_vocab.index(p)]
        state[key] = rows
        log(f"performer embedding: {len(shared)} of {len(performers)} performers taken from {path}")
    bad = {k for k in state if k in own and state[k].shape != own[k].shape}
    if bad or set(state) != set(own):
        raise DeepPerformerError(path, f"its model differs from the recipe's (sizes or switches: {sorted(bad or set(state) ^ set(own))[:3]})")
    model.load_state_dict(state)


def _make_task(stage: str, recipe: dict, performers: list[str], optim: dict, run_dir: Path):
    from deepperformer.tasks.acoustic import AcousticTask, BaselineTask

    tasks = {"acoustic": AcousticTask, "baseline": BaselineTask}
    if stage not in tasks:
        raise DeepPerformerError(recipe.get("recipe"), f"stage {stage!r} is not a stage-2 model")
    return tasks[stage](recipe["model"], performers, png_dir=str(run_dir / "mels"), **optim)


def fit_resumably(task, train_loader, val_loader, tr: dict, run_dir: Path, grad_clip: float | None, log=print):
    """Fit ``task`` with Lightning from the ``trainer`` section of a recipe, resuming from
    ``run_dir/ckpt/last.ckpt`` when it exists; -> (trainer, seconds per step over all its starts).

    Checkpoints are saved every ``checkpoint_every_steps``; the CSV log goes to ``logs/version_<k>``
    (one version per start). ``devices``/``num_nodes`` above 1 train with DDP. ``grad_clip`` is None
    for tasks that clip their own gradients (manual optimisation, as the GAN does).
    """
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    import warnings

    # A manual-optimisation task (the GAN) is checkpointed after its optimizer steps, which is what
    # resuming needs; Lightning warns about it regardless.
    warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")
    every = int(tr.get("checkpoint_every_steps", 500))
    ckpt_cb = ModelCheckpoint(dirpath=run_dir / "ckpt", save_last=True, every_n_train_steps=every, save_top_k=0)
    last = run_dir / "ckpt" / "last.ckpt"
    resume = last if last.exists() else None
    start_step, t0 = 0, time.time()
    if resume:
        log(f"resuming from {resume}")
        start_step = int(torch.load(resume, map_location="cpu", weights_only=False)["global_step"])
    callbacks = [ckpt_cb, _timing_callback(run_dir, start_step, t0)]
    if tr.get("keep_best"):  # the lowest validation log-mel MSE so far, as ckpt/best.ckpt (GANs swing)
        callbacks.append(ModelCheckpoint(dirpath=run_dir / "ckpt", filename="best", monitor="val/mse", mode="min",
                                         save_top_k=1, enable_version_counter=False))
    devices, nodes = tr.get("devices", 1), int(tr.get("num_nodes", 1))
    multi = nodes > 1 or (isinstance(devices, int) and devices > 1) or devices == -1
    trainer = L.Trainer(
        max_steps=int(tr["max_steps"]), accelerator=tr.get("accelerator", "auto"), devices=devices, num_nodes=nodes,
        strategy="ddp" if multi else "auto", precision=tr.get("precision", "32-true"),
        val_check_interval=int(tr.get("val_every_steps", 500)), check_val_every_n_epoch=None,  # counts steps across epochs
        callbacks=callbacks, logger=CSVLogger(run_dir, name="logs"),
        gradient_clip_val=grad_clip, log_every_n_steps=int(tr.get("log_every_steps", 10)), enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(task, train_loader, val_loader, ckpt_path=resume)
    return trainer, record_timing(run_dir, start_step, trainer.global_step, time.time() - t0)


def _timing_callback(run_dir: Path, start_step: int, t0: float):
    """Records this start's timing with every checkpoint: a run stopped from outside (a session's
    end) keeps the time of the steps its checkpoint holds, which its next start resumes from."""
    import lightning as L

    class TimingAtCheckpoint(L.Callback):
        def on_save_checkpoint(self, trainer, pl_module, checkpoint):
            if trainer.is_global_zero:
                record_timing(run_dir, start_step, trainer.global_step, time.time() - t0)

    return TimingAtCheckpoint()


def record_timing(run_dir: Path, start_step: int, end_step: int, seconds: float) -> float | None:
    """Record one (re)start's steps and wall time in ``run_dir/timing.json`` (a start's later records
    replace its earlier ones); -> seconds per step over every start that trained (None when none
    did), so a resumed run reports its whole history."""
    import json

    path = run_dir / "timing.json"
    runs = json.loads(path.read_text()) if path.exists() else []
    if end_step > start_step:
        if runs and runs[-1]["start_step"] == start_step:
            runs.pop()  # this start's record at an earlier checkpoint
        runs.append({"start_step": start_step, "end_step": end_step, "seconds": round(seconds, 1)})
        write_text(path, json.dumps(runs, indent=1))
    steps = sum(r["end_step"] - r["start_step"] for r in runs)
    return sum(r["seconds"] for r in runs) / steps if steps else None


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
    loader_args = dict(batch_size=int(data.get("batch_size", 16)), collate_fn=collate_clips, num_workers=workers,
                       persistent_workers=workers > 0)
    train_loader = DataLoader(train_set, shuffle=True, drop_last=len(train_set) > loader_args["batch_size"], **loader_args)
    val_loader = DataLoader(val_set, shuffle=False, **loader_args)

    try:
        task = _make_task(stage, recipe, performers, optim, run_dir)
    except (ValueError, TypeError) as e:  # a misspelt or out-of-range recipe setting
        raise DeepPerformerError(recipe.get("recipe"), f"bad model or optim setting ({e})") from None
    init = recipe.get("init_from")
    init_ckpt = None
    if init:  # fine-tuning: read once, for the weights (a fresh run only) and the provenance
        from deepperformer.checkpoint import load_checkpoint

        init_ckpt = load_checkpoint(Path(init), stage, mel_config)
    if init_ckpt and not (run_dir / "ckpt" / "last.ckpt").exists():
        warm_start(task.model, init_ckpt, performers, Path(init), log)
        log(f"{stage} model initialised from {init} ({init_ckpt['provenance'].get('steps')} steps)")
    elif stage == "acoustic":
        # Start the output layer at the mean training log-mel per bin (about -7 where the data sits
        # near the floor of log(1e-5) = -11.5), so the first thousand steps are not spent finding it.
        task.model.init_output_bias(mean_log_mel(train_set))
    trainer, sec_per_step = fit_resumably(task, train_loader, val_loader, tr, run_dir, optim.get("grad_clip", 1.0), log)
    if not trainer.is_global_zero:
        return run_dir / "model.pt"

    # the exported weights' figure, computed exactly as `deepperformer evaluate` computes it
    val_mse = evaluate_mse(task.model, val_set, loader_args["batch_size"])
    out = run_dir / "model.pt"
    export_checkpoint(
        out, stage,
        config={"model": task.model.config.to_dict(), "instrument": instrument, "recipe": recipe.get("recipe", ""),
                "variant": recipe.get("variant", "full")},
        mel_config=mel_config, performer_vocab=performers, state_dict=task.model.state_dict(),
        provenance={
            "data": [{"manifest": str(m), "sha256": file_sha256(m)} for m in manifests],
            "train_clips": len(train_set), "validation_clips": len(val_set),
            "steps": int(trainer.global_step), "batch_size": loader_args["batch_size"],
            "seconds_per_step": sec_per_step and round(sec_per_step, 4), "device": str(trainer.strategy.root_device),
            "metrics": {"validation_logmel_mse": round(val_mse, 6)},
            "tempo_bins_seen": _tempo_bins_seen(task.model, train_set),
            "init_from": str(init) if init else None,
            "init_from_sha256": file_sha256(Path(init)) if init else None,
            "init_from_steps": init_ckpt["provenance"].get("steps") if init_ckpt else None,
            "recipe": recipe,
        },
    )
    log(f"exported {out}: {trainer.global_step} steps, validation log-mel MSE {val_mse:.4f}, {sec_per_step or 0:.3f} s/step")
    return out
