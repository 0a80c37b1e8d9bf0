"""Slow checks on the real corpora in ../shared/data (run with `pytest -m slow`; skipped when absent)."""

from pathlib import Path

import pytest

from deepperformer.data.manifest import read_manifest
from deepperformer.data.prepare import prepare

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data not present")]


def test_prepare_real_bach_violin(tmp_path):
    s = prepare("bach-violin", SHARED / "bach-violin", tmp_path / "bv", workers=2, log=lambda *a: None)
    assert s["recordings"] == 8 and s["failed"] == 0
    assert 17.5 < s["hours"] * 60 < 18.5  # about 18 minutes of real violin
    rows = read_manifest(tmp_path / "bv" / "manifest.csv")
    assert {r.performer for r in rows} == {"john-garner", "minji-kim", "oliver-colbentson"}
    assert {r.split for r in rows} == {"train", "validation", "test"}
    assert len(list((tmp_path / "bv" / "previews").glob("*.png"))) == 3


def test_every_vienna_and_batik_pair_aligns(tmp_path):
    for name in ("vienna4x22", "batik"):
        s = prepare(name, SHARED / name, tmp_path / name, workers=2, log=lambda *a: None)
        assert s["failed"] == 0, name
