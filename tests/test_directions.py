"""Performance directions (louder, slower@12-20, ...) and the renderer's control checks, with the
shipped piano renderer on a shipped example score."""

from pathlib import Path

import numpy as np
import pytest

from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.score import load_score
from deepperformer.render.controls import axis_value, direction_shares
from deepperformer.render.directions import WORDS, Direction

ROOT = Path(__file__).resolve().parents[1]
RENDERER = ROOT / "checkpoints" / "renderer_piano.pt"
MINUET = ROOT / "data" / "examples" / "minuet_in_g.krn"


@pytest.fixture(scope="module")
def renderer():
    from deepperformer.pipeline.loading import load_renderer

    return load_renderer(RENDERER)


@pytest.fixture(scope="module")
def minuet():
    return load_score(MINUET, features=True)


@pytest.mark.parametrize("bad", ["loud", "softer@", "softer@20-12", "softer:0", "softer:9", "@3"])
def test_a_bad_direction_is_refused(bad):
    with pytest.raises(DeepPerformerError, match="--direction"):
        Direction.parse(bad)


def test_bar_weights_fade_over_one_bar_each_side(minuet):
    assert minuet.bars is not None and minuet.bars.min() == 1 and minuet.bars.max() == 16
    w = Direction.parse("softer@5-8").weights(minuet.bars)
    assert np.all(w[(minuet.bars >= 5) & (minuet.bars <= 8)] == 1.0)
    assert np.all(w[(minuet.bars == 4) | (minuet.bars == 9)] == 0.5)
    assert np.all(w[(minuet.bars <= 3) | (minuet.bars >= 10)] == 0.0)
    with pytest.raises(DeepPerformerError, match="bars are 1-16"):
        Direction.parse("softer@40-50").weights(minuet.bars)


def test_the_shipped_renderer_has_every_direction(renderer):
    assert set(renderer.directions) == {axis for axis, _ in WORDS.values()}
    for d in renderer.directions.values():
        assert len(d["vector"]) == renderer.model.config.latent_dim and d["scale"] > 0


def test_every_direction_moves_its_measure_the_right_way_and_keeps_the_notes(renderer, minuet):
    shares = direction_shares(renderer, [minuet])
    assert set(shares) == set(WORDS)
    wrong = [w for w, s in shares.items() if s["right_way"] < 1.0]
    assert not wrong, f"moved the wrong way: {wrong}"
    assert all(s["same_notes"] == 1.0 for s in shares.values())


def test_a_direction_on_bars_changes_those_bars_only(renderer, minuet):
    plain = renderer.render(minuet)
    soft = renderer.render(minuet, directions=(Direction.parse("softer@5-8"),))
    assert np.array_equal(plain.rows, soft.rows)
    bars = minuet.bars[plain.rows]
    change = soft.params["velocity"] - plain.params["velocity"]
    assert np.all(change[(bars >= 5) & (bars <= 8)] < 0)
    assert np.allclose(change[(bars <= 3) | (bars >= 10)], 0.0, atol=1e-6)
    # two directions on the same bars add up
    both = renderer.render(minuet, directions=(Direction.parse("softer@5-8"), Direction.parse("softer@5-8")))
    assert axis_value(both, "dynamics") < axis_value(soft, "dynamics")


def test_expressiveness_zero_is_deadpan_even_with_directions(renderer, minuet):
    from deepperformer.render.baselines import Deadpan

    renderer.expressiveness = 0.0
    try:
        zero = renderer.render(minuet, directions=(Direction("louder"),))
    finally:
        renderer.expressiveness = 1.0
    flat = Deadpan().render(minuet)
    at = {row: k for k, row in enumerate(flat.rows)}
    for name in ("beat_period", "velocity", "timing", "articulation_log"):
        np.testing.assert_allclose(zero.params[name], flat.params[name][[at[i] for i in zero.rows]], atol=1e-6)


def test_render_command_takes_directions(tmp_path, run_cli):
    code, out, err = run_cli("render", MINUET, "-o", tmp_path / "a.csv", "--direction", "legato@3-6", "--direction", "slower")
    assert code == 0, err and "renderer_piano.pt" in out
    code, _, err = run_cli("render", MINUET, "-o", tmp_path / "b.csv", "--direction", "legato@30-36")
    assert code == 2 and "bars are 1-16" in err and not (tmp_path / "b.csv").exists()
    code, _, err = run_cli("render", MINUET, "-o", tmp_path / "c.csv", "--deadpan", "--direction", "louder")
    assert code == 2 and "needs a renderer" in err
