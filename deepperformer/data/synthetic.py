"""Synthetic corpus: real performances rendered to audio by FluidSynth with free SoundFonts.

Piano audio is not available, so piano models learn from the performances of Vienna 4x22,
Batik-plays-Mozart and (n)ASAP rendered by three piano "performers"; violin models can add the Bach
Violin Dataset's notes, placed at their aligned (human) times, rendered by three violins. Each
performer is a SoundFont/program pair (:data:`PERFORMERS`). The note alignment is exact: the audio is
rendered from the very notes stored beside it.

Deterministic: performances are taken in the order of a salted hash of their id until each
instrument's hour budget is met, and performers are dealt round-robin in that order. FluidSynth's
output is bit-identical across runs (its reverb and chorus have no random state).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepperformer.audio.io import load_audio
from deepperformer.audio.mel import MelConfig
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import (
    Performance,
    load_bach_violin,
    load_match,
    load_nasap,
)
from deepperformer.data import bach_violin, match_corpus, nasap
from deepperformer.data.base import DatasetSpec, PrepareOptions
from deepperformer.data.naming import hms_to_seconds, slug
from deepperformer.data.recording import Recording, cache_recording
from deepperformer.data.splits import assign_splits, piece_durations

SF2 = Path("/usr/share/sounds/sf2")
SF3 = Path("/usr/share/sounds/sf3")
TAIL_SEC = 1.0  # rendered after the last note so that releases and reverb are not cut


@dataclass(frozen=True)
class SynthPerformer:
    name: str
    instrument: str
    soundfont: Path  # from the Debian package named in `package`
    program: int  # General MIDI program
    package: str
    #: FluidSynth master gain (its default is 0.2, which leaves the audio 25-45 dB below full scale).
    #: Set per performer so that typical levels match real recordings (RMS about -30 to -25 dBFS)
    #: and the three instruments of a kind are about equally loud; fixed, never per recording, so
    #: that loudness still follows velocity across recordings.
    gain: float = 1.0


PERFORMERS = (
    SynthPerformer("piano-fluidr3", "piano", SF2 / "FluidR3_GM.sf2", 0, "fluid-soundfont-gm"),
    SynthPerformer("piano-timgm6mb", "piano", SF2 / "TimGM6mb.sf2", 0, "timgm6mb-soundfont"),
    SynthPerformer("piano-musescore", "piano", SF3 / "MuseScore_General_Full.sf3", 0, "musescore-general-soundfont"),
    SynthPerformer("violin-fluidr3", "violin", SF2 / "FluidR3_GM.sf2", 40, "fluid-soundfont-gm", 2.0),
    SynthPerformer("violin-timgm6mb", "violin", SF2 / "TimGM6mb.sf2", 40, "timgm6mb-soundfont", 1.2),
    SynthPerformer("violin-musescore", "violin", SF3 / "MuseScore_General_Full.sf3", 40, "musescore-general-soundfont", 2.2),
)
PERFORMER_BY_NAME = {p.name: p for p in PERFORMERS}
SOURCE_NAMES = ("vienna4x22", "batik", "nasap", "bach-violin")


def check_tools(instruments: set[str]) -> None:
    """Raise a DeepPerformerError naming what is missing (the fluidsynth program, a SoundFont)."""
    if shutil.which("fluidsynth") is None:
        raise DeepPerformerError("fluidsynth", "program not found (install the Debian package fluidsynth)")
    for p in PERFORMERS:
        if p.instrument in instruments and not p.soundfont.exists():
            raise DeepPerformerError(p.soundfont, f"SoundFont not found (install the Debian package {p.package})")


def render(perf: Performance, performer: SynthPerformer, sample_rate: int = 16000) -> np.ndarray:
    """Render a performance with FluidSynth: mono float32 ``[S]``, S = (duration + TAIL_SEC) * rate."""
    with tempfile.TemporaryDirectory(prefix="dp-fluidsynth-") as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        perf.write_midi(mid, program=performer.program, tail_sec=TAIL_SEC)
        cmd = [
            "fluidsynth",
            "-ni",
            "-q",
            "-F",
            str(wav),
            "-r",
            str(sample_rate),
            "-T",
            "wav",
            "-O",
            "float",
            "-g",
            str(performer.gain),
            str(performer.soundfont),
            str(mid),
        ]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0 or not wav.exists():
            raise DeepPerformerError(perf.source, f"fluidsynth failed ({res.stderr.strip()[:200] or res.returncode})")
        audio = load_audio(wav, sample_rate)
    n = int(round((perf.duration + TAIL_SEC) * sample_rate))
    return np.pad(audio, (0, max(0, n - len(audio))))[:n]


def _rank(source_id: str) -> str:
    return hashlib.sha1(f"deepperformer-synthetic-v1:{source_id}".encode()).hexdigest()


def _midi_seconds(path: str) -> float:
    import mido

    try:
        return float(mido.MidiFile(path).length)
    except Exception:
        return 0.0


def _source_root(name: str, root: Path, opts: PrepareOptions) -> Path | None:
    p = Path(opts.sources[name]) if name in opts.sources else root / name
    return p if p.is_dir() else None


def _candidates(root: Path, out: Path, opts: PrepareOptions) -> tuple[dict[str, list[dict]], list[str]]:
    """Performances available per instrument: dicts with id, piece, kind, paths, and a seconds getter."""
    found: dict[str, list[dict]] = {"piano": [], "violin": []}
    remarks = []
    r = _source_root("vienna4x22", root, opts)
    if r and opts.piano_hours > 0:
        for rec in match_corpus.vienna_recordings(r):
            found["piano"].append(
                dict(id=f"vienna4x22/{rec.rec_id}", piece=rec.piece, kind="match", path=rec.source, midi=rec.extra["midi"])
            )
    r = _source_root("batik", root, opts)
    if r and opts.piano_hours > 0:
        for rec in match_corpus.batik_recordings(match_corpus.batik_root(r, out)):
            found["piano"].append(
                dict(id=f"batik/{rec.rec_id}", piece=rec.piece, kind="match", path=rec.source, midi=rec.extra["midi"])
            )
    r = _source_root("nasap", root, opts)
    if r and opts.piano_hours > 0:
        for rec in nasap.find(r, out, opts)[0]:
            found["piano"].append(
                dict(
                    id=f"nasap/{rec.rec_id}",
                    piece=rec.piece,
                    kind="nasap",
                    path=rec.source,
                    alignment=rec.extra["alignment"],
                    midi=rec.source,
                )
            )
    r = _source_root("bach-violin", root, opts)
    if r and opts.violin_hours > 0:
        for row in bach_violin.read_info(r):
            notes, align, tempo = bach_violin.movement_files(r, row)
            secs = hms_to_seconds(row["end"]) - hms_to_seconds(row["start"])
            found["violin"].append(
                dict(
                    id=f"bach-violin/{row['filename']}",
                    piece=bach_violin.piece_id(row),
                    kind="bach",
                    path=str(align),
                    notes=str(notes),
                    seconds=secs,
                    tempo=bach_violin.read_tempo(tempo),
                )
            )
    for name in SOURCE_NAMES:
        if _source_root(name, root, opts) is None:
            remarks.append(f"source {name} not found under {root}: not used")
    return found, remarks


def find(root: Path, out: Path, opts: PrepareOptions) -> tuple[list[Recording], list[str]]:
    budgets = {"piano": opts.piano_hours * 3600, "violin": opts.violin_hours * 3600}
    check_tools({i for i, b in budgets.items() if b > 0})
    found, remarks = _candidates(root, out, opts)
    recs = []
    for instrument, budget in budgets.items():
        if budget <= 0:
            continue
        if not found[instrument]:
            raise DeepPerformerError(
                root, f"unknown layout: no {instrument} performances found (expected {', '.join(SOURCE_NAMES)} folders)"
            )
        total, n = 0.0, 0
        for c in sorted(found[instrument], key=lambda c: _rank(c["id"])):
            if total >= budget:
                break
            secs = c.get("seconds") or _midi_seconds(c["midi"])
            if secs <= 0:
                continue
            recs.append(
                Recording(
                    rec_id="",
                    dataset="synthetic",
                    piece=c["piece"],
                    performer="",
                    instrument=instrument,
                    source=c["path"],
                    seconds=secs + TAIL_SEC,
                    tempo_qpm=c.get("tempo", 0.0),
                    extra=dict(c),
                )
            )
            total += secs + TAIL_SEC
            n += 1
        remarks.append(f"{instrument}: {len(found[instrument])} performances available, {n} rendered ({total / 3600:.2f} h)")
    # Deal the performers round-robin, split by split (splits computed exactly as `prepare` will), so
    # that every performer is heard in train, validation and test wherever a split has enough
    # recordings, and a small corpus still gets several performers.
    splits = assign_splits(piece_durations(recs), fixed=opts.fixed_splits)
    order = {"train": 0, "validation": 1, "test": 2}
    dealt: dict[str, int] = {}
    for rec in sorted(recs, key=lambda r: order[splits[r.piece]]):  # stable: hash order inside a split
        performers = [p for p in PERFORMERS if p.instrument == rec.instrument]
        k = dealt.get(rec.instrument, 0)
        dealt[rec.instrument] = k + 1
        performer = performers[k % len(performers)]
        rec.performer = rec.extra["performer"] = performer.name
        rec.rec_id = slug(f"{performer.name}/{rec.extra['id']}")
    return recs, remarks


def load_source(extra: dict) -> tuple[Performance, object]:
    """The performance (and, for Bach violin, the score) a synthetic recording is rendered from."""
    kind = extra["kind"]
    if kind == "match":
        return load_match(extra["path"])[0], None
    if kind == "nasap":
        return load_nasap(extra["midi"], extra["alignment"]), None
    if kind == "bach":
        score, perf = load_bach_violin(extra["notes"], extra["path"])
        return perf, score
    raise ValueError(f"unknown source kind {kind}")


def process(rec: Recording, out: Path) -> list:
    perf, score = load_source(rec.extra)
    cfg = MelConfig()
    audio = render(perf, PERFORMER_BY_NAME[rec.performer], cfg.sample_rate)
    return cache_recording(out, rec, perf, audio=audio, score=score, mel_config=cfg)


SPEC = DatasetSpec("synthetic", True, find, process, description="performances rendered by FluidSynth (3 pianos, 3 violins)")
