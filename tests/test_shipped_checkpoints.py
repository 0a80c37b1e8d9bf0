"""Every checkpoint shipped in checkpoints/ loads with weights_only=True, says what it was trained on,
and is documented; with the prepared corpus at hand (pytest -m slow) it reproduces its figure."""

from pathlib import Path

import pytest
import torch

from deepperformer.audio.mel import MelConfig
from deepperformer.core.checkpoint import load_checkpoint

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
SHIPPED = sorted(CHECKPOINTS.glob("*.pt"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_checkpoint_is_complete_and_documented(path):
    assert path.stat().st_size < 20 * 2**20
    raw = torch.load(path, map_location="cpu", weights_only=True)
    ckpt = load_checkpoint(path, raw["stage"], MelConfig())
    prov = ckpt["provenance"]
    assert prov["steps"] > 0 and prov["data"] and all(d["sha256"] for d in prov["data"])
    if ckpt["stage"] == "vocoder":  # performer-agnostic; judged by copy synthesis
        assert "validation_copy_synthesis_logmel_mse" in prov["metrics"]
    elif ckpt["stage"] == "renderer":  # judged against human performances; its licence follows its data
        assert "validation_renderer_velocity_r" in prov["metrics"] and ckpt["performer_vocab"]
        assert "NC" in prov["licence"] and ckpt["config"]["directions"]
    else:
        assert "validation_logmel_mse" in prov["metrics"] and ckpt["performer_vocab"]
    readme = (CHECKPOINTS / "README.md").read_text()
    assert path.name in readme, f"{path.name} is not described in checkpoints/README.md"


#: The renderer's figures are reproduced by `evaluate` on its corpora (README, "Stage 1"), not by a mel error.
MEL_STAGES = [p for p in SHIPPED if not p.name.startswith("renderer")]


@pytest.mark.slow
@pytest.mark.parametrize("path", MEL_STAGES, ids=[p.name for p in MEL_STAGES])
def test_shipped_checkpoint_reproduces_its_validation_figure(path, tmp_path):
    from deepperformer.acoustic.metrics import evaluate_mse
    from deepperformer.data.clips import ClipDataset
    from deepperformer.pipeline.loading import load_stage_two

    raw = load_checkpoint(path, ("acoustic", "baseline", "vocoder"))
    manifests = [Path(__file__).resolve().parents[1] / d["manifest"] for d in raw["provenance"]["data"]]
    if not all(m.exists() for m in manifests):
        pytest.skip(
            f"the training corpus is not prepared here "
            f"({', '.join(str(m) for m in manifests if not m.exists())}: make prepare-...)"
        )
    from deepperformer.training.fit import file_sha256

    changed = [str(m) for m, d in zip(manifests, raw["provenance"]["data"]) if file_sha256(m) != d["sha256"]]
    if changed:  # another preparation (other data at hand): its splits differ, so the figure cannot match
        pytest.skip(f"the prepared corpus differs from the one {path.name} was trained on ({', '.join(changed)}: other SHA-256)")
    if raw["stage"] == "vocoder":
        from deepperformer.data.audio_clips import AudioClipDataset
        from deepperformer.pipeline.loading import load_vocoder
        from deepperformer.vocoders.metrics import copy_synthesis_errors

        model, ckpt = load_vocoder(path)
        prov, mel_dirs = ckpt["provenance"], None
        if prov.get("predicted_mels_from"):  # fine-tuned: validated on that acoustic model's predictions
            from deepperformer.pipeline.predicted_mels import cache_predicted_mels
            from deepperformer.training.fit import file_sha256

            acoustic = Path(__file__).resolve().parents[1] / prov["predicted_mels_from"]
            assert file_sha256(acoustic) == prov["predicted_mels_from_sha256"], f"{acoustic.name} has changed since"
            mel_dirs = cache_predicted_mels(acoustic, manifests, tmp_path, splits=("validation",), log=lambda *_: None)
        ds = AudioClipDataset(
            manifests,
            "validation",
            ckpt["config"].get("instrument"),
            mel_dirs=mel_dirs,
            max_clips=prov["recipe"]["data"].get("validation_clips"),
        )
        m = copy_synthesis_errors(model, ds)
        assert m["logmel_mse"] == pytest.approx(ckpt["provenance"]["metrics"]["validation_copy_synthesis_logmel_mse"], abs=1e-3)
        return
    model, ckpt = load_stage_two(path)
    ds = ClipDataset(manifests, "validation", ckpt["performer_vocab"], ckpt["config"]["instrument"])
    mse = evaluate_mse(model, ds)
    assert mse == pytest.approx(ckpt["provenance"]["metrics"]["validation_logmel_mse"], abs=1e-4)
