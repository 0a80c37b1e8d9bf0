"""The sustain pedal in stage 1: two numbers per performed note, and pedal events back from them.

Per note (after VirtuosoNet's pedal features, reduced to what the acoustic model hears, which reads
the pedal as down or up per frame):

- ``pedal_down``: the share of the note's time slot during which the sustain pedal is down (controller
  64 at or above :data:`~deepperformer.core.performance.PEDAL_DOWN`); the slot runs from the note's
  onset to the next score onset's (its offset for the last notes), which is the span the decoder
  decides for, so a performance's own pedal comes back close to what it was;
- ``pedal_change``: 1 when the pedal is lifted (down -> up) near the note's onset, from
  ``CHANGE_BEFORE`` before to ``CHANGE_AFTER`` after it: the "legato pedal" change a pianist makes at a
  new harmony, lifting as the new notes sound and pressing again at once; else 0.

:func:`pedal_events` turns predicted values back into controller events, walking the score's onsets
in order with the mean of each onset's notes: the pedal goes down where ``pedal_down`` crosses 0.5,
up where it falls below, and is changed (lifted, pressed again ``REPEDAL_SEC`` later) at an onset
whose ``pedal_change`` is above 0.5 while it is down. A rendering with no note above 0.5 has no pedal,
which is what deadpan and renderers trained without pedal give.

A regression to the per-note share pulls uncertain notes towards the mean: on performances it did
not train on, the piano renderer pedals fewer notes than the pianists (41 % of the validation notes
above 0.5 against their 57 %; on its training performances 63 % against 59 %, so the fit must be on
held-out ones). :func:`base_rate_threshold` finds the threshold at which a system pedals as many
held-out notes as the pianists did, and :func:`recalibrated` moves it to 0.5 (a monotone map: the
order of the notes, so pedal r, stays as it was).
"""

from __future__ import annotations

import numpy as np

from deepperformer.core.performance import PEDAL_DOWN, PEDAL_DTYPE

#: The window around a note's onset in which a lift counts as a pedal change at that note (seconds).
CHANGE_BEFORE, CHANGE_AFTER = 0.1, 0.25
#: How long a change keeps the pedal up: the median of the 1696 lifts of a quarter of Vienna 4x22's
#: performances (quartiles 0.19 and 0.37 s); at most 0.9 of the time to the next onset.
REPEDAL_SEC = 0.25
#: Notes shorter than this are measured over this span (a staccato note still hears the pedal).
MIN_SPAN_SEC = 0.05


def _state(pedal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(times ``[P]``, down ``[P]`` bool) of the events, sorted by time; up before the first event."""
    order = np.argsort(pedal["time_sec"], kind="stable")
    return pedal["time_sec"][order].astype(np.float64), pedal["value"][order] >= PEDAL_DOWN


def note_pedal(onset: np.ndarray, score_onset: np.ndarray, offset: np.ndarray, pedal: np.ndarray) -> np.ndarray:
    """``[M, 2]`` float32 (pedal_down, pedal_change) of notes played at ``onset`` (seconds) for score
    onsets ``score_onset`` (quarters), released at ``offset``, under the sustain-pedal events ``pedal``
    (PEDAL_DTYPE).

    >>> ev = np.array([(0.0, 127), (1.0, 0), (1.05, 127), (2.0, 0)], PEDAL_DTYPE)
    >>> v = note_pedal(np.array([0.0, 1.0, 2.5]), np.array([0.0, 2.0, 4.0]), np.array([1.0, 3.0, 3.0]), ev)
    >>> np.round(v.astype(float), 3).tolist()
    [[1.0, 0.0], [0.633, 1.0], [0.0, 0.0]]
    """
    out = np.zeros((len(onset), 2), np.float32)
    if len(pedal) == 0 or len(onset) == 0:
        return out
    t, down = _state(pedal)
    # cumulative seconds of pedal down up to each event, so any span's share is two lookups
    held = np.r_[0.0, np.cumsum(np.diff(t) * down[:-1])]

    def down_until(x: np.ndarray) -> np.ndarray:
        k = np.searchsorted(t, x, side="right") - 1
        before = k < 0
        k = np.maximum(k, 0)
        return np.where(before, 0.0, held[k] + (x - t[k]) * down[k])

    on = onset.astype(np.float64)
    off = np.maximum(slot_ends(on, score_onset, offset.astype(np.float64)), on + MIN_SPAN_SEC)
    out[:, 0] = np.clip((down_until(off) - down_until(on)) / (off - on), 0.0, 1.0)
    was_down = np.r_[False, down[:-1]]
    lifts = t[was_down & ~down]
    if len(lifts):
        first = np.searchsorted(lifts, on - CHANGE_BEFORE, side="left")
        last = np.searchsorted(lifts, on + CHANGE_AFTER, side="right")
        out[:, 1] = (last > first).astype(np.float32)
    return out


def slot_ends(onset: np.ndarray, score_onset: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """``[M]`` the end of each note's time slot: the performed time of the next score onset (the first
    note played there), or the note's ``offset`` for the notes of the last one."""
    groups, group = np.unique(score_onset, return_inverse=True)
    first = np.full(len(groups), np.inf)
    np.minimum.at(first, group, onset)
    nxt = np.r_[first[1:], np.inf][group]
    return np.where(np.isfinite(nxt), np.maximum(nxt, onset), offset)


