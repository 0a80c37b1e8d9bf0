import numpy as np
import pytest

from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import (
    DEFAULT_QPM,
    DYNAMIC_VELOCITY,
    MIN_DURATION_SEC,
    PEDAL_DTYPE,
    Performance,
    load_bach_violin,
    load_match,
    load_nasap,
    load_performance,
    load_performance_csv,
    load_performance_midi,
    make_notes,
)
from deepperformer.core.score import SCORE_NOTE_DTYPE, TEMPO_DTYPE, Score, load_score
from deepperformer.render.deadpan import GRACE_SEC, deadpan


def test_midi_round_trip_with_pedal(tmp_path):
    notes = make_notes([0.0, 0.5, 0.5, 1.25], [0.4, 1.0, 0.2, 0.5], [60, 64, 67, 72], [30, 64, 90, 127])
    pedal = np.array([(0.0, 0), (0.45, 100), (1.5, 0)], dtype=PEDAL_DTYPE)
    Performance(notes, pedal).write_midi(tmp_path / "p.mid", program=0)
    back = load_performance_midi(tmp_path / "p.mid")
    assert back.notes["pitch"].tolist() == [60, 64, 67, 72]
    assert back.notes["velocity"].tolist() == [30, 64, 90, 127]
    np.testing.assert_allclose(back.notes["onset_sec"], [0.0, 0.5, 0.5, 1.25], atol=2e-3)
    np.testing.assert_allclose(back.notes["duration_sec"], [0.4, 1.0, 0.2, 0.5], atol=2e-3)
    assert back.pedal["value"].tolist() == [0, 100, 0]
    np.testing.assert_allclose(back.pedal["time_sec"], [0.0, 0.45, 1.5], atol=2e-3)


def test_pedal_down_is_cc64_at_or_above_64():
    pedal = np.array([(0.0, 63), (0.5, 64), (1.0, 127), (1.5, 0)], dtype=PEDAL_DTYPE)
    assert Performance(make_notes([0.0], [1.0], [60], [64]), pedal).pedal_down().tolist() == [False, True, True, False]


def test_window_keeps_overlapping_notes_relative_to_start():
    notes = make_notes([0.0, 4.0, 6.0, 11.0], [5.0, 3.0, 1.0, 1.0], [60, 62, 64, 65], [64] * 4)
    pedal = np.array([(1.0, 127), (4.5, 0), (5.5, 127)], dtype=PEDAL_DTYPE)
    w = Performance(notes, pedal).window(5.0, 10.0)
    assert w.notes["pitch"].tolist() == [62, 64]
    np.testing.assert_allclose(w.notes["onset_sec"], [-1.0, 1.0])
    assert w.pedal["value"].tolist() == [0, 127]  # the state at the window start is kept
    np.testing.assert_allclose(w.pedal["time_sec"], [0.0, 0.5])


def test_csv_round_trip(tmp_path):
    notes = make_notes([0.0, 0.25], [0.25, 0.5], [60, 61], [10, 20], ["n1", ""])
    Performance(notes).write_csv(tmp_path / "p.csv")
    back = load_performance(tmp_path / "p.csv")
    assert np.array_equal(back.notes, load_performance_csv(tmp_path / "p.csv").notes)
    assert back.notes["score_id"].tolist() == ["n1", ""]
    np.testing.assert_allclose(back.notes["duration_sec"], [0.25, 0.5])


def test_match_file_links_score_ids(data_dir):
    path = data_dir / "vienna4x22" / "match" / "Minuet_p01.match"
    perf, alignment = load_match(path)
    score = load_score(data_dir / "vienna4x22" / "musicxml" / "Minuet.musicxml", unfold="none")
    labels = [a["label"] for a in alignment]
    assert labels.count("deletion") == 1 and labels.count("insertion") == 1
    aligned = perf.notes[perf.notes["score_id"] != ""]
    assert len(aligned) == len(score) - 1  # the deleted last note
    assert (perf.notes["score_id"] == "").sum() == 1  # the inserted note
    sp = {n["id"]: n["pitch"] for n in score.notes}
    assert all(sp[n["score_id"]] == n["pitch"] for n in aligned)
    assert len(perf.pedal) == 5 and perf.pedal["value"].max() == 90


