"""Fitting any stage with Lightning: resumable runs, step timing, file hashes for provenance.

Every training command (acoustic, baseline, vocoder, renderer) goes through :func:`fit_resumably`, so
a run killed at any moment continues from ``ckpt/last.ckpt`` with the same command, and (with the
step-indexed batches of :mod:`deepperformer.training.sampling`) on the same loss curve.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import torch

from deepperformer.core.atomic import write_text
from deepperformer.core.checkpoint import total_steps
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.precision import lightning_precision
from deepperformer.training.sampling import StepBatchSampler, step_seeding


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def init_provenance(init: str | Path | None, init_ckpt: dict | None, steps: int) -> dict:
    """What every exported model records of the run it went on from (``init_from``), and its total
    steps: this run's ``steps`` plus all the steps before it."""
    if not init:
        return {"init_from": None, "init_from_sha256": None, "init_from_steps": None, "total_steps": int(steps)}
    prov = init_ckpt["provenance"]
    return {
        "init_from": str(init),
        "init_from_sha256": file_sha256(Path(init)),
        "init_from_steps": prov.get("steps"),
        "total_steps": total_steps(prov) + int(steps),
    }


def fit_resumably(
    task, train_loader, val_loader, tr: dict, run_dir: Path, grad_clip: float | None, log=print, monitor: str = "val/mse"
):
    """Fit ``task`` with Lightning from the ``trainer`` section of a recipe, resuming from
    ``run_dir/ckpt/last.ckpt`` when it exists; -> (trainer, seconds per step over all its starts).
    With ``keep_best`` the lowest ``monitor`` so far is kept as ``ckpt/best.ckpt`` (:func:`load_best`).

    Checkpoints are saved every ``checkpoint_every_steps``; the CSV log goes to ``logs/version_<k>``
    (one version per start). ``devices``/``num_nodes`` above 1 train with DDP. ``grad_clip`` is None
    for tasks that clip their own gradients (manual optimisation, as the GAN does).

    With ``ema_decay`` (e.g. 0.999) Lightning's :class:`EMAWeightAveraging` keeps an exponential moving
    average of the weights: validation, the best checkpoint and the export hold the average, the
    checkpoints also the raw weights to resume from. Not for manual-optimisation tasks (the GAN): it
    would average the discriminators too.
    """
    import warnings

    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

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
    sampler = getattr(train_loader, "batch_sampler", None)
    if isinstance(sampler, StepBatchSampler):  # batches, crops and dropout as functions of the step
        callbacks.append(step_seeding(sampler))
        # Lightning cannot resume an ordinary loader mid-epoch; this one resumes through the callback's state
        warnings.filterwarnings("ignore", message=".*your dataloader is not resumable.*")
    if tr.get("keep_best"):  # the lowest validation figure so far (GANs swing, small corpora overfit)
        callbacks.append(
            ModelCheckpoint(
                dirpath=run_dir / "ckpt",
                filename="best",
                monitor=monitor,
                mode="min",
                save_top_k=1,
                enable_version_counter=False,
            )
        )
    callbacks += weight_averaging(task, tr)
    devices, nodes = tr.get("devices", 1), int(tr.get("num_nodes", 1))
    multi = nodes > 1 or (isinstance(devices, int) and devices > 1) or devices == -1
    trainer = L.Trainer(
        max_steps=int(tr["max_steps"]),
        accelerator=tr.get("accelerator", "auto"),
        devices=devices,
        num_nodes=nodes,
        strategy="ddp" if multi else "auto",
        precision=lightning_precision(tr.get("precision", "32-true"), tr.get("accelerator", "auto")),
        val_check_interval=int(tr.get("val_every_steps", 500)),
        check_val_every_n_epoch=None,  # counts steps across epochs
        callbacks=callbacks,
        logger=CSVLogger(run_dir, name="logs"),
        gradient_clip_val=grad_clip,
        log_every_n_steps=int(tr.get("log_every_steps", 10)),
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(task, train_loader, val_loader, ckpt_path=resume)
    return trainer, record_timing(run_dir, start_step, trainer.global_step, time.time() - t0)


def weight_averaging(task, tr: dict) -> list:
    """[an EMAWeightAveraging callback] for ``trainer.ema_decay`` in (0, 1), else []. Why: with batches of
    16 the weights of one step are noisy; their average over about 1 / (1 - decay) steps validates
    better than any one of them (renderer_piano: README, stage 1)."""
    decay = tr.get("ema_decay")
    if decay in (None, 0, 0.0):
        return []
    decay = float(decay)
    if not 0.0 < decay < 1.0:
        raise DeepPerformerError(None, f"trainer.ema_decay {decay}: expected a number in (0, 1), e.g. 0.999")
    if not getattr(task, "automatic_optimization", True):
        raise DeepPerformerError(None, "trainer.ema_decay: not for adversarial (manual-optimisation) training")
    from lightning.pytorch.callbacks import EMAWeightAveraging

    return [EMAWeightAveraging(decay=decay)]


def load_best(task, trainer, tr: dict, run_dir: Path, log=print) -> int:
    """Load ``ckpt/best.ckpt`` into ``task`` when the recipe keeps the best (``keep_best``) and it exists;
    -> the step of the weights ``task`` now holds (the best's, else the last)."""
    best = run_dir / "ckpt" / "best.ckpt"
    if not (tr.get("keep_best") and best.exists()):
        return int(trainer.global_step)
    state = torch.load(best, map_location="cpu", weights_only=False)
    task.load_state_dict(state["state_dict"])
    log(f"exporting the best validation weights, from step {int(state['global_step'])}")
    return int(state["global_step"])


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
