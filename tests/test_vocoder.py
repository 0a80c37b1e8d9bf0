"""Stage 3: the HiFi-GAN vocoder (sizes, chunked vocoding, mel/audio pairing) and its training."""

from pathlib import Path

import numpy as np
import pytest
import torch

from deepperformer.audio.mel import MelConfig, log_mel
from deepperformer.data.audio_clips import AudioClipDataset, collate_audio
from deepperformer.networks.hifigan import SIZES
from deepperformer.vocoders import REFINE_ITERS
from deepperformer.vocoders.build import make_vocoder
from deepperformer.vocoders.hifigan import Vocoder, VocoderConfig
from deepperformer.vocoders.stft import multi_resolution_stft

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def test_variants_have_hifigans_sizes():
    millions = {v: sum(p.numel() for p in Vocoder(VocoderConfig.variant(v)).parameters()) / 1e6 for v in SIZES}
    # HiFi-GAN paper, Table 1: V1 13.92 M, V2 0.92 M, V3 1.46 M
    assert millions["v1"] == pytest.approx(13.92, abs=0.05)
    assert millions["v2"] == pytest.approx(0.92, abs=0.02)
    assert millions["v3"] == pytest.approx(1.46, abs=0.02)
    # a generator for another mel configuration can be built (its checkpoint says which) ...
    hop128 = {"upsample_factors": [8, 8, 2], "upsample_kernel_sizes": [16, 16, 4]}
    assert Vocoder(VocoderConfig(**hop128)).config.hop_length == 128
    # ... and it is refused for a mel whose hop its upsampling does not reach
    with pytest.raises(ValueError, match="multiply to 128, not the mel hop 256"):
        make_vocoder(hop128, MelConfig())


@pytest.mark.parametrize("variant", ["v2", "v3"])
def test_receptive_field_bounds_the_reach_of_a_frame(variant):
    torch.manual_seed(0)
    cfg = VocoderConfig.variant(variant, upsample_initial_channel=32)
    model = Vocoder(cfg).eval()
    x = torch.randn(1, 80, 80)
    with torch.no_grad():
        y0 = model(x)
        x[0, 40] += 3.0
        changed = ((model(x) - y0).abs()[0] > 0).nonzero()[:, 0]
    hop, rf = cfg.hop_length, cfg.receptive_field_frames()
    assert changed.numel() > 0
    assert changed.min() >= (40 - rf) * hop and changed.max() < (41 + rf) * hop


def test_chunked_vocoding_equals_one_shot():
    torch.manual_seed(0)
    model = Vocoder(VocoderConfig(upsample_initial_channel=16)).eval()
    mel = np.random.default_rng(0).normal(-5, 2, (121, 80)).astype(np.float32)
    one = model.vocode(mel, chunk_frames=10_000)
    chunked = model.vocode(mel, chunk_frames=37)
    assert one.shape == chunked.shape == (121 * 256,)
    assert np.abs(one - chunked).max() < 1e-5 * max(1.0, np.abs(one).max())


def test_multi_resolution_stft_distance():
    y = torch.randn(2, 8192)
    sc, mag = multi_resolution_stft(y, y)
    assert float(sc) == pytest.approx(0.0, abs=1e-6) and float(mag) == pytest.approx(0.0, abs=1e-6)
    sc, mag = multi_resolution_stft(0.5 * y, y)
    assert float(sc) == pytest.approx(0.5, abs=1e-3) and float(mag) == pytest.approx(np.log(2), abs=1e-3)


def test_segments_pair_each_mel_frame_with_its_samples(corpus):
    """The cached mel of a segment equals the mel computed from the segment's audio (inner frames)."""
    np.random.seed(0)
    ds = AudioClipDataset([corpus], "train", segment_frames=24)
    cfg = MelConfig()
    for i in range(3):
        it = ds[i]
        assert it["mel"].shape == (24, 80) and it["audio"].shape == (24 * cfg.hop_length,)
        recomputed = log_mel(it["audio"], cfg)  # frames centred on samples 0, hop, ... of the segment
        inner = slice(3, 20)  # away from the segment edges, where reflect padding differs
        assert np.abs(recomputed[inner] - it["mel"][inner]).max() < 0.05
    mel, audio, lengths, ids = collate_audio([ds[0], ds[1]])
    assert mel.shape == (2, 24, 80) and audio.shape == (2, 24 * 256) and lengths.tolist() == [24, 24]


