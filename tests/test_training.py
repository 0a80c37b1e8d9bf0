"""Training from recipes: the debug recipe trains on a fixture corpus, resumes, exports a checkpoint
that loads with weights_only=True and reproduces its recorded validation figure."""

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from deepperformer.audio.mel import MelConfig
from deepperformer.core.checkpoint import export_checkpoint, load_checkpoint
from deepperformer.core.errors import DeepPerformerError
from deepperformer.data.manifest import read_manifest
from deepperformer.training.recipes import load_recipe
from tests.helpers import assert_one_line_error

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def test_every_shipped_recipe_resolves():
    for path in sorted(RECIPES.rglob("*.yaml")):
        if path.name.endswith("_base.yaml") or path.parent.name == "debug":
            continue
        if path.parent.name == "listening_test":  # not training recipes: listening-test configurations
            from deepperformer.listening.config import load_config

            assert load_config(path).systems, path
            continue
        r = load_recipe(path)
        if r["stage"] == "vocoder":
            from deepperformer.vocoders.build import vocoder_config
            from deepperformer.vocoders.discriminators import DiscriminatorConfig

            vocoder_config(r["model"], MelConfig())  # sizes consistent with the mel hop
            DiscriminatorConfig.from_dict(r["discriminator"])
            assert r["variant"].startswith(("v1", "v2", "v3", "vocos")), path
            continue
        if r["stage"] == "renderer":
            from deepperformer.render.model import RendererConfig

            RendererConfig.from_dict(r["model"])  # every model setting is a known one
            assert r["data"]["instrument"] in ("piano", "violin") and "NC" in r["licence"], path  # (n)ASAP's terms
            continue
        assert r["stage"] in ("acoustic", "baseline") and r["data"]["instrument"] in ("piano", "violin"), path
        if r["stage"] == "acoustic":
            assert r["model"]["d_model"] == 128 and r["model"]["decoder_layers"] == 6
        else:
            from deepperformer.acoustic.baseline import BaselineConfig

            cfg = BaselineConfig.from_dict(r["model"])  # the paper's baseline: HiFi-GAN V2's generator
            assert cfg.upsample_factors == [8, 8, 2, 2] and cfg.upsample_initial_channel == 128
            assert r["variant"] == "baseline"
    abl = load_recipe(RECIPES / "synthetic" / "acoustic_piano_no_encoder.yaml")
    assert abl["variant"] == "no_encoder" and abl["model"]["use_encoder"] is False and abl["model"]["use_pedal"] is True
    assert abl["trainer"]["max_steps"] == 250000  # inherited from the piano recipe


def test_fine_tuning_starts_from_a_checkpoint_and_maps_performers_by_name(corpus, tmp_path, run_cli):
    """init_from: weights from an exported acoustic model; the performer rows move with their names."""
    from deepperformer.training.acoustic import warm_start
    from deepperformer.training.fit import file_sha256

    pre = tmp_path / "pre"
    base = [
        "train",
        RECIPES / "debug" / "acoustic.yaml",
        "--set",
        f"data.manifests=[{corpus}]",
        "--set",
        "data.instrument=violin",
    ]
    code, out, err = run_cli(*base, "--max-steps", "1", "-o", pre)
    assert code == 0, err
    ft = tmp_path / "ft"
    keep_best = ["--set", "trainer.keep_best=true", "--set", "trainer.val_every_steps=1"]
    code, out, err = run_cli(*base, "--set", f"init_from={pre / 'model.pt'}", *keep_best, "--max-steps", "3", "-o", ft)
    assert code == 0, err
    assert "initialised from" in out
    prov = torch.load(ft / "model.pt", weights_only=True)["provenance"]
    assert prov["init_from_steps"] == 1 and prov["init_from_sha256"] == file_sha256(pre / "model.pt")
    # trainer.keep_best (a fine-tuning on 13 minutes of audio overfits): the lowest validation step is exported
    import csv

    logged = [r for r in csv.DictReader((ft / "logs" / "version_0" / "metrics.csv").open()) if r.get("val/mse")]
    best = min(logged, key=lambda r: float(r["val/mse"]))
    assert len(logged) == 3 and prov["exported_step"] == int(best["step"]) + 1 and prov["steps"] == 3
    assert prov["total_steps"] == 1 + prov["exported_step"]  # the weights' own steps, not the run's
    assert prov["metrics"]["validation_logmel_mse"] == pytest.approx(float(best["val/mse"]), rel=1e-3)

    from deepperformer.core.performers import PerformerVocab
    from deepperformer.pipeline.loading import load_acoustic

    model, ckpt = load_acoustic(pre / "model.pt")
    vocab = ckpt["performer_vocab"]
    fresh, _ = load_acoustic(pre / "model.pt")
    torch.nn.init.zeros_(fresh.out.weight)
    new_vocab = ["someone-new", *reversed(vocab)]
    fresh.performer_emb = torch.nn.Embedding(len(new_vocab), fresh.performer_emb.embedding_dim)
    torch.nn.init.zeros_(fresh.performer_emb.weight)
    warm_start(fresh, ckpt, PerformerVocab(new_vocab), pre / "model.pt", log=lambda *a: None)
    for name in vocab:
        assert torch.equal(fresh.performer_emb.weight[new_vocab.index(name)], model.performer_emb.weight[vocab.index(name)])
    assert not fresh.performer_emb.weight[0].any()  # the new performer keeps its own start
    assert torch.equal(fresh.out.weight, model.out.weight)  # the rest is the checkpoint's


