"""Stage 1's groundwork: the performance codec, score features, the renderer metrics, the baselines
and the renderer table, on the Vienna 4x22 fixture (three performances of one minuet)."""

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import load_match
from deepperformer.core.score import Score, load_score
from deepperformer.data.prepare import prepare
from deepperformer.evaluation.renderers import format_renderer_table
from deepperformer.render.baselines import BasisRidge, Deadpan, MeanCurve, from_targets
from deepperformer.render.codec import decode, encode, matched_rows
from deepperformer.render.corpus import load_examples
from deepperformer.render.metrics import FEATURES, HUMAN, compare, evaluate_renderers, summarize


def test_codec_round_trip_is_exact(data_dir):
    perf, _ = load_match(data_dir / "vienna4x22" / "match" / "Minuet_p01.match")
    score = load_score(data_dir / "vienna4x22" / "musicxml" / "Minuet.musicxml", unfold="none")
    enc = encode(score, perf)
    s_rows, p_rows = matched_rows(score, perf)
    assert np.array_equal(enc.rows, s_rows) and len(s_rows) == len(score) - 1  # the deleted note is not played
    out = decode(score, enc)
    played = perf.notes[p_rows]
    by_id = {n["score_id"]: n for n in out.notes}
    back = np.array([by_id[sid] for sid in played["score_id"]])
    np.testing.assert_allclose(back["onset_sec"], played["onset_sec"] - played["onset_sec"].min(), atol=1e-6)
    np.testing.assert_allclose(back["duration_sec"], played["duration_sec"], atol=1e-6)
    assert np.array_equal(back["velocity"], played["velocity"])
    assert 40 < enc.qpm() < 200


def test_codec_refuses_a_performance_without_a_tempo(data_dir):
    perf, _ = load_match(data_dir / "vienna4x22" / "match" / "Minuet_p01.match")
    score = load_score(data_dir / "vienna4x22" / "musicxml" / "Minuet.musicxml", unfold="none")
    first = perf.notes[perf.notes["score_id"] == score.notes["id"][0]]
    with pytest.raises(DeepPerformerError, match="fewer than two aligned score onsets"):
        encode(score, dataclasses.replace(perf, notes=first), source="p.match")


def test_score_features_travel_with_the_score(data_dir, tmp_path):
    score = load_score(data_dir / "vienna4x22" / "musicxml" / "Minuet.musicxml", unfold="none", features=True)
    f = score.features
    assert f.values.shape == (len(score), len(f.names)) and not f.failed
    assert np.array_equal(f.ids, score.notes["id"])
    pitch = f.columns(["polynomial_pitch_feature.pitch", "no-such-feature"])
    np.testing.assert_allclose(pitch[:, 0] * 127, score.notes["pitch"], atol=0.5)  # rows follow the notes
    assert not pitch[:, 1].any()  # a column this score lacks is 0
    score.save(tmp_path / "s.npz")
    back = Score.load(tmp_path / "s.npz")
    assert back.features.names == f.names and np.array_equal(back.features.values, f.values)
    assert load_score(data_dir / "scores" / "minuet.krn").features is None  # only when asked for


def test_prepared_corpus_gives_renderer_examples(vienna):
    examples = load_examples([vienna])
    assert len(examples) == 3 and {ex.performer for ex in examples} == {"pianist-01", "pianist-02", "pianist-03"}
    assert all(ex.score.features is not None and len(ex.enc.rows) >= 7 for ex in examples)


def test_metrics_of_a_performance_against_itself_and_a_constant(vienna):
    ex = load_examples([vienna])[0]
    same = compare(ex.enc, ex.enc)
    for f in FEATURES:
        assert same[f + "_r"] == pytest.approx(1.0) or np.std(ex.enc.params["timing"]) == 0
        assert same[f + "_mae"] == pytest.approx(0.0)
    assert same["tempo_error"] == pytest.approx(0.0)
    flat = dataclasses.replace(ex.enc, params=ex.enc.params.copy())
    flat.params["velocity"] = 0.5
    assert compare(flat, ex.enc)["velocity_r"] == 0.0  # a constant has no correlation


def test_baselines_render_every_note_and_share_a_tempo_per_onset(vienna):
    examples = load_examples([vienna])
    score = examples[0].score
    for system in (Deadpan(), MeanCurve().fit(examples), BasisRidge().fit(examples)):
        enc = system.render(score)
        assert sorted(enc.rows.tolist()) == list(range(len(score)))
        onset = score.notes["onset_quarter"][enc.rows]
        for t in np.unique(onset):
            assert np.ptp(enc.params["beat_period"][onset == t]) < 1e-9
        assert decode(score, enc).duration > 0
    # the global tempo is the one asked for: all predicted ratios 0 -> every beat period is 60 / qpm
    flat = from_targets(score, np.zeros((len(score), 4), np.float32), qpm=100.0)
    np.testing.assert_allclose(flat.params["beat_period"], 0.6)


def test_the_renderer_table_has_a_human_ceiling(vienna):
    examples = load_examples([vienna])
    systems = [Deadpan(), MeanCurve().fit(examples)]
    res = evaluate_renderers(systems, examples, min_performances=3)
    assert len(res[HUMAN]) == len(res["deadpan"]) == 3
    summary = summarize(res)
    assert summary[HUMAN]["notes"] >= 7
    table = format_renderer_table(summary, 3)
    assert "| human ceiling |" in table and "| mean-curve |" in table
    assert evaluate_renderers(systems, examples, min_performances=4)[HUMAN] == []  # too few performances


