"""The quality table's measures: frame-rate comb, pYIN pitch accuracy, and the table on fixtures."""

import numpy as np
import pytest

from deepperformer.evaluation.quality import frame_rate_comb, pitch_metrics

SR = 16000


def test_frame_rate_comb_finds_a_comb_at_multiples_of_the_hop_rate():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.02, SR * 4)
    pulses = np.zeros_like(noise)
    pulses[::256] = 0.5  # a pattern repeating every hop: partials at k * 62.5 Hz
    clean = frame_rate_comb(noise)
    combed = frame_rate_comb(noise + pulses)
    assert 0.5 < clean < 2.0 and combed > 5 * clean
    # a comb at another spacing is not counted
    other = np.zeros_like(noise)
    other[::300] = 0.5
    assert frame_rate_comb(noise + other) < 3 * clean


def test_pitch_metrics_score_a_tone_against_its_note():
    t = np.arange(SR * 2) / SR
    tone = (0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.1 * np.sin(2 * np.pi * 880.0 * t)).astype(np.float32)
    tone[SR:] = 0.0  # one second of A4, then silence
    right = pitch_metrics(tone, np.array([[0.0, 1.0, 69.0]]), SR)
    assert right["raw_pitch_accuracy"] > 0.9 and right["voicing_recall"] > 0.8
    wrong = pitch_metrics(tone, np.array([[0.0, 1.0, 72.0]]), SR)  # C5: 3 semitones off
    assert wrong["raw_pitch_accuracy"] < 0.1
    # a double stop: right if either note matches
    both = pitch_metrics(tone, np.array([[0.0, 1.0, 62.0], [0.0, 1.0, 69.0]]), SR)
    assert both["raw_pitch_accuracy"] > 0.9


def test_a_copy_is_held_to_the_original_s_pitch_track():
    """f0 agreement and V/UV F1 score a copy against the original's pYIN track, not the notes: the
    original against itself scores 1, a copy a minor third sharp about 0, a silent copy no voicing."""
    from deepperformer.evaluation.quality import f0_track

    t = np.arange(SR * 2) / SR
    tone = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    tone[SR:] = 0.0
    notes = np.array([[0.0, 2.0, 69.0]])
    track = f0_track(tone, SR)
    same = pitch_metrics(tone, notes, SR, reference=track)
    assert same["f0_agreement"] == 1.0 and same["vuv_f1"] == 1.0
    sharp = (0.3 * np.sin(2 * np.pi * 440.0 * 2 ** (3 / 12) * t)).astype(np.float32)
    sharp[SR:] = 0.0
    assert pitch_metrics(sharp, notes, SR, reference=track)["f0_agreement"] < 0.1
    quiet = pitch_metrics(np.zeros_like(tone), notes, SR, reference=track)
    assert quiet["vuv_f1"] < 0.2
    assert "f0_agreement" not in pitch_metrics(tone, notes, SR)


def test_quality_table_on_the_fixture_corpus(corpus, tmp_path):
    import shutil

    from deepperformer.evaluation.quality import (
        format_quality_table,
        quality_rows,
        summarize,
        write_report,
    )

    fluidsynth = shutil.which("fluidsynth") is not None
    rows = quality_rows([], [], [corpus], split="test", count=2, seconds=3.0, fluidsynth=fluidsynth, progress=False)
    systems = {r["system"] for r in rows}
    assert {"original", "griffin-lim copy"} <= systems and ("fluidsynth" in systems) == fluidsynth
    original = [r for r in rows if r["system"] == "original"]
    assert len(original) == 2 and all(r["logmel_mse"] == 0 and r["comb_ratio"] == pytest.approx(1.0) for r in original)
    gl = [r for r in rows if r["system"] == "griffin-lim copy"]
    assert all(0 < r["logmel_mse"] < 1.5 and 0 <= r["raw_pitch_accuracy"] <= 1 for r in gl)
    assert all(r["f0_agreement"] == 1.0 for r in original if not np.isnan(r["f0_agreement"]))
    table = format_quality_table(summarize(rows), "test", 3.0)
    assert "| griffin-lim copy |" in table and "raw pitch acc." in table and "f0 agreement" in table and "note F1" not in table
    write_report(tmp_path / "q", rows, table)
    assert (tmp_path / "q.csv").read_text().count("\n") == len(rows) + 1 and (tmp_path / "q.md").exists()


def test_table_labels_tell_runs_apart():
    from deepperformer.evaluation.quality import labels

    assert labels(["griffin-lim", "runs/a/model.pt", "runs/b/model.pt", "checkpoints/vocoder_vocos.pt"]) == [
        "griffin-lim",
        "a/model",
        "b/model",
        "vocoder_vocos",
    ]


def test_piano_rows_give_note_precision_and_recall():
    """A transcription that misses one of four played notes and adds a fifth: recall 3/4, precision 3/4
    (what tells a vocoder's spurious notes from its smeared attacks, which F1 alone hides)."""
    from deepperformer.audio.mel import MelConfig, log_mel
    from deepperformer.evaluation.quality import Excerpt, frame_rate_comb, measure

    cfg = MelConfig()
    audio = np.random.default_rng(0).normal(0, 0.05, SR * 3).astype(np.float32)
    notes = np.array([[0.2, 0.6, 60.0], [0.8, 1.2, 64.0], [1.4, 1.8, 67.0], [2.0, 2.4, 72.0]])
    heard = np.array([[0.2, 0.6, 60.0], [0.8, 1.2, 64.0], [1.4, 1.8, 67.0], [2.5, 2.8, 50.0]])
    ex = Excerpt("x", "c", "piano", audio, notes, None, "p", 120.0)
    original = {"mel": log_mel(audio, cfg), "comb": frame_rate_comb(audio, SR, cfg.hop_length)}
    row = measure(audio, ex, original, cfg, transcriber=lambda a, sr: heard)
    assert row["note_precision"] == pytest.approx(0.75) and row["note_recall"] == pytest.approx(0.75)
    assert row["note_f1"] == pytest.approx(0.75) and row["logmel_mse"] == 0
