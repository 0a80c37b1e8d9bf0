"""The performance codec of stage 1: a performance of a score <-> four numbers per score note.

partitura's codec (``musicanalysis.performance_codec``, after Cancino-Chacón et al.'s Basis Mixer), run
on our own arrays (:class:`~deepperformer.core.score.Score`, :class:`~deepperformer.core.performance.Performance`)
matched by score note id:

- ``beat_period``: seconds per quarter note at the note's score onset (the tempo curve, ``60 / qpm``;
  one value per distinct score onset, averaged over the notes sounding there);
- ``velocity``: MIDI velocity / 127;
- ``timing``: how far the note starts before the onset the tempo curve predicts, in seconds
  (asynchrony inside a chord, rubato finer than the curve);
- ``articulation_log``: log2 of performed duration / (score duration x beat period): 0 plays the
  written length at the local tempo, < 0 shorter (staccato), > 0 longer (legato);
- beside them, ``pedal_down`` and ``pedal_change``: the sustain pedal as heard by each note
  (:mod:`deepperformer.render.pedal`).

Quarter notes are the beat everywhere (partitura's codec calls the unit a beat): the whole tool speaks
quarter notes per minute, and the acoustic model is conditioned on that tempo. Encoding and decoding
are exact inverses up to where the performance starts (decoded performances start at 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from partitura.musicanalysis.performance_codec import decode_time, encode_tempo

from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import Performance, make_notes
from deepperformer.core.score import Score
from deepperformer.render.pedal import note_pedal, pedal_events

PARAMS = ("beat_period", "velocity", "timing", "articulation_log")
#: Beside partitura's four: the sustain pedal per note (:mod:`deepperformer.render.pedal`), 0 without one.
PEDAL_PARAMS = ("pedal_down", "pedal_change")
PARAM_DTYPE = np.dtype([(p, "f8") for p in PARAMS + PEDAL_PARAMS])
#: Grace notes have no written duration; the codec scores them against this many quarters.
GRACE_QUARTERS = 0.125
#: Performed durations are floored here before encoding (1 ms: shorter is a recording artefact).
MIN_PERFORMED_SEC = 1e-3


@dataclass
class Encoded:
    """A performance as codec parameters of the score notes it played.

    ``rows``: ``[M]`` indices into ``score.notes`` of the performed notes, sorted by score onset.
    ``params``: ``[M]`` structured array of PARAM_DTYPE, one row per entry of ``rows``.
    """

    rows: np.ndarray
    params: np.ndarray

    def qpm(self) -> float:
        """The global tempo: quarters per minute of the median beat period."""
        return float(60.0 / np.median(self.params["beat_period"])) if len(self.params) else 0.0


def matched_rows(score: Score, perf: Performance) -> tuple[np.ndarray, np.ndarray]:
    """(score rows [M], performance rows [M]) of the notes aligned by score id, sorted by score onset then
    pitch. A score note performed twice (a repeated note the aligner matched twice) keeps its first
    performance; insertions and deletions are left out."""
    index = {sid: i for i, sid in enumerate(score.notes["id"])}
    seen: set[int] = set()
    s_rows, p_rows = [], []
    for j in np.argsort(perf.notes["onset_sec"], kind="stable"):
        i = index.get(perf.notes["score_id"][j])
        if i is not None and i not in seen:
            seen.add(i)
            s_rows.append(i)
            p_rows.append(j)
    s_rows, p_rows = np.array(s_rows, dtype=np.int64), np.array(p_rows, dtype=np.int64)
    order = np.lexsort((score.notes["pitch"][s_rows], score.notes["onset_quarter"][s_rows]))
    return s_rows[order], p_rows[order]


def _score_durations(notes: np.ndarray) -> np.ndarray:
    return np.where(notes["is_grace"] | (notes["duration_quarter"] <= 0), GRACE_QUARTERS, notes["duration_quarter"])


def encode(score: Score, perf: Performance, source=None, one_onset_qpm: float | None = None) -> Encoded:
    """Codec parameters of ``perf`` against ``score``.

    Fewer than two distinct performed score onsets (one chord) have no tempo to measure: with
    ``one_onset_qpm`` the chord is encoded at that tempo (a deadpan rendering knows its own), else
    DeepPerformerError naming ``source``."""
    s_rows, p_rows = matched_rows(score, perf)
    sn, pn = score.notes[s_rows], perf.notes[p_rows]
    # a zero-length performed note (some MIDI files hold them) would have articulation log2(0)
    performed_sec = np.maximum(pn["duration_sec"].astype(float), MIN_PERFORMED_SEC)
    params = np.zeros(len(s_rows), PARAM_DTYPE)
    if len(np.unique(sn["onset_quarter"])) >= 2:
        time = encode_tempo(
            score_onsets=sn["onset_quarter"].copy(),
            performed_onsets=pn["onset_sec"].astype(float),
            score_durations=_score_durations(sn).copy(),
            performed_durations=performed_sec,
        )
        for p in ("beat_period", "timing", "articulation_log"):
            params[p] = time[p]
    elif one_onset_qpm is not None and len(s_rows):
        # partitura's definitions at a given beat period: the onset is the notes' mean performed onset
        params["beat_period"] = 60.0 / one_onset_qpm
        params["timing"] = pn["onset_sec"].mean() - pn["onset_sec"]
        params["articulation_log"] = np.log2(performed_sec / (_score_durations(sn) * params["beat_period"]))
    else:
        raise DeepPerformerError(source, "fewer than two aligned score onsets: no tempo to encode")
    params["velocity"] = pn["velocity"] / 127.0
    pedal = note_pedal(pn["onset_sec"], sn["onset_quarter"], pn["onset_sec"] + pn["duration_sec"], perf.pedal)
    for k, p in enumerate(PEDAL_PARAMS):
        params[p] = pedal[:, k]
    return Encoded(s_rows, params)


def decode(score: Score, enc: Encoded, pedal: np.ndarray | None = None, source: str = "") -> Performance:
    """The performance the parameters describe: one note per entry of ``enc.rows`` with its score id,
    starting at 0 s; ``pedal`` (PEDAL_DTYPE) is passed through, else the sustain pedal is decoded from
    the notes' pedal parameters (none when they hold none)."""
    sn = score.notes[enc.rows]
    time = decode_time(
        score_onsets=sn["onset_quarter"].copy(), score_durations=_score_durations(sn).copy(), parameters=enc.params
    )
    velocity = np.clip(np.round(enc.params["velocity"] * 127.0), 1, 127)
    notes = make_notes(time[:, 0], np.maximum(time[:, 1], 1e-3), sn["pitch"], velocity, score_id=sn["id"])
    if pedal is None:
        values = np.stack([enc.params[p] for p in PEDAL_PARAMS], 1)
        end = float(np.max(notes["onset_sec"] + notes["duration_sec"])) if len(notes) else 0.0
        pedal = pedal_events(notes["onset_sec"], sn["onset_quarter"], values, end)
    return Performance(notes, pedal, source)


def tempo_curve(score: Score, perf: Performance, enc: Encoded | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A performance's tempo curve for plots: (performed time in seconds, quarters per minute), one point
    per distinct score onset. ``enc``: the parameters it was decoded from (a rendering's own curve);
    without them the performance is encoded."""
    enc = enc if enc is not None else encode(score, perf)
    when = dict(zip(perf.notes["score_id"], perf.notes["onset_sec"]))
    ids = score.notes["id"][enc.rows]
    keep = np.array([i in when for i in ids])
    onsets = score.notes["onset_quarter"][enc.rows][keep]
    _, first = np.unique(onsets, return_index=True)
    t = np.array([when[i] for i in ids[keep]])[first]
    return t, 60.0 / enc.params["beat_period"][keep][first]