def test_renderer_trains_resumes_exports_and_renders(vienna, tmp_path, run_cli):
    import torch

    from deepperformer.pipeline.loading import load_renderer
    from tests.conftest import DATA

    recipe = Path(__file__).resolve().parents[1] / "recipes" / "debug" / "renderer.yaml"
    # one pianist held out for validation (where the pedal is calibrated, below)
    held_out = vienna.with_name("manifest_held_out.csv")
    rows = list(csv.DictReader(vienna.open()))
    for row in rows:
        row["split"] = "validation" if row["recording"] == "Minuet_p03" else row["split"]
    with held_out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    base = ("train", recipe, "--set", f"data.manifests=[{held_out}]", "--set", "data.instrument=piano")
    code, out, err = run_cli(*base, "--max-steps", "2", "-o", tmp_path / "r")
    assert code == 0, err
    code, out, err = run_cli(*base, "--max-steps", "4", "-o", tmp_path / "r")  # goes on from step 2
    assert code == 0, err
    assert "resuming" in out
    ckpt = torch.load(tmp_path / "r" / "model.pt", weights_only=True)
    assert ckpt["stage"] == "renderer" and ckpt["provenance"]["steps"] == 4
    best = tmp_path / "r" / "ckpt" / "best.ckpt"  # keep_best: the lowest val/prior's weights are exported
    best_step = torch.load(best, weights_only=False)["global_step"] if best.exists() else 4
    assert ckpt["provenance"]["exported_step"] == best_step == ckpt["provenance"]["total_steps"]
    notes = {}
    for ex in load_examples([held_out], ("train",)):
        notes[ex.performer] = notes.get(ex.performer, 0) + len(ex.enc.rows)
    assert notes[ckpt["config"]["default_performer"]] == max(notes.values())  # the best-represented pianist plays by default
    # goes on from the exported weights (a new session), learning the sustain pedal beside what it knew
    init = ("--set", f"init_from={tmp_path / 'r' / 'model.pt'}", "--set", "model.learn_pedal=true")
    code, out, err = run_cli(*base, *init, "--max-steps", "1", "-o", tmp_path / "r2")
    assert code == 0, err
    assert "renderer initialised from" in out
    r2 = torch.load(tmp_path / "r2" / "model.pt", weights_only=True)
    assert r2["provenance"]["init_from_steps"] == 4 and r2["config"]["model"]["learn_pedal"]
    assert r2["state_dict"]["out.weight"].shape[0] == 6 and r2["state_dict"]["y_mean"].shape == (6,)
    # its pedal is recalibrated to the held-out pianist's base rate, and plays so once loaded
    cal = r2["provenance"]["pedal_calibration"]
    assert cal["human_share"] > 0 and cal["notes"] > 0 and r2["config"]["pedal_threshold"] == cal["threshold"]
    assert load_renderer(tmp_path / "r2" / "model.pt").pedal_threshold == cal["threshold"]
    assert "pedal_threshold" not in ckpt["config"] or ckpt["config"]["pedal_threshold"] == 0.5  # no pedal learnt
    # validation figures are of the pianists it can play as; the held-out pianist is new to it
    assert ckpt["provenance"]["validation_performances"] == 1 and ckpt["provenance"]["metrics"] == {}
    assert "residual_scale" in ckpt["config"] and ckpt["config"]["residual_scale"] is None  # no linear path
    torch.save({**ckpt, "config": {**ckpt["config"], "residual_scale": [0.0, 0.5, 1.0, 1.5]}}, tmp_path / "scaled.pt")
    assert load_renderer(tmp_path / "scaled.pt").residual_scale == (0.0, 0.5, 1.0, 1.5)
    r = load_renderer(tmp_path / "r" / "model.pt")
    assert r.residual_scale is None
    assert r.performers.default == ckpt["config"]["default_performer"]
    score = load_score(DATA / "vienna4x22" / "musicxml" / "Minuet.musicxml", unfold="none", features=True)
    enc = r.render(score, "pianist-02")
    assert sorted(enc.rows.tolist()) == list(range(len(score))) and np.all(enc.params["beat_period"] > 0)
    r.expressiveness = 0.0  # exactly deadpan
    flat = Deadpan().render(score)
    at = {row: k for k, row in enumerate(flat.rows)}
    zero = r.render(score, "pianist-02")
    for name in ("beat_period", "velocity", "timing", "articulation_log"):
        np.testing.assert_allclose(zero.params[name], flat.params[name][[at[i] for i in zero.rows]], atol=1e-6)
    with pytest.raises(DeepPerformerError, match="unknown performer 'nobody'"):
        r.render(score, "nobody")
    r.sample_style(1)
    a = r.render(score)
    r.sample_style(1)
    assert np.array_equal(a.params, r.render(score).params)  # a seed fixes the performance
    assert not np.any(a.params["pedal_down"])  # learnt without pedal: none
    pedalled = load_renderer(tmp_path / "r2" / "model.pt").render(score, "pianist-02")
    assert np.all((pedalled.params["pedal_down"] >= 0) & (pedalled.params["pedal_down"] <= 1))
    # the fixtures' pianists hold the pedal through most notes, so the renderer (starting from their mean) does too
    assert len(decode(score, pedalled).pedal) > 0 and len(decode(score, a).pedal) == 0


def _tiny_renderer(run_cli, manifest: Path, out: Path, *settings: str) -> Path:
    """Train the debug renderer for 2 steps on ``manifest`` (``settings``: more ``--set`` pairs); -> its
    exported model.pt."""
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "debug" / "renderer.yaml"
    code, _, err = run_cli(
        "train",
        recipe,
        "--set",
        f"data.manifests=[{manifest}]",
        "--set",
        "data.instrument=piano",
        *settings,
        "--max-steps",
        "2",
        "-o",
        out,
    )
    assert code == 0, err
    return out / "model.pt"


