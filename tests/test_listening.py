"""The listening-test kit: `listening-test build` on a tiny configuration with the shipped checkpoints."""

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from deepperformer.data.manifest import read_manifest

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, corpus: Path, **over) -> Path:
    clip = read_manifest(corpus)[0].clip_id
    cfg = {
        "name": "tiny",
        "mode": "mushra",
        "seconds": 2,
        "systems": [{"name": "ours"}, {"name": "deadpan", "renderer": "deadpan"}, {"name": "gl", "vocoder": "griffin-lim"}],
        "excerpts": [
            {"id": "minuet", "file": str(ROOT / "data" / "examples" / "minuet_in_g.krn"), "instrument": "piano", "start": 1},
            {"id": "violin", "manifest": str(corpus), "clip": clip, "instrument": "violin"},
        ],
    } | over
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_build_a_blinded_mushra_test(tmp_path, corpus, run_cli):
    import pyloudnorm

    out = tmp_path / "lt"
    code, stdout, err = run_cli("listening-test", "build", _config(tmp_path, corpus), "-o", out, "--demo-page")
    assert code == 0, err
    key = list(csv.DictReader(open(out / "key.csv")))
    # 2 excerpts x (3 systems + reference, hidden reference, anchor)
    assert len(key) == 12 and len({r["file"] for r in key}) == 12
    assert {r["role"] for r in key} == {"system", "reference", "hidden-reference", "anchor"}
    assert {r["system"] for r in key if r["excerpt"] == "violin" and r["role"] == "reference"} == {"reference (original)"}
    assert {r["system"] for r in key if r["excerpt"] == "minuet" and r["role"] == "reference"} == {"reference (fluidsynth)"}
    page = (out / "page" / "index.html").read_text()
    for r in key:
        audio, sr = sf.read(out / "page" / "audio" / r["file"])
        assert len(audio) == 2 * sr  # every version covers the same span
        loud = pyloudnorm.Meter(sr).integrated_loudness(audio)
        if r["role"] != "anchor":
            assert loud == pytest.approx(-23.0, abs=0.2) or r["peak_limited"] == "1"
        else:  # the reference low-passed at 3.5 kHz: nothing left above 4 kHz
            spec = np.abs(np.fft.rfft(audio)) ** 2
            freqs = np.fft.rfftfreq(len(audio), 1 / sr)
            assert spec[freqs > 4000].sum() < 1e-3 * spec.sum()
        assert r["file"] in page
    for name in ("ours", "deadpan", "griffin-lim", "anchor", "fluidsynth"):  # the page does not say which is which
        assert name not in page.split('id="test-data"')[1]
    wm = yaml.safe_load(next((out / "webmushra" / "configs").glob("*.yaml")).read_text())
    pages = wm["pages"][1][1:]
    assert [p["type"] for p in pages] == ["mushra", "mushra"]
    for p in pages:
        for f in [p["reference"], *p["stimuli"].values()]:
            assert (out / "webmushra" / f).exists()
    assert (out / "demo" / "index.html").exists() and len(list((out / "demo" / "mel").glob("*.png"))) == 8


def test_mos_pages_rate_the_systems_only(tmp_path, corpus, run_cli):
    out = tmp_path / "lt"
    code, _, err = run_cli("listening-test", "build", _config(tmp_path, corpus, mode="mos"), "-o", out)
    assert code == 0, err
    key = list(csv.DictReader(open(out / "key.csv")))
    assert len(key) == 6 and {r["role"] for r in key} == {"system"}
    wm = yaml.safe_load(next((out / "webmushra" / "configs").glob("*.yaml")).read_text())
    assert [p["type"] for p in wm["pages"][1][1:]] == ["likert_single_stimulus"] * 6


@pytest.mark.parametrize(
    "over,problem",
    [
        ({"mode": "abx"}, "mode 'abx'"),
        ({"colour": 1}, "unknown setting(s) colour"),
        ({"systems": [{"name": "a"}, {"name": "a"}]}, "system names must be unique: a"),
        ({"seconds": 500}, "seconds 500.0"),
        ({"excerpts": [{"id": "x"}]}, "excerpt x: give either file"),
    ],
)
def test_a_bad_configuration_is_one_clear_error(tmp_path, corpus, run_cli, over, problem):
    code, _, err = run_cli("listening-test", "build", _config(tmp_path, corpus, **over), "-o", tmp_path / "lt")
    assert code == 2 and problem in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "lt").exists()
