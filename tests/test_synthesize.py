"""`deepperformer synthesize`: score or performance -> WAV with the shipped checkpoints, and its errors."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from deepperformer.audio.io import load_audio
from deepperformer.audio.mel import MelConfig, log_mel
from deepperformer.core.checkpoint import export_checkpoint, load_checkpoint
from deepperformer.vocoders import REFINE_ITERS
from deepperformer.vocoders.hifigan import Vocoder, VocoderConfig
from tests.helpers import assert_one_line_error

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_PIANO = ROOT / "checkpoints" / "acoustic_synthetic_piano.pt"
SHIPPED_VIOLIN = ROOT / "checkpoints" / "acoustic_bach_violin.pt"
SHIPPED_VOCODERS = {
    "piano": ROOT / "checkpoints" / "vocoder_vocos_piano.pt",
    "violin": ROOT / "checkpoints" / "vocoder_vocos_violin.pt",
}
EXAMPLES = ROOT / "data" / "examples"


@pytest.fixture(scope="module")
def tiny_vocoder(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = Vocoder(VocoderConfig(upsample_initial_channel=16))
    path = tmp_path_factory.mktemp("voc") / "tiny_vocoder.pt"
    export_checkpoint(
        path,
        "vocoder",
        {"model": model.config.to_dict(), "instrument": None, "variant": "v2"},
        MelConfig(),
        [],
        model.state_dict(),
        {"steps": 0, "data": [], "metrics": {}},
    )
    return path


@pytest.mark.parametrize(
    "instrument,score,performer",
    [
        ("piano", "minuet_in_g.krn", "piano-timgm6mb"),
        ("violin", "minuet_in_g_violin.krn", "minji-kim"),
    ],
)
def test_shipped_checkpoints_synthesize_a_shipped_example(instrument, score, performer, tmp_path, run_cli):
    """End to end with the shipped checkpoints, deadpan: a WAV of the right length whose mel follows
    the acoustic model's prediction (the vocoder renders what stage 2 asked for)."""
    if not SHIPPED_VOCODERS[instrument].exists():
        pytest.fail(f"{SHIPPED_VOCODERS[instrument]} is not shipped")
    out = tmp_path / "out.wav"
    code, stdout, err = run_cli(
        "synthesize",
        EXAMPLES / score,
        "-o",
        out,
        "--instrument",
        instrument,
        "--performer",
        performer,
        "--tempo",
        "240",
        "--png",
        "--deadpan",
    )
    assert code == 0, err
    assert "real-time factor" in stdout and f"voice {performer}" in stdout and "deadpan" in stdout
    assert f"+ {REFINE_ITERS} refinement iterations" in stdout  # the log says what vocoded it
    info = sf.info(out)
    assert info.samplerate == 16000 and info.channels == 1
    assert info.duration == pytest.approx(12.0 + 0.5, abs=0.1)  # 48 beats at 240 qpm + the tail
    assert out.with_suffix(".png").exists()
    audio = load_audio(out, 16000)
    assert 0.01 < np.abs(audio).max() <= 1.0

    from deepperformer.acoustic.inference import predict_mel
    from deepperformer.pipeline.loading import load_acoustic
    from deepperformer.pipeline.synthesis import conditioning_tempo
    from deepperformer.render.inputs import load_input

    model, ckpt = load_acoustic(SHIPPED_PIANO if instrument == "piano" else SHIPPED_VIOLIN)
    r = load_input(EXAMPLES / score, 240.0)
    pred = predict_mel(
        model, r.performance, ckpt["performer_vocab"].index(performer), conditioning_tempo(model, ckpt, r.tempo_qpm)
    )
    got = log_mel(audio, MelConfig())[: len(pred)]
    # the vocoded audio's mel is near the requested one: much nearer than to a mel shifted in time
    err_aligned = float(np.mean((got - pred) ** 2))
    err_shifted = float(np.mean((got[40:] - pred[:-40]) ** 2))
    assert err_aligned < 1.0 and err_aligned < 0.6 * err_shifted  # shipped pairs: 0.25/0.23 vs 1.40/0.83