def test_render_command_with_a_renderer(vienna, tmp_path, run_cli):
    from tests.conftest import DATA

    _tiny_renderer(run_cli, vienna, tmp_path / "r")
    ckpt, score = tmp_path / "r" / "model.pt", DATA / "vienna4x22" / "musicxml" / "Minuet.musicxml"
    code, out, err = run_cli(
        "render",
        score,
        "-o",
        tmp_path / "e.mid",
        "--renderer",
        ckpt,
        "--performer",
        "pianist-03",
        "--unfold",
        "none",
        "--seed",
        "3",
        "--no-png",
    )
    assert code == 0, err
    assert (tmp_path / "e.mid").exists() and "8 notes" in out
    code, out, err = run_cli("performers", "--stage", "renderer", "--checkpoint", ckpt)
    assert code == 0 and "pianist-01" in out and "pianist-03" in out
    code, _, err = run_cli("render", score, "-o", tmp_path / "x.mid", "--renderer", ckpt, "--performer", "nobody")
    assert code == 2 and "unknown performer 'nobody'" in err and not (tmp_path / "x.mid").exists()
    code, _, err = run_cli("render", score, "-o", tmp_path / "x.mid", "--renderer", ckpt, "--expressiveness", "9")
    assert code == 2 and "--expressiveness 9.0" in err


def test_evaluate_prints_the_renderer_table(vienna, run_cli):
    code, out, err = run_cli("evaluate", "renderer-baselines", "--manifest", vienna, "--split", "train")
    assert code == 0, err
    for row in ("| deadpan |", "| mean-curve |", "| basis-ridge |", "| human ceiling |"):
        assert row in out
    assert "3 performances" in out
    # these pianists pedal: the pedal columns, and the base rate's own row to read pedal F1 by
    assert "| pedal r | pedal MAE | pedal F1 |" in out and "| always pedal down |" in out


def test_a_violin_renderer_learns_timing_and_keeps_the_scores_dynamics(tmp_path, run_cli):
    """Bach Violin alignments carry no dynamics: with learn_velocity false the renderer's velocities are
    the score's (deadpan's), its timing its own; and it has no dynamics direction to steer."""
    from deepperformer.pipeline.loading import load_renderer
    from deepperformer.render.directions import Direction
    from tests.conftest import DATA

    prepare("bach-violin-timing", DATA / "bach-violin", tmp_path / "t", log=lambda *a: None)
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "debug" / "renderer.yaml"
    manifest = tmp_path / "t" / "manifest.csv"
    code, _, err = run_cli(
        "train", recipe, "--set", f"data.manifests=[{manifest}]", "--set", "data.instrument=violin",
        "--set", "model.learn_velocity=false", "--set", "model.linear_skip=true", "--max-steps", "3", "-o", tmp_path / "r",
    )  # fmt: skip
    assert code == 0, err
    # keep_best: the weights of the lowest val/prior are exported (this fixture has validation performances)
    import torch

    best = torch.load(tmp_path / "r" / "ckpt" / "best.ckpt", map_location="cpu", weights_only=False)
    ckpt = torch.load(tmp_path / "r" / "model.pt", weights_only=True)
    assert ckpt["provenance"]["exported_step"] == best["global_step"] and ckpt["provenance"]["steps"] == 3
    assert torch.equal(ckpt["state_dict"]["skip.weight"], best["state_dict"]["model.skip.weight"])
    r = load_renderer(tmp_path / "r" / "model.pt")
    assert r.instrument == "violin" and "dynamics" not in r.directions
    score = load_examples([manifest], ("train",))[0].score
    enc, flat = r.render(score), Deadpan().render(score)
    at = {row: k for k, row in enumerate(flat.rows)}
    np.testing.assert_allclose(enc.params["velocity"], flat.params["velocity"][[at[i] for i in enc.rows]])
    assert not np.allclose(enc.params["timing"], 0.0)  # the timing is the model's
    with pytest.raises(DeepPerformerError, match="no dynamics direction"):
        r.render(score, directions=(Direction("louder"),))


def test_basis_ridge_sums_give_the_stacked_solution(vienna):
    """The ridge's normal equations, summed performance by performance, equal the stacked solve."""
    examples = load_examples([vienna])
    r = BasisRidge(alpha=3.0).fit(examples)
    x = np.concatenate([ex.score.features.columns(r.names)[ex.enc.rows] for ex in examples])
    from deepperformer.render.baselines import targets

    y = np.concatenate([targets(ex) for ex in examples])
    mean, scale = x.mean(0), x.std(0) + 1e-6
    xs = np.c_[(x - mean) / scale, np.ones(len(x))]
    reg = 3.0 * np.eye(xs.shape[1])
    reg[-1, -1] = 0.0
    np.testing.assert_allclose(r.coef, np.linalg.solve(xs.T @ xs + reg, xs.T @ y), rtol=1e-6, atol=1e-8)