def pedal_events(onset: np.ndarray, score_onset: np.ndarray, values: np.ndarray, end: float) -> np.ndarray:
    """Sustain-pedal events (PEDAL_DTYPE, values 127 / 0) of a rendering: notes' performed ``onset``
    ``[M]`` (seconds), their ``score_onset`` ``[M]`` (quarters: the notes of one onset decide together),
    predicted ``values`` ``[M, 2]`` (pedal_down, pedal_change); the pedal is up again at ``end``.

    >>> v = np.array([[0.9, 0.0], [0.8, 0.0], [0.9, 0.9], [0.1, 0.0]])
    >>> pedal_events(np.array([0.0, 0.0, 1.0, 2.0]), np.array([0.0, 0.0, 1.0, 2.0]), v, 3.0).tolist()
    [(0.0, 127), (1.0, 0), (1.25, 127), (2.0, 0)]
    """
    if len(onset) == 0 or not np.any(values[:, 0] >= 0.5):
        return np.zeros(0, PEDAL_DTYPE)
    groups, group = np.unique(score_onset, return_inverse=True)
    count = np.bincount(group, minlength=len(groups))
    when = np.full(len(groups), np.inf)
    np.minimum.at(when, group, onset)
    down = np.bincount(group, values[:, 0], len(groups)) / count >= 0.5
    change = np.bincount(group, values[:, 1], len(groups)) / count >= 0.5
    order = np.argsort(when, kind="stable")
    when, down, change = when[order], down[order], change[order]
    gap = np.r_[np.diff(when), np.inf]
    events, pressed = [], False
    for t, d, c, g in zip(when, down, change, gap):
        delay = min(REPEDAL_SEC, 0.9 * g) if c else 0.0
        if pressed and not d:
            events.append((t, 0))
            pressed = False
        elif pressed and c:  # a change: lift with the new notes, press again at once
            events += [(t, 0), (t + delay, 127)]
        elif not pressed and d:
            events.append((t + delay, 127))
            pressed = True
    if pressed:
        events.append((max(end, when[-1]), 0))
    return np.array([(round(float(t), 6), v) for t, v in events], PEDAL_DTYPE)


def base_rate_threshold(predicted: np.ndarray, human: np.ndarray) -> float:
    """The threshold on predicted ``pedal_down`` shares ``[M]`` above which as many notes are pedalled as
    the human shares ``human`` ``[M]`` have at 0.5 (their base rate); 0.5 without human pedal. (Fitted by
    :func:`deepperformer.render.metrics.fit_pedal_threshold`.)

    >>> base_rate_threshold(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.0, 0.0, 1.0, 1.0]))
    0.25
    """
    share = float(np.mean(human >= 0.5)) if len(human) else 0.0
    if share == 0.0 or len(predicted) == 0:
        return 0.5
    return float(np.clip(np.quantile(predicted, 1.0 - share), 0.01, 0.99))


def recalibrated(down: np.ndarray, threshold: float) -> np.ndarray:
    """``pedal_down`` shares ``[M]`` mapped piecewise linearly so that ``threshold`` becomes 0.5 (0 and 1
    stay): the decoder's and the F1's 0.5 then falls where ``threshold`` was.

    >>> recalibrated(np.array([0.0, 0.1, 0.2, 0.6, 1.0]), 0.2).round(3).tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    t = float(threshold)
    x = np.clip(down, 0.0, 1.0)
    return np.where(x < t, 0.5 * x / t, 0.5 + 0.5 * (x - t) / (1.0 - t)).astype(down.dtype)
