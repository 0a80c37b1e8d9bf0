"""``deepperformer performers`` and ``info``: what a checkpoint is and whom it can play as."""

from __future__ import annotations

from pathlib import Path

from deepperformer.core.errors import DeepPerformerError


def register(sub) -> None:
    """Add this module's command(s) to the ``deepperformer`` sub-parsers."""
    pf = sub.add_parser("performers", help="the performers each acoustic model or renderer can play as")
    pf.add_argument("--stage", choices=("acoustic", "renderer"), default="acoustic", help="whose performers (default acoustic)")
    pf.add_argument("--instrument", choices=("piano", "violin"), help="only this instrument's shipped model")
    pf.add_argument(
        "--checkpoint",
        "--acoustic",
        type=Path,
        action="append",
        dest="checkpoint",
        help="a checkpoint of that stage (repeatable; default: the shipped ones)",
    )
    pf.set_defaults(run=cmd_performers)

    inf = sub.add_parser("info", help="what an exported checkpoint is: stage, performers, data, steps, metrics")
    inf.add_argument("checkpoint", type=Path)
    inf.set_defaults(run=cmd_info)


def cmd_performers(a) -> int:
    from deepperformer.core.checkpoint import load_checkpoint
    from deepperformer.pipeline.loading import DEFAULTS, default_checkpoint

    shipped = [i for i in DEFAULTS if a.instrument in (None, i) and a.stage in DEFAULTS[i]]
    paths = a.checkpoint or [default_checkpoint(i, a.stage) for i in shipped]
    if not paths:
        raise DeepPerformerError(None, f"no {a.stage} is shipped yet: pass --checkpoint")
    for path in paths:
        ckpt = load_checkpoint(path, a.stage)
        print(f"{ckpt['config'].get('instrument')} ({path}):")
        for k, name in enumerate(ckpt["performer_vocab"]):
            print(f"  {name}{'  (default)' if k == 0 else ''}")
    return 0


def cmd_info(a) -> int:
    from deepperformer.core.checkpoint import STAGES, load_checkpoint
    from deepperformer.core.performers import PerformerVocab

    ckpt = load_checkpoint(a.checkpoint, STAGES)
    prov, cfg = ckpt["provenance"], ckpt["config"]
    n_params = sum(v.numel() for k, v in ckpt["state_dict"].items() if not k.startswith("log_mel."))
    print(
        f"{a.checkpoint}: {ckpt['stage']} model ({cfg.get('variant', '')}), {n_params / 1e6:.2f} M parameters, "
        f"instrument {cfg.get('instrument') or 'all'}, deepperformer {ckpt['deepperformer_version']}, format "
        f"{ckpt['format_version']}"
    )
    if ckpt["performer_vocab"]:
        print(f"performers: {PerformerVocab(ckpt['performer_vocab']).listing(20)}")
    if prov.get("adversarial_steps") is not None:
        print(f"adversarial steps: {prov['adversarial_steps']} (the rest: generator warm-up)")
    if prov.get("exported_step") not in (None, prov.get("steps")):
        print(f"exported weights: step {prov['exported_step']} (the best validation log-mel MSE of the run)")
    print(
        f"trained: {prov.get('steps')} steps, batch {prov.get('batch_size')}, {prov.get('seconds_per_step')} "
        f"s/step on {prov.get('device')}"
    )
    if prov.get("total_steps") not in (None, prov.get("steps")):
        print(f"total: {prov['total_steps']} steps through every run it went on from")
    if prov.get("init_from"):
        sha = prov.get("init_from_sha256")
        print(
            f"fine-tuned from: {prov['init_from']} ({prov.get('init_from_steps', '?')} steps"
            + (f", sha256 {sha[:12]})" if sha else ")")
        )
    if prov.get("predicted_mels_from"):
        print(f"on the teacher-forced mels of: {prov['predicted_mels_from']}")
    for d in prov.get("data", []):
        unit = "clips" if "train_clips" in prov else "performances"
        print(
            f"data: {d['manifest']} (sha256 {d['sha256'][:12]}), {prov.get('train_' + unit)} train / "
            f"{prov.get('validation_' + unit)} validation {unit}"
        )
    for k, v in prov.get("metrics", {}).items():
        print(f"{k}: {v}")
    for axis, d in cfg.get("directions", {}).items():
        print(f"direction {axis}: held-out classifier accuracy {d['accuracy']}, step {d['scale']:.3f}")
    return 0
