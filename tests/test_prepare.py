import json
import re
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from deepperformer.audio.io import load_audio
from deepperformer.audio.mel import MelConfig, log_mel
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import Performance
from deepperformer.core.score import Score
from deepperformer.data.base import PrepareOptions
from deepperformer.data.manifest import COLUMNS, read_manifest, write_manifest
from deepperformer.data.prepare import prepare
from deepperformer.data.splits import assign_splits, load_splits


def quiet(*a, **k):
    pass


def check_split_hygiene(rows):
    split_of = {}
    for r in rows:
        assert split_of.setdefault(r.piece, r.split) == r.split, f"piece {r.piece} is in two splits"


def test_bach_violin(tmp_path, data_dir):
    out = tmp_path / "bv"
    s = prepare("bach-violin", data_dir / "bach-violin", out, log=quiet)
    assert s["recordings"] == 4 and s["failed"] == 0
    assert "1 of 5 movements skipped: audio not present" in s["remarks"]
    rows = read_manifest(out / "manifest.csv")
    assert {r.performer for r in rows} == {"jane-doe", "john-roe"}
    assert {r.instrument for r in rows} == {"violin"}
    assert all(r.clip_id.startswith(r.recording) for r in rows)
    # 10 s slices -> two 5-second clips each
    assert sorted({r.recording: r.end_sec for r in rows}.values()) == [10.0, 10.0, 10.0, 10.0]
    check_split_hygiene(rows)
    splits = load_splits(out / "splits.json")
    assert {r.piece: r.split for r in rows} == {p: splits[p] for p in {r.piece for r in rows}}
    r = rows[0]
    mel = np.load(out / r.mel)
    assert mel.dtype == np.float16 and mel.shape[1] == 80
    assert r.end_frame - r.start_frame == 312
    assert r.tempo_qpm == 90.0  # from tempos/<collection>/<filename>.txt
    # the cached mel is the MelConfig mel of the cached audio
    audio = load_audio(out / r.audio)
    np.testing.assert_allclose(mel.astype(np.float32), log_mel(audio), atol=0.01)  # float16 rounding
    score = Score.load(out / r.score)
    perf = Performance.load(out / r.performance)
    assert len(score) == len(perf) == 16
    assert json.loads((out / "mel_config.json").read_text()) == MelConfig().to_dict()
    previews = sorted(p.name for p in (out / "previews").iterdir())
    assert previews == ["jane-doe.png", "john-roe.png"]
    assert (out / "previews" / "jane-doe.png").read_bytes()[:4] == b"\x89PNG"


def test_bach_violin_slice_offset_and_baroque_tuning(tmp_path, data_dir):
    out = tmp_path / "bv"
    prepare("bach-violin", data_dir / "bach-violin", out, log=quiet)
    rows = {r.recording: r for r in read_manifest(out / "manifest.csv")}
    # jane-doe mov1 starts 1 s into its file: the cached audio starts at the slice
    assert rows["jane-doe_bwv1001_mov1"].source_offset_sec == 1.0
    a = load_audio(out / rows["jane-doe_bwv1001_mov1"].audio)
    b = load_audio(out / rows["john-roe_bwv1001_mov3"].audio)
    n = min(len(a), len(b))
    assert np.corrcoef(a[:n], b[:n])[0, 1] > 0.9  # same notes at the same times
    # mov2 has baroque_tuning=1: its performance is a semitone below its score
    p2 = Performance.load(out / rows["jane-doe_bwv1001_mov2"].performance)
    p1 = Performance.load(out / rows["jane-doe_bwv1001_mov1"].performance)
    assert (p2.notes["pitch"] == p1.notes["pitch"] - 1).all()
    s2 = Score.load(out / rows["jane-doe_bwv1001_mov2"].score)
    assert sorted(s2.notes["pitch"]) == sorted(p1.notes["pitch"])
    keep = prepare(
        "bach-violin", data_dir / "bach-violin", tmp_path / "keep", options=PrepareOptions(baroque_tuning="skip"), log=quiet
    )
    assert keep["recordings"] == 3


def test_resume_after_interruption(tmp_path, data_dir, monkeypatch):
    out = tmp_path / "bv"
    from deepperformer.data import bach_violin

    calls = []
    real = bach_violin.process

    class Stop(BaseException):  # like KeyboardInterrupt: not caught as a per-recording failure
        pass

    def flaky(rec, o):
        calls.append(rec.rec_id)
        if len(calls) == 2 and interrupt:
            raise Stop  # the user stops the run in the middle
        return real(rec, o)

    monkeypatch.setattr(bach_violin.SPEC, "process", flaky)
    interrupt = True
    with pytest.raises(Stop):
        prepare("bach-violin", data_dir / "bach-violin", out, log=quiet)
    interrupt = False
    assert not (out / "manifest.csv").exists()  # nothing half-written under the final name
    assert not list(out.rglob("*.partial*"))
    calls.clear()
    logs = []
    s = prepare("bach-violin", data_dir / "bach-violin", out, log=logs.append)
    assert len(calls) == 3 and s["recordings"] == 4  # only the unfinished recordings were redone
    assert any("resumed: 1 recordings" in line for line in logs)


