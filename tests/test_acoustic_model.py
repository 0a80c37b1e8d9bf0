"""Unit tests of the acoustic model: shapes, masks, the note-wise positional encoding, the ablation
switches, and chunk invariance."""

import numpy as np
import pytest
import torch

from deepperformer.acoustic.model import AcousticConfig, AcousticModel
from deepperformer.core.performance import PEDAL_DTYPE, Performance, make_notes
from deepperformer.data.notes import collate_notes, frame_positions, note_arrays

TINY = dict(d_model=16, n_heads=2, encoder_layers=1, encoder_ffn=32, decoder_layers=2, decoder_ffn=32, dropout=0.0)


def clip(onsets, offsets, pitches, frames, velocity=80):
    return {
        "pitch": np.array(pitches, dtype=np.int64),
        "velocity": np.full(len(pitches), velocity, dtype=np.int64),
        "onset": np.array(onsets, dtype=np.float32),
        "offset": np.array(offsets, dtype=np.float32),
        "pedal": np.zeros(frames, np.float32),
    }


def batch_of(*clips, performer=None, tempo=None):
    frames = [len(c["pedal"]) for c in clips]
    return collate_notes(list(clips), frames, performer or [0] * len(clips), tempo or [0.0] * len(clips))


def model(**over):
    torch.manual_seed(0)
    return AcousticModel(AcousticConfig(**{**TINY, **over})).eval()


def test_paper_size_and_output_shape():
    m = AcousticModel(AcousticConfig(n_performers=3))
    n_params = sum(p.numel() for p in m.parameters())
    assert 1.4e6 < n_params < 2.0e6  # the paper's acoustic model is about 1.6 M parameters
    b = batch_of(clip([0, 5], [10, 20], [60, 64], 30), clip([2], [8], [70], 25))
    assert m(b).shape == (2, 30, 80)


def test_padding_does_not_change_a_clip():
    m = model()
    a = clip([0, 5, 9], [10, 20, 12], [60, 64, 67], 30)
    b = clip([2], [8], [70], 25)
    with torch.no_grad():
        alone = m(batch_of(b))[0]
        together = m(batch_of(a, b))[1, :25]
    torch.testing.assert_close(alone, together, atol=1e-5, rtol=0)


def test_empty_clip_gives_finite_output():
    m = model()
    with torch.no_grad():
        y = m(batch_of(clip([], [], [], 20)))
    assert torch.isfinite(y).all()


