"""Real-world scores as users have them: the corpus that ships in the music21 wheel (hundreds of
MusicXML, MXL and kern files by many hands; test data only, music21 is never imported by
deepperformer) loads through `check-scores`. Target: >= 98 % of the files partitura itself reads.

A spread-out sample runs by default; the whole corpus (about 2000 files, 1977 of 1980 loading when
last run, the other 3 unreadable by partitura itself) with ``-m slow``."""

from pathlib import Path

import pytest

from deepperformer.data.score_check import check_scores


@pytest.fixture(scope="module")
def corpus() -> Path:
    music21 = pytest.importorskip("music21", reason="music21 is in the dev extra: pip install -e '.[dev]'")
    return Path(music21.__file__).parent / "corpus"


def _check(corpus: Path, tmp_path: Path, sample: int | None) -> dict:
    result = check_scores(corpus, tmp_path / "report.csv", tmp_path / "work", workers=2, sample=sample)
    assert (tmp_path / "report.csv").exists()
    print(
        f"music21 corpus: {sum(result['ok'].values())} loaded, {sum(result['failed'].values())} failed; pass rate over "
        f"the {result['partitura_reads']} files partitura reads: {100 * result['pass_rate']:.1f} %"
    )
    return result


def test_a_sample_of_the_music21_corpus_loads(corpus, tmp_path):
    result = _check(corpus, tmp_path, sample=40)
    assert result["partitura_reads"] >= 30
    assert result["pass_rate"] >= 0.98, result["failed_partitura_reads"]


@pytest.mark.slow
def test_the_whole_music21_corpus_loads(corpus, tmp_path):
    result = _check(corpus, tmp_path, sample=None)
    assert result["partitura_reads"] >= 1500
    assert result["pass_rate"] >= 0.98, result["failed_partitura_reads"]
