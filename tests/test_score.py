import numpy as np
import pytest

from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.score import SCORE_NOTE_DTYPE, Score, load_score

MINUET_PITCHES = [60, 64, 65, 67, 69, 71, 72, 74]  # one pass: chord C+E, grace F, G, tied A, B, C, D


def test_musicxml_notes_chords_ties_grace_dynamics_tempo(data_dir):
    s = load_score(data_dir / "scores" / "minuet.musicxml", unfold="none")
    assert s.notes.dtype == SCORE_NOTE_DTYPE
    assert s.notes["pitch"].tolist() == MINUET_PITCHES
    by_id = {n["id"]: n for n in s.notes}
    assert by_id["n1"]["onset_quarter"] == by_id["n2"]["onset_quarter"] == 0  # chord
    assert by_id["n5"]["duration_quarter"] == 2.0 and "n6" not in by_id  # tie joined
    assert by_id["n3"]["is_grace"] and by_id["n3"]["duration_quarter"] == 0 and by_id["n3"]["grace_order"] >= 0
    assert by_id["n1"]["dynamic"] == "p" and by_id["n7"]["dynamic"] == "f"
    assert s.tempos.tolist() == [(0.0, 90.0)]
    assert s.duration_quarter == 6.0


def test_repeats_unfold_as_played(data_dir):
    path = data_dir / "scores" / "minuet.musicxml"
    once, twice = load_score(path, unfold="minimal"), load_score(path, unfold="maximal")
    assert len(twice) == 2 * len(once)
    assert {i.rsplit("-", 1)[1] for i in twice.notes["id"]} == {"1", "2"}
    second = twice.notes[twice.notes["onset_quarter"] >= 6]
    assert second["pitch"].tolist() == MINUET_PITCHES


def test_repeats_partitura_cannot_unfold_fall_back_with_a_warning(data_dir, monkeypatch, run_cli, tmp_path):
    import partitura as pt

    from deepperformer.core.errors import DeepPerformerWarning

    path = data_dir / "scores" / "minuet.musicxml"

    def broken(part, *a, **k):
        raise AttributeError("'NoneType' object has no attribute 'start'")  # what partitura raised on a kern piece

    monkeypatch.setattr(pt.score, "unfold_part_maximal", broken)
    with pytest.warns(DeepPerformerWarning, match="minuet.musicxml: cannot unfold repeats .*unfolded minimally instead"):
        assert len(load_score(path)) == len(load_score(path, unfold="minimal"))
    monkeypatch.setattr(pt.score, "unfold_part_minimal", broken)
    with pytest.warns(DeepPerformerWarning, match="played as written"):
        assert len(load_score(path)) == len(load_score(path, unfold="none"))
    code, out, err = run_cli("render", path, "-o", tmp_path / "o.mid", "--no-png")  # the command goes on
    assert code == 0 and (tmp_path / "o.mid").exists()
    assert "deepperformer: warning: " in err and "played as written" in err and "Traceback" not in err


def test_multi_part_kern_with_a_modal_key_merges(data_dir):
    # partitura keeps "*G:mix" as a bare KernElement without an end; merge_parts used to fail on it
    # (a third of the kern files in the music21 corpus: Palestrina, Beethoven quartets)
    s = load_score(data_dir / "scores" / "duet.krn")
    assert len(s) == 8 and sorted(set(s.notes["pitch"].tolist())) == [55, 57, 59, 67, 69, 71]


@pytest.mark.parametrize("name,n_notes", [("minuet.mxl", 8), ("minuet.krn", 7), ("minuet.mei", 8), ("minuet.mid", 8)])
def test_other_formats(data_dir, name, n_notes):
    s = load_score(data_dir / "scores" / name, unfold="none")
    assert len(s) == n_notes
    assert set(s.notes["pitch"]) <= set(MINUET_PITCHES)
    assert s.notes["onset_quarter"].min() == 0


def test_kern_keeps_its_tempo_and_tie(data_dir):
    s = load_score(data_dir / "scores" / "minuet.krn")
    assert s.tempos["qpm"].tolist() == [90.0]
    assert 2.0 in s.notes["duration_quarter"].tolist()


def test_save_load_round_trip(tmp_path, data_dir):
    s = load_score(data_dir / "scores" / "minuet.musicxml")
    s.save(tmp_path / "s.npz")
    t = Score.load(tmp_path / "s.npz")
    assert np.array_equal(s.notes, t.notes) and np.array_equal(s.tempos, t.tempos) and t.source == s.source


def test_bad_scores(tmp_path, data_dir):
    with pytest.raises(DeepPerformerError, match="missing.musicxml: score file not found"):
        load_score(tmp_path / "missing.musicxml")
    empty = tmp_path / "empty.musicxml"
    empty.write_text("")
    with pytest.raises(DeepPerformerError, match="empty.musicxml: score file is empty"):
        load_score(empty)
    broken = tmp_path / "broken.musicxml"
    broken.write_text((data_dir / "scores" / "minuet.musicxml").read_text()[:900])
    with pytest.raises(DeepPerformerError, match="broken.musicxml: cannot parse score"):
        load_score(broken)
    no_notes = tmp_path / "rests.musicxml"
    text = (data_dir / "scores" / "minuet.musicxml").read_text()
    import re

    no_notes.write_text(re.sub(r"<note id.*?</note>", "", text, flags=re.S))
    with pytest.raises(DeepPerformerError, match="score has no notes"):
        load_score(no_notes)
    with pytest.raises(DeepPerformerError, match="unsupported score format '.txt'"):
        (tmp_path / "a.txt").write_text("x")
        load_score(tmp_path / "a.txt")
