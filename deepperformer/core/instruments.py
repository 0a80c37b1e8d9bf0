"""The instruments we play and their ranges; scores outside a range are refused up front."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import Performance

#: Playable MIDI pitches: the piano's 88 keys; the violin from its open G string (G3) up to A7.
RANGES = {"piano": (21, 108), "violin": (55, 105)}


NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def pitch_name(p: int) -> str:
    return f"{NAMES[p % 12]}{p // 12 - 1}"


def check_range(perf: Performance, instrument: str, source: Path) -> None:
    lo, hi = RANGES[instrument]
    bad = (perf.notes["pitch"] < lo) | (perf.notes["pitch"] > hi)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        p, t = int(perf.notes["pitch"][i]), float(perf.notes["onset_sec"][i])
        raise DeepPerformerError(
            source,
            f"{int(bad.sum())} notes outside the {instrument}'s range {pitch_name(lo)}-{pitch_name(hi)} "
            f"(the first: {pitch_name(p)} at {t:.2f} s); choose another --instrument or transpose",
        )
