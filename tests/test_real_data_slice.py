"""A small slice of the real corpora in ../shared/data, in the default suite (seconds): the loaders on
real files, beside the fixtures' copies of the same formats. The full preparations are in
test_real_data.py (``-m slow``). Skipped, with the reason, on a machine without the data."""

from pathlib import Path

import numpy as np
import pytest

from deepperformer.core.tempo import estimate_tempo
from deepperformer.data import bach_violin, match_corpus
from deepperformer.data.aligned import id_coverage, load_aligned_score

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

pytestmark = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"the real corpora are not on this machine ({SHARED} missing): only the fixtures run"
)


def test_a_real_bach_violin_movement_loads_with_its_alignment():
    root = SHARED / "bach-violin"
    row = bach_violin.read_info(root)[0]
    notes, align, tempo = bach_violin.movement_files(root, row)
    from deepperformer.core.performance import load_bach_violin

    score, perf = load_bach_violin(notes, align)
    n_rows = sum(1 for _ in open(notes)) - 1  # the notes CSV: one row per note after the header
    assert len(score) == n_rows and len(perf) > 0.9 * n_rows
    onsets = perf.notes["onset_sec"]
    assert np.all(np.diff(onsets) >= -1e-6)  # performed in order: the alignment maps score onsets monotonically
    assert 20 < estimate_tempo(perf, score) < 300  # a plausible tempo, not a unit slip (seconds vs frames)
    assert 20 < bach_violin.read_tempo(tempo) < 300


def test_a_real_vienna_performance_aligns_with_its_score():
    rec = match_corpus.vienna_recordings(SHARED / "vienna4x22")[0]
    from deepperformer.core.performance import load_match

    perf, _ = load_match(rec.source)
    score = load_aligned_score(rec.extra["score"], perf, rec.extra["unfold"], rec.source)
    assert id_coverage(perf, score) >= 0.9
    assert 30 < estimate_tempo(perf, score) < 250
