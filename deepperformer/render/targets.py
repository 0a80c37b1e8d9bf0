"""What the learnt renderers predict per note, and the bounds of a plausible performance.

``TARGETS`` per performed note: velocity / 127; the log ratio of its beat period to the performance's
global beat period (the tempo curve's shape; the global tempo is predicted apart); timing (s);
articulation (log2 duration ratio); the sustain pedal's share of the note and whether it is changed at
the note (:mod:`deepperformer.render.pedal`). Values outside ``[TARGET_LOW, TARGET_HIGH]`` are alignment errors,
not expression: in (n)ASAP they reach a log ratio of -28 (two onsets aligned to one instant) or a
timing of 30 s (a note matched to another bar). Corpora drop them (:func:`plausible`), and renderers
never predict beyond them.
"""

from __future__ import annotations

import numpy as np

from deepperformer.render.codec import Encoded

TARGETS = ("velocity", "log_bp_ratio", "timing", "articulation_log", "pedal_down", "pedal_change")
#: The first four: what every renderer learns; the pedal two only renderers with ``learn_pedal`` (piano).
N_TIMING_TARGETS = 4
#: Plausible bounds: any velocity; a local tempo within 4x of the global; up to half a second early or
#: late; articulation from 1/32 to 8 times the written length; pedal shares in [0, 1].
TARGET_LOW = np.array([1 / 127, -np.log(4.0), -0.5, -5.0, 0.0, 0.0], np.float32)
TARGET_HIGH = np.array([1.0, np.log(4.0), 0.5, 3.0, 1.0, 1.0], np.float32)


def targets_of(enc: Encoded) -> np.ndarray:
    """``[M, len(TARGETS)]`` float32 for the notes ``enc.rows``."""
    p = enc.params
    ref_bp = 60.0 / enc.qpm()
    columns = [
        p["velocity"],
        np.log(p["beat_period"] / ref_bp),
        p["timing"],
        p["articulation_log"],
        p["pedal_down"],
        p["pedal_change"],
    ]
    return np.stack(columns, 1).astype(np.float32)


def plausible(enc: Encoded) -> Encoded:
    """``enc`` without the notes whose targets fall outside the plausible bounds (alignment errors)."""
    y = targets_of(enc)
    keep = np.all((y >= TARGET_LOW - 1e-6) & (y <= TARGET_HIGH + 1e-6), axis=1)
    return Encoded(enc.rows[keep], enc.params[keep])
