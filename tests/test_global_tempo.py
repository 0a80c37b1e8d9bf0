"""The renderer's global tempo: the marked tempo as the training pianists strayed from it
(render/global_tempo.py), the tempo curve centred on it, on the Vienna 4x22 fixture."""

import dataclasses

import numpy as np
import pytest
import torch

from deepperformer.core.score import TEMPO_DTYPE
from deepperformer.render.baselines import Deadpan
from deepperformer.render.corpus import load_examples
from deepperformer.render.global_tempo import TempoReference, fit_tempo_reference, marked_qpm, tempo_errors
from deepperformer.render.inference import ExpressiveRenderer
from tests.test_render import tiny_windowed_renderer


def unmarked(ex):
    """The example with its score's metronome markings taken away."""
    return dataclasses.replace(ex, score=dataclasses.replace(ex.score, tempos=np.zeros(0, TEMPO_DTYPE)))


def test_the_reference_is_the_mean_log_ratio_to_the_marked_tempo(vienna):
    examples = load_examples([vienna])
    assert all(len(ex.score.tempos) for ex in examples)  # the minuet is marked (90 qpm)
    ratios = [np.log(ex.enc.qpm() / Deadpan().render(ex.score).qpm()) for ex in examples]
    bare = [unmarked(ex) for ex in examples[:2]]
    ref = fit_tempo_reference(examples + bare)
    assert ref.marked == pytest.approx(np.mean(ratios)) and ref.marked_performances == len(examples)
    # without a marking the score plays at the default (120 qpm): the ratio is to that
    assert ref.unmarked == pytest.approx(np.mean([np.log(ex.enc.qpm() / 120.0) for ex in bare]))
    assert ref.unmarked_performances == 2 and ref.unmarked != pytest.approx(ref.marked)
    score = examples[0].score
    assert marked_qpm(score) == pytest.approx(90.0)
    assert ref.qpm(score) == pytest.approx(90.0 * np.exp(ref.marked))
    assert ref.qpm(bare[0].score) == pytest.approx(120.0 * np.exp(ref.unmarked))
    assert TempoReference.from_dict(ref.to_dict()) == ref and TempoReference.from_dict(None) is None
    assert fit_tempo_reference([]) is None
    # on the performances it was fitted on it errs less than the marking alone
    errors = tempo_errors(ref, examples)
    assert errors["performances"] == len(examples) and errors["error"] <= errors["marked_error"]


def test_the_renderer_plays_at_the_reference_with_its_curve_centred(vienna):
    examples, m, names, performers = tiny_windowed_renderer(vienna)
    score = examples[0].score
    ref = TempoReference(marked=0.1, unmarked=-0.2)
    plain = ExpressiveRenderer(m, names, performers, window=8, overlap=4)
    centred = ExpressiveRenderer(m, names, performers, window=8, overlap=4, tempo_reference=ref)
    before = plain.render(score)
    assert abs(before.qpm() / 90.0 - 1) > 1e-3  # the curve alone moves the median beat off the marking
    after = centred.render(score)
    assert after.qpm() == pytest.approx(ref.qpm(score), rel=1e-9)
    assert centred.render(score, qpm=77.0).qpm() == pytest.approx(77.0, rel=1e-9)  # --tempo is exact
    # the same curve, only moved: the log beat periods differ by one constant
    shift = np.log(after.params["beat_period"]) - np.log(before.params["beat_period"])
    assert np.ptp(shift) < 1e-9
    # a direction's change of the global tempo survives the centring (it is taken from the plain rendering)
    centred._directed = lambda score, performer, values, qpm, directions: values + np.array([0, 0.1, 0, 0], np.float32)
    slower = centred.render(score, directions=("slower",))
    assert slower.qpm() == pytest.approx(ref.qpm(score) * np.exp(-0.1), rel=1e-5)
    # expressiveness 0 is still deadpan, tempo included
    centred.expressiveness = 0.0
    flat = Deadpan().render(score)
    at = {row: k for k, row in enumerate(flat.rows)}
    zero = centred.render(score)
    np.testing.assert_allclose(zero.params["beat_period"], flat.params["beat_period"][[at[i] for i in zero.rows]])


def test_fit_tempo_writes_the_reference_into_the_checkpoint(vienna, tmp_path, run_cli):
    from deepperformer.pipeline.loading import load_renderer
    from tests.test_render import _tiny_renderer

    ckpt = _tiny_renderer(run_cli, vienna, tmp_path / "r")
    exported = torch.load(ckpt, weights_only=True)
    assert "tempo_reference" in exported["config"]  # training fits it at export (on its training performances)
    old = tmp_path / "old.pt"  # an export from before it existed
    config = {k: v for k, v in exported["config"].items() if k != "tempo_reference"}
    torch.save({**exported, "config": config}, old)
    assert load_renderer(old).tempo_reference is None
    code, out, err = run_cli("fit-tempo", old, "--manifest", vienna, "-o", tmp_path / "t.pt")
    assert code == 0, err
    assert "global tempo:" in out and "from the marked tempo over 3 training performances" in out
    fitted = torch.load(tmp_path / "t.pt", weights_only=True)
    ref = load_renderer(tmp_path / "t.pt").tempo_reference
    assert ref == TempoReference.from_dict(fitted["config"]["tempo_reference"]) and ref.marked_performances == 3
    assert fitted["provenance"]["tempo_reference_fit"]["from"][0]["manifest"] == str(vienna)
    assert torch.equal(fitted["state_dict"]["out.weight"], exported["state_dict"]["out.weight"])


def test_a_score_of_one_onset_plays_at_its_marking(vienna):
    """One chord has no beat to take the median of (deadpan cannot be encoded): the marked tempo is the
    first marking, and the renderer with a reference still renders it."""
    examples, m, names, performers = tiny_windowed_renderer(vienna)
    score = examples[0].score
    first = score.notes["onset_quarter"] == score.notes["onset_quarter"].min()
    f = score.features
    table = dataclasses.replace(f, ids=f.ids[first], values=f.values[first])
    chord = dataclasses.replace(score, notes=score.notes[first], features=table)
    assert marked_qpm(chord) == pytest.approx(90.0)
    r = ExpressiveRenderer(m, names, performers, window=8, overlap=4, tempo_reference=TempoReference(0.1, -0.2))
    assert len(r.render(chord).rows) == first.sum()
    # below full expressiveness the rendering is blended with the chord's deadpan, which is encoded at
    # the marking (it used to fail: "fewer than two aligned score onsets")
    flat = Deadpan().render(chord)
    assert np.allclose(flat.params["beat_period"], 60.0 / 90.0) and np.allclose(flat.params["timing"], 0.0)
    r.expressiveness = 0.0
    assert np.allclose(r.render(chord).params["velocity"], flat.params["velocity"])
    r.expressiveness = 0.5
    assert len(r.render(chord).rows) == first.sum()
