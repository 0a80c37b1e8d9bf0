"""Integration: a tiny synthetic corpus rendered with the fluidsynth program and the Debian SoundFonts
(installed by .ci/run)."""

import shutil

import numpy as np
import pytest

from deepperformer.audio.io import load_audio
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import Performance
from deepperformer.data.base import PrepareOptions
from deepperformer.data.manifest import read_manifest
from deepperformer.data.prepare import prepare
from deepperformer.data.synthetic import PERFORMERS, check_tools

OPTS = dict(piano_hours=0.01, violin_hours=0.006)


@pytest.fixture(scope="module")
def synthetic_corpus(tmp_path_factory, request):
    from tests.conftest import DATA

    out = tmp_path_factory.mktemp("syn") / "out"
    summary = prepare("synthetic", DATA, out, workers=2, options=PrepareOptions(**OPTS), log=lambda *a: None)
    return out, summary


def test_corpus_has_both_instruments_and_several_performers(synthetic_corpus):
    out, s = synthetic_corpus
    rows = read_manifest(out / "manifest.csv")
    assert s["failed"] == 0
    # the budgets are met up to the last clip cut (clips under 1 s are dropped)
    assert s["hours_per_instrument"]["piano"] >= 0.009 and s["hours_per_instrument"]["violin"] >= 0.005
    for inst in ("piano", "violin"):
        assert len({r.performer for r in rows if r.instrument == inst}) >= 2
    assert {r.performer for r in rows} <= {p.name for p in PERFORMERS}
    split_of = {}
    for r in rows:
        assert split_of.setdefault(r.piece, r.split) == r.split
    # the Bach Violin fixture's pieces and the piano pieces both appear
    assert any(r.piece.startswith("bwv1001") for r in rows) and any(r.instrument == "piano" for r in rows)


def test_audio_follows_the_notes(synthetic_corpus):
    """Exact alignment: the rendered audio is loud while notes sound and quiet well after the last one."""
    out, _ = synthetic_corpus
    rows = read_manifest(out / "manifest.csv")
    for rec in {r.recording: r for r in rows}.values():
        perf = Performance.load(out / rec.performance)
        mel = np.load(out / rec.mel).astype(np.float32)  # [T, 80]
        energy = mel.mean(axis=1)
        fps = 16000 / 256
        first = int(perf.notes["onset_sec"].min() * fps)
        during = energy[first + 2 : int(perf.duration * fps)].mean()
        silence = energy[: max(1, first - 3)].mean() if first > 4 else energy.min()
        assert during > silence + 2.0, rec.recording
        audio = load_audio(out / rec.audio)
        assert 0.01 < np.abs(audio).max() <= 1.0


def test_rendering_is_deterministic(synthetic_corpus, tmp_path):
    out, _ = synthetic_corpus
    from tests.conftest import DATA

    again = tmp_path / "again"
    prepare("synthetic", DATA, again, workers=1, options=PrepareOptions(**OPTS), log=lambda *a: None)
    assert (again / "splits.json").read_text() == (out / "splits.json").read_text()
    a, b = read_manifest(out / "manifest.csv"), read_manifest(again / "manifest.csv")
    assert [r.clip_id for r in a] == [r.clip_id for r in b]
    for r in {r.recording: r for r in a}.values():
        assert (out / r.audio).read_bytes() == (again / r.audio).read_bytes()


def test_missing_source_datasets(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DeepPerformerError, match="no piano performances found"):
        prepare("synthetic", tmp_path / "empty", tmp_path / "out", options=PrepareOptions(**OPTS), log=lambda *a: None)
    assert not (tmp_path / "out").exists()


def test_missing_fluidsynth_is_reported(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DeepPerformerError, match="fluidsynth: program not found"):
        check_tools({"piano"})
