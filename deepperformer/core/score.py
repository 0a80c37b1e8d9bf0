"""Scores: MusicXML/MXL, MEI, Humdrum kern and MIDI, read with partitura into one typed note array.

Parts are merged into one, repeats unfolded as played (``unfold="maximal"``: every repeat taken, the
convention of the Bach Violin Dataset's ``_XY`` scores and of (n)ASAP's note ids), tied notes are
joined by partitura, chords become simultaneous notes, grace notes are kept (``is_grace``), and the
tempo and dynamics markings are kept (``Score.tempos``, ``SCORE_NOTE_DTYPE['dynamic']``).
No torch here: this module is plain numpy.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepperformer.core.atomic import save_npz
from deepperformer.core.errors import DeepPerformerError, DeepPerformerWarning, require_file
from deepperformer.core.score_features import FeatureTable, basis_features, with_structure

SCORE_SUFFIXES = (".musicxml", ".xml", ".mxl", ".mei", ".krn", ".mid", ".midi")
UNFOLD_MODES = ("maximal", "minimal", "none")

#: One row per score note (chord members and grace notes are rows of their own).
SCORE_NOTE_DTYPE = np.dtype(
    [
        ("id", "U48"),  # partitura note id; "-k" suffix after unfolding (k-th pass)
        ("onset_quarter", "f8"),  # quarter notes from the start of the (unfolded) score
        ("duration_quarter", "f8"),  # 0 for grace notes
        ("onset_beat", "f8"),  # in beats of the time signature
        ("duration_beat", "f8"),
        ("pitch", "i2"),  # MIDI pitch
        ("voice", "i2"),
        ("staff", "i2"),
        ("is_grace", "?"),
        ("grace_order", "i2"),  # position inside a run of grace notes, -1 for ordinary notes
        ("dynamic", "U8"),  # last dynamics marking at or before the onset ("p", "mf", ...), "" if none
    ]
)

#: Tempo markings with a metronome value, in quarter notes per minute.
TEMPO_DTYPE = np.dtype([("onset_quarter", "f8"), ("qpm", "f8")])

DYNAMIC_MARKINGS = (
    "pppp",
    "ppp",
    "pp",
    "p",
    "mp",
    "mf",
    "f",
    "ff",
    "fff",
    "ffff",
    "fp",
    "sf",
    "sfz",
    "sffz",
    "fz",
    "rf",
    "rfz",
    "sfp",
)


@dataclass
class Score:
    """A score as one merged, unfolded part.

    ``notes``: structured array of SCORE_NOTE_DTYPE sorted by onset then pitch, ``[N]``.
    ``tempos``: structured array of TEMPO_DTYPE sorted by onset, ``[K]`` (may be empty).
    ``features``: the renderer's score features of the notes (``load_score(..., features=True)``;
    :mod:`deepperformer.core.score_features`), rows in ``notes`` order; None when not computed.
    ``bars``: ``[N]`` int, the bar (measure) number printed in the score for each note, in ``notes``
    order (a repeated bar keeps its number on every pass); None for scores saved without it.
    """

    notes: np.ndarray
    tempos: np.ndarray
    source: str = ""
    title: str = ""
    features: FeatureTable | None = None
    bars: np.ndarray | None = None

    def __post_init__(self):
        if self.features is not None:  # the phrase-level columns, also for scores saved before them
            self.features = with_structure(self.features, self.notes)

    def __len__(self) -> int:
        return len(self.notes)

    @property
    def duration_quarter(self) -> float:
        n = self.notes
        return float(np.max(n["onset_quarter"] + n["duration_quarter"])) if len(n) else 0.0

    def save(self, path: str | Path) -> None:
        extra = {}
        if self.features is not None:
            f = self.features
            extra = dict(
                feature_values=f.values, feature_names=np.array(f.names, dtype=str), feature_failed=np.array(f.failed, dtype=str)
            )
        if self.bars is not None:
            extra["bars"] = self.bars
        save_npz(path, notes=self.notes, tempos=self.tempos, source=np.array(self.source), title=np.array(self.title), **extra)

    @classmethod
    def load(cls, path: str | Path) -> Score:
        with np.load(path, allow_pickle=False) as z:
            features = None
            if "feature_values" in z:
                features = FeatureTable(
                    z["notes"]["id"], z["feature_values"], tuple(z["feature_names"].tolist()), tuple(z["feature_failed"].tolist())
                )
            bars = z["bars"] if "bars" in z else None
            return cls(z["notes"], z["tempos"], str(z["source"]), str(z["title"]), features, bars)


def load_score(path: str | Path, unfold: str = "maximal", features: bool = False, parts: list[str] | None = None) -> Score:
    """Read a score file into a :class:`Score` (``features``: also the renderer's score features;
    ``parts``: only these parts, by 1-based index, id or name, as ``list_parts`` gives them).

    ``unfold``: "maximal" (all repeats played, the default), "minimal" (no repeats) or "none"
    (keep the notation as written; use it when note ids must equal the file's ids, as for
    Vienna 4x22 match files).
    Raises DeepPerformerError for a missing, empty, unparsable or note-less file.
    """
    if unfold not in UNFOLD_MODES:
        raise ValueError(f"unfold must be one of {UNFOLD_MODES}")
    path = require_file(path, "score file")
    if path.suffix.lower() not in SCORE_SUFFIXES:
        raise DeepPerformerError(path, f"unsupported score format {path.suffix!r} (use {', '.join(SCORE_SUFFIXES)})")
    if path.suffix.lower() in (".mid", ".midi"):
        _check_midi_has_notes(path)
    part = _load_merged_part(path, parts)
    if unfold != "none":
        part = _unfold(part, unfold, path)
    return score_from_part(part, source=str(path), features=features)


def _check_midi_has_notes(path: Path) -> None:
    """partitura fails obscurely on a MIDI file without notes; say what is wrong instead."""
    import mido

    try:
        mid = mido.MidiFile(str(path))
    except Exception as e:
        raise DeepPerformerError(path, f"cannot parse MIDI ({type(e).__name__}: {_first_line(e)})") from None
    if not any(m.type == "note_on" and m.velocity > 0 for track in mid.tracks for m in track):
        raise DeepPerformerError(path, "MIDI file has no notes")


@dataclass
class PartInfo:
    """One part of a score file, as ``deepperformer parts`` lists it (``index`` counts from 1)."""

    index: int
    id: str
    name: str
    notes: int
    lowest: int  # MIDI pitch (-1 without notes)
    highest: int


def _read_parts(path: Path) -> list:
    import partitura as pt

    with warnings.catch_warnings():
        # partitura warns about every slur it cannot anchor and every tempo word it cannot parse;
        # these do not affect notes and would bury real problems.
        warnings.simplefilter("ignore")
        try:
            score = pt.load_score(str(path))
        except Exception as e:  # partitura raises many types for malformed files
            raise DeepPerformerError(path, f"cannot parse score ({type(e).__name__}: {_first_line(e)})") from None
    parts = list(score.parts)
    if not parts:
        raise DeepPerformerError(path, "score has no parts")
    return parts


def _part_info(k: int, part) -> PartInfo:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        na = part.note_array()
    pitch = na["pitch"] if len(na) else np.array([-1])
    return PartInfo(k, str(part.id or ""), str(getattr(part, "part_name", "") or ""), len(na), int(pitch.min()), int(pitch.max()))


def list_parts(path: str | Path) -> list[PartInfo]:
    """The parts of a score file, in file order."""
    path = require_file(path, "score file")
    return [_part_info(k, p) for k, p in enumerate(_read_parts(path), start=1)]


def _select(parts: list, wanted: list[str], path: Path) -> list:
    """The parts named by ``wanted``: 1-based indices, ids or names (case-insensitive)."""
    infos = [_part_info(k, p) for k, p in enumerate(parts, start=1)]
    chosen = []
    for w in wanted:
        key = str(w).strip().lower()
        hits = [i for i in infos if key in (str(i.index), i.id.lower(), i.name.lower())]
        if not hits:
            listing = "; ".join(f"{i.index}: {i.name or i.id}" for i in infos)
            raise DeepPerformerError(path, f"no part {w!r} (parts: {listing})")
        chosen.extend(h.index for h in hits if h.index not in chosen)
    return [parts[k - 1] for k in sorted(chosen)]


def _drop_unanchored(part) -> None:
    """Remove timeline objects without an end from ``part``. partitura's kern reader leaves its own
    ``KernElement`` bookkeeping objects in the timeline, and ``merge_parts`` fails on them (a third of
    the kern files in the music21 corpus). They carry no notes or directions."""
    for e in list(part.iter_all()):
        if not hasattr(e, "end"):
            part.remove(e, which="start")


def _load_merged_part(path: Path, parts: list[str] | None = None):
    import partitura as pt

    selected = _read_parts(path)
    if parts:
        selected = _select(selected, parts, path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if len(selected) > 1:
            for p in selected:
                _drop_unanchored(p)
            try:
                part = pt.score.merge_parts(selected)
            except Exception as e:  # noqa: BLE001 - partitura raises many kinds on unusual part structures
                raise DeepPerformerError(
                    path, f"cannot merge its parts ({type(e).__name__}: {_first_line(e)}); choose one with --part"
                ) from None
        else:
            part = selected[0]
        if not any(True for _ in part.iter_all(pt.score.Note, include_subclasses=True)):
            raise DeepPerformerError(path, "score has no notes")
    return part


def _unfold(part, mode: str, path: Path):
    """``part`` with its repeats unfolded as ``mode`` asks. When partitura cannot ("maximal" fails on
    some kern and MEI repeat structures), fall back to "minimal", then to the notation as written,
    with a DeepPerformerWarning: the notes are all there, and a user gets them rather than nothing."""
    import partitura as pt

    tries = {"maximal": ("maximal", "minimal"), "minimal": ("minimal",)}[mode]
    errors = []
    for m in tries:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                unfolded = pt.score.unfold_part_maximal(part) if m == "maximal" else pt.score.unfold_part_minimal(part)
            except Exception as e:  # noqa: BLE001 - partitura raises many kinds for repeat structures it cannot follow
                errors.append(f"{m}: {type(e).__name__}: {_first_line(e)}")
                continue
        if m != mode:
            warnings.warn(
                DeepPerformerWarning(path, f"cannot unfold repeats ({errors[0]}); unfolded minimally instead"), stacklevel=2
            )
        return unfolded
    warnings.warn(DeepPerformerWarning(path, f"cannot unfold repeats ({'; '.join(errors)}); played as written"), stacklevel=2)
    return part


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else "no details"


def score_from_part(part, source: str = "", features: bool = False) -> Score:
    """Convert a partitura Part into a :class:`Score` (notes, tempo and dynamics markings; with
    ``features``, the renderer's score features too)."""
    import partitura as pt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        na = part.note_array(include_grace_notes=True, include_staff=True)
    if len(na) == 0:
        raise DeepPerformerError(source or None, "score has no notes")
    notes = np.zeros(len(na), dtype=SCORE_NOTE_DTYPE)
    notes["id"] = na["id"]
    for f in ("onset_quarter", "duration_quarter", "onset_beat", "duration_beat", "pitch", "voice", "staff"):
        notes[f] = na[f]
    notes["is_grace"] = na["is_grace"].astype(bool)
    notes["grace_order"] = np.where(notes["is_grace"], na["local_grace_order"], -1)
    bars = _bar_numbers(part, na["onset_div"])

    # Dynamics: the latest constant-loudness marking (p, mf, ...) at or before each onset.
    marks = sorted(
        (
            (d.start.t, d.text.strip())
            for d in part.iter_all(pt.score.ConstantLoudnessDirection, include_subclasses=True)
            if d.start is not None and d.text and d.text.strip() in DYNAMIC_MARKINGS
        ),
        key=lambda x: x[0],
    )
    if marks:
        times = np.array([m[0] for m in marks])
        idx = np.searchsorted(times, na["onset_div"], side="right") - 1
        texts = np.array([m[1] for m in marks] + [""])
        notes["dynamic"] = texts[np.where(idx >= 0, idx, len(marks))]

    tempos = []
    for t in part.iter_all(pt.score.Tempo):
        if t.start is None or not t.bpm:
            continue
        qpm = round(60e6 / t.microseconds_per_quarter, 3)  # undo the microsecond rounding
        tempos.append((float(part.quarter_map(t.start.t)), qpm))
    tempo_arr = np.array(sorted(set(tempos)), dtype=TEMPO_DTYPE) if tempos else np.zeros(0, TEMPO_DTYPE)

    # Quarter positions can start below zero (pickup bars); shift so the first note is at 0.
    shift = notes["onset_quarter"].min()
    notes["onset_quarter"] -= shift
    if len(tempo_arr):
        tempo_arr["onset_quarter"] = np.maximum(tempo_arr["onset_quarter"] - shift, 0.0)
    order = np.lexsort((notes["pitch"], notes["onset_quarter"]))
    table = None
    if features:
        ft = basis_features(part)
        row = {nid: i for i, nid in enumerate(ft.ids)}
        rows = np.array([row[nid] for nid in notes["id"][order]], dtype=np.int64)
        table = FeatureTable(notes["id"][order], ft.values[rows], ft.names, ft.failed)
    return Score(
        notes[order],
        tempo_arr,
        source=source,
        title=str(getattr(part, "part_name", "") or ""),
        features=table,
        bars=None if bars is None else bars[order],
    )


def _bar_numbers(part, onset_div: np.ndarray) -> np.ndarray | None:
    """``[N]`` printed bar numbers of notes at ``onset_div``; None when the part has no bars (MIDI
    read as a score may have none)."""
    import partitura as pt

    if next(iter(part.iter_all(pt.score.Measure)), None) is None:
        return None
    try:
        return np.asarray(part.measure_number_map(onset_div), dtype=np.int64)
    except Exception:  # noqa: BLE001 -- partitura fails on some odd measure layouts; bars are optional
        return None


def score_from_ticks(
    onset_ticks: np.ndarray, offset_ticks: np.ndarray, pitch: np.ndarray, ticks_per_quarter: int, source: str = ""
) -> Score:
    """Score notes from tick positions (the Bach Violin Dataset's notes CSVs, 24 ticks per quarter).

    Ids are ``n<row>``, the row in the file, so that they follow the file's alignment rows.
    """
    notes = np.zeros(len(pitch), dtype=SCORE_NOTE_DTYPE)
    notes["id"] = [f"n{i}" for i in range(len(pitch))]
    notes["onset_quarter"] = onset_ticks / ticks_per_quarter
    notes["duration_quarter"] = (offset_ticks - onset_ticks) / ticks_per_quarter
    notes["onset_beat"] = notes["onset_quarter"]
    notes["duration_beat"] = notes["duration_quarter"]
    notes["pitch"] = pitch
    notes["grace_order"] = -1
    return Score(notes, np.zeros(0, TEMPO_DTYPE), source=source)
