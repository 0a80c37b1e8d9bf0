"""The command line: main paths work, and bad input gives one line naming the file, exit code 2,
no traceback and nothing half-written."""

import csv
import subprocess
import sys

import mido
import pytest


def assert_one_line_error(code, out, err, *fragments):
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("deepperformer: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for f in fragments:
        assert f in lines[0], lines[0]


def test_render_writes_midi_csv_and_png(tmp_path, data_dir, run_cli):
    code, out, err = run_cli("render", data_dir / "scores" / "minuet.musicxml", "-o", tmp_path / "m.mid")
    assert code == 0, err
    assert (tmp_path / "m.mid").exists() and (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    assert "16 notes" in out
    code, out, err = run_cli(
        "render", data_dir / "scores" / "minuet.krn", "-o", tmp_path / "m.csv", "--tempo", "60", "--no-png", "--deadpan"
    )
    assert code == 0
    rows = list(csv.DictReader(open(tmp_path / "m.csv")))
    assert len(rows) == 7 and float(rows[-1]["onset_sec"]) == pytest.approx(5.0)


def test_missing_score(tmp_path, run_cli):
    code, out, err = run_cli("render", tmp_path / "nope.musicxml", "-o", tmp_path / "o.mid")
    assert_one_line_error(code, out, err, "nope.musicxml", "score file not found")
    assert not (tmp_path / "o.mid").exists()


@pytest.mark.parametrize("content,problem", [("", "score file is empty"), ("<score-partwise><part", "cannot parse score")])
def test_empty_or_corrupted_musicxml(tmp_path, run_cli, content, problem):
    bad = tmp_path / "bad.musicxml"
    bad.write_text(content)
    code, out, err = run_cli("render", bad, "-o", tmp_path / "o.mid")
    assert_one_line_error(code, out, err, "bad.musicxml", problem)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.musicxml"]


def test_midi_with_no_notes(tmp_path, run_cli):
    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500000, time=0)]))
    mid.save(tmp_path / "silent.mid")
    code, out, err = run_cli("render", tmp_path / "silent.mid", "-o", tmp_path / "o.mid")
    assert_one_line_error(code, out, err, "silent.mid", "no notes")


def test_missing_dataset_folder_and_unknown_layout(tmp_path, data_dir, run_cli):
    code, out, err = run_cli("prepare", "bach-violin", tmp_path / "nowhere", "-o", tmp_path / "out")
    assert_one_line_error(code, out, err, "nowhere", "dataset folder not found")
    code, out, err = run_cli("prepare", "bach-violin", data_dir / "maestro", "-o", tmp_path / "out")
    assert_one_line_error(code, out, err, "maestro", "unknown layout")
    code, out, err = run_cli("prepare", "maestro", data_dir / "bach-violin", "-o", tmp_path / "out")
    assert_one_line_error(code, out, err, "bach-violin", "unknown layout")
    code, out, err = run_cli("prepare", "vienna4x22", data_dir / "nasap", "-o", tmp_path / "out")
    assert_one_line_error(code, out, err, "nasap", "unknown layout")
    assert not (tmp_path / "out").exists()  # nothing written


def test_unknown_dataset_name(tmp_path, data_dir, run_cli):
    code, out, err = run_cli("prepare", "musicnet", data_dir, "-o", tmp_path / "out")
    assert_one_line_error(code, out, err, "unknown dataset 'musicnet'")


def _stretch_alignment(root):
    """Make one movement's alignment run past the end of its audio."""
    p = root / "alignments" / "john-roe" / "john-roe_bwv1001_mov3.csv"
    rows = list(csv.reader(open(p)))
    rows[-1] = [str(float(rows[-1][0]) + 30), str(float(rows[-1][1]) + 30)]
    with open(p, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def test_alignment_longer_than_audio(tmp_path, fixture_copy, run_cli):
    root = fixture_copy("bach-violin")
    _stretch_alignment(root)
    code, out, err = run_cli("prepare", "bach-violin", root, "-o", tmp_path / "strict", "--strict")
    assert_one_line_error(code, out, err, "john-roe_bwv1001_mov3.csv", "alignment ends at", "after the end of its audio")
    assert not (tmp_path / "strict" / "manifest.csv").exists()
    # without --strict the recording is skipped, said so, and listed with its reason
    code, out, err = run_cli("prepare", "bach-violin", root, "-o", tmp_path / "lenient")
    assert code == 0
    assert "skipped john-roe_bwv1001_mov3" in err and "1 failed" in out
    skipped = list(csv.DictReader(open(tmp_path / "lenient" / "skipped.csv")))
    assert [s["recording"] for s in skipped] == ["john-roe_bwv1001_mov3"]
    assert "after the end of its audio" in skipped[0]["reason"]


def test_bad_option_values(tmp_path, data_dir, run_cli):
    code, out, err = run_cli("render", data_dir / "scores" / "minuet.musicxml", "-o", tmp_path / "o.wav")
    assert_one_line_error(code, out, err, "o.wav", "output must end in .mid")
    code, out, err = run_cli("render", data_dir / "scores" / "minuet.musicxml", "-o", tmp_path / "o.mid", "--tempo", "0")
    assert_one_line_error(code, out, err, "--tempo")
    code, out, err = run_cli("prepare", "bach-violin")
    assert code == 2 and "Traceback" not in err


def test_console_script_exit_code_and_no_traceback(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "deepperformer", "render", str(tmp_path / "x.mei"), "-o", str(tmp_path / "o.mid")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2
    assert res.stderr.strip() == f"deepperformer: error: {tmp_path / 'x.mei'}: score file not found"


def test_datasets_verb(run_cli):
    code, out, err = run_cli("datasets")
    assert code == 0
    for name in ("bach-violin", "maestro", "nasap", "vienna4x22", "batik", "synthetic"):
        assert name in out


def test_parts_are_listed_and_chosen(run_cli, data_dir, tmp_path):
    duo = data_dir / "scores" / "duo.musicxml"
    code, out, err = run_cli("parts", duo)
    assert code == 0, err
    assert "Violin" in out and "G4-D5" in out and "Piano" in out and "C2-G2" in out
    code, out, err = run_cli("render", duo, "-o", tmp_path / "v.csv", "--part", "violin", "--no-png")
    assert code == 0 and "4 notes" in out
    code, out, err = run_cli("render", duo, "-o", tmp_path / "p.csv", "--part", "2", "--no-png")
    assert code == 0 and "2 notes" in out
    code, out, err = run_cli("render", duo, "-o", tmp_path / "x.csv", "--part", "cello")
    assert code == 2 and "no part 'cello' (parts: 1: Violin; 2: Piano)" in err and not (tmp_path / "x.csv").exists()


def test_merged_parts_out_of_range_suggest_part(run_cli, data_dir, tmp_path):
    duo = data_dir / "scores" / "duo.musicxml"
    code, _, err = run_cli("synthesize", duo, "-o", tmp_path / "o.wav", "--instrument", "violin")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "outside the violin's range" in err and "1: Violin (4 notes, G4-D5)" in err and "--part" in err
    assert not (tmp_path / "o.wav").exists()
