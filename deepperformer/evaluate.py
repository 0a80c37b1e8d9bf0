"""``deepperformer evaluate``: the paper's log-mel MSE for acoustic checkpoints, in one table."""

from __future__ import annotations

from pathlib import Path

from deepperformer.audio import MelConfig
from deepperformer.checkpoint import load_checkpoint
from deepperformer.data.clips import ClipDataset
from deepperformer.models.acoustic import AcousticConfig, AcousticModel
from deepperformer.train import evaluate_mse

#: The paper's validation log-mel MSE (violin, piano), Table 1 of Dong et al. 2022.
PAPER = {"baseline": (0.892, 0.722), "full": (0.700, 0.436), "no_notewise_pe": (0.700, 0.433),
         "no_performer": (1.030, 0.523), "no_encoder": (0.844, 0.621)}


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
    from deepperformer.models.baseline import BaselineConfig, RollBaseline

    ckpt = load_checkpoint(path, ("acoustic", "baseline"), MelConfig())
    if ckpt["stage"] == "acoustic":
        return build_acoustic(ckpt), ckpt
    model = RollBaseline(BaselineConfig.from_dict(ckpt["config"]["model"]))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval(), ckpt


def evaluate_checkpoints(paths: list[Path], manifests: list[Path], split: str, batch_size: int = 16) -> list[dict]:
    rows = []
    for p in paths:
        model, ckpt = load_stage_two(p)
        inst = ckpt["config"].get("instrument")
        ds = ClipDataset(manifests, split, ckpt["performer_vocab"], inst, MelConfig())
        mse = evaluate_mse(model, ds, batch_size, progress=True)
        variant = "baseline" if ckpt["stage"] == "baseline" else ckpt["config"].get("variant", "full")
        rows.append({"checkpoint": str(p), "variant": variant, "instrument": inst,
                     "steps": ckpt["provenance"].get("steps"), "clips": len(ds), "mse": mse})
    return rows


def format_table(rows: list[dict], split: str) -> str:
    head = f"{split} MSE"
    lines = [f"{'variant':<16}{'instrument':<11}{'steps':>8}{'clips':>7}{head:>16}{'paper':>8}  checkpoint"]
    for r in rows:
        paper = PAPER.get(r["variant"])
        ref = "" if paper is None else f"{paper[0 if r['instrument'] == 'violin' else 1]:.3f}"
        lines.append(f"{r['variant']:<16}{str(r['instrument']):<11}{str(r['steps']):>8}{r['clips']:>7}{r['mse']:>16.4f}{ref:>8}  {r['checkpoint']}")
    return "\n".join(lines)