def test_nasap_alignment_refers_to_unfolded_ids(data_dir):
    d = data_dir / "nasap" / "Bach" / "Prelude" / "bwv_999"
    perf = load_nasap(d / "Abc01M.mid", d / "Abc01M_note_alignments" / "note_alignment.tsv")
    score = load_score(d / "xml_score.musicxml", unfold="maximal")
    ids = perf.notes["score_id"]
    assert (ids != "").all() and np.isin(ids, score.notes["id"]).all()
    assert any(i.endswith("-2") for i in ids)  # notes of the repeat
    sp = {n["id"]: n["pitch"] for n in score.notes}
    assert all(sp[n["score_id"]] == n["pitch"] for n in perf.notes)


def test_bach_violin_csvs(data_dir):
    c = data_dir / "bach-violin"
    score, perf = load_bach_violin(
        c / "notes/jane-doe/jane-doe_bwv1001_mov1.csv", c / "alignments/jane-doe/jane-doe_bwv1001_mov1.csv"
    )
    assert len(score) == len(perf) == 16
    assert score.notes["onset_quarter"].max() == 11.0  # 264 ticks / 24
    assert perf.notes["duration_sec"].min() >= MIN_DURATION_SEC  # the grace notes aligned with end == start
    assert np.isin(perf.notes["score_id"], score.notes["id"]).all()


def test_bach_violin_row_mismatch(tmp_path, data_dir):
    c = data_dir / "bach-violin"
    lines = (c / "alignments/jane-doe/jane-doe_bwv1001_mov1.csv").read_text().splitlines()
    (tmp_path / "a.csv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(DeepPerformerError, match=r"a.csv: 15 alignment rows for 16 notes"):
        load_bach_violin(c / "notes/jane-doe/jane-doe_bwv1001_mov1.csv", tmp_path / "a.csv")


def test_midi_without_notes(tmp_path):
    import mido

    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack([mido.Message("program_change", program=0, time=0)]))
    mid.save(tmp_path / "empty.mid")
    with pytest.raises(DeepPerformerError, match="empty.mid: MIDI file has no notes"):
        load_performance_midi(tmp_path / "empty.mid")


def test_deadpan_tempo_dynamics_and_grace(data_dir):
    s = load_score(data_dir / "scores" / "minuet.musicxml", unfold="none")
    p = deadpan(s)
    by = {n["score_id"]: n for n in p.notes}
    beat = 60 / 90
    assert by["n4"]["onset_sec"] == pytest.approx(1 * beat)
    assert by["n5"]["duration_sec"] == pytest.approx(2 * beat)  # tied note
    assert by["n9"]["onset_sec"] == pytest.approx(5 * beat)
    assert by["n3"]["onset_sec"] == pytest.approx(beat - GRACE_SEC) and by["n3"]["duration_sec"] == pytest.approx(GRACE_SEC)
    assert by["n1"]["velocity"] == DYNAMIC_VELOCITY["p"] and by["n7"]["velocity"] == DYNAMIC_VELOCITY["f"]
    fast = deadpan(s, qpm=180, velocity=50)
    assert fast.duration == pytest.approx(p.duration / 2)
    assert set(fast.notes["velocity"]) == {50}


def test_deadpan_tempo_changes_and_default():
    notes = np.zeros(3, dtype=SCORE_NOTE_DTYPE)
    notes["onset_quarter"], notes["duration_quarter"], notes["pitch"], notes["grace_order"] = (
        [0, 2, 4],
        [1, 1, 1],
        [60, 62, 64],
        -1,
    )
    notes["id"] = ["a", "b", "c"]
    changing = Score(notes, np.array([(0.0, 60.0), (2.0, 120.0)], dtype=TEMPO_DTYPE))
    np.testing.assert_allclose(deadpan(changing).notes["onset_sec"], [0.0, 2.0, 3.0])
    unmarked = Score(notes, np.zeros(0, TEMPO_DTYPE))
    np.testing.assert_allclose(deadpan(unmarked).notes["onset_sec"], np.array([0, 2, 4]) * 60 / DEFAULT_QPM)


def test_midi_score_round_trip(data_dir):
    """A MIDI score read back and rendered deadpan reproduces the times it was written with."""
    s = load_score(data_dir / "scores" / "minuet.mid", unfold="none")
    p = deadpan(s)
    ref = deadpan(load_score(data_dir / "scores" / "minuet.musicxml", unfold="none"))
    np.testing.assert_allclose(np.sort(p.notes["onset_sec"]), np.sort(ref.notes["onset_sec"]), atol=5e-3)


def test_unknown_performance_format(tmp_path):
    with pytest.raises(DeepPerformerError, match="unsupported performance format '.txt'"):
        load_performance(tmp_path / "p.txt")