def test_vocoder_trains_through_both_phases_resumes_and_exports(corpus, tmp_path, run_cli):
    run = tmp_path / "voc"
    args = ["train", RECIPES / "debug" / "vocoder.yaml", "--set", f"data.manifests=[{corpus}]", "-o", run]
    code, out, err = run_cli(*args)
    assert code == 0, err
    ckpt = torch.load(run / "model.pt", weights_only=True)
    assert ckpt["stage"] == "vocoder" and ckpt["provenance"]["steps"] == 2  # generator steps
    assert ckpt["provenance"]["adversarial_steps"] == 1
    assert not any(k.startswith(("discriminator", "mpd", "msd")) for k in ckpt["state_dict"])  # generator only
    m = ckpt["provenance"]["metrics"]
    assert m["validation_copy_synthesis_logmel_mse"] > 0 and m["validation_copy_synthesis_clips"] == 2
    assert list((run / "mels").glob("*.png")) and list((run / "wavs").glob("*.wav"))
    import csv

    logged = list(csv.DictReader((run / "logs" / "version_0" / "metrics.csv").open()))
    # step 0 is the warm-up (no discriminator), step 1 adversarial: its losses were logged
    d_losses = [float(r["train/d_loss"]) for r in logged if r.get("train/d_loss")]
    assert len(d_losses) == 1 and np.isfinite(d_losses[0]) and d_losses[0] > 0
    assert any(r.get("train/g_fm") for r in logged) and any(r.get("val/mse") for r in logged)
    code, out, err = run_cli(*args, "--max-steps", "3")  # resume
    assert code == 0, err
    assert torch.load(run / "model.pt", weights_only=True)["provenance"]["steps"] == 3
    code, out, err = run_cli("info", run / "model.pt")
    assert code == 0 and "vocoder model (v2)" in out


def test_finetuning_on_predicted_mels(corpus, tmp_path, run_cli):
    acoustic = tmp_path / "ac"
    code, out, err = run_cli(
        "train",
        RECIPES / "debug" / "acoustic.yaml",
        "--set",
        f"data.manifests=[{corpus}]",
        "--set",
        "data.instrument=violin",
        "--max-steps",
        "1",
        "-o",
        acoustic,
    )
    assert code == 0, err
    voc = tmp_path / "voc"
    code, out, err = run_cli(
        "train",
        RECIPES / "debug" / "vocoder.yaml",
        "--set",
        f"data.manifests=[{corpus}]",
        "--set",
        "optim.adversarial_start=10",
        "--max-steps",
        "1",
        "-o",
        voc,
    )
    assert code == 0, err
    ft = tmp_path / "ft"
    code, out, err = run_cli(
        "train",
        RECIPES / "debug" / "vocoder.yaml",
        "--set",
        f"data.manifests=[{corpus}]",
        "--set",
        f"data.predicted_mels_from={acoustic / 'model.pt'}",
        "--set",
        f"init_from={voc / 'model.pt'}",
        "--set",
        "optim.adversarial_start=10",
        "--max-steps",
        "1",
        "-o",
        ft,
    )
    assert code == 0, err
    predicted = sorted((ft / "predicted_mels").rglob("*.npy"))
    assert predicted  # one per train/validation recording
    root = corpus.parent
    cached = np.load(root / "recordings" / f"{predicted[0].stem}" / "mel.npy")
    assert np.load(predicted[0]).shape == cached.shape  # frame-aligned with the real audio
    ckpt = torch.load(ft / "model.pt", weights_only=True)
    assert ckpt["config"]["input"] == "predicted" and ckpt["provenance"]["init_from"].endswith("model.pt")
    from deepperformer.training.fit import file_sha256

    assert ckpt["provenance"]["init_from_sha256"] == file_sha256(voc / "model.pt")
    assert ckpt["provenance"]["init_from_steps"] == 1
    assert ckpt["provenance"]["predicted_mels_from_sha256"] == file_sha256(acoustic / "model.pt")
    code, out, err = run_cli("info", ft / "model.pt")
    assert code == 0 and "fine-tuned from:" in out and "(1 steps, sha256" in out and "teacher-forced mels of:" in out, out
    # evaluate: the same vocoder on the corpus mels and on the acoustic model's teacher-forced mels
    code, out, err = run_cli(
        "evaluate",
        ft / "model.pt",
        "--manifest",
        corpus,
        "--split",
        "validation",
        "--max-clips",
        "2",
        "--predicted-mels-from",
        acoustic / "model.pt",
    )
    assert code == 0, err
    rows = {line.split()[2]: line.split() for line in out.splitlines() if line.split()[:1] == ["v2"]}
    assert set(rows) == {"ground-truth", "predicted:model.pt"}
    assert rows["ground-truth"][3:6] == rows["predicted:model.pt"][3:6] == ["bv", "violin", "2"]
    assert rows["ground-truth"][6] != rows["predicted:model.pt"][6]  # other mels in, other error out