def test_notewise_position_rises_linearly_and_restarts_at_each_note():
    b = batch_of(clip([2, 6], [6, 10], [60, 60], 12))
    sounding, position = frame_positions(b)
    s, p = sounding[0], position[0]
    assert s[:, 0].tolist() == [0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert s[:, 1].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0]
    np.testing.assert_allclose(p[2:6, 0].numpy(), [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(p[6:10, 1].numpy(), [0, 0.25, 0.5, 0.75])  # restarts at the second note
    assert (p[:, 0][s[:, 0] == 0] == 0).all()


def test_mixer_applies_one_plus_p_w_per_note_before_the_sum():
    m = model()
    b = batch_of(clip([0, 4], [8, 8], [60, 67], 8))
    notes = torch.randn(1, 2, 16)
    w = m.notewise_w
    out = m.mix(notes, b)[0]
    for t in range(8):
        expect = (1 + t / 8 * w) * notes[0, 0]
        if t >= 4:
            expect = expect + (1 + (t - 4) / 4 * w) * notes[0, 1]
        torch.testing.assert_close(out[t], expect)


def test_ablation_switches_remove_their_parts():
    full = model(n_performers=3)
    names = {n for n, _ in full.named_parameters()}
    assert (
        "notewise_w" in names
        and any(n.startswith("performer_emb") for n in names)
        and any(n.startswith("encoder") for n in names)
    )

    no_pe = model(use_notewise_pe=False)
    assert no_pe.notewise_w is None and "notewise_w" not in dict(no_pe.named_parameters())
    b = batch_of(clip([0], [8], [60], 8))
    notes = torch.randn(1, 1, 16)
    mixed = no_pe.mix(notes, b)[0]
    torch.testing.assert_close(mixed, notes[0, 0].expand(8, -1))  # a plain sum: constant inside the note

    no_perf = model(use_performer=False, n_performers=3)
    assert no_perf.performer_emb is None
    b1, b2 = batch_of(clip([0], [8], [60], 8), performer=[0]), batch_of(clip([0], [8], [60], 8), performer=[2])
    with torch.no_grad():
        torch.testing.assert_close(no_perf(b1), no_perf(b2))  # the performer no longer matters
        assert not torch.allclose(full(b1), full(b2))

    no_enc = model(use_encoder=False)
    assert not any(n.startswith(("encoder", "pitch_emb", "duration_emb")) for n, _ in no_enc.named_parameters())
    rolls = no_enc.rolls(batch_of(clip([0, 4], [4, 8], [60, 62], 8)))[0]
    assert rolls.shape == (8, 256)
    np.testing.assert_allclose(rolls[0:4, 128 + 60].numpy(), [1, 0.75, 0.5, 0.25])  # position roll falls 1 -> 0
    np.testing.assert_allclose(rolls[4:8, 62].numpy(), [80 / 127] * 4, rtol=1e-6)  # piano roll (velocity)
    assert rolls[4:8, 60].sum() == 0


def test_velocity_and_pedal_inputs():
    m = model(use_velocity=True, use_pedal=True)
    a = clip([0], [8], [60], 8, velocity=30)
    b = clip([0], [8], [60], 8, velocity=110)
    with torch.no_grad():
        assert not torch.allclose(m(batch_of(a)), m(batch_of(b)))
        c = dict(a, pedal=np.ones(8, np.float32))
        assert not torch.allclose(m(batch_of(a)), m(batch_of(c)))
    violin = model(use_velocity=False)
    with torch.no_grad():
        torch.testing.assert_close(violin(batch_of(a)), violin(batch_of(b)))


def test_note_arrays_from_a_performance_window():
    notes = make_notes([0.0, 1.0, 4.9], [2.0, 0.5, 1.0], [60, 62, 64], [70, 80, 90])
    pedal = np.array([(0.5, 100), (1.5, 0)], dtype=PEDAL_DTYPE)
    perf = Performance(notes, pedal).window(1.0, 5.0)
    arr = note_arrays(perf, 250)
    assert arr["pitch"].tolist() == [60, 62, 64]
    np.testing.assert_allclose(arr["onset"], [-62.5, 0.0, 243.75])  # frames of 16 ms
    assert arr["pedal"][:31].all() and not arr["pedal"][32:].any()


def test_relative_positions_make_the_model_shift_invariant():
    """With relative attention, shifting every note by k frames shifts the output by k frames."""
    m = model(decoder_window=0, encoder_window=0)
    a = clip([4, 9, 12], [10, 20, 15], [60, 64, 67], 40)
    b = clip([4 + 10, 9 + 10, 12 + 10], [20, 30, 25], [60, 64, 67], 50)
    with torch.no_grad():
        ya, yb = m(batch_of(a))[0], m(batch_of(b))[0]
    # away from the clip edges (where what each frame can see differs), the outputs agree
    torch.testing.assert_close(ya[10:25], yb[20:35], atol=0.05, rtol=0)


def test_windows_bound_the_receptive_field():
    cfg = AcousticConfig(**TINY, encoder_window=20, decoder_window=8, max_duration_frames=32)
    assert cfg.receptive_field() == 2 * 8 + 1 * 20 + 32
    assert AcousticConfig(**TINY).receptive_field() is None
    m = AcousticModel(cfg).eval()
    base = clip([0, 10, 200], [8, 20, 210], [60, 62, 64], 260)
    changed = clip([0, 10, 200], [8, 20, 210], [60, 62, 71], 260)  # only a far note differs
    with torch.no_grad():
        ya, yb = m(batch_of(base))[0], m(batch_of(changed))[0]
    torch.testing.assert_close(ya[: 200 - cfg.receptive_field()], yb[: 200 - cfg.receptive_field()])
    assert not torch.allclose(ya[200:], yb[200:])


@pytest.mark.parametrize("positional", ["relative", "absolute"])
def test_both_positional_modes_train(positional):
    m = AcousticModel(AcousticConfig(**TINY, positional=positional))
    b = batch_of(clip([0, 5], [10, 20], [60, 64], 30))
    # a learnable target: bins light up while the notes sound, brighter in the first half of a note
    sounding, position = frame_positions(b)
    level = (sounding[0] * (1.5 - position[0])).sum(-1)  # [T]
    target = torch.zeros(1, 30, 80)
    target[0, :, 10:20] = level[:, None]
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss = ((m(b) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.2 * losses[0]


def test_chunked_long_input_matches_unchunked():
    """A 40-second performance predicted in 8-second chunks equals the one-shot prediction: with a
    bounded receptive field the cross-fades lie where both chunks are exact."""
    from deepperformer.acoustic.inference import plan_chunks, predict_mel

    rng = np.random.default_rng(0)
    n = 120
    onset = np.sort(rng.uniform(0, 39, n))
    perf = Performance(make_notes(onset, rng.uniform(0.1, 0.8, n), rng.integers(55, 80, n), rng.integers(40, 100, n)))
    torch.manual_seed(0)
    m = AcousticModel(AcousticConfig(**TINY, encoder_window=25, decoder_window=12, max_duration_frames=64)).eval()
    whole = predict_mel(m, perf, chunk_seconds=1000)
    chunked = predict_mel(m, perf, chunk_seconds=8)
    assert len(plan_chunks(len(whole), int(8 / 0.016), 2 * m.config.receptive_field() + 32)) > 3
    np.testing.assert_allclose(chunked, whole, atol=2e-4)


def test_chunked_full_attention_is_close_away_from_joins():
    """Without a bounded receptive field the joins are cross-faded; frames far from them agree closely."""
    from deepperformer.acoustic.inference import predict_mel

    rng = np.random.default_rng(1)
    onset = np.sort(rng.uniform(0, 30, 80))
    perf = Performance(make_notes(onset, rng.uniform(0.2, 0.6, 80), rng.integers(55, 80, 80), np.full(80, 64)))
    torch.manual_seed(0)
    m = AcousticModel(AcousticConfig(**TINY)).eval()
    whole = predict_mel(m, perf, chunk_seconds=1000)
    chunked = predict_mel(m, perf, chunk_seconds=10, overlap_seconds=2)
    err = np.abs(chunked - whole).mean(axis=1)
    assert np.isfinite(chunked).all() and chunked.shape == whole.shape
    assert err.mean() < 0.1 * np.abs(whole - whole.mean(0)).mean()


def test_chunked_baseline_audio_equals_the_one_shot_output():
    """The baseline's chunks get its whole receptive field of context: the joins cannot be heard."""
    from deepperformer.acoustic.baseline import BaselineConfig, RollBaseline
    from deepperformer.acoustic.inference import predict_baseline_audio

    rng = np.random.default_rng(2)
    onset = np.sort(rng.uniform(0, 9, 30))
    perf = Performance(make_notes(onset, rng.uniform(0.2, 1.5, 30), rng.integers(50, 80, 30), rng.integers(40, 100, 30)))
    torch.manual_seed(0)
    m = RollBaseline(BaselineConfig(upsample_initial_channel=16, performer_dim=4, n_performers=2)).eval()
    whole = predict_baseline_audio(m, perf, performer=1, chunk_seconds=1000)
    chunked = predict_baseline_audio(m, perf, performer=1, chunk_seconds=2)
    assert whole.shape == chunked.shape and whole.shape[0] >= (perf.duration + 0.5) * 16000 - 256
    assert np.abs(whole).max() > 1e-3  # not silence
    np.testing.assert_allclose(chunked, whole, atol=1e-4)
    assert not np.allclose(predict_baseline_audio(m, perf, performer=0, chunk_seconds=2), chunked, atol=1e-4)


def test_baseline_generates_audio_conditioned_on_the_performer():
    from deepperformer.acoustic.baseline import BaselineConfig, RollBaseline

    torch.manual_seed(0)
    m = RollBaseline(BaselineConfig(upsample_initial_channel=16, performer_dim=4, n_performers=2)).eval()
    b0 = batch_of(clip([0, 4], [6, 10], [60, 67], 12), performer=[0])
    b1 = batch_of(clip([0, 4], [6, 10], [60, 67], 12), performer=[1])
    with torch.no_grad():
        wave = m(b0)
        mel = m.predict_log_mel(b0)
        assert wave.shape == (1, 12 * 256) and wave.abs().max() <= 1.0  # tanh output
        assert mel.shape == (1, 12, 80)
        assert not torch.allclose(m(b0), m(b1))
    v2 = RollBaseline(BaselineConfig())
    gen = v2.generator
    assert [u.conv.stride[0] for u in gen.ups] == [8, 8, 2, 2]  # HiFi-GAN V2's upsampling = hop 256