def test_a_linear_skip_renderer_starts_as_the_basis_ridge(vienna):
    """With ``linear_skip`` the fresh model's prediction (any performer, any z) is the ridge solution of
    the training notes in its standardized space: the transformer's output starts silent."""
    import torch

    from deepperformer.core.performers import PerformerVocab
    from deepperformer.render.dataset import NoteSegments, collate_segments
    from deepperformer.render.model import Renderer, RendererConfig
    from deepperformer.training.renderer import ridge_skip, statistics

    examples = load_examples([vienna])
    names = tuple(sorted({n for ex in examples for n in ex.score.features.names}))
    performers = PerformerVocab(sorted({ex.performer for ex in examples}))
    ds = NoteSegments(examples, names, performers, 64, random=False)
    config = RendererConfig(n_features=len(names), d_model=16, n_heads=2, layers=1, ffn=32, latent_dim=4, linear_skip=True)
    m = Renderer(dataclasses.replace(config, n_performers=len(performers)))
    m.set_statistics(**(st := statistics(ds)) | {"y_mean": st["y_mean"][:4], "y_std": st["y_std"][:4]})
    m.set_skip(ridge_skip(m, ds))
    x = np.concatenate([a["x"][a["known"]] for a in ds.arrays])
    y = np.concatenate([a["target"][a["known"], :4] for a in ds.arrays])
    xs = np.c_[(x - st["x_mean"]) / st["x_std"], np.ones(len(x))]
    ys = (y - st["y_mean"][:4]) / st["y_std"][:4]
    reg = 10.0 * np.eye(xs.shape[1])
    reg[-1, -1] = 0.0
    coef = np.linalg.solve(xs.T @ xs + reg, xs.T @ ys)
    batch = collate_segments([ds[i] for i in range(len(ds))])
    m.eval()
    with torch.no_grad():
        pred, _ = m(batch["x"], batch["onset"], batch["mask"], batch["performer"], torch.randn(len(ds), 4))
    xb = (batch["x"].numpy() - st["x_mean"]) / st["x_std"]
    np.testing.assert_allclose(pred.numpy(), xb @ coef[:-1] + coef[-1], rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="linear path"):  # an earlier renderer without it cannot go on with it
        m.load_earlier({k: v for k, v in m.state_dict().items() if not k.startswith("skip.")})
    # going on with the sustain pedal: the new rows of both paths start silent, the old targets unchanged
    with_pedal = Renderer(dataclasses.replace(config, n_performers=len(performers), learn_pedal=True))
    with_pedal.load_earlier(m.state_dict(), st["y_mean"], st["y_std"])
    with_pedal.eval()
    with torch.no_grad():
        pred2, _ = with_pedal(batch["x"], batch["onset"], batch["mask"], batch["performer"], torch.zeros(len(ds), 4))
    np.testing.assert_allclose(pred2[..., :4].numpy(), pred.numpy(), rtol=1e-5, atol=1e-5)
    assert pred2.shape[-1] == 6 and not pred2[..., 4:].abs().any()


def test_the_residual_share_scales_only_the_transformer_s_part(vienna):
    """``residual_scale``: 0 plays the linear path (the ridge) alone, None is all ones, and the fit picks
    each timing target's share from the grid on held-out performances (velocity kept at 1 when the
    renderer does not learn it); a renderer without the linear path has nothing to fit."""
    import torch

    from deepperformer.core.performers import PerformerVocab
    from deepperformer.render.dataset import NoteSegments, collate_segments
    from deepperformer.render.model import Renderer, RendererConfig
    from deepperformer.training.renderer import RESIDUAL_GRID, fit_residual_scale, ridge_skip, statistics

    examples = load_examples([vienna])
    names = tuple(sorted({n for ex in examples for n in ex.score.features.names}))
    performers = PerformerVocab(sorted({ex.performer for ex in examples}))
    ds = NoteSegments(examples, names, performers, 64, random=False)
    config = RendererConfig(
        n_features=len(names), d_model=16, n_heads=2, layers=1, ffn=32, latent_dim=4, linear_skip=True,
        n_performers=len(performers), learn_velocity=False,
    )  # fmt: skip
    torch.manual_seed(0)
    m = Renderer(config)
    m.set_statistics(**(st := statistics(ds)) | {"y_mean": st["y_mean"][:4], "y_std": st["y_std"][:4]})
    m.set_skip(ridge_skip(m, ds))
    with torch.no_grad():
        m.out.weight.normal_(0.0, 0.3)  # a trained-looking residual (a fresh one starts at zero)
    m.eval()
    batch = collate_segments([ds[i] for i in range(len(ds))])
    args = (batch["x"], batch["onset"], batch["mask"], batch["performer"], torch.zeros(len(ds), 4))
    with torch.no_grad():
        full, _ = m(*args)
        ones, _ = m(*args, residual_scale=[1.0] * 4)
        none, _ = m(*args, residual_scale=[0.0] * 4)
        half, _ = m(*args, residual_scale=[0.5] * 4)
        ridge = m.skip((batch["x"] - m.x_mean) / m.x_std)
    torch.testing.assert_close(ones, full)
    torch.testing.assert_close(none, ridge)
    torch.testing.assert_close(half, (full + ridge) / 2)
    assert not torch.allclose(full, ridge)
    fit = fit_residual_scale(m, names, performers, examples)
    assert len(fit["scale"]) == 4 and fit["scale"][0] == 1.0 and set(fit["scale"]) <= set(RESIDUAL_GRID)
    assert set(fit["grid"]) == {str(lam) for lam in RESIDUAL_GRID}
    for k, f in enumerate(FEATURES[1:], 1):  # each share is the grid's best r for its feature
        scores = {float(lam): v[f] for lam, v in fit["grid"].items()}
        assert scores[fit["scale"][k]] == max(scores.values())
    assert fit_residual_scale(Renderer(dataclasses.replace(config, linear_skip=False)), names, performers, examples) is None