def test_evaluate_prints_copy_synthesis_errors(corpus, tmp_path, run_cli):
    torch.manual_seed(0)
    model = Vocoder(VocoderConfig(upsample_initial_channel=16))
    from deepperformer.core.checkpoint import export_checkpoint

    path = tmp_path / "v.pt"
    export_checkpoint(
        path,
        "vocoder",
        {"model": model.config.to_dict(), "variant": "v2"},
        MelConfig(),
        [],
        model.state_dict(),
        {"steps": 5, "data": [], "metrics": {}},
    )
    code, out, err = run_cli("evaluate", path, "--manifest", corpus, "--split", "validation", "--max-clips", "2")
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith("v2"))
    steps, mels, corpus_name, instrument, clips, mse, sc, mag = row.split()[1:]
    assert (steps, mels, corpus_name, instrument, clips) == ("5", "ground-truth", "bv", "violin", "2")
    from deepperformer.data.audio_clips import AudioClipDataset
    from deepperformer.vocoders.metrics import copy_synthesis_errors

    direct = copy_synthesis_errors(model, AudioClipDataset([corpus], "validation", "violin", max_clips=2))
    assert float(mse) == pytest.approx(direct["logmel_mse"], rel=1e-3) and float(mse) > 0.1  # an untrained vocoder is far off
    # by default each neural vocoder has a second row, refined as synthesize and vocode play it: nearer its mel
    refined = next(line for line in out.splitlines() if line.startswith(f"v2+refine{REFINE_ITERS} "))
    assert float(refined.split()[6]) < 0.5 * float(mse)
    code, out, err = run_cli("evaluate", path, "--manifest", corpus, "--split", "validation", "--max-clips", "2", "--no-refine")
    assert code == 0 and "refine" not in out


def test_onset_f1():
    from deepperformer.evaluation.transcription import onset_f1

    ref = np.array([[0.0, 0.5, 60], [0.5, 1.0, 64], [1.0, 1.5, 67], [1.0, 1.5, 72]])
    assert onset_f1(ref, ref)["f1"] == pytest.approx(1.0)
    late = ref + [0.03, 0.03, 0]  # within 50 ms
    assert onset_f1(ref, late)["f1"] == pytest.approx(1.0)
    assert onset_f1(ref, ref + [0.1, 0.1, 0])["f1"] == 0.0  # too late
    half = onset_f1(ref, ref[:2])
    assert half["precision"] == 1.0 and half["recall"] == 0.5
    assert onset_f1(ref, ref + [0, 0, 1])["f1"] == 0.0  # wrong pitches
    assert onset_f1(ref, np.zeros((0, 3)))["f1"] == 0.0