@pytest.mark.parametrize("dataset", ["bach-violin", "nasap"])  # nasap: performances of one score go to one worker
def test_parallel_workers_give_the_same_manifest(tmp_path, data_dir, dataset):
    prepare(dataset, data_dir / dataset, tmp_path / "a", workers=1, log=quiet)
    prepare(dataset, data_dir / dataset, tmp_path / "b", workers=2, log=quiet)
    assert (tmp_path / "a" / "manifest.csv").read_text() == (tmp_path / "b" / "manifest.csv").read_text().replace(
        str(tmp_path / "b"), str(tmp_path / "a")
    )


@pytest.mark.parametrize("meta", ["csv", "json"])
def test_maestro_layout(tmp_path, data_dir, meta):
    root = tmp_path / "maestro"
    shutil.copytree(data_dir / "maestro", root)
    (root / f"maestro-v3.0.0.{'json' if meta == 'csv' else 'csv'}").unlink()
    s = prepare("maestro", root, tmp_path / "out", log=quiet)
    rows = read_manifest(tmp_path / "out" / "manifest.csv")
    assert s["recordings"] == 4
    assert {r.performer for r in rows} == {"maestro-2004", "maestro-2018"}
    assert {r.split for r in rows} == {"train", "validation", "test"}  # the official splits
    check_split_hygiene(rows)
    perf = Performance.load(tmp_path / "out" / rows[0].performance)
    assert len(perf.pedal) > 0  # sustain pedal kept from the MIDI
    audio = load_audio(tmp_path / "out" / rows[0].audio)  # 4 kHz stereo source -> 16 kHz mono cache
    assert audio.ndim == 1 and abs(len(audio) / 16000 - rows[0].end_sec) < 0.01


def test_maestro_piece_in_two_official_splits_goes_to_the_held_out_one(tmp_path, data_dir):
    root = tmp_path / "maestro"
    shutil.copytree(data_dir / "maestro", root)
    (root / "maestro-v3.0.0.json").unlink()
    text = (root / "maestro-v3.0.0.csv").read_text().replace("Prelude", "Minuet")
    (root / "maestro-v3.0.0.csv").write_text(text)
    s = prepare("maestro", root, tmp_path / "out", log=quiet)
    rows = read_manifest(tmp_path / "out" / "manifest.csv")
    check_split_hygiene(rows)
    assert {r.split for r in rows if r.piece == "Anonymous - Minuet"} == {"validation"}
    assert any("moved to a more held-out split" in m for m in s["remarks"])


def test_nasap(tmp_path, data_dir):
    s = prepare("nasap", data_dir / "nasap", tmp_path / "out", log=quiet)
    assert s["recordings"] == 2
    assert any("robust_note_alignment != 1" in m for m in s["remarks"])
    assert any("1 of 4 performances skipped: score, MIDI or alignment file missing" in m for m in s["remarks"])
    rows = read_manifest(tmp_path / "out" / "manifest.csv")
    assert {r.performer for r in rows} == {"abc", "xyz"}
    assert all(r.audio == "" and r.mel == "" for r in rows)
    score = Score.load(tmp_path / "out" / rows[0].score)
    perf = Performance.load(tmp_path / "out" / rows[0].performance)
    assert np.isin(perf.notes["score_id"], score.notes["id"]).all()


def test_nasap_from_the_shipped_archive(tmp_path, data_dir):
    """The shared copy ships the folders as nasap_core.tar.xz beside metadata.csv."""
    root = tmp_path / "nasap"
    root.mkdir()
    shutil.copy(data_dir / "nasap" / "metadata.csv", root)
    with tarfile.open(root / "nasap_core.tar.xz", "w:xz") as t:
        for d in ("Bach", "Liszt"):
            t.add(data_dir / "nasap" / d, arcname=d)
    s = prepare("nasap", root, tmp_path / "out", log=quiet)
    assert s["recordings"] == 2 and (tmp_path / "out" / "_source").is_dir()


def test_vienna_and_batik(tmp_path, data_dir):
    v = prepare("vienna4x22", data_dir / "vienna4x22", tmp_path / "v", log=quiet)
    assert v["recordings"] == 3
    rows = read_manifest(tmp_path / "v" / "manifest.csv")
    assert {r.performer for r in rows} == {"pianist-01", "pianist-02", "pianist-03"}
    assert {r.piece for r in rows} == {"vienna4x22/Minuet"}
    assert all(abs(r.tempo_qpm - 90) < 3 for r in rows)  # estimated from score + alignment
    # Batik, shipped as a tarball of the repository
    root = tmp_path / "batik"
    root.mkdir()
    with tarfile.open(root / "batik_plays_mozart.tar.xz", "w:xz") as t:
        t.add(data_dir / "batik", arcname="batik_plays_mozart")
    b = prepare("batik", root, tmp_path / "b", log=quiet)
    rows = read_manifest(tmp_path / "b" / "manifest.csv")
    assert b["recordings"] == 2 and {r.performer for r in rows} == {"roland-batik"}
    assert {r.piece for r in rows} == {"mozart-k999-1", "mozart-k999-2"}
    perf = Performance.load(tmp_path / "b" / rows[0].performance)
    assert any(i.endswith("-2") for i in perf.notes["score_id"])  # ids of the unfolded score