def tiny_windowed_renderer(vienna):
    """(the fixtures' examples, a one-layer renderer with a trained-looking output, its feature names,
    its performers): what the window tests read the fixtures' 8-note minuet with."""
    import torch

    from deepperformer.core.performers import PerformerVocab
    from deepperformer.render.dataset import NoteSegments
    from deepperformer.render.model import Renderer, RendererConfig
    from deepperformer.training.renderer import statistics

    examples = load_examples([vienna])
    names = tuple(sorted({n for ex in examples for n in ex.score.features.names}))
    performers = PerformerVocab(sorted({ex.performer for ex in examples}))
    config = RendererConfig(
        n_features=len(names), d_model=16, n_heads=2, layers=1, ffn=32, latent_dim=4, n_performers=len(performers)
    )
    torch.manual_seed(0)
    m = Renderer(config)
    st = statistics(NoteSegments(examples, names, performers, 64, random=False))
    m.set_statistics(**st | {"y_mean": st["y_mean"][:4], "y_std": st["y_std"][:4]})
    with torch.no_grad():
        m.out.weight.normal_(0.0, 0.1)  # a trained-looking output (a fresh one starts at zero)
        for w in m.tempo.parameters():
            w.normal_(0.0, 0.1)
    return examples, m.eval(), names, performers


def test_each_target_is_read_with_its_own_fitted_window(vienna, monkeypatch):
    """``windows``: each target's column is the one its window gives alone (one pass per distinct
    window, the global tempo from the tempo curve's); the fit picks, per target, the grid's best
    validation r, ties to the first."""
    import deepperformer.training.renderer as training
    from deepperformer.render.inference import ExpressiveRenderer

    examples, m, names, performers = tiny_windowed_renderer(vienna)
    score = examples[0].score  # the fixtures' minuet: 8 notes
    long, short = (8, 4), (4, 2)
    a, qa = ExpressiveRenderer(m, names, performers, windows=[long] * 4).predict(score)
    b, qb = ExpressiveRenderer(m, names, performers, windows=[short] * 4).predict(score)
    assert not np.allclose(a, b)  # the window matters
    mixed, q = ExpressiveRenderer(m, names, performers, windows=[long, short, long, short]).predict(score)
    np.testing.assert_allclose(mixed[:, [0, 2]], a[:, [0, 2]], atol=1e-6)
    np.testing.assert_allclose(mixed[:, [1, 3]], b[:, [1, 3]], atol=1e-6)
    assert q == pytest.approx(qb)  # the tempo curve's window
    default = ExpressiveRenderer(m, names, performers, window=8, overlap=4).predict(score)[0]
    np.testing.assert_allclose(default, a, atol=1e-6)  # None: (window, overlap) for every target
    monkeypatch.setattr(training, "WINDOW_GRID", (long, short, (2, 1)))
    fit = training.fit_windows(m, names, performers, examples)
    assert set(fit["grid"]) == {"8/4", "4/2", "2/1"} and len(fit["windows"]) == 4
    for k, f in enumerate(FEATURES):
        scores = {tuple(map(int, wo.split("/"))): v[f] for wo, v in fit["grid"].items()}
        best = max(scores.values())
        assert tuple(fit["windows"][k]) == next(wo for wo in training.WINDOW_GRID if scores[wo] == best)


def test_targets_read_as_the_mean_of_shifted_window_grids(vienna, monkeypatch):
    """``phases``: a target read with p grids is the mean of the passes whose grids are shifted by
    k / p of the window step (every note still predicted; 1 is the plain reading); the fit picks, per
    target, the grid's best validation r, ties to the fewest."""
    import torch

    import deepperformer.training.renderer as training
    from deepperformer.render.dataset import note_levels, score_order
    from deepperformer.render.inference import ExpressiveRenderer, window_starts

    assert window_starts(10, 4, 2, 1) == [0, 1, 3, 5, 6]
    with pytest.raises(ValueError):
        window_starts(10, 4, 2, 2)  # a whole step: the next grid, not a shift
    examples, m, names, performers = tiny_windowed_renderer(vienna)
    score = examples[0].score  # 8 notes: windows of 4 overlapping by 2 step by 2, the shifted grid by 1
    short = [(4, 2)] * 4
    one, _ = ExpressiveRenderer(m, names, performers, windows=short).predict(score)
    same, _ = ExpressiveRenderer(m, names, performers, windows=short, phases=[1] * 4).predict(score)
    np.testing.assert_allclose(same, one, atol=1e-6)
    r = ExpressiveRenderer(m, names, performers, windows=short, phases=[2, 1, 2, 1])
    two, _ = r.predict(score)
    np.testing.assert_allclose(two[:, [1, 3]], one[:, [1, 3]], atol=1e-6)
    assert not np.allclose(two[:, [0, 2]], one[:, [0, 2]])  # the shifted grid reads them otherwise
    order = score_order(score)
    x = torch.from_numpy(score.features.columns(names)[order])[None]
    onset = torch.from_numpy(score.notes["onset_quarter"][order].astype(np.float32))[None]
    args = (x, onset, note_levels(score, order), performers.index(performers.default), r.style(), 4, 2)
    with torch.no_grad():
        mean = 0.5 * (r._windowed(*args, 0)[0] + r._windowed(*args, 1)[0])
    np.testing.assert_allclose(two[order][:, 0], mean[:, 0], atol=1e-5)
    monkeypatch.setattr(training, "PHASE_GRID", (1, 2))
    fit = training.fit_phases(m, names, performers, examples, short)
    assert set(fit["grid"]) == {"1", "2"} and len(fit["phases"]) == 4
    for k, f in enumerate(FEATURES):
        scores = {int(p): v[f] for p, v in fit["grid"].items()}
        assert fit["phases"][k] == next(p for p in (1, 2) if scores[p] == max(scores.values()))


