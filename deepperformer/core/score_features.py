"""Score note features for the expressive renderer: partitura's note-feature (basis) functions.

Each function describes every note of a part by a few named columns: dynamics markings (constant,
crescendo/diminuendo, as a basis that decays after the marking), tempo markings (ritardando,
accelerando, fermata), articulation (staccato, accent, tenuto, slur position), metrical position and
strength, time signature, pitch and duration, grace notes, ornaments, staff, and the notes sounding
with it. The set of columns depends on the markings a score has, so features travel with their
names (:class:`FeatureTable`), and a model maps names onto its own columns (missing ones are 0).

Functions that fail on a part (partitura's are written for MusicXML and can stumble on kern or MEI)
are left out for that part and named in ``failed``: a renderer still gets the rest.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

#: partitura's basis functions the renderer reads. Left out: clef_feature (says nothing about how to
#: play, and fails on some kern files), onset_feature and measure_feature (absolute positions in the
#: piece: they name where a note is, not what it is, and do not carry over between pieces).
BASIS_FUNCTIONS = (
    "polynomial_pitch_feature",
    "duration_feature",
    "relative_score_position_feature",
    "grace_feature",
    "loudness_direction_feature",
    "tempo_direction_feature",
    "articulation_direction_feature",
    "slur_feature",
    "articulation_feature",
    "ornament_feature",
    "fermata_feature",
    "metrical_feature",
    "metrical_strength_feature",
    "staff_feature",
    "time_signature_feature",
    "vertical_neighbor_feature",
)


@dataclass
class FeatureTable:
    """``values`` ``[N, F]`` float32 for the notes ``ids`` ``[N]``, columns named by ``names`` ``[F]``."""

    ids: np.ndarray
    values: np.ndarray
    names: tuple[str, ...]
    failed: tuple[str, ...] = field(default_factory=tuple)

    def columns(self, names: tuple[str, ...] | list[str]) -> np.ndarray:
        """``[N, len(names)]`` float32: these columns in this order, 0 where this score lacks one."""
        own = {n: i for i, n in enumerate(self.names)}
        out = np.zeros((len(self.ids), len(names)), np.float32)
        for j, n in enumerate(names):
            if n in own:
                out[:, j] = self.values[:, own[n]]
        return out


def basis_features(part) -> FeatureTable:
    """The BASIS_FUNCTIONS of a partitura Part (after any unfolding), one row per note of
    ``part.note_array(include_grace_notes=True)``."""
    from partitura.musicanalysis import make_note_features

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        na = part.note_array(include_grace_notes=True)
        blocks, names, failed = [], [], []
        for fn in BASIS_FUNCTIONS:
            try:
                values, cols = make_note_features(part, [fn])
            except Exception:  # noqa: BLE001 - partitura raises many kinds; the rest of the features still serve
                failed.append(fn)
                continue
            if len(values) != len(na):
                failed.append(fn)
                continue
            blocks.append(np.asarray(values, np.float32))
            names.extend(cols)
    values = np.concatenate(blocks, axis=1) if blocks else np.zeros((len(na), 0), np.float32)
    return FeatureTable(np.asarray(na["id"]), np.nan_to_num(values), tuple(names), tuple(failed))