def test_performance_input_keeps_its_timing(tmp_path, run_cli, tiny_vocoder):
    perf = tmp_path / "perf.mid"
    code, _, err = run_cli(
        "render", ROOT / "tests" / "data" / "scores" / "minuet.musicxml", "-o", perf, "--tempo", "90", "--no-png", "--deadpan"
    )
    assert code == 0, err
    out = tmp_path / "perf.wav"
    code, stdout, err = run_cli("synthesize", perf, "-o", out, "--vocoder", tiny_vocoder)
    assert code == 0, err
    assert "(performance)" in stdout
    from deepperformer.core.performance import load_performance

    assert load_performance(perf).duration == pytest.approx(8.0)  # 12 quarters at 90 qpm
    assert sf.info(out).duration == pytest.approx(8.0 + 0.5, abs=0.1)  # as played, plus the tail


def test_griffin_lim_vocodes_the_chain(tmp_path, run_cli):
    """--vocoder griffin-lim: the shipped acoustic model's mel, inverted without a neural vocoder;
    the audio's mel is near the requested one."""
    out = tmp_path / "gl.wav"
    code, stdout, err = run_cli(
        "synthesize",
        EXAMPLES / "minuet_in_g_violin.krn",
        "-o",
        out,
        "--instrument",
        "violin",
        "--tempo",
        "240",
        "--vocoder",
        "griffin-lim",
        "--deadpan",  # as marked, so the mel below is the one requested (the violin renderer would reshape the timing)
    )
    assert code == 0, err
    assert sf.info(out).duration == pytest.approx(12.5, abs=0.1)
    from deepperformer.acoustic.inference import predict_mel
    from deepperformer.pipeline.loading import load_acoustic
    from deepperformer.pipeline.synthesis import conditioning_tempo
    from deepperformer.render.inputs import load_input

    model, ckpt = load_acoustic(SHIPPED_VIOLIN)
    r = load_input(EXAMPLES / "minuet_in_g_violin.krn", 240.0)
    pred = predict_mel(model, r.performance, 0, conditioning_tempo(model, ckpt, r.tempo_qpm))
    got = log_mel(load_audio(out, 16000), MelConfig())[: len(pred)]
    assert float(np.mean((got - pred) ** 2)) < 0.5 * float(np.mean((got[40:] - pred[:-40]) ** 2))


def test_synthesize_plays_an_expressive_performance_by_default(tmp_path, run_cli):
    """Piano scores go through the shipped renderer unless --deadpan; --performer names go to the stage
    that knows them (a pianist to the renderer, a voice to the acoustic model)."""
    from deepperformer.pipeline.loading import load_renderer

    pianist = load_renderer(ROOT / "checkpoints" / "renderer_piano.pt").performers.to_list()[5]
    outs = {}
    for name, extra in {
        "deadpan": ["--deadpan"],
        "expressive": ["--performer", pianist, "--performer", "piano-musescore"],
    }.items():
        outs[name] = tmp_path / f"{name}.wav"
        code, stdout, err = run_cli("synthesize", EXAMPLES / "minuet_in_g.krn", "-o", outs[name], "--tempo", "200", *extra)
        assert code == 0, err
    assert f"rendered as {pianist}" in stdout and "voice piano-musescore" in stdout
    # both at 200 qpm: the renderer shapes the tempo and the dynamics around it
    dead, expressive = (load_audio(outs[k], 16000) for k in ("deadpan", "expressive"))
    assert len(dead) != len(expressive) or not np.allclose(dead, expressive, atol=1e-3)
    code, _, err = run_cli(
        "synthesize", EXAMPLES / "minuet_in_g.krn", "-o", tmp_path / "x.wav", "--performer", "a-b", "--performer", "c-d"
    )
    assert code == 2 and "unknown performer 'a-b'" in err and "renderer knows" in err
    code, _, err = run_cli("synthesize", EXAMPLES / "minuet_in_g.krn", "-o", tmp_path / "x.wav", "--direction", "loud")
    assert code == 2 and "--direction 'loud'" in err and not (tmp_path / "x.wav").exists()
    code, _, err = run_cli(
        "synthesize",
        EXAMPLES / "minuet_in_g_violin.krn",
        "-o",
        tmp_path / "x.wav",
        "--instrument",
        "violin",
        "--direction",
        "louder",
    )
    # the shipped violin renderer learnt timing and articulation only (its corpus has no dynamics)
    assert code == 2 and "no dynamics direction" in err and not (tmp_path / "x.wav").exists()
    violin = {}
    for name, extra in (("deadpan", ["--deadpan"]), ("slower", ["--direction", "slower"])):
        violin[name] = tmp_path / f"violin-{name}.wav"
        args = ("synthesize", EXAMPLES / "minuet_in_g_violin.krn", "-o", violin[name], "--instrument", "violin", *extra)
        code, stdout, err = run_cli(*args)
        assert code == 0, err
    dead, slower = (load_audio(violin[k], 16000) for k in ("deadpan", "slower"))
    assert len(slower) > len(dead)  # played expressively, and slower than as marked


