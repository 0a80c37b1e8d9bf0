"""The sustain pedal in stage 1: per-note targets from controller 64, events back from them, pedal F1."""

import numpy as np
import pytest

from deepperformer.core.performance import PEDAL_DTYPE, Performance, load_match, make_notes
from deepperformer.core.score import load_score
from deepperformer.evaluation.renderers import format_renderer_table, wins
from deepperformer.render.baselines import AlwaysPedal, Deadpan, MeanCurve
from deepperformer.render.codec import PARAM_DTYPE, Encoded, decode, encode
from deepperformer.render.corpus import load_examples
from deepperformer.render.metrics import HUMAN, compare, evaluate_renderers, summarize
from deepperformer.render.pedal import note_pedal, pedal_events
from tests.conftest import DATA


def _state(pedal: np.ndarray, t: np.ndarray) -> np.ndarray:
    k = np.searchsorted(pedal["time_sec"], t, side="right") - 1
    return np.where(k < 0, False, pedal["value"][np.maximum(k, 0)] >= 64)


def test_a_legato_pedal_comes_back_from_its_per_note_values():
    """Chords every second, the pedal changed at each (lifted with the chord, pressed 0.25 s later), then
    a dry bar: the events decoded from the notes' values reproduce the pedal frame by frame."""
    onset = np.repeat(np.arange(6.0), 2)
    score_onset = onset * 1.0  # one chord per quarter
    offset = onset + 0.9
    human = np.array(
        [(0.0, 0), (0.2, 127)] + [e for t in (1.0, 2.0, 3.0) for e in ((t + 0.02, 0), (t + 0.27, 127))] + [(4.0, 0)],
        PEDAL_DTYPE,
    )
    values = note_pedal(onset, score_onset, offset, human)
    assert values[:8, 0].min() > 0.7 and values[8:, 0].max() == 0  # down through the first 4 chords, then dry
    assert values[2:8, 1].min() == 1 and values[:2, 1].max() == 0  # changed at chords 2-4, not at the first
    events = pedal_events(onset, score_onset, values, 6.0)
    t = np.arange(0.0, 6.0, 0.01)
    assert (_state(events, t) == _state(human, t)).mean() > 0.9
    assert len(pedal_events(onset, score_onset, np.zeros((12, 2)), 6.0)) == 0  # no pedal asked for: none


def test_the_codec_carries_the_pedal_of_a_performance():
    score = load_score(DATA / "vienna4x22" / "musicxml" / "Minuet.musicxml", unfold="none")
    perf, _ = load_match(DATA / "vienna4x22" / "match" / "Minuet_p01.match")
    assert len(perf.pedal) > 0
    enc = encode(score, perf)
    assert 0 < enc.params["pedal_down"].max() <= 1
    back = decode(score, enc)
    assert len(back.pedal) > 0 and back.pedal_down().any()
    # without pedal events the performance encodes no pedal, and decodes to none
    dry = encode(score, Performance(perf.notes, np.zeros(0, PEDAL_DTYPE)))
    assert not dry.params["pedal_down"].any() and len(decode(score, dry).pedal) == 0


def test_pedal_f1_in_the_renderer_table(vienna):
    examples = load_examples([vienna])
    systems = [Deadpan(), MeanCurve().fit(examples)]
    res = evaluate_renderers(systems, examples, min_performances=3)
    summary = summarize(res)
    assert summary["deadpan"]["pedal_f1"] == 0.0  # deadpan never pedals
    assert summary[HUMAN]["pedal_f1"] > 0.5 and summary["mean-curve"]["pedal_f1"] > 0.0
    assert "pedal F1 |" in format_renderer_table(summary, len(res[HUMAN]))
    w = wins(res, "mean-curve", "deadpan")
    assert "pedal F1" in w
    # the global tempo error is compared too (lower is better): the mean difference of the per-performance errors
    own = np.mean([a["tempo_error"] - b["tempo_error"] for a, b in zip(res["mean-curve"], res["deadpan"])])
    assert w["tempo error"][0] == pytest.approx(own)


