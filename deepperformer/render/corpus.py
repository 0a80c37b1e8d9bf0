"""Stage 1's training material: every prepared performance that has its score, as codec parameters.

Reads the manifests ``deepperformer prepare`` wrote for the aligned corpora ((n)ASAP, Vienna 4x22,
Batik; the Bach Violin Dataset for violin timing): one :class:`Example` per recording, whose split
is its piece's (so no piece is in two splits). Scores must carry their features (prepared by this
version: ``load_score(..., features=True)``), or the example is refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import Performance
from deepperformer.core.score import Score
from deepperformer.data.manifest import read_manifest
from deepperformer.render.codec import Encoded, encode
from deepperformer.render.targets import plausible


@dataclass
class Example:
    """One human performance of a score: ``enc`` holds its codec parameters for ``enc.rows`` of
    ``score.notes``; ``pedal`` its sustain-pedal events (empty for violin)."""

    recording: str
    dataset: str
    piece: str
    performer: str
    instrument: str
    split: str
    score: Score
    enc: Encoded
    pedal: object


def load_examples(
    manifests: list[Path],
    splits=("train", "validation", "test"),
    instrument: str | None = None,
    require_features: bool = True,
    progress: bool = False,
) -> list[Example]:
    """The examples of ``splits`` in the given manifests (one per recording with a score).

    DeepPerformerError when two corpora put one piece (its corpus-independent id,
    :mod:`deepperformer.data.pieces`) in different splits: combined corpora must keep every piece in
    one. (Within a corpus, ``prepare`` splits by piece; hand-made manifests may split one piece by
    recording, as the tests do with their one-piece fixtures.)"""
    seen: set[tuple[Path, str]] = set()
    split_of: dict[str, dict[str, tuple[str, Path]]] = {}  # piece -> dataset -> (its first split, manifest)
    rows = []
    for m in manifests:
        m = Path(m)
        for r in read_manifest(m):
            corpora = split_of.setdefault(r.piece, {})
            corpora.setdefault(r.dataset, (r.split, m))
            for dataset, (split, where) in corpora.items():
                if dataset != r.dataset and split != r.split:
                    raise DeepPerformerError(
                        m, f"piece {r.piece!r} is in split {r.split!r} here and in {split!r} in {where}: one split per piece"
                    )
            if r.split in splits and r.score and instrument in (None, r.instrument) and (m, r.recording) not in seen:
                seen.add((m, r.recording))
                rows.append((m.parent, r))
    out = []
    for root, r in tqdm(rows, desc="renderer examples", unit="rec", disable=not progress, dynamic_ncols=True):
        score = Score.load(root / r.score)
        if require_features and score.features is None:
            raise DeepPerformerError(
                root / r.score, "score has no renderer features (prepare the corpus again with this version)"
            )
        perf = Performance.load(root / r.performance)
        try:
            enc = plausible(encode(score, perf, source=root / r.performance))  # alignment errors out
        except DeepPerformerError:
            continue  # too short to have a tempo: nothing to learn
        if len(np.unique(score.notes["onset_quarter"][enc.rows])) < 2:
            continue
        out.append(Example(r.recording, r.dataset, r.piece, r.performer, r.instrument, r.split, score, enc, perf.pedal))
    return out