def test_performers_lists_the_shipped_models(run_cli):
    code, out, err = run_cli("performers")
    assert code == 0, err
    for ckpt in (SHIPPED_PIANO, SHIPPED_VIOLIN):
        for name in load_checkpoint(ckpt, "acoustic")["performer_vocab"]:
            assert name in out


def test_bad_inputs_give_one_line_errors(tmp_path, run_cli, tiny_vocoder):
    out = tmp_path / "o.wav"
    score = EXAMPLES / "minuet_in_g.krn"
    v = ["--vocoder", tiny_vocoder]
    code, _, err = run_cli("synthesize", score, "-o", out, "--performer", "glenn-gould", *v)
    assert_one_line_error(code, err, out, "unknown performer 'glenn-gould'", "piano-fluidr3")
    code, _, err = run_cli("synthesize", score, "-o", out, "--instrument", "violin", *v)
    assert_one_line_error(code, err, out, "minuet_in_g.krn: 3 notes outside the violin's range G3-A7 (the first: D3 at")
    code, _, err = run_cli("synthesize", score, "-o", out, "--acoustic", SHIPPED_VIOLIN, *v)
    assert_one_line_error(code, err, out, "acoustic_bach_violin.pt: is a violin model, not a piano one")
    code, _, err = run_cli("synthesize", tmp_path / "missing.musicxml", "-o", out, *v)
    assert_one_line_error(code, err, out, "missing.musicxml")
    code, _, err = run_cli("synthesize", score, "-o", tmp_path / "o.mp3", *v)
    assert_one_line_error(code, err, tmp_path / "o.mp3", "output must end in .wav or .flac")
    csv = tmp_path / "p.csv"
    run_cli("render", score, "-o", csv, "--no-png")
    code, _, err = run_cli("synthesize", csv, "-o", out, "--tempo", "100", *v)
    assert_one_line_error(code, err, out, "--tempo applies to scores")
    bad = tmp_path / "bad.musicxml"
    bad.write_text("<score-partwise><part")
    code, _, err = run_cli("synthesize", bad, "-o", out, *v)
    assert_one_line_error(code, err, out, "bad.musicxml")
    # a vocoder made for another mel configuration than the acoustic model's
    ckpt = torch.load(tiny_vocoder, weights_only=True)
    ckpt["mel_config"] = MelConfig(hop_length=200).to_dict()
    other = tmp_path / "other_mel.pt"
    torch.save(ckpt, other)
    code, _, err = run_cli("synthesize", score, "-o", out, "--vocoder", other)
    assert_one_line_error(
        code, err, out, "other_mel.pt: this vocoder", "uses another mel configuration (hop_length 200, expected 256)"
    )
    # a vocoder fine-tuned for the other instrument
    ckpt = torch.load(tiny_vocoder, weights_only=True)
    ckpt["config"]["instrument"] = "violin"
    violin_only = tmp_path / "violin_vocoder.pt"
    torch.save(ckpt, violin_only)
    code, _, err = run_cli("synthesize", score, "-o", out, "--vocoder", violin_only)
    assert_one_line_error(code, err, out, "violin_vocoder.pt: is a vocoder for violin, not for piano")
    # an acoustic model where a vocoder is expected
    code, _, err = run_cli("synthesize", score, "-o", out, "--vocoder", SHIPPED_PIANO)
    assert_one_line_error(code, err, out, "is a checkpoint of the acoustic stage, not of the vocoder stage")
