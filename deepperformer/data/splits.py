"""Train/validation/test splits by piece: no piece is ever in two splits.

Pieces are walked in the order of a salted SHA-1 of their name (deterministic, independent of file
order and machine) and given to test, then validation, until each holds its share of the total
duration; the rest is train. Pieces fixed by a held-out list (``--splits FILE``, a splits.json written
by an earlier run) keep their split, so corpora can share held-out pieces.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from deepperformer.core.atomic import write_json
from deepperformer.core.errors import DeepPerformerError, require_file
from deepperformer.data.manifest import SPLITS

SALT = "deepperformer-splits-v1"


def _rank(piece: str) -> str:
    return hashlib.sha1(f"{SALT}:{piece}".encode()).hexdigest()


def assign_splits(
    piece_seconds: dict[str, float],
    validation: float = 0.1,
    test: float = 0.1,
    fixed: dict[str, str] | None = None,
) -> dict[str, str]:
    """Map each piece to "train", "validation" or "test".

    ``piece_seconds``: duration per piece (the weight of the shares). ``fixed``: pieces whose split is
    given. With three or more free pieces, validation and test each get at least one; with fewer,
    the free pieces all go to train (a held-out split needs a piece of its own).

    >>> s = assign_splits({f"p{i}": 60.0 for i in range(20)})
    >>> sorted(list(s.values()).count(k) for k in ("test", "validation"))
    [2, 2]
    """
    fixed = {p: s for p, s in (fixed or {}).items() if p in piece_seconds}
    out = dict(fixed)
    total = sum(piece_seconds.values())
    have = {s: sum(piece_seconds[p] for p, sp in fixed.items() if sp == s) for s in SPLITS}
    free = sorted((p for p in piece_seconds if p not in fixed), key=_rank)
    targets = (("test", test), ("validation", validation)) if len(free) >= 3 else ()
    i = 0
    for name, share in targets:
        need_one = len(free) >= 3 and have[name] == 0
        while i < len(free) and (have[name] < share * total or need_one):
            out[free[i]] = name
            have[name] += piece_seconds[free[i]]
            need_one = False
            i += 1
    for p in free[i:]:
        out[p] = "train"
    return out


def piece_durations(recs) -> dict[str, float]:
    """Seconds per piece over recordings (objects with ``piece`` and ``seconds``)."""
    out: dict[str, float] = {}
    for r in recs:
        out[r.piece] = out.get(r.piece, 0.0) + max(r.seconds, 1e-3)
    return out


def save_splits(path: str | Path, splits: dict[str, str], piece_seconds: dict[str, float]) -> None:
    """Write the held-out lists (and the train list) with their durations."""
    doc = {"salt": SALT, "pieces": {s: sorted(p for p, sp in splits.items() if sp == s) for s in SPLITS}}
    doc["hours"] = {s: round(sum(piece_seconds[p] for p in doc["pieces"][s]) / 3600, 4) for s in SPLITS}
    write_json(path, doc)


def load_splits(path: str | Path) -> dict[str, str]:
    """Read a splits.json into piece -> split."""
    path = require_file(path, "splits file")
    try:
        doc = json.loads(Path(path).read_text())
        return {p: s for s in SPLITS for p in doc["pieces"].get(s, [])}
    except (json.JSONDecodeError, KeyError, AttributeError, TypeError) as e:
        raise DeepPerformerError(path, f"not a splits file ({e})") from None
