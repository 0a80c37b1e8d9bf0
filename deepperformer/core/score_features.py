"""Score note features for the expressive renderer: partitura's note-feature (basis) functions.

Each function describes every note of a part by a few named columns: dynamics markings (constant,
crescendo/diminuendo, as a basis that decays after the marking), tempo markings (ritardando,
accelerando, fermata), articulation (staccato, accent, tenuto, slur position), metrical position and
strength, time signature, pitch and duration, grace notes, ornaments, staff, and the notes sounding
with it. The set of columns depends on the markings a score has, so features travel with their
names (:class:`FeatureTable`), and a model maps names onto its own columns (missing ones are 0).
Beside them, a few phrase-level columns of the project's own (:func:`structure_features`): where a note
stands in the flow (gaps before and after it, rests, nearness of the end, of fermatas and long notes).

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


#: The phrase-level columns :func:`structure_features` adds (prefix ``structure.``): partitura's basis
#: functions describe a note and its beat, not where it stands in the music's flow, which is what
#: pianists' tempo curves follow most (ritardandi before long notes, rests, fermatas and the end).
STRUCTURE_PREFIX = "structure."
#: Beats over which the nearness of a boundary decays (e^-1 at this distance).
BOUNDARY_BEATS = 4.0


def structure_features(notes: np.ndarray, fermata: np.ndarray | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """(``[N, 7]`` float32, names) of score notes ``notes`` (SCORE_NOTE_DTYPE, sorted by onset) with the
    fermata column ``fermata`` ``[N]`` (partitura's, > 0 on a fermata note; None: none), per onset:

    - ``ioi_next``, ``ioi_prev``: log2 of the beats to the next (from the previous) onset, clipped to
      [-4, 4] (0 beyond the ends): a long note is a place to breathe;
    - ``rest_after``: log2(1 + beats of silence between the onset's last release and the next onset);
    - ``to_end``, ``from_start``: e^(-beats / BOUNDARY_BEATS) to the last onset (from the first): the
      final ritardando and the opening;
    - ``to_fermata``: the same to the next fermata onset (0 without one);
    - ``to_long``: the same to the next onset whose gap to the following one is at least twice the
      piece's median gap (a phrase-end proxy).

    >>> from deepperformer.core.score import SCORE_NOTE_DTYPE
    >>> n = np.zeros(4, SCORE_NOTE_DTYPE)
    >>> n["onset_beat"], n["duration_beat"] = [0, 1, 2, 4], [1, 1, 1, 1]
    >>> v, names = structure_features(n)
    >>> names[:3], v[:, 0].tolist(), v[:, 2].tolist()[:3]
    (('structure.ioi_next', 'structure.ioi_prev', 'structure.rest_after'), [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0])
    """
    names = tuple(
        STRUCTURE_PREFIX + n for n in ("ioi_next", "ioi_prev", "rest_after", "to_end", "from_start", "to_fermata", "to_long")
    )
    out = np.zeros((len(notes), len(names)), np.float32)
    if len(notes) == 0:
        return out, names
    beat = notes["onset_beat"].astype(np.float64)
    onsets, group = np.unique(beat, return_inverse=True)
    k = len(onsets)
    release = np.full(k, -np.inf)
    np.maximum.at(release, group, beat + notes["duration_beat"])
    gap_next = np.r_[np.diff(onsets), np.nan]
    gap_prev = np.r_[np.nan, np.diff(onsets)]

    def log_gap(g):
        return np.where(np.isfinite(g), np.clip(np.log2(np.maximum(g, 1e-3)), -4, 4), 0.0)

    rest = np.r_[np.maximum(onsets[1:] - release[:-1], 0.0), 0.0]

    def nearness_to(marks: np.ndarray) -> np.ndarray:
        """e^(-beats to the next marked onset), 0 when none follows; ``marks`` ``[K]`` bool."""
        at = np.flatnonzero(marks)
        if len(at) == 0:
            return np.zeros(k)
        nxt = np.searchsorted(at, np.arange(k), side="left")
        has = nxt < len(at)
        d = np.where(has, onsets[at[np.minimum(nxt, len(at) - 1)]] - onsets, np.inf)
        return np.where(has, np.exp(-d / BOUNDARY_BEATS), 0.0)

    fermata_onset = np.zeros(k, bool)
    if fermata is not None:
        np.logical_or.at(fermata_onset, group, np.asarray(fermata) > 0)
    median_gap = np.nanmedian(gap_next) if k > 1 else 1.0
    long_onset = np.nan_to_num(gap_next, nan=0.0) >= 2 * median_gap
    per_onset = np.c_[
        log_gap(gap_next),
        log_gap(gap_prev),
        np.log2(1.0 + rest),
        np.exp(-(onsets[-1] - onsets) / BOUNDARY_BEATS),
        np.exp(-(onsets - onsets[0]) / BOUNDARY_BEATS),
        nearness_to(fermata_onset),
        nearness_to(long_onset),
    ]
    out[:] = per_onset[group]
    return out, names


def with_structure(table: FeatureTable, notes: np.ndarray) -> FeatureTable:
    """``table`` (rows in ``notes`` order) with the :func:`structure_features` columns added, unless it
    has them. Computed from the notes, so corpora prepared before these columns existed get them too."""
    if any(n.startswith(STRUCTURE_PREFIX) for n in table.names):
        return table
    fermata = table.columns(["fermata_feature.fermata"])[:, 0]
    values, names = structure_features(notes, fermata)
    return FeatureTable(table.ids, np.c_[table.values, values].astype(np.float32), table.names + names, table.failed)