@pytest.mark.slow
def test_transkun_transcribes_a_fluidsynth_piano_rendering(tmp_path):
    """Transkun (weights from its wheel) finds the notes of a FluidSynth piano rendering."""
    from deepperformer.core.score import load_score
    from deepperformer.data.synthetic import PERFORMERS, render
    from deepperformer.evaluation.transcription import onset_f1, transcribe
    from deepperformer.render.deadpan import deadpan
    from tests.conftest import DATA

    perf = deadpan(load_score(DATA / "scores" / "minuet.musicxml"))
    audio = render(perf, next(p for p in PERFORMERS if p.name == "piano-fluidr3"))
    n = perf.notes
    ref = np.stack([n["onset_sec"], n["onset_sec"] + n["duration_sec"], n["pitch"]], 1)
    assert onset_f1(ref, transcribe(audio, 16000))["f1"] > 0.8


def test_discriminator_sets_and_the_paper_feature_matching_weight():
    from deepperformer.vocoders.discriminators import (
        DiscriminatorConfig,
        Discriminators,
    )
    from deepperformer.vocoders.task import VocoderTask

    def params(d):
        return sum(p.numel() for p in d.parameters()) / 1e6

    full = Discriminators(DiscriminatorConfig(msd=False))
    quarter = Discriminators(DiscriminatorConfig(msd=False, mpd_width=0.25))
    assert params(full) == pytest.approx(41.1, abs=0.2)  # HiFi-GAN's MPD
    assert params(quarter) < params(full) / 12  # channels / 4: weights / ~16
    mixed = Discriminators(DiscriminatorConfig(mpd_width=0.25, msd=True, mrd_resolutions=[[512, 128, 512]], mrd_channels=8))
    scores, feats = mixed(torch.randn(2, 1, 4096))
    assert len(scores) == 5 + 1 + 3 and all(s.shape[0] == 2 for s in scores)
    assert sum(len(f) for f in feats) == mixed.n_feature_maps() == 5 * 6 + 6 + 3 * 8
    with pytest.raises(ValueError, match="no discriminator"):
        DiscriminatorConfig(mpd_periods=[], msd=False).validate()
    # SpeechBrain's feature loss averages over the layers; the paper's sums them, weight 2
    task = VocoderTask(
        VocoderConfig(upsample_initial_channel=16).to_dict(), feature_weight=2.0, discriminator=dict(mpd_width=0.25, msd=False)
    )
    assert task.g_adv_loss.feat_match_loss_weight == 2.0 * 5 * 6


def test_bf16_autocast_only_touches_the_discriminators():
    from deepperformer.vocoders.task import VocoderTask

    task = VocoderTask(
        VocoderConfig(upsample_initial_channel=16).to_dict(), autocast_bf16=True, discriminator=dict(mpd_width=0.125, msd=False)
    )
    real, fake = torch.randn(2, 4096), torch.randn(2, 4096)
    s_real, s_fake, f_real, f_fake = task.discriminate(real, fake)
    assert len(s_real) == len(s_fake) == 5 and all(s.dtype == torch.float32 for s in s_fake)
    # the pass over [real; fake] equals separate passes (same weights, batch-independent layers)
    task.hparams.autocast_bf16 = False
    s_real32, _, _, _ = task.discriminate(real, fake)
    alone, _ = task.discriminator(real[:, None])
    assert torch.allclose(s_real32[0], alone[0], atol=1e-5)
    assert not torch.allclose(s_real[0], s_real32[0], atol=1e-6)  # bf16 did run: its rounding shows


def harmonic_tone(seconds: float = 2.0, f0: float = 220.0, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    env = np.minimum(1.0, t / 0.05) * np.exp(-t)
    return (0.2 * env * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))).astype(np.float32)