def test_pedal_r_does_not_reward_the_base_rate(vienna):
    """Holding the pedal down throughout scores a good F1 (most notes are pedalled) but no r: the
    threshold-free pedal r and MAE say whether a rendering pedals where the human did."""
    examples = load_examples([vienna])
    res = evaluate_renderers([AlwaysPedal(), MeanCurve().fit(examples)], examples, min_performances=3)
    summary = summarize(res)
    assert summary["always pedal down"]["pedal_f1"] > 0.5 and summary["always pedal down"]["pedal_r"] == 0.0
    assert summary[HUMAN]["pedal_r"] > 0.2  # pianists of one piece pedal much alike
    assert summary[HUMAN]["pedal_mae"] < summary["always pedal down"]["pedal_mae"]
    table = format_renderer_table(summary, len(res[HUMAN]))
    assert "pedal r | pedal MAE | pedal F1 |" in table
    assert "pedal r" in wins(res, "mean-curve", "always pedal down")


def test_no_pedal_no_pedal_f1():
    """Performances without pedal (violin) have no pedal F1: NaN, left out of the means and the table."""
    notes = make_notes(np.arange(4.0), np.full(4, 0.5), np.arange(60, 64), np.full(4, 64))
    perf = Performance(notes)
    assert np.isnan(summarize({"x": [{"pedal_f1": float("nan"), "recording": "a"}]})["x"]["pedal_f1"])
    params = np.zeros(4, PARAM_DTYPE)
    params["beat_period"], params["velocity"] = 0.5, np.linspace(0.3, 0.6, 4)
    dry = compare(Encoded(np.arange(4), params), Encoded(np.arange(4), params))
    assert np.isnan(dry["pedal_r"]) and np.isnan(dry["pedal_mae"]) and np.isnan(dry["pedal_f1"])
    assert "pedal" not in format_renderer_table({"x": {**dict.fromkeys(_keys(), 0.0), "pedal_f1": float("nan")}}, 1)
    assert len(perf.pedal) == 0


def _keys():
    from deepperformer.render.metrics import FEATURES

    return [f"{f}_{m}" for f in FEATURES for m in ("r", "mae")] + ["tempo_error"]


def test_recalibration_pedals_as_many_notes_as_the_pianists():
    """A regression that pedals too few notes, recalibrated, pedals the pianists' share of them, in the
    same order (so pedal r is what it was)."""
    from deepperformer.render.pedal import base_rate_threshold, recalibrated

    rng = np.random.default_rng(0)
    human = (rng.random(2000) < 0.57).astype(float)  # the piano validation pianists' 57 %
    predicted = np.clip(0.3 * human + 0.35 + 0.15 * rng.standard_normal(2000), 0, 1)  # pulled to the mean
    t = base_rate_threshold(predicted, human)
    after = recalibrated(predicted, t)
    assert abs(np.mean(after >= 0.5) - 0.57) < 0.01 < abs(np.mean(predicted >= 0.5) - 0.57)
    assert np.all(np.diff(after[np.argsort(predicted)]) >= 0)  # monotone
    assert base_rate_threshold(predicted, np.zeros(2000)) == 0.5  # no human pedal: nothing to match


def test_a_recalibrated_system_pedals_the_held_out_base_rate(vienna):
    """fit_pedal_threshold renders each performance as its pianist and matches the pianists' share; a
    system with that threshold then pedals that share of the same notes."""
    from deepperformer.render.baselines import BasisRidge
    from deepperformer.render.metrics import fit_pedal_threshold

    examples = load_examples([vienna])
    ridge = BasisRidge().fit(examples)
    ridge.coef[:, 4] *= 0.5  # a timid pedal: half the predicted share, as a regression to the mean gives
    before = fit_pedal_threshold(ridge, examples)
    assert before["performances"] == len(examples) and before["notes"] > 0
    assert before["predicted_share"] < before["human_share"] and before["threshold"] < 0.5
    ridge.pedal_threshold = before["threshold"]
    after = fit_pedal_threshold(ridge, examples)
    assert abs(after["predicted_share"] - after["human_share"]) < abs(before["predicted_share"] - before["human_share"])


def test_the_renderer_table_shows_a_recalibrated_renderer_as_predicted_too(vienna):
    """A system with its own pedal threshold gets a second row with its pedal as predicted: the
    recalibration's ablation, in the same table."""
    from deepperformer.evaluation.renderers import renderer_report
    from deepperformer.render.baselines import BasisRidge

    mine = BasisRidge().fit(load_examples([vienna]))
    mine.name, mine.pedal_threshold = "mine", 0.3
    text, results = renderer_report([mine], [vienna], split="train", controls=False)
    assert "| mine |" in text and "| mine, pedal as predicted |" in text
    assert "mine vs basis-ridge: " in text and "pedal as predicted vs" not in text  # a reference row, not a contender
    down = [np.mean([r["pedal_mae"] for r in results[k]]) for k in ("mine", "mine, pedal as predicted")]
    assert down[0] != down[1]
