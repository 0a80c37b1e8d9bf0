"""The listening-test kit: `listening-test build` on a tiny configuration with the shipped checkpoints."""

import csv
import json
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
        ({"systems": [{"name": "a", "refine": -2}]}, "system a: refine -2"),
    ],
)
def test_a_bad_configuration_is_one_clear_error(tmp_path, corpus, run_cli, over, problem):
    code, _, err = run_cli("listening-test", "build", _config(tmp_path, corpus, **over), "-o", tmp_path / "lt")
    assert code == 2 and problem in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "lt").exists()


def _fake_test(tmp_path: Path, mode: str = "mushra") -> Path:
    """A test folder with a key (3 excerpts x systems A, B, hidden reference, anchor) and a page."""
    d = tmp_path / "test"
    (d / "page").mkdir(parents=True)
    (d / "page" / "index.html").write_text("<html>test</html>")
    rows = []
    for e in ("e1", "e2", "e3"):
        roles = [("A", "system"), ("B", "system")]
        if mode == "mushra":
            roles += [("ref", "reference"), ("ref", "hidden-reference"), ("anchor", "anchor")]
        rows += [(f"{e}_{s}_{role}.wav", e, s, role) for s, role in roles]
    with open(d / "key.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "excerpt", "system", "role", "gain_db", "peak_limited"])
        w.writerows([*r, "0.0", 0] for r in rows)
    return d


def _answers(tmp_path: Path, listener: str, scores: dict[str, float], mode: str = "mushra") -> Path:
    path = tmp_path / f"{listener}.json"
    ratings = [{"trial": f, "file": f, "score": s} for f, s in scores.items()]
    path.write_text(json.dumps({"test": "t", "mode": mode, "listener": listener, "ratings": ratings}))
    return path


def _mushra_scores(a: float, b: float, hidden: float) -> dict[str, float]:
    out = {}
    for k, e in enumerate(("e1", "e2", "e3")):
        out |= {f"{e}_A_system.wav": a + k, f"{e}_B_system.wav": b - k, f"{e}_ref_hidden-reference.wav": hidden}
        out |= {f"{e}_anchor_anchor.wav": 20.0 + k}
    return out


def test_analyze_post_screens_and_reports_intervals_and_tests(tmp_path, run_cli):
    from scipy.stats import t, wilcoxon

    d = _fake_test(tmp_path)
    files = [_answers(tmp_path, f"L{i}", _mushra_scores(80 + i, 50 + 2 * i, 100)) for i in range(4)]
    files.append(_answers(tmp_path, "careless", _mushra_scores(60, 60, 40)))  # hidden reference below 90 everywhere
    code, out, err = run_cli("listening-test", "analyze", d, *files, "-o", tmp_path / "report")
    assert code == 0, err
    assert "careless excluded (100 %)" in out and "4 listeners kept" in out
    systems = {r["system"]: r for r in csv.DictReader(open(tmp_path / "report" / "systems.csv"))}
    a = np.array([80 + i + k for i in range(4) for k in range(3)], float)
    lo, hi = t.interval(0.95, len(a) - 1, loc=a.mean(), scale=a.std(ddof=1) / np.sqrt(len(a)))
    assert float(systems["A"]["mean"]) == pytest.approx(a.mean())
    assert float(systems["A"]["t_low"]) == pytest.approx(lo) and float(systems["A"]["t_high"]) == pytest.approx(hi)
    assert float(systems["A"]["boot_low"]) <= a.mean() <= float(systems["A"]["boot_high"])
    pairs = {(r["a"], r["b"]): r for r in csv.DictReader(open(tmp_path / "report" / "pairs.csv"))}
    b = np.array([50 + 2 * i - k for i in range(4) for k in range(3)], float)
    ab = pairs.get(("A", "B")) or pairs[("B", "A")]
    assert float(ab["p"]) == pytest.approx(wilcoxon(a, b).pvalue)
    assert float(ab["p"]) <= float(ab["p_holm"]) <= 1.0  # Holm over the 6 pairs of 4 systems
    for f in ("report.md", "systems.png", "excerpts.png"):
        assert (tmp_path / "report" / f).stat().st_size > 0


def test_holm_matches_the_textbook_example():
    from deepperformer.listening.analyze import holm

    # four hypotheses: p = .01, .04, .03, .005 -> ordered .005 x4, .01 x3, .03 x2, .04 x1, kept monotone
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


@pytest.mark.parametrize(
    "content,problem",
    [
        ("{not json", "not an answers file"),
        ('{"listener": "x", "ratings": [{"file": "nope.wav", "score": 50}]}', "does not know"),
        ('{"listener": "x", "ratings": [{"file": "e1_A_system.wav", "score": 500}]}', "outside 0..100"),
    ],
)
def test_malformed_answers_are_one_clear_error(tmp_path, run_cli, content, problem):
    d = _fake_test(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code, _, err = run_cli("listening-test", "analyze", d, bad, "-o", tmp_path / "r")
    assert code == 2 and problem in err and "bad.json" in err and len(err.strip().splitlines()) == 1


def test_serve_stores_answers_and_refuses_bad_and_duplicate_ones(tmp_path):
    import threading
    import urllib.error
    import urllib.request

    from deepperformer.listening.serve import make_server

    d = _fake_test(tmp_path)
    server = make_server(d, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"

    def post(body: bytes) -> tuple[int, str]:
        req = urllib.request.Request(url + "submit", data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    try:
        assert urllib.request.urlopen(url + "index.html").read() == b"<html>test</html>"
        answer = lambda who: json.dumps({"listener": who, "ratings": [{"file": "e1_A_system.wav", "score": 70}]}).encode()  # noqa: E731
        results = []
        threads = [threading.Thread(target=lambda w=w: results.append(post(answer(w)))) for w in ("ann", "bob", "cy")]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert sorted(code for code, _ in results) == [200, 200, 200]  # three at once: none lost
        assert sorted(p.name for p in (d / "answers").iterdir()) == ["ann.json", "bob.json", "cy.json"]
        code, text = post(answer("ann"))
        assert code == 409 and "already submitted" in text
        assert post(b"{broken")[0] == 400
        assert post(json.dumps({"listener": "dan", "ratings": [{"file": "x.wav", "score": 1}]}).encode())[0] == 400
        assert json.loads((d / "answers" / "ann.json").read_text())["ratings"][0]["score"] == 70
    finally:
        server.shutdown()
        server.server_close()


def test_a_system_sets_the_vocoders_refinement(tmp_path, corpus):
    """``refine``: synthesize's default unless given; ``none`` plays the vocoder's raw output."""
    from deepperformer.listening.config import load_config
    from deepperformer.vocoders import REFINE_ITERS

    systems = [{"name": "ours"}, {"name": "raw", "refine": "none"}, {"name": "r3", "refine": 3}]
    config = load_config(_config(tmp_path, corpus, systems=systems))
    assert [s.refine for s in config.systems] == [REFINE_ITERS, None, 3]