def test_griffin_lim_is_a_vocoder_that_reconstructs_the_mel():
    from deepperformer.vocoders.griffin_lim import GriffinLimVocoder

    audio = harmonic_tone() + np.random.default_rng(1).normal(0, 1e-3, 32000).astype(np.float32)  # a -60 dB floor
    mel = log_mel(audio)
    gl = GriffinLimVocoder(n_iter=32)
    wav = gl.vocode(mel)
    assert wav.shape == (len(mel) * 256,) and np.isfinite(wav).all()
    again = log_mel(wav[: len(audio)])
    mse = float(((again - mel) ** 2).mean())
    noise = log_mel(np.random.default_rng(0).normal(0, 0.05, len(audio)).astype(np.float32))
    assert mse < 1.0 and float(((noise - mel) ** 2).mean()) > 5.0  # (0.62 and 11.4 when written)
    assert np.array_equal(wav, gl.vocode(mel))  # seeded initial phase: the same audio every run


def test_vocos_trains_exports_and_vocodes_like_hifigan(corpus, tmp_path, run_cli):
    """The Vocos-style family goes through the same task, export and loaders as HiFi-GAN."""
    from deepperformer.pipeline.loading import load_vocoder
    from deepperformer.vocoders.vocos import Vocos, VocosConfig

    run = tmp_path / "vocos"
    code, out, err = run_cli("train", RECIPES / "debug" / "vocos.yaml", "--set", f"data.manifests=[{corpus}]", "-o", run)
    assert code == 0, err
    ckpt = torch.load(run / "model.pt", weights_only=True)
    assert ckpt["config"]["model"]["family"] == "vocos" and ckpt["provenance"]["adversarial_steps"] == 1
    model, _ = load_vocoder(run / "model.pt")
    assert isinstance(model, Vocos) and model.config == VocosConfig(dim=16, intermediate_dim=32, num_layers=2)
    mel = np.random.default_rng(0).normal(-5, 2, (300, 80)).astype(np.float32)
    one, chunked = model.vocode(mel, chunk_frames=10_000), model.vocode(mel, chunk_frames=41)
    assert one.shape == (300 * 256,) and np.abs(one - chunked).max() < 1e-5 * max(1.0, np.abs(one).max())
    with pytest.raises(ValueError, match="unknown vocoder family 'wavenet'"):
        from deepperformer.vocoders.build import make_vocoder

        make_vocoder({"family": "wavenet"})


def test_adversarial_training_goes_on_from_exported_weights(corpus, tmp_path, run_cli):
    """A session's end: the exported generator plus discriminator.pt let another run go on."""
    from deepperformer.training.vocoder import load_discriminator_state
    from deepperformer.vocoders.task import VocoderTask

    first = tmp_path / "first"
    base = ["train", RECIPES / "debug" / "vocoder.yaml", "--set", f"data.manifests=[{corpus}]"]
    code, out, err = run_cli(*base, "-o", first)
    assert code == 0, err
    state = first / "discriminator.pt"
    ckpt = torch.load(state, weights_only=True)
    assert ckpt["steps"] == 2 and all(v.dtype == torch.float16 for v in ckpt["state_dict"].values())
    second = tmp_path / "second"
    code, out, err = run_cli(
        *base,
        "--set",
        f"init_from={first / 'model.pt'}",
        "--set",
        f"init_discriminator_from={state}",
        "--set",
        "optim.adversarial_start=0",
        "--max-steps",
        "1",
        "-o",
        second,
    )
    assert code == 0, err
    assert "discriminators initialised from" in out
    prov = torch.load(second / "model.pt", weights_only=True)["provenance"]
    assert prov["total_steps"] == 3 and prov["adversarial_steps"] == 1
    # the state loads only into the same discriminators
    task = VocoderTask(VocoderConfig(upsample_initial_channel=16).to_dict(), discriminator=dict(mpd_width=0.5))
    from deepperformer.core.errors import DeepPerformerError

    with pytest.raises(DeepPerformerError, match="differ from the recipe's discriminator section"):
        load_discriminator_state(state, task.discriminator)