def test_a_frozen_linear_path_stays_at_the_ridge_while_the_transformer_trains():
    """``freeze_skip``: AdamW steps (with weight decay) move the transformer but never the linear path."""
    import torch

    from deepperformer.render.model import Renderer, RendererConfig

    c = RendererConfig(n_features=5, d_model=16, n_heads=2, layers=1, ffn=32, latent_dim=4, linear_skip=True, freeze_skip=True)
    m = Renderer(c)
    m.set_skip(torch.randn(6, c.n_targets))
    skip, out = m.skip.weight.clone(), m.out.weight.clone()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.1)
    x, onset, mask = torch.randn(2, 7, 5), torch.arange(7.0).repeat(2, 1), torch.ones(2, 7, dtype=torch.bool)
    for _ in range(3):
        y, q = m(x, onset, mask, torch.tensor([0, 0]), torch.zeros(2, 4))
        opt.zero_grad()
        ((y - 1) ** 2).mean().add(q.pow(2).mean()).backward()
        opt.step()
    assert torch.equal(m.skip.weight, skip) and not torch.equal(m.out.weight, out)
    with pytest.raises(ValueError, match="freeze_skip needs linear_skip"):
        RendererConfig.from_dict({**c.to_dict(), "linear_skip": False})


def test_beat_and_bar_levels_start_silent_and_then_carry_a_group_s_context(vienna):
    """``hierarchy``: the levels of a real score follow its beats and bars, in order (that a repeat's
    bars count anew is ``run_ids``' doctest); an earlier renderer goes on with them unchanged (their
    way back starts at zero); once that way is open a note hears the other notes of its beat and bar beyond the note transformer's
    attention window, and windowed inference of the whole score works with them."""
    import torch

    from deepperformer.core.performers import PerformerVocab
    from deepperformer.render.dataset import NoteSegments, collate_segments, note_levels, score_order
    from deepperformer.render.inference import ExpressiveRenderer
    from deepperformer.render.model import Renderer, RendererConfig

    examples = load_examples([vienna])
    score = examples[0].score
    levels = note_levels(score, score_order(score))
    beats, bars = levels[:, 0], levels[:, 1]
    assert beats[0] == bars[0] == 0 and (np.diff(beats) >= 0).all() and (np.diff(bars) >= 0).all()
    assert bars[-1] + 1 >= len(np.unique(score.bars)) and beats[-1] > bars[-1]  # more beats than bars
    names = tuple(sorted({n for ex in examples for n in ex.score.features.names}))
    performers = PerformerVocab(sorted({ex.performer for ex in examples}))
    ds = NoteSegments(examples, names, performers, 64, random=False)
    batch = collate_segments([ds[i] for i in range(len(ds))])
    assert batch["levels"].shape == (*batch["mask"].shape, 2) and (batch["levels"][:, 0] == 0).all()
    base = RendererConfig(n_features=len(names), d_model=16, n_heads=2, layers=1, ffn=32, latent_dim=4, window_notes=1)
    torch.manual_seed(0)
    flat = Renderer(dataclasses.replace(base, n_performers=len(performers))).eval()
    deep = Renderer(dataclasses.replace(base, n_performers=len(performers), hierarchy=True)).eval()
    deep.load_earlier(flat.state_dict())
    with pytest.raises(ValueError, match="hierarchy"):  # and not back: the levels would be dropped
        flat.load_earlier(deep.state_dict())
    z = torch.zeros(len(ds), 4)
    args = (batch["x"], batch["onset"], batch["mask"], batch["performer"], z)
    with torch.no_grad():
        assert torch.equal(deep(*args, levels=batch["levels"])[0], flat(*args)[0])
        with pytest.raises(ValueError, match="levels"):
            deep(*args)
        for level in deep.levels:
            torch.nn.init.normal_(level.back.weight, std=0.5)
        x2 = batch["x"].clone()
        x2[0, 0] += 3.0  # the first note changes; with a reach of one note, notes 2+ away hear it only through the levels
        far = [i for i in range(2, batch["mask"][0].sum()) if batch["levels"][0, i, 1] == 0]  # the rest of its bar
        a = deep(*args, levels=batch["levels"])[0]
        b = deep(x2, *args[1:], levels=batch["levels"])[0]
        c, d = flat(*args)[0], flat(x2, *args[1:])[0]
    assert far and not torch.allclose(a[0, far], b[0, far]) and torch.allclose(c[0, far], d[0, far])
    r = ExpressiveRenderer(deep, names, performers, window=4, overlap=2)  # the fixture's minuet has 8 notes
    values, qpm = r.predict(score)
    assert values.shape == (len(score.notes), 4) and np.isfinite(values).all() and qpm > 0


def test_fit_directions_uses_the_renderers_own_segments(vienna, tmp_path, run_cli, monkeypatch):
    import deepperformer.training.renderer as training

    _tiny_renderer(run_cli, vienna, tmp_path / "r", "--set", "model.linear_skip=true")
    # the same performances once more as validation ones, of pianists it knows: the residual share is fitted on them
    held_out = vienna.with_name("manifest_validation.csv")
    rows = list(csv.DictReader(vienna.open()))
    with held_out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows([{**row, "split": "validation"} for row in rows])
    seen, fit = [], training.renderer_directions
    monkeypatch.setattr(training, "renderer_directions", lambda *a: seen.append(a[-1]) or fit(*a))
    ckpt = tmp_path / "r" / "model.pt"
    code, out, err = run_cli("fit-directions", ckpt, "--manifest", vienna, "--manifest", held_out, "-o", tmp_path / "d.pt")
    assert code == 0, err
    assert seen == [8]  # the debug recipe's segment_notes, as at export (not a fixed 256)
    import torch

    from deepperformer.pipeline.loading import load_renderer
    from deepperformer.training.renderer import PHASE_GRID, RESIDUAL_GRID, WINDOW_GRID

    assert torch.load(ckpt, weights_only=True)["config"]["residual_scale"] is None  # no validation split at export
    fitted = torch.load(tmp_path / "d.pt", weights_only=True)
    scale = fitted["config"]["residual_scale"]
    assert len(scale) == 4 and set(scale) <= set(RESIDUAL_GRID) and "residual share" in out
    assert (
        fitted["provenance"]["residual_scale_fit"]["scale"] == scale
        and "validation_renderer_log_beat_period_r" in fitted["provenance"]["metrics"]
    )
    assert load_renderer(tmp_path / "d.pt").residual_scale == tuple(scale)
    windows = fitted["config"]["windows"]  # one per target, from the grid, fitted on the same performances
    assert len(windows) == 4 and all(tuple(w) in WINDOW_GRID for w in windows) and "windows (notes)" in out
    assert fitted["provenance"]["window_fit"]["windows"] == windows
    assert load_renderer(tmp_path / "d.pt").windows == tuple(map(tuple, windows))
    phases = fitted["config"]["phases"]  # one per target, from PHASE_GRID, on the same performances
    assert len(phases) == 4 and set(phases) <= set(PHASE_GRID) and "window grids averaged" in out
    assert fitted["provenance"]["phase_fit"]["phases"] == phases
    assert load_renderer(tmp_path / "d.pt").phases == tuple(phases)
    directions = load_renderer(tmp_path / "d.pt").directions
    assert set(directions) and "wrote" in out
    # each kept direction was decoded one step out and moves its measure the right way
    assert all(d["method"] in ("classifier", "decoder response") and d["effect"] > 0 for d in directions.values())


