"""`deepperformer vocode`: copy synthesis of a user's recording, with a checkpoint or Griffin-Lim."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import assert_one_line_error

DATA = Path(__file__).resolve().parent / "data"
MP3 = DATA / "bach-violin" / "audio" / "jane-doe" / "jane-doe_bwv1001_mov1.mp3"


@pytest.mark.parametrize("vocoder", ["griffin-lim", None])  # None: the shipped shared vocoder
def test_vocode_copies_a_recording_at_any_sample_rate(vocoder, tmp_path, run_cli):
    # a plucked harmonic tone over a -60 dB noise floor, at 22.05 kHz in stereo: resampled and
    # mixed down on the way in
    sr = 22050
    t = np.arange(4 * sr) / sr
    audio = 0.2 * np.exp(-(t % 1.0)) * sum(np.sin(2 * np.pi * 196.0 * k * t) / k for k in range(1, 8))
    audio += np.random.default_rng(0).normal(0, 1e-3, len(t))
    src = tmp_path / "in.flac"
    sf.write(src, np.stack([audio, 0.5 * audio], 1), sr)
    out = tmp_path / "copy.wav"
    code, stdout, err = run_cli("vocode", src, "-o", out, "--png", *(["--vocoder", vocoder] if vocoder else []))
    assert code == 0, err
    info = sf.info(out)
    assert info.samplerate == 16000 and info.channels == 1 and info.duration == pytest.approx(4.0, abs=0.02)
    assert out.with_suffix(".png").exists()
    mse = float(stdout.split("log-mel MSE against the original ")[1].split(",")[0])
    # a copy, not noise: far nearer the original than white noise of the same level
    from deepperformer.audio.io import load_audio
    from deepperformer.audio.mel import log_mel

    original = load_audio(src, 16000)
    noise = np.random.default_rng(1).normal(0, original.std(), len(original)).astype(np.float32)
    noise_mse = float(((log_mel(noise) - log_mel(original)) ** 2).mean())
    assert 0 < mse < 0.5 * noise_mse, (mse, noise_mse)
    if vocoder is None:  # the shipped Vocos plays refined by default: its raw output is further from the mel
        assert "refinement iterations" in stdout
        code, raw, err = run_cli("vocode", src, "-o", tmp_path / "raw.wav", "--no-refine")
        assert code == 0 and "refinement" not in raw
        assert float(raw.split("log-mel MSE against the original ")[1].split(",")[0]) > mse


def test_vocode_bad_input_is_one_line(tmp_path, run_cli):
    out = tmp_path / "o.wav"
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    code, _, err = run_cli("vocode", bad, "-o", out, "--vocoder", "griffin-lim")
    assert_one_line_error(code, err, out, "broken.wav", "cannot decode audio")
    code, _, err = run_cli("vocode", tmp_path / "missing.flac", "-o", out, "--vocoder", "griffin-lim")
    assert_one_line_error(code, err, out, "missing.flac")
    code, _, err = run_cli("vocode", MP3, "-o", tmp_path / "o.mp3", "--vocoder", "griffin-lim")
    assert_one_line_error(code, err, tmp_path / "o.mp3", "output must end in .wav or .flac")
    code, _, err = run_cli("vocode", MP3, "-o", out, "--vocoder", str(DATA / "scores" / "minuet.mxl"))
    assert_one_line_error(code, err, out, "minuet.mxl", "not a deepperformer checkpoint")
    code, _, err = run_cli("vocode", MP3, "-o", out, "--refine", "-1")
    assert_one_line_error(code, err, out, "--refine -1")