def test_the_best_validation_weights_are_exported(corpus, tmp_path, run_cli):
    """trainer.keep_best: GAN training swings, so the export is the step with the lowest validation
    log-mel MSE (and its discriminators), not merely the last."""
    import csv

    run = tmp_path / "best"
    code, out, err = run_cli(
        "train",
        RECIPES / "debug" / "vocoder.yaml",
        "--set",
        f"data.manifests=[{corpus}]",
        "--set",
        "trainer.val_every_steps=1",
        "--max-steps",
        "4",
        "-o",
        run,
    )
    assert code == 0, err
    logged = [r for r in csv.DictReader((run / "logs" / "version_0" / "metrics.csv").open()) if r.get("val/mse")]
    assert len(logged) == 4
    best_step = min(logged, key=lambda r: float(r["val/mse"]))["step"]
    ckpt = torch.load(run / "model.pt", weights_only=True)
    assert ckpt["provenance"]["exported_step"] == int(best_step) + 1  # the log counts from 0, steps from 1
    best = torch.load(run / "ckpt" / "best.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    for k, v in ckpt["state_dict"].items():
        assert torch.allclose(v.float(), best[f"model.{k}"].half().float())
    assert torch.load(run / "discriminator.pt", weights_only=True)["steps"] == int(best_step) + 1


def test_mel_refinement_puts_a_vocoders_audio_back_on_its_mel():
    """The refinement of a vocoder's wrong-level, noisy audio has the mel it was asked for (far closer
    than before); audio already on its mel is left as it is; chunked equals one shot."""
    from deepperformer.vocoders.refine import RefinedVocoder, refine

    audio = harmonic_tone()
    mel = log_mel(audio)
    t = torch.from_numpy(mel)[None]

    def mse(wav):
        return float(((log_mel(wav[: len(audio)]) - mel) ** 2).mean())

    # a bad vocoder: the tone at half level with its upper partials doubled, and noise in the silence
    rng = np.random.default_rng(0)
    bad = 0.5 * audio + 0.5 * np.diff(audio, prepend=0) * 4 + rng.normal(0, 3e-3, len(audio)).astype(np.float32)
    bad = np.pad(bad, (0, len(mel) * 256 - len(bad))).astype(np.float32)
    fixed = refine(torch.from_numpy(bad)[None], t, MelConfig(), n_iter=8)[0].numpy()
    assert fixed.shape == bad.shape and mse(fixed) < 0.2 * mse(bad)  # (0.010 against 0.77 when written)
    same = np.pad(audio, (0, len(mel) * 256 - len(audio)))
    kept = refine(torch.from_numpy(same)[None], torch.from_numpy(log_mel(same))[None], MelConfig(), n_iter=0)[0].numpy()
    assert np.abs(kept - same).max() < 1e-3

    from deepperformer.vocoders.vocos import Vocos, VocosConfig

    torch.manual_seed(0)
    voc = RefinedVocoder(Vocos(VocosConfig(dim=16, intermediate_dim=32, num_layers=2)).eval(), MelConfig(), n_iter=4)
    assert (
        voc.config.hop_length == 256 and voc.config.receptive_field_frames() == voc.vocoder.config.receptive_field_frames() + 20
    )
    one, chunked = voc.vocode(mel, chunk_frames=10_000), voc.vocode(mel, chunk_frames=41)
    assert one.shape == (len(mel) * 256,) and np.abs(one - chunked).max() < 1e-4 * np.abs(one).max()
    with pytest.raises(ValueError, match=">= 0"):
        RefinedVocoder(voc.vocoder, MelConfig(), n_iter=-1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        RefinedVocoder(voc.vocoder, MelConfig(), vocoder_weight=1.5)
    # the target blended with the mel's pseudo-inverse (Griffin-Lim's magnitude) is on the mel as well
    blended = refine(torch.from_numpy(bad)[None], t, MelConfig(), n_iter=8, vocoder_weight=0.25)[0].numpy()
    assert mse(blended) < 0.2 * mse(bad) and not np.allclose(blended, fixed)


def test_reseeded_weak_phase_removes_a_frame_rate_comb_and_chunks_agree():
    """A vocoder's click every hop (the frame-rate comb of a generator that repeats its phase) survives
    the refinement from the vocoder's phase; with the weak bins' phase reseeded it mostly goes, the
    mel stays as near, and the seeded phase is the same chunk by chunk as in one shot."""
    from deepperformer.evaluation.quality import frame_rate_comb
    from deepperformer.vocoders.refine import RefinedVocoder, refine
    from deepperformer.vocoders.vocos import Vocos, VocosConfig

    audio = harmonic_tone()
    mel = log_mel(audio)
    clicks = np.zeros_like(audio)
    clicks[::256] = 0.05
    bad = np.pad(audio + clicks, (0, len(mel) * 256 - len(audio))).astype(np.float32)
    original = frame_rate_comb(audio)

    def run(nats):
        out = refine(torch.from_numpy(bad)[None], torch.from_numpy(mel)[None], MelConfig(), 32, 0.25, phase_keep_nats=nats)
        out = out[0].numpy()[: len(audio)]
        return frame_rate_comb(out) / original, float(((log_mel(out) - mel) ** 2).mean())

    from deepperformer.vocoders import REFINE_PHASE_KEEP_NATS

    (kept, kept_mse), (reseeded, reseeded_mse) = run(None), run(REFINE_PHASE_KEEP_NATS)  # the shipped default
    assert reseeded < 0.2 * kept  # (5 nats: 33 against 582 x the tone's own when written; 3 nats: 28)
    assert reseeded_mse < 1.2 * kept_mse

    torch.manual_seed(0)
    voc = RefinedVocoder(Vocos(VocosConfig(dim=16, intermediate_dim=32, num_layers=2)).eval(), MelConfig(), 4, 0.25, 3.0)
    assert voc.position_dependent
    one, chunked = voc.vocode(mel, chunk_frames=10_000), voc.vocode(mel, chunk_frames=20)
    assert np.abs(one - chunked).max() < 1e-4 * np.abs(one).max()
    assert not np.allclose(one, RefinedVocoder(voc.vocoder, MelConfig(), 4, 0.25).vocode(mel), atol=1e-3)
    with pytest.raises(ValueError, match="nats"):
        RefinedVocoder(voc.vocoder, MelConfig(), phase_keep_nats=-1.0)


def test_violin_refinement_keeps_the_vocoders_partials_and_takes_the_mel_in_the_weak_bins():
    """The violin vocoder's refinement (its instrument's settings, chosen by the vocoder's checkpoint):
    the weak bins from the mel's pseudo-inverse with the gains applied again keep the comb of a
    click every hop as low as the reseeded phase alone and bring the audio onto its mel; full gains
    put it nearer the mel than 3/4 of them; a shared vocoder keeps the defaults."""
    from deepperformer.evaluation.quality import frame_rate_comb
    from deepperformer.pipeline.loading import LoadedModel, with_refinement
    from deepperformer.vocoders import REFINE_BY_INSTRUMENT, refine_settings
    from deepperformer.vocoders.refine import RefinedVocoder, refine
    from deepperformer.vocoders.vocos import Vocos, VocosConfig

    audio = harmonic_tone()
    mel = log_mel(audio)
    clicks = np.zeros_like(audio)
    clicks[::256] = 0.05
    bad = np.pad(audio + clicks, (0, len(mel) * 256 - len(audio))).astype(np.float32)

    def run(**kw):
        out = refine(torch.from_numpy(bad)[None], torch.from_numpy(mel)[None], MelConfig(), 32, 1.0, phase_keep_nats=3.0, **kw)
        out = out[0].numpy()[: len(audio)]
        return frame_rate_comb(out) / frame_rate_comb(audio), float(((log_mel(out) - mel) ** 2).mean())

    (comb_phase, _), (comb_mel, mse_mel) = run(), run(weak_from_mel=True)
    mse_bad = float(((log_mel(bad[: len(audio)]) - mel) ** 2).mean())
    assert comb_mel < 1.2 * comb_phase and mse_mel < 0.2 * mse_bad
    _, mse_partial = run(weak_from_mel=True, gain_strength=0.75)
    assert mse_mel < mse_partial < mse_bad

    settings = refine_settings("violin")
    assert settings == refine_settings(None) | REFINE_BY_INSTRUMENT["violin"] and settings["weak_from_mel"]
    voc = Vocos(VocosConfig(dim=16, intermediate_dim=32, num_layers=2)).eval()
    for instrument, expected in (("violin", settings), (None, refine_settings(None))):
        r = with_refinement(LoadedModel(voc, {"config": {"instrument": instrument}}, MelConfig(), None), 4)
        assert isinstance(r.model, RefinedVocoder) and r.checkpoint["refine_gain_strength"] == expected["gain_strength"]
        assert (r.model.vocoder_weight, r.model.weak_from_mel) == (expected["vocoder_weight"], expected["weak_from_mel"])
    with pytest.raises(ValueError, match="gain strength"):
        RefinedVocoder(voc, MelConfig(), gain_strength=1.5)


def test_weak_above_hz_takes_every_high_bin_from_the_mel():
    """With ``weak_above_hz`` the bins above the cutoff count as weak whatever their level, so that
    there the refined audio comes from the mel (its pseudo-inverse and a seeded phase), not from what
    the vocoder played: two vocoder outputs that differ only above the cutoff (loud clicks every hop
    in one, a steady tone in the other) refine to nearly the same high band, and each stays as near
    its mel."""
    from deepperformer.vocoders.refine import RefinedVocoder, refine, weak_bins

    mag = torch.full((1, 513, 3), 1e-3)
    mag[:, 10] = 1.0
    assert weak_bins(mag, 3.0)[0, :, 0].sum() == 512
    assert not weak_bins(mag, 3.0, 200)[0, 10].any() and weak_bins(mag, 3.0, 200)[0, 200:].all()

    audio = harmonic_tone()
    mel = log_mel(audio)
    n = len(mel) * 256
    t = np.arange(n) / 16000
    clicks = np.fft.rfft(np.where(np.arange(n) % 256 == 0, 0.5, 0.0))
    clicks[: int(2200 * n / 16000)] = 0  # the clicks above 2.2 kHz only
    played = np.pad(audio, (0, n - len(audio)))
    a = (played + np.fft.irfft(clicks, n)).astype(np.float32)
    b = (played + 0.05 * np.sin(2 * np.pi * 3100 * t)).astype(np.float32)
    cfg = MelConfig()

    def high_band(**kw):
        """The two refined outputs' STFT magnitudes above 2.5 kHz ``[F', T]`` (the last frames, past
        the mel, are left as the vocoder played them) and their log-mel errors."""
        outs = [
            refine(
                torch.from_numpy(x)[None],
                torch.from_numpy(mel)[None],
                cfg,
                32,
                1.0,
                phase_keep_nats=3.0,
                gain_strength=0.75,
                weak_from_mel=True,
                **kw,
            )[0]
            for x in (a, b)
        ]
        specs = [torch.stft(o, 1024, 256, window=torch.hann_window(1024), return_complex=True).abs()[160:, :-3] for o in outs]
        return specs, max(float(((log_mel(o.numpy()[: len(audio)]) - mel) ** 2).mean()) for o in outs)

    (kept_a, kept_b), mse_kept = high_band()
    (cut_a, cut_b), mse_cut = high_band(weak_above_hz=2000.0)
    assert kept_a.norm() > 10 * kept_b.norm()  # the clicks are strong bins: the threshold alone keeps them
    assert cut_a.norm() < 0.05 * kept_a.norm() and (cut_a - cut_b).norm() < 0.05 * (kept_a - kept_b).norm()
    assert mse_cut < mse_kept
    with pytest.raises(ValueError, match="cutoff"):
        RefinedVocoder(torch.nn.Identity(), cfg, weak_above_hz=9000.0)
