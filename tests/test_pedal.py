"""The sustain pedal in stage 1: per-note targets from controller 64, events back from them, pedal F1."""

import numpy as np

from deepperformer.core.performance import PEDAL_DTYPE, Performance, load_match, make_notes
from deepperformer.core.score import load_score
from deepperformer.evaluation.renderers import format_renderer_table, wins
from deepperformer.render.baselines import Deadpan, MeanCurve
from deepperformer.render.codec import decode, encode
from deepperformer.render.corpus import load_examples
from deepperformer.render.metrics import HUMAN, evaluate_renderers, summarize
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
    assert "pedal F1" in wins(res, "mean-curve", "deadpan")


def test_no_pedal_no_pedal_f1():
    """Performances without pedal (violin) have no pedal F1: NaN, left out of the means and the table."""
    notes = make_notes(np.arange(4.0), np.full(4, 0.5), np.arange(60, 64), np.full(4, 64))
    perf = Performance(notes)
    assert np.isnan(summarize({"x": [{"pedal_f1": float("nan"), "recording": "a"}]})["x"]["pedal_f1"])
    assert "pedal" not in format_renderer_table({"x": {**dict.fromkeys(_keys(), 0.0), "pedal_f1": float("nan")}}, 1)
    assert len(perf.pedal) == 0


def _keys():
    from deepperformer.render.metrics import FEATURES

    return [f"{f}_{m}" for f in FEATURES for m in ("r", "mae")] + ["tempo_error"]