def test_bach_violin_timing_aligns_every_movement_to_its_musicxml(tmp_path, data_dir, fixture_copy, monkeypatch):
    """The renderer's violin corpus: every movement's notes, audio or not, relabelled with the MusicXML
    score's note ids (onset and pitch), so the codec and the score features apply; a movement two
    violinists played is parsed once."""
    from deepperformer.data import aligned
    from deepperformer.render.corpus import load_examples

    aligned.cached_score.cache_clear()
    parsed, real = [], aligned.load_score
    monkeypatch.setattr(aligned, "load_score", lambda path, **kw: parsed.append(Path(path).name) or real(path, **kw))
    s = prepare("bach-violin-timing", data_dir / "bach-violin", tmp_path / "t", log=quiet)
    assert s["recordings"] == 5 and s["failed"] == 0
    assert sorted(parsed) == ["bwv1001_mov1.mxl", "bwv1001_mov2.mxl", "bwv1001_mov3.mxl", "bwv1001_mov4.mxl"]
    rows = read_manifest(tmp_path / "t" / "manifest.csv")
    assert all(r.score and not r.audio and r.instrument == "violin" for r in rows)
    check_split_hygiene(rows)
    examples = load_examples([tmp_path / "t" / "manifest.csv"])
    assert len(examples) == 5
    for ex in examples:
        assert ex.score.features is not None and len(ex.enc.rows) >= 0.9 * len(ex.score)
    # a movement whose notes are not its score's (here: every pitch a tone up) is refused, naming the notes file
    root = fixture_copy("bach-violin")
    notes = root / "notes" / "jane-doe" / "jane-doe_bwv1001_mov1.csv"
    lines = notes.read_text().splitlines()
    head, cols = lines[0], lines[0].split(",")
    k = cols.index("pitch")
    shifted = [",".join(str(int(v) + 2) if i == k else v for i, v in enumerate(line.split(","))) for line in lines[1:]]
    notes.write_text("\n".join([head, *shifted]) + "\n")
    s = prepare("bach-violin-timing", root, tmp_path / "t2", log=quiet)
    assert s["failed"] == 1
    skipped = (tmp_path / "t2" / "skipped.csv").read_text()
    assert "jane-doe_bwv1001_mov1" in skipped and "% of its notes found in bwv1001_mov1.mxl" in skipped


def test_splits_never_share_a_piece_and_respect_fixed_lists():
    pieces = {f"p{i}": float(10 + i) for i in range(30)}
    s = assign_splits(pieces)
    assert set(s) == set(pieces)
    total = sum(pieces.values())
    for name in ("validation", "test"):
        share = sum(pieces[p] for p in s if s[p] == name) / total
        assert 0.08 < share < 0.2
    assert assign_splits(pieces) == s  # deterministic
    fixed = assign_splits(pieces, fixed={"p0": "test", "p1": "validation", "p2": "train"})
    assert (fixed["p0"], fixed["p1"], fixed["p2"]) == ("test", "validation", "train")
    assert set(assign_splits({"a": 1.0, "b": 1.0}).values()) == {"train"}


def test_manifest_round_trip_and_bad_manifest(tmp_path, data_dir):
    prepare("vienna4x22", data_dir / "vienna4x22", tmp_path / "v", log=quiet)
    rows = read_manifest(tmp_path / "v" / "manifest.csv")
    write_manifest(tmp_path / "copy.csv", rows)
    assert read_manifest(tmp_path / "copy.csv") == rows
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DeepPerformerError, match="bad.csv: not a deepperformer manifest"):
        read_manifest(tmp_path / "bad.csv")
    assert COLUMNS[0] == "clip_id"


def test_mel_config_of_an_existing_output_is_checked(tmp_path, data_dir):
    out = tmp_path / "v"
    out.mkdir()
    (out / "mel_config.json").write_text(json.dumps({**MelConfig().to_dict(), "n_mels": 128}))
    with pytest.raises(
        DeepPerformerError,
        match=r"mel_config.json: this output folder uses another mel configuration \(n_mels 128, expected 80\)",
    ):
        prepare("vienna4x22", data_dir / "vienna4x22", out, log=quiet)


def test_the_summary_table_keeps_wide_cells_apart():
    from deepperformer.data.prepare import format_summary

    cell = {"recordings": 28, "clips": 1459, "hours": 120.9 / 60}
    summary = {
        "per_performer": {"piano-fluidr3": {"train": cell, "validation": cell}},
        "recordings": 56,
        "clips": 2918,
        "hours": 4.03,
        "hours_per_instrument": {"piano": 4.03},
        "failed": 0,
        "wall_seconds": 1.0,
    }
    row = format_summary(summary).splitlines()[1]
    assert re.search(r"120\.9 min +28 rec", row)  # before the fix: "120.9 min28 rec"