def test_recipe_required_values_and_overrides():
    with pytest.raises(
        DeepPerformerError, match=r"required setting data.manifests has no value \(set it with --set data.manifests=...\)"
    ):
        load_recipe(RECIPES / "debug" / "acoustic.yaml")
    r = load_recipe(
        RECIPES / "debug" / "acoustic.yaml", ["data.manifests=[a.csv]", "data.instrument=violin", "trainer.max_steps=7"]
    )
    assert r["data"]["manifests"] == ["a.csv"] and r["trainer"]["max_steps"] == 7 and r["model"]["d_model"] == 16


def test_train_resume_export_and_evaluate(corpus, tmp_path, run_cli):
    run = tmp_path / "run"
    args = [
        "train",
        RECIPES / "debug" / "acoustic.yaml",
        "--set",
        f"data.manifests=[{corpus}]",
        "--set",
        "data.instrument=violin",
        "-o",
        run,
    ]
    code, out, err = run_cli(*args)
    assert code == 0, err
    assert (run / "ckpt" / "last.ckpt").exists() and list((run / "mels").glob("*.png"))
    ckpt = torch.load(run / "model.pt", weights_only=True)
    assert ckpt["stage"] == "acoustic" and ckpt["provenance"]["steps"] == 4
    # stored as float16 (half of what a shipped model adds to the history); the figure below still reproduces
    assert all(v.dtype == torch.float16 for v in ckpt["state_dict"].values() if v.is_floating_point())
    assert ckpt["performer_vocab"] == ["jane-doe", "john-roe"]
    assert ckpt["config"]["model"]["use_velocity"] is True  # debug recipe keeps the base's
    # resume: a second run with more steps continues from step 4
    code, out, err = run_cli(*args, "--max-steps", "6")
    assert code == 0, err
    ckpt = torch.load(run / "model.pt", weights_only=True)
    assert ckpt["provenance"]["steps"] == 6
    import json

    # one timing record per start, kept up to date at every checkpoint (steps 2, 4, then the end)
    starts = [(r["start_step"], r["end_step"]) for r in json.loads((run / "timing.json").read_text())]
    assert starts == [(0, 4), (4, 6)]
    recorded = ckpt["provenance"]["metrics"]["validation_logmel_mse"]
    code, out, err = run_cli("evaluate", run / "model.pt", "--manifest", corpus, "--split", "validation")
    assert code == 0, err
    line = next(row for row in out.splitlines() if row.startswith("full"))
    assert float(line.split()[4]) == pytest.approx(recorded, abs=1e-4)  # the shipped figure reproduces
    code, out, err = run_cli("info", run / "model.pt")
    assert (
        code == 0 and "acoustic model (full)" in out and "trained: 6 steps" in out and f"validation_logmel_mse: {recorded}" in out
    )


def test_timing_of_a_stopped_start_survives_to_its_last_checkpoint(tmp_path):
    import json

    from deepperformer.training.fit import record_timing

    record_timing(tmp_path, 0, 200, 100.0)  # at the checkpoint of step 200
    record_timing(tmp_path, 0, 400, 210.0)  # at step 400; then the process is killed
    assert record_timing(tmp_path, 400, 400, 3.0) == pytest.approx(210.0 / 400)  # an export-only start adds nothing
    assert record_timing(tmp_path, 400, 600, 90.0) == pytest.approx(300.0 / 600)  # the resumed start
    assert json.loads((tmp_path / "timing.json").read_text()) == [
        {"start_step": 0, "end_step": 400, "seconds": 210.0},
        {"start_step": 400, "end_step": 600, "seconds": 90.0},
    ]


