"""Piece identity across corpora, so that no piece lands in two splits when corpora are combined.

Each corpus names its pieces its own way; the same Mozart sonata movement is ``kv331_1`` in Batik,
``Mozart_K331_1st-mov`` in Vienna 4x22 and ``Mozart/Piano_Sonatas/11-1`` in (n)ASAP. These are the
overlaps among the corpora at hand; every other piece keeps ``<dataset>/<piece>``.
"""

from __future__ import annotations

import re

#: (n)ASAP Mozart sonata numbers -> Köchel numbers (the sonatas (n)ASAP holds).
_NASAP_MOZART_SONATAS = {"8": "310", "11": "331", "12": "332"}

_EXPLICIT = {
    ("vienna4x22", "Mozart_K331_1st-mov"): "mozart-k331-1",
    ("vienna4x22", "Chopin_op10_no3"): "chopin-op10-3",
    ("nasap", "Chopin/Etudes_op_10/3"): "chopin-op10-3",
    ("vienna4x22", "Chopin_op38"): "chopin-op38",
    ("nasap", "Chopin/Ballades/2"): "chopin-op38",
    ("vienna4x22", "Schubert_D783_no15"): "schubert-d783-15",
}


def canonical_piece(dataset: str, piece: str) -> str:
    """A corpus-independent piece id.

    >>> canonical_piece("batik", "kv331_1"), canonical_piece("nasap", "Mozart/Piano_Sonatas/11-3")
    ('mozart-k331-1', 'mozart-k331-3')
    >>> canonical_piece("nasap", "Schubert/Impromptu_op.90_D.899/4_no_repeat")
    'nasap/Schubert/Impromptu_op.90_D.899/4'
    """
    if (dataset, piece) in _EXPLICIT:
        return _EXPLICIT[(dataset, piece)]
    if dataset == "batik":
        m = re.fullmatch(r"kv(\d+)_(\d+)", piece)
        if m:
            return f"mozart-k{m.group(1)}-{m.group(2)}"
    if dataset == "nasap":
        piece = piece.removesuffix("_no_repeat")
        m = re.fullmatch(r"Mozart/Piano_Sonatas/(\d+)-(\d+)", piece)
        if m and m.group(1) in _NASAP_MOZART_SONATAS:
            return f"mozart-k{_NASAP_MOZART_SONATAS[m.group(1)]}-{m.group(2)}"
    if dataset == "bach-violin":
        return piece  # already "bwvNNNN_movM"
    return f"{dataset}/{piece}"
