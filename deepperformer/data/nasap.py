"""(n)ASAP v2.1 (official layout): ``metadata.csv`` beside the composer folders, each performance
with ``<perf>_note_alignments/note_alignment.tsv``. The shared copy ships the folders as
``nasap_core.tar.xz``; it is extracted once under the output folder when the folders are absent.

Only rows with ``robust_note_alignment == 1`` are used unless ``--all-alignments`` is given. The
performer is the letters of the performance file name before its digits. Alignment ids refer to the
maximally unfolded score. No audio: one manifest row per performance (for the renderer).
"""

from __future__ import annotations

from pathlib import Path

from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import load_nasap
from deepperformer.core.tempo import estimate_tempo
from deepperformer.data.aligned import load_aligned_score
from deepperformer.data.base import (
    DatasetSpec,
    PrepareOptions,
    extracted_root,
    read_csv_rows,
)
from deepperformer.data.naming import performer_from_asap_name, slug
from deepperformer.data.pieces import canonical_piece
from deepperformer.data.recording import Recording, cache_recording

COLUMNS = ("folder", "xml_score", "midi_performance", "note_alignments", "robust_note_alignment")


def data_folder(root: Path, rows: list[dict], out: Path) -> Path:
    """The folder holding the composer folders: ``root``, or ``nasap_core.tar.xz`` extracted under ``out``."""
    first = rows[0]["folder"].split("/")[0] if rows else "Bach"
    return extracted_root(root, "nasap_core.tar.xz", "", first, out)


def performances(root: Path, out: Path, all_alignments: bool = False) -> tuple[list[dict], Path, list[str]]:
    """Usable metadata rows (files present), the data folder, and remarks on what was left out."""
    meta = root / "metadata.csv"
    if not meta.exists():
        raise DeepPerformerError(root, "unknown layout: not an (n)ASAP folder (metadata.csv expected)")
    rows = read_csv_rows(meta, COLUMNS)
    data = data_folder(root, rows, out)
    usable, not_robust, missing = [], 0, 0
    for row in rows:
        if not all_alignments and row["robust_note_alignment"].strip() not in ("1", "1.0"):
            not_robust += 1
            continue
        if not row["note_alignments"] or not all(
            (data / row[k]).exists() for k in ("xml_score", "midi_performance", "note_alignments")
        ):
            missing += 1
            continue
        usable.append(row)
    remarks = [f"{not_robust} of {len(rows)} performances left out: robust_note_alignment != 1"] if not_robust else []
    remarks.append(f"{missing} of {len(rows)} performances skipped: score, MIDI or alignment file missing")
    return usable, data, remarks


def find(root: Path, out: Path, opts: PrepareOptions) -> tuple[list[Recording], list[str]]:
    usable, data, remarks = performances(root, out, opts.all_alignments)
    recs = []
    for row in usable:
        midi = data / row["midi_performance"]
        recs.append(
            Recording(
                rec_id=slug(f"{row['folder']}/{midi.stem}"),
                dataset="nasap",
                piece=canonical_piece("nasap", row["folder"]),
                performer=performer_from_asap_name(midi.stem),
                instrument="piano",
                source=str(midi),
                seconds=1.0,
                extra={"score": str(data / row["xml_score"]), "alignment": str(data / row["note_alignments"])},
            )
        )
    return recs, remarks


def process(rec: Recording, out: Path) -> list:
    perf = load_nasap(rec.source, rec.extra["alignment"])
    score = load_aligned_score(rec.extra["score"], perf, "maximal", rec.extra["alignment"])
    return cache_recording(out, rec, perf, score=score, tempo_qpm=estimate_tempo(perf, score))


SPEC = DatasetSpec("nasap", False, find, process, description="(n)ASAP: piano scores + performance MIDI + note alignments")
