"""Performances: timed notes (seconds), velocities, sustain pedal and links to score notes.

Loaders for performance MIDI, match files, (n)ASAP ``note_alignment.tsv`` and the Bach Violin
Dataset's notes + alignments CSVs all return a :class:`Performance`. :func:`deadpan` renders a
:class:`~deepperformer.core.score.Score` at its tempo markings, the fallback first stage."""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepperformer.core.atomic import atomic_path, save_npz
from deepperformer.core.errors import DeepPerformerError, require_file
from deepperformer.core.score import Score, score_from_ticks

#: One row per performed note, sorted by onset.
PERF_NOTE_DTYPE = np.dtype(
    [
        ("onset_sec", "f8"),
        ("duration_sec", "f8"),  # key held (note on to note off), not extended by the pedal
        ("pitch", "i2"),  # MIDI pitch
        ("velocity", "i2"),  # MIDI velocity, 1..127
        ("score_id", "U48"),  # id of the aligned score note, "" if unaligned (insertion)
    ]
)


#: Sustain pedal (MIDI CC64) events: value 0..127, PEDAL_DOWN and above is down.
PEDAL_DOWN = 64
PEDAL_DTYPE = np.dtype([("time_sec", "f8"), ("value", "i2")])


DEFAULT_QPM = 120.0


DEFAULT_VELOCITY = 64


#: MIDI velocities for dynamics markings in deadpan rendering (a common MIDI convention).
DYNAMIC_VELOCITY = {
    "pppp": 16,
    "ppp": 24,
    "pp": 36,
    "p": 48,
    "mp": 60,
    "mf": 72,
    "f": 88,
    "ff": 104,
    "fff": 118,
    "ffff": 127,
    "fp": 88,
    "sf": 96,
    "sfz": 100,
    "sffz": 110,
    "fz": 96,
    "rf": 92,
    "rfz": 96,
    "sfp": 96,
}


#: Minimum note duration: the Bach Violin alignments' quantum, given to notes aligned with end == start.
MIN_DURATION_SEC = 0.032


@dataclass
class Performance:
    """Timed notes ``notes`` [N] (PERF_NOTE_DTYPE) and pedal events ``pedal`` [P] (PEDAL_DTYPE)."""

    notes: np.ndarray
    pedal: np.ndarray = field(default_factory=lambda: np.zeros(0, PEDAL_DTYPE))
    source: str = ""

    def __post_init__(self):
        order = np.lexsort((self.notes["pitch"], self.notes["onset_sec"]))
        self.notes = self.notes[order]
        self.pedal = self.pedal[np.argsort(self.pedal["time_sec"], kind="stable")]

    def __len__(self) -> int:
        return len(self.notes)

    @property
    def duration(self) -> float:
        """End of the last note, in seconds."""
        n = self.notes
        return float(np.max(n["onset_sec"] + n["duration_sec"])) if len(n) else 0.0

    def pedal_down(self) -> np.ndarray:
        """``[P]`` bool: whether each sustain-pedal event presses it (value >= PEDAL_DOWN)."""
        return self.pedal["value"] >= PEDAL_DOWN

    def window(self, start: float, end: float) -> Performance:
        """Notes sounding in [start, end) and pedal events there, with times relative to ``start``.

        Notes keep their full extent (an onset may be negative), so a model can tell how far into a
        note a frame is.
        """
        n = self.notes
        keep = (n["onset_sec"] < end) & (n["onset_sec"] + n["duration_sec"] > start)
        notes = n[keep].copy()
        notes["onset_sec"] -= start
        p = self.pedal
        # Keep the last pedal event before the window so the pedal state at its start is known.
        first = max(0, int(np.searchsorted(p["time_sec"], start, side="right")) - 1)
        pedal = p[first:][p[first:]["time_sec"] < end].copy()
        if len(pedal):
            pedal["time_sec"] = np.maximum(pedal["time_sec"] - start, 0.0)
        return Performance(notes, pedal, self.source)

    def save(self, path: str | Path) -> None:

        save_npz(path, notes=self.notes, pedal=self.pedal, source=np.array(self.source))

    @classmethod
    def load(cls, path: str | Path) -> Performance:
        with np.load(path, allow_pickle=False) as z:
            return cls(z["notes"], z["pedal"], str(z["source"]))

    def write_midi(self, path: str | Path, program: int = 0, tail_sec: float = 1.0, ticks_per_beat: int = 480) -> None:
        """Write a one-track MIDI file (tempo 120 qpm, so 960 ticks per second) atomically.

        ``program``: General MIDI program (0 piano, 40 violin). ``tail_sec`` of silence is appended so
        that synthesizers render the release of the last notes.
        """
        import mido

        tps = ticks_per_beat * 2  # ticks per second at 120 qpm (500000 us per beat)
        events = []  # (tick, order, message); note-offs before note-ons at the same tick
        for n in self.notes:
            on = int(round(n["onset_sec"] * tps))
            off = max(on + 1, int(round((n["onset_sec"] + n["duration_sec"]) * tps)))
            vel = int(np.clip(n["velocity"], 1, 127))
            events.append((on, 2, mido.Message("note_on", note=int(n["pitch"]), velocity=vel, channel=0)))
            events.append((off, 0, mido.Message("note_off", note=int(n["pitch"]), velocity=0, channel=0)))
        for p in self.pedal:
            tick = int(round(p["time_sec"] * tps))
            events.append(
                (tick, 1, mido.Message("control_change", control=64, value=int(np.clip(p["value"], 0, 127)), channel=0))
            )
        events.sort(key=lambda e: (e[0], e[1]))
        track = mido.MidiTrack()
        track.append(mido.MetaMessage("set_tempo", tempo=500000, time=0))
        track.append(mido.Message("program_change", program=program, channel=0, time=0))
        now = 0
        for tick, _, msg in events:
            track.append(msg.copy(time=max(0, tick - now)))
            now = max(now, tick)
        end = int(round((self.duration + tail_sec) * tps))
        track.append(mido.MetaMessage("end_of_track", time=max(0, end - now)))
        mid = mido.MidiFile(ticks_per_beat=ticks_per_beat)
        mid.tracks.append(track)
        with atomic_path(path) as tmp:
            mid.save(str(tmp))

    def write_csv(self, path: str | Path) -> None:
        """Write the notes as CSV (onset_sec, duration_sec, pitch, velocity, score_id) atomically."""

        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(PERF_NOTE_DTYPE.names)
            for n in self.notes:
                w.writerow(
                    [f"{n['onset_sec']:.6f}", f"{n['duration_sec']:.6f}", int(n["pitch"]), int(n["velocity"]), n["score_id"]]
                )