def test_a_renderer_starts_from_another_corpus_s_renderer():
    """``transfer_from``: the violin renderer from the piano one. With features mapped by name (a subset,
    in another order) and this corpus's own standardization, the copied network answers raw inputs as
    the source did (the features it lacks held at the source's mean), its posterior too; every
    performer starts at the source's mean performer; with a linear path the output starts at zero."""
    import torch

    from deepperformer.render.model import Renderer, RendererConfig

    torch.manual_seed(0)
    src_names = ["a", "b", "c", "d", "e"]
    names = ["d", "a", "c"]
    common = dict(d_model=16, n_heads=2, layers=2, ffn=32, latent_dim=4, posterior_tempo=True, dropout=0.0)
    src = Renderer(RendererConfig(n_features=5, n_performers=3, learn_pedal=True, hierarchy=True, **common)).eval()
    src.set_statistics(
        torch.randn(5), torch.rand(5) + 0.5, torch.randn(6), torch.rand(6) + 0.5, torch.tensor(4.6), torch.tensor(0.2)
    )
    with torch.no_grad():
        src.performer_emb.weight[:] = src.performer_emb.weight[1]  # one embedding: the mean is that one
    dst = Renderer(RendererConfig(n_features=3, n_performers=2, learn_velocity=False, hierarchy=True, **common)).eval()
    y_mean, y_std = src.y_mean[:4] + torch.randn(4), src.y_std[:4] * 2
    dst.set_statistics(torch.randn(3), torch.rand(3) + 0.5, y_mean, y_std, torch.tensor(4.9), torch.tensor(0.3))
    dst.transfer_from(src.state_dict(), src_names, names)

    raw = torch.randn(1, 6, 3) * 2
    full = src.x_mean.expand(1, 6, 5).clone()
    full[..., [3, 0, 2]] = raw
    onset, mask, levels = (
        torch.arange(6.0)[None],
        torch.ones(1, 6, dtype=torch.bool),
        torch.tensor([[[0, 0], [0, 0], [1, 0], [1, 0], [2, 1], [2, 1]]]),
    )
    with torch.no_grad():
        h_src = src.inp((full - src.x_mean) / src.x_std)
        h_dst = dst.inp((raw - dst.x_mean) / dst.x_std)
        y = torch.randn(1, 6, 4)
        y_src = torch.cat([(y - src.y_mean[:4]) / src.y_std[:4], torch.zeros(1, 6, 2)], -1)  # no pedal: its mean
        log_qpm = torch.tensor([4.7])
        post_src = src.posterior(full, onset, mask, y_src, log_qpm)
        post_dst = dst.posterior(raw, onset, mask, (y - y_mean) / y_std, log_qpm)
        pred_src, _ = src(full, onset, mask, torch.tensor([0]), torch.zeros(1, 4), levels=levels)
        pred_dst, _ = dst(raw, onset, mask, torch.tensor([1]), torch.zeros(1, 4), levels=levels)
    torch.testing.assert_close(h_dst, h_src, rtol=1e-4, atol=1e-4)
    for a, b in zip(post_dst, post_src):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(pred_dst, pred_src[..., :4], rtol=1e-4, atol=1e-4)  # same output rows, standardized
    torch.testing.assert_close(dst.performer_emb.weight[0], src.performer_emb.weight[1])

    skip = Renderer(RendererConfig(n_features=3, n_performers=2, linear_skip=True, **common))
    skip.transfer_from(src.state_dict(), src_names, names)
    assert not skip.out.weight.any() and torch.equal(skip.body.layers[0].linear1.weight, src.body.layers[0].linear1.weight)
    with pytest.raises(ValueError, match="not trained on: x"):
        skip.transfer_from(src.state_dict(), src_names, ["a", "x"])
    with pytest.raises(ValueError, match="layers"):
        Renderer(RendererConfig(n_features=3, **{**common, "layers": 1})).transfer_from(src.state_dict(), src_names, names)