def test_baseline_trains_and_evaluates_beside_the_acoustic_model(corpus, tmp_path, run_cli):
    run = tmp_path / "base"
    code, out, err = run_cli(
        "train",
        RECIPES / "debug" / "baseline.yaml",
        "--set",
        f"data.manifests=[{corpus}]",
        "--set",
        "data.instrument=violin",
        "-o",
        run,
    )
    assert code == 0, err
    ckpt = torch.load(run / "model.pt", weights_only=True)
    assert ckpt["stage"] == "baseline" and ckpt["provenance"]["steps"] == 2
    code, out, err = run_cli("evaluate", run / "model.pt", "--manifest", corpus, "--split", "validation")
    assert code == 0, err
    line = next(row for row in out.splitlines() if row.startswith("baseline"))
    assert float(line.split()[4]) == pytest.approx(ckpt["provenance"]["metrics"]["validation_logmel_mse"], abs=1e-3)
    # the paper's baseline plays a score through synthesize (it makes the audio itself: no vocoder)
    score, wav = Path(__file__).parents[1] / "data" / "examples" / "minuet_in_g_violin.krn", tmp_path / "base.wav"
    code, out, err = run_cli("synthesize", score, "-o", wav, "--instrument", "violin", "--acoustic", run / "model.pt", "--png")
    assert code == 0, err
    audio, sr = sf.read(wav)
    assert sr == 16000 and len(audio) > 10 * sr and np.abs(audio).max() > 0 and wav.with_suffix(".png").exists()
    code, out, err = run_cli(
        "synthesize",
        score,
        "-o",
        tmp_path / "x.wav",
        "--instrument",
        "violin",
        "--acoustic",
        run / "model.pt",
        "--vocoder",
        "griffin-lim",
    )
    assert_one_line_error(code, err, tmp_path / "x.wav", "makes audio from the notes itself")
    # and it is a system of a listening test, as in the paper's comparison
    clip = read_manifest(corpus)[0].clip_id
    cfg = {
        "name": "base",
        "mode": "mos",
        "seconds": 2,
        "systems": [{"name": "baseline", "acoustic": str(run / "model.pt")}, {"name": "gl", "vocoder": "griffin-lim"}],
        "excerpts": [{"id": "v", "manifest": str(corpus), "clip": clip, "instrument": "violin"}],
    }
    (tmp_path / "lt.yaml").write_text(yaml.safe_dump(cfg))
    code, out, err = run_cli("listening-test", "build", tmp_path / "lt.yaml", "-o", tmp_path / "lt")
    assert code == 0, err
    key = {r["system"]: r for r in csv.DictReader(open(tmp_path / "lt" / "key.csv"))}
    audio, sr = sf.read(tmp_path / "lt" / "page" / "audio" / key["baseline"]["file"])
    assert len(audio) == 2 * sr and np.abs(audio).max() > 0


def test_checkpoint_refusals(tmp_path):
    sd = {"w": torch.zeros(2)}
    export_checkpoint(tmp_path / "a.pt", "acoustic", {"model": {}}, MelConfig(), ["p"], sd, {"steps": 1})
    assert load_checkpoint(tmp_path / "a.pt", "acoustic")["performer_vocab"] == ["p"]
    with pytest.raises(DeepPerformerError, match="a.pt: is a checkpoint of the acoustic stage, not of the vocoder stage"):
        load_checkpoint(tmp_path / "a.pt", "vocoder")
    with pytest.raises(
        DeepPerformerError, match=r"a.pt: this checkpoint uses another mel configuration \(hop_length 256, expected 200\)"
    ):
        load_checkpoint(tmp_path / "a.pt", "acoustic", MelConfig(hop_length=200))
    torch.save({"something": "else"}, tmp_path / "b.pt")
    with pytest.raises(DeepPerformerError, match="not an exported deepperformer checkpoint"):
        load_checkpoint(tmp_path / "b.pt", "acoustic")
    (tmp_path / "c.pt").write_bytes(b"garbage")
    with pytest.raises(DeepPerformerError, match="c.pt: not a deepperformer checkpoint"):
        load_checkpoint(tmp_path / "c.pt", "acoustic")


def test_misspelt_recipe_setting_is_a_clear_error(corpus, tmp_path, run_cli):
    code, out, err = run_cli(
        "train",
        RECIPES / "debug" / "acoustic.yaml",
        "--set",
        f"data.manifests=[{corpus}]",
        "--set",
        "data.instrument=violin",
        "--set",
        "model.use_notewise=false",
        "-o",
        tmp_path / "r",
    )
    assert code == 2 and "Traceback" not in err
    assert "bad model or optim setting (unknown AcousticConfig settings: ['use_notewise'])" in err


def test_bf16_only_where_the_cpu_runs_it_fast(monkeypatch):
    """An AVX2-only CPU emulates bf16 (5-9x slower steps measured here): recipes asking for it get fp32 and a warning."""
    from deepperformer.core import precision
    from deepperformer.core.errors import DeepPerformerWarning

    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: False)
    with pytest.warns(DeepPerformerWarning, match="no fast bf16"):
        assert precision.lightning_precision("bf16-mixed", "cpu") == "32-true"
    with pytest.warns(DeepPerformerWarning, match="no fast bf16"):
        assert precision.cpu_autocast_bf16(True) is False
    assert precision.lightning_precision("bf16-mixed", "gpu") == "bf16-mixed"  # a GPU's own business
    assert precision.lightning_precision("32-true", "cpu") == "32-true" and precision.cpu_autocast_bf16(False) is False
    monkeypatch.setattr(precision, "cpu_has_fast_bf16", lambda: True)
    assert precision.lightning_precision("bf16-mixed", "cpu") == "bf16-mixed" and precision.cpu_autocast_bf16(True) is True