def make_notes(onset, duration, pitch, velocity, score_id=None) -> np.ndarray:
    """Build a PERF_NOTE_DTYPE array from columns."""
    notes = np.zeros(len(pitch), dtype=PERF_NOTE_DTYPE)
    notes["onset_sec"], notes["duration_sec"], notes["pitch"], notes["velocity"] = onset, duration, pitch, velocity
    if score_id is not None:
        notes["score_id"] = score_id
    return notes


PERFORMANCE_SUFFIXES = (".mid", ".midi", ".match", ".csv")


def load_performance(path: str | Path) -> Performance:
    """Load a performance file by suffix: MIDI (.mid/.midi), match (.match) or note CSV (.csv)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".mid", ".midi"):
        return load_performance_midi(path)
    if suffix == ".match":
        return load_match(path)[0]
    if suffix == ".csv":
        return load_performance_csv(path)
    raise DeepPerformerError(path, f"unsupported performance format {suffix!r} (use {', '.join(PERFORMANCE_SUFFIXES)})")


def _performed_part_to_performance(ppart, source: str, perf_to_score: dict[str, str] | None = None) -> Performance:
    """Convert a partitura PerformedPart; ``perf_to_score`` maps performed-note ids to score-note ids."""
    pn = ppart.notes
    if not pn:
        raise DeepPerformerError(source, "performance has no notes")
    onset = np.array([n["note_on"] for n in pn], dtype=float)
    off = np.array([n["note_off"] for n in pn], dtype=float)
    score_ids = None
    if perf_to_score:
        score_ids = [perf_to_score.get(str(n["id"]), "") for n in pn]
    notes = make_notes(onset, np.maximum(off - onset, 0.0), [n["midi_pitch"] for n in pn], [n["velocity"] for n in pn], score_ids)
    pedal = [(c["time"], c["value"]) for c in ppart.controls if c["number"] == 64]
    return Performance(notes, np.array(pedal, dtype=PEDAL_DTYPE), source)


def _read_performed_part(path: Path):
    import partitura as pt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            perf = pt.load_performance_midi(str(path), merge_tracks=True)
        except Exception as e:
            raise DeepPerformerError(path, f"cannot parse MIDI ({type(e).__name__}: {str(e).strip()[:120]})") from None
    ppart = perf.performedparts[0]
    if not ppart.notes:
        raise DeepPerformerError(path, "MIDI file has no notes")
    return ppart


def load_performance_midi(path: str | Path) -> Performance:
    """Performance MIDI (all tracks and channels merged) with sustain pedal (CC64)."""
    path = require_file(path, "MIDI file")
    return _performed_part_to_performance(_read_performed_part(path), str(path))


def load_match(path: str | Path) -> tuple[Performance, list[dict]]:
    """A match file (format 1.0.0): the performance with ``score_id`` set, and partitura's alignment.

    The alignment is a list of dicts with ``label`` in {"match", "insertion", "deletion"} and
    ``score_id`` / ``performance_id``; score ids are those of the match file's score lines.
    """
    import partitura as pt

    path = require_file(path, "match file")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            perf, alignment = pt.load_match(str(path), create_score=False)
        except Exception as e:
            raise DeepPerformerError(path, f"cannot parse match file ({type(e).__name__}: {str(e).strip()[:120]})") from None
    ppart = perf.performedparts[0]
    mapping = {str(a["performance_id"]): str(a["score_id"]) for a in alignment if a.get("label") == "match"}
    return _performed_part_to_performance(ppart, str(path), mapping), alignment


def match_info(path: str | Path, key: str) -> str:
    """Read one ``info(key,value).`` header line of a match file ("" if absent)."""
    prefix = f"info({key},"
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(prefix):
                return line[len(prefix) :].rstrip().removesuffix(").").strip()
            if line.startswith("snote("):
                break
    return ""


def load_nasap(midi_path: str | Path, alignment_tsv: str | Path) -> Performance:
    """(n)ASAP: performance MIDI plus ``note_alignment.tsv`` (``xml_id`` <-> ``midi_id``).

    Score ids refer to the unfolded score (``n12-1``): unfold with ``unfold="maximal"``.
    """
    from partitura.io.importparangonada import load_alignment_from_ASAP

    midi_path = require_file(midi_path, "MIDI file")
    alignment_tsv = require_file(alignment_tsv, "alignment file")
    try:
        alignment = load_alignment_from_ASAP(str(alignment_tsv))
    except Exception as e:
        raise DeepPerformerError(alignment_tsv, f"cannot parse note alignment ({type(e).__name__}: {e})") from None
    mapping = {str(a["performance_id"]): str(a["score_id"]) for a in alignment if a.get("label") == "match"}
    if not mapping:
        raise DeepPerformerError(alignment_tsv, "note alignment has no matched notes")
    return _performed_part_to_performance(_read_performed_part(midi_path), str(midi_path), mapping)


def load_performance_csv(path: str | Path) -> Performance:
    """A note CSV as written by :meth:`Performance.write_csv` (``score_id`` column optional)."""
    path = require_file(path, "performance CSV")
    rows = _read_csv(path, ("onset_sec", "duration_sec", "pitch", "velocity"))
    cols = {"onset_sec": float, "duration_sec": float, "pitch": int, "velocity": int}
    values = {c: [] for c in cols}
    for k, r in enumerate(rows, start=2):  # line 1 is the header
        for c, kind in cols.items():
            try:
                values[c].append(kind(r[c]))
            except (TypeError, ValueError):
                raise DeepPerformerError(path, f"line {k}: {c} is {r[c]!r}, not a number") from None
    v = values
    bad = ~np.isfinite(v["onset_sec"]) | ~np.isfinite(v["duration_sec"]) | (np.array(v["duration_sec"]) < 0)
    bad |= (
        (np.array(v["pitch"]) < 0)
        | (np.array(v["pitch"]) > 127)
        | (np.array(v["velocity"]) < 0)
        | (np.array(v["velocity"]) > 127)
    )
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise DeepPerformerError(path, f"line {k + 2}: a value out of range (onset, duration >= 0, pitch and velocity 0..127)")
    notes = make_notes(v["onset_sec"], v["duration_sec"], v["pitch"], v["velocity"], [r.get("score_id", "") or "" for r in rows])
    return Performance(notes, source=str(path))


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise DeepPerformerError(path, f"missing CSV columns {missing}")
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as e:
        raise DeepPerformerError(path, f"cannot read CSV ({e})") from None
    if not rows:
        raise DeepPerformerError(path, "CSV has no rows")
    return rows


def load_bach_violin(notes_csv: str | Path, alignment_csv: str | Path, ticks_per_quarter: int = 24) -> tuple[Score, Performance]:
    """Bach Violin Dataset: ``notes/<c>/<f>.csv`` (onset,offset,pitch,velocity in ticks) and
    ``alignments/<c>/<f>.csv`` (start,end in seconds), same rows in the same order.

    Returns the score notes (ids ``n<row>``) and the performance aligned to them. Notes aligned with
    end == start get MIN_DURATION_SEC (the alignment quantum) so that every note sounds.
    """
    notes_csv = require_file(notes_csv, "notes CSV")
    alignment_csv = require_file(alignment_csv, "alignment CSV")
    nrows = _read_csv(notes_csv, ("onset", "offset", "pitch", "velocity"))
    arows = _read_csv(alignment_csv, ("start", "end"))
    if len(nrows) != len(arows):
        raise DeepPerformerError(alignment_csv, f"{len(arows)} alignment rows for {len(nrows)} notes in {notes_csv.name}")
    try:
        on = np.array([float(r["onset"]) for r in nrows])
        off = np.array([float(r["offset"]) for r in nrows])
        pitch = np.array([int(r["pitch"]) for r in nrows])
        vel = np.array([int(r["velocity"]) for r in nrows])
        start = np.array([float(r["start"]) for r in arows])
        end = np.array([float(r["end"]) for r in arows])
    except ValueError as e:
        raise DeepPerformerError(notes_csv, f"non-numeric value ({e})") from None
    if np.any(end < start):
        raise DeepPerformerError(alignment_csv, "alignment has notes ending before they start")
    score = score_from_ticks(on, off, pitch, ticks_per_quarter, source=str(notes_csv))
    notes = make_notes(start, np.maximum(end - start, MIN_DURATION_SEC), pitch, vel, score.notes["id"])
    return score, Performance(notes, source=str(alignment_csv))