def test_a_renderer_goes_on_with_new_score_features():
    """``init_from`` with score features new to the checkpoint (the phrase-level columns): they are
    placed by name and start silent, so the widened model answers as the old one, whatever their values,
    and its posterior too; a feature it knew that the data lacks is refused."""
    import torch

    from deepperformer.render.model import Renderer, RendererConfig

    torch.manual_seed(0)
    common = dict(d_model=16, n_heads=2, layers=2, ffn=32, latent_dim=4, posterior_tempo=True, dropout=0.0, n_performers=2)
    old = Renderer(RendererConfig(n_features=3, learn_pedal=True, linear_skip=True, **common)).eval()
    old.set_statistics(
        torch.randn(3), torch.rand(3) + 0.5, torch.randn(6), torch.rand(6) + 0.5, torch.tensor(4.6), torch.tensor(0.2)
    )
    with torch.no_grad():
        old.skip.weight.normal_()
    names_old, names = ["b", "d", "f"], ["a", "b", "c", "d", "f"]  # two new ones, between the old
    new = Renderer(RendererConfig(n_features=5, learn_pedal=True, linear_skip=True, **common)).eval()
    fresh_mean, fresh_std = torch.randn(5), torch.rand(5) + 0.5
    new.load_earlier(Renderer.with_new_features(old.state_dict(), names_old, names, fresh_mean, fresh_std))
    assert torch.equal(new.x_mean[[1, 3, 4]], old.x_mean) and torch.equal(new.x_mean[[0, 2]], fresh_mean[[0, 2]])
    x_old = torch.randn(1, 6, 3)
    x_new = torch.randn(1, 6, 5) * 3
    x_new[..., [1, 3, 4]] = x_old
    onset, mask, y = torch.arange(6.0)[None], torch.ones(1, 6, dtype=torch.bool), torch.randn(1, 6, 6)
    with torch.no_grad():
        a, _ = old(x_old, onset, mask, torch.tensor([1]), torch.zeros(1, 4))
        b, _ = new(x_new, onset, mask, torch.tensor([1]), torch.zeros(1, 4))
        pa, pb = (
            old.posterior(x_old, onset, mask, y, torch.tensor([4.7])),
            new.posterior(x_new, onset, mask, y, torch.tensor([4.7])),
        )
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    for u, v in zip(pa, pb):
        torch.testing.assert_close(u, v, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="lacks: f"):
        Renderer.with_new_features(old.state_dict(), names_old, ["a", "b", "d"], fresh_mean[:3], fresh_std[:3])


def test_ema_weights_are_validated_exported_and_resumed(vienna, tmp_path, run_cli):
    """trainer.ema_decay: the export holds the moving average, not the last step's weights; the run
    resumes from its checkpoint with both; a decay outside (0, 1) is refused in one line."""
    import torch

    ema = ("--set", "trainer.ema_decay=0.5", "--set", "trainer.keep_best=false")
    out = tmp_path / "ema"
    _tiny_renderer(run_cli, vienna, out, *ema)
    last = torch.load(out / "ckpt" / "last.ckpt", weights_only=False)
    exported = torch.load(out / "model.pt", weights_only=True)["state_dict"]
    raw = {k[len("model.") :]: v for k, v in last["current_model_state"].items() if k.startswith("model.")}
    avg = {k[len("model.") :]: v for k, v in last["state_dict"].items() if k.startswith("model.")}
    moved = [k for k in raw if raw[k].is_floating_point() and not torch.equal(raw[k], avg[k])]
    assert moved, "the average equals the last weights: no averaging happened"
    for k in moved:
        torch.testing.assert_close(exported[k], avg[k].to(exported[k].dtype))
    code, text, err = run_cli(
        "train", Path(__file__).resolve().parents[1] / "recipes" / "debug" / "renderer.yaml",
        "--set", f"data.manifests=[{vienna}]", "--set", "data.instrument=piano", *ema,
        "--max-steps", "4", "-o", out,
    )  # fmt: skip
    assert code == 0 and "resuming" in text, err
    code, _, err = run_cli(
        "train", Path(__file__).resolve().parents[1] / "recipes" / "debug" / "renderer.yaml",
        "--set", f"data.manifests=[{vienna}]", "--set", "data.instrument=piano", "--set", "trainer.ema_decay=1.5",
        "--max-steps", "1", "-o", tmp_path / "bad",
    )  # fmt: skip
    assert code != 0 and "ema_decay 1.5" in err and "Traceback" not in err


def test_corpora_that_split_one_piece_two_ways_are_refused(vienna, tmp_path):
    """Combined corpora name a shared piece by one id (data/pieces.py): were it validation in one and
    test in another, fitting on validation would see a test piece. Loading them together is refused
    (as Batik's and Vienna 4x22's K331-1 were before session 27)."""
    rows = list(csv.DictReader(vienna.open()))
    piece, split = rows[0]["piece"], rows[0]["split"]
    other = tmp_path / "other" / "manifest.csv"
    other.parent.mkdir()
    with other.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerow(rows[0] | {"split": "test" if split != "test" else "train", "recording": "elsewhere", "dataset": "batik"})
    assert len(load_examples([vienna], (split,))) > 0
    with pytest.raises(DeepPerformerError, match=f"piece '{piece}' is in split"):
        load_examples([vienna, other])


def test_velocity_mae_with_the_level_removed_ignores_a_constant_offset(vienna):
    """A rendering 10 MIDI velocities louder than the human throughout has velocity MAE 10 and, with
    each side's mean level removed, 0; a reshaped one keeps its error."""
    human = load_examples([vienna])[0].enc
    louder = dataclasses.replace(human, params=human.params.copy())
    louder.params["velocity"] += 10 / 127
    out = compare(louder, human)
    assert out["velocity_mae"] == pytest.approx(10.0) and out["velocity_level_mae"] == pytest.approx(0.0, abs=1e-9)
    flipped = dataclasses.replace(human, params=human.params.copy())
    flipped.params["velocity"] = 2 * human.params["velocity"].mean() - human.params["velocity"]
    assert compare(flipped, human)["velocity_level_mae"] > 1.0
