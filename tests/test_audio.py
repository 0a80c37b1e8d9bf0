import numpy as np
import pytest
import soundfile as sf
import torch

from deepperformer.audio.io import load_audio, write_audio
from deepperformer.audio.mel import LogMel, MelConfig, log_mel
from deepperformer.core.errors import DeepPerformerError


def test_mel_config_is_the_papers():
    c = MelConfig()
    assert (c.sample_rate, c.n_fft, c.win_length, c.hop_length, c.n_mels, c.f_min, c.f_max, c.log_floor) == (
        16000,
        1024,
        1024,
        256,
        80,
        0.0,
        8000.0,
        1e-5,
    )
    assert c.n_frames(80000) == 313  # a 5-second clip
    assert MelConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError):
        MelConfig.from_dict({**c.to_dict(), "bogus": 1})


def test_mel_config_mismatch_is_refused_with_a_clear_message():
    with pytest.raises(
        DeepPerformerError, match=r"ckpt.pt: the vocoder uses another mel configuration \(n_mels 128, expected 80\)"
    ):
        MelConfig().check_compatible(MelConfig(n_mels=128), "ckpt.pt", "the vocoder")
    MelConfig().check_compatible(MelConfig(), "x", "same")  # no error


def test_logmel_shape_floor_and_sine_peak():
    sr = 16000
    t = np.arange(sr) / sr
    wave = torch.from_numpy((0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    m = LogMel()(wave)
    assert m.shape == (63, 80)
    assert m.min() >= np.log(1e-5) - 1e-6
    peak_bin = int(m[30].argmax())
    import librosa

    centres = librosa.mel_frequencies(n_mels=82, fmin=0, fmax=8000, htk=False)[1:-1]
    assert abs(centres[peak_bin] - 1000) < 120  # the energy sits in the 1 kHz band
    silent = LogMel()(torch.zeros(sr))
    assert torch.allclose(silent, torch.full_like(silent, np.log(1e-5)))


def test_chunked_log_mel_equals_one_shot():
    rng = np.random.default_rng(0)
    a = (0.1 * rng.standard_normal(16000 * 7 + 123)).astype(np.float32)
    ref = LogMel()(torch.from_numpy(a)).numpy()
    chunked = log_mel(a, chunk_seconds=1.3)
    assert chunked.shape == ref.shape
    np.testing.assert_allclose(chunked, ref, atol=1e-4)


@pytest.mark.parametrize(
    "fmt,subtype,suffix",
    [("WAV", "PCM_16", ".wav"), ("FLAC", "PCM_16", ".flac"), ("MP3", "MPEG_LAYER_III", ".mp3"), ("OGG", "OPUS", ".opus")],
)
def test_load_audio_formats_resample_and_downmix(tmp_path, fmt, subtype, suffix):
    sr = 48000 if fmt == "OGG" else 22050  # opus only supports 8/12/16/24/48 kHz
    t = np.arange(int(sr * 1.0)) / sr
    left = 0.4 * np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([left, left], axis=1).astype(np.float32)
    path = tmp_path / f"a{suffix}"
    sf.write(path, stereo, sr, format=fmt, subtype=subtype)
    a = load_audio(path, 16000)
    assert a.ndim == 1 and a.dtype == np.float32
    assert abs(len(a) / 16000 - 1.0) < 0.1  # encoders may pad a little
    spec = np.abs(np.fft.rfft(a[2000:14000]))
    assert abs(np.argmax(spec) * 16000 / 12000 - 440) < 5


def test_load_audio_offset_and_duration(tmp_path):
    a = np.linspace(-0.5, 0.5, 16000 * 3, dtype=np.float32)
    write_audio(tmp_path / "r.wav", a)
    part = load_audio(tmp_path / "r.wav", offset=1.0, duration=0.5)
    assert len(part) == 8000
    np.testing.assert_allclose(part, a[16000:24000], atol=1e-4)


def test_load_audio_errors(tmp_path):
    with pytest.raises(DeepPerformerError, match="audio file not found"):
        load_audio(tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not really a wav file at all")
    with pytest.raises(DeepPerformerError, match="bad.wav: cannot decode audio"):
        load_audio(bad)
    with pytest.raises(DeepPerformerError, match="unsupported audio format"):
        (tmp_path / "x.m4a").write_bytes(b"x")
        load_audio(tmp_path / "x.m4a")


def test_write_audio_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "out.wav"

    def broken(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sf, "write", broken)
    with pytest.raises(RuntimeError):
        write_audio(path, np.zeros(100))
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary is left behind


def test_written_files_get_ordinary_permissions(tmp_path):
    import os
    import stat

    write_audio(tmp_path / "a.wav", np.zeros(100))
    mode = stat.S_IMODE(os.stat(tmp_path / "a.wav").st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # not the 0600 of a temporary file
