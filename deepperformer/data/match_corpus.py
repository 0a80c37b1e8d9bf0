"""Match-file corpora: Vienna 4x22 and Batik-plays-Mozart (match format 1.0.0).

Vienna 4x22: ``match/<piece>_pNN.match``, ``musicxml/<piece>.musicxml``, ``midi/``; the MusicXML note
ids equal the match file's score ids as written (no unfolding). The performer comes from the match
file's ``info(performer, ...)``.
Batik-plays-Mozart: ``match/kvNNN_M.match``, ``scores/kvNNN_M.musicxml``, ``midi/`` (shipped here as
``batik_plays_mozart.tar.xz``, extracted once under the output folder); ids refer to the maximally
unfolded score; one pianist, Roland Batik.
No audio: one manifest row per performance (for the renderer).
"""

from __future__ import annotations

from pathlib import Path

from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import load_match, match_info
from deepperformer.core.tempo import estimate_tempo
from deepperformer.data.aligned import load_aligned_score
from deepperformer.data.base import DatasetSpec, PrepareOptions, extracted_root
from deepperformer.data.naming import slug
from deepperformer.data.pieces import canonical_piece
from deepperformer.data.recording import Recording, cache_recording


def _matches(root: Path, score_dir: str) -> list[Path]:
    if not (root / "match").is_dir() or not (root / score_dir).is_dir():
        raise DeepPerformerError(root, f"unknown layout: match/ and {score_dir}/ expected")
    files = sorted((root / "match").glob("*.match"))
    if not files:
        raise DeepPerformerError(root / "match", "no .match files")
    return files


def vienna_recordings(root: Path) -> list[Recording]:
    recs = []
    for m in _matches(root, "musicxml"):
        piece = match_info(m, "piece") or m.stem.rsplit("_p", 1)[0]
        recs.append(
            Recording(
                rec_id=m.stem,
                dataset="vienna4x22",
                piece=canonical_piece("vienna4x22", piece),
                performer=slug(match_info(m, "performer") or m.stem.rsplit("_", 1)[-1]),
                instrument="piano",
                source=str(m),
                seconds=1.0,
                extra={
                    "score": str(root / "musicxml" / f"{piece}.musicxml"),
                    "unfold": "none",
                    "midi": str(root / "midi" / f"{m.stem}.mid"),
                },
            )
        )
    return recs


def batik_root(root: Path, out: Path) -> Path:
    return extracted_root(root, "batik_plays_mozart.tar.xz", "batik_plays_mozart", "match", out)


def batik_recordings(root: Path) -> list[Recording]:
    recs = []
    for m in _matches(root, "scores"):
        recs.append(
            Recording(
                rec_id=m.stem,
                dataset="batik",
                piece=canonical_piece("batik", m.stem),
                performer=slug(match_info(m, "performer") or "Roland Batik"),
                instrument="piano",
                source=str(m),
                seconds=1.0,
                extra={
                    "score": str(root / "scores" / f"{m.stem}.musicxml"),
                    "unfold": "maximal",
                    "midi": str(root / "midi" / f"{m.stem}.mid"),
                },
            )
        )
    return recs


def find_vienna(root: Path, out: Path, opts: PrepareOptions) -> tuple[list[Recording], list[str]]:
    return vienna_recordings(root), []


def find_batik(root: Path, out: Path, opts: PrepareOptions) -> tuple[list[Recording], list[str]]:
    return batik_recordings(batik_root(root, out)), []


def process(rec: Recording, out: Path) -> list:
    perf, _ = load_match(rec.source)
    score = load_aligned_score(rec.extra["score"], perf, rec.extra["unfold"], rec.source)
    return cache_recording(out, rec, perf, score=score, tempo_qpm=estimate_tempo(perf, score))


VIENNA = DatasetSpec("vienna4x22", False, find_vienna, process, description="Vienna 4x22: 22 pianists x 4 excerpts, match files")
BATIK = DatasetSpec("batik", False, find_batik, process, description="Batik-plays-Mozart: 36 movements, match files")
