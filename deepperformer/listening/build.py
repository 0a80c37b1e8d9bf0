"""``listening-test build CONFIG.yaml -o DIR``: render every system x excerpt, blind them, write the test.

Layout of DIR:

- ``key.csv``: file -> excerpt, system, role (system: rated, listed in the configuration; reference:
  MUSHRA's open reference; hidden-reference; anchor), gain and whether the peak had to be limited.
  Keep it away from listeners: it is the only link between the random file names and the systems.
- ``page/``: what listeners get (``index.html`` and ``audio/*.wav``), self-contained, no internet.
- ``webmushra/configs/<name>.yaml`` (+ ``configs/resources/audio``): the same test for webMUSHRA.
- ``demo/index.html`` with ``--demo-page``: excerpts x systems with players and mel spectrograms.

Every version of an excerpt covers the same span (``seconds`` from the excerpt's start) and is
normalised to the same integrated loudness (ITU-R BS.1770, pyloudnorm). The MUSHRA anchor is the
loudness-normalised reference low-passed at 3.5 kHz (ITU-R BS.1534-3).
"""

from __future__ import annotations

import csv
import functools
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from deepperformer.audio.io import load_audio, write_audio
from deepperformer.audio.mel import MelConfig
from deepperformer.core.atomic import atomic_path, write_text
from deepperformer.core.errors import DeepPerformerError
from deepperformer.core.performance import Performance
from deepperformer.data.manifest import read_manifest
from deepperformer.listening.config import Excerpt, System, TestConfig
from deepperformer.pipeline.loading import stage_one
from deepperformer.pipeline.synthesis import load_pair, performance_to_audio
from deepperformer.render.inputs import load_input

#: Seconds of music synthesised before an excerpt's start, so that it does not begin cold.
CONTEXT_SEC = 2.0
ANCHOR_HZ = 3500.0
ROLES = ("system", "reference", "hidden-reference", "anchor")


@dataclass
class Stimulus:
    """One file of the test: ``audio`` ``[S]`` and what it is."""

    excerpt: str
    system: str
    role: str
    audio: np.ndarray
    file: str = ""
    gain_db: float = 0.0
    peak_limited: bool = False


@dataclass
class Source:
    """What an excerpt plays: a performance with its tempo (qpm, 0 unknown), where the excerpt starts
    in it (seconds), and its original recording's span when it has one."""

    performance: Performance | None
    tempo_qpm: float
    start: float
    original: np.ndarray | None
    path: Path


def excerpt_source(ex: Excerpt, seconds: float, sample_rate: int) -> Source:
    """A prepared clip's recording (with its original audio), or None for a file (rendered per system)."""
    if ex.file is not None:
        return Source(None, 0.0, ex.start, None, ex.file)
    rows = [r for r in read_manifest(ex.manifest) if r.clip_id == ex.clip]
    if not rows:
        raise DeepPerformerError(ex.manifest, f"no clip {ex.clip!r} (excerpt {ex.id})")
    row, root = rows[0], Path(ex.manifest).parent
    perf = Performance.load(root / row.performance)
    start = row.start_sec + ex.start
    original = None
    if row.audio:
        original = _fit(load_audio(root / row.audio, sample_rate, offset=start, duration=seconds), seconds, sample_rate)
    return Source(perf, row.tempo_qpm, start, original, Path(ex.manifest))


def _fit(audio: np.ndarray, seconds: float, sample_rate: int) -> np.ndarray:
    n = int(round(seconds * sample_rate))
    return np.pad(audio, (0, max(0, n - len(audio))))[:n].astype(np.float32)


@functools.lru_cache(maxsize=8)
def _models(instrument: str, acoustic: str, vocoder: str, refine: int | None):
    """The (acoustic model, vocoder) pair, loaded once per build however many excerpts use it."""
    return load_pair(
        instrument, None if acoustic == "shipped" else Path(acoustic), None if vocoder == "shipped" else Path(vocoder), refine
    )


@functools.lru_cache(maxsize=8)
def _renderer(instrument: str, spec: str):
    return stage_one(instrument, None if spec in ("shipped", "deadpan") else Path(spec), deadpan=spec == "deadpan")


def system_audio(system: System, ex: Excerpt, src: Source, seconds: float, sample_rate: int) -> np.ndarray:
    """The excerpt's span as ``system`` plays it, ``[seconds * sample_rate]``."""
    perf, tempo, start = src.performance, src.tempo_qpm, src.start
    if perf is None:  # a score (rendered by the system's stage 1) or a performance file
        rendered = load_input(ex.file, None, "maximal", _renderer(ex.instrument, system.renderer))
        perf, tempo = rendered.performance, rendered.tempo_qpm
    lead = min(CONTEXT_SEC, start)
    window = perf.window(start - lead, start + seconds)
    if system.reference == "fluidsynth":
        return _fit(_fluidsynth(window, ex.instrument, sample_rate)[int(lead * sample_rate) :], seconds, sample_rate)
    a, v = _models(ex.instrument, system.acoustic, system.vocoder, system.refine)
    _, wav = performance_to_audio(a, v, window, tempo, 0, progress=False)
    return _fit(wav[int(round(lead * sample_rate)) :], seconds, sample_rate)


def _fluidsynth(perf: Performance, instrument: str, sample_rate: int) -> np.ndarray:
    from deepperformer.data.synthetic import PERFORMERS, check_tools, render

    check_tools({instrument})
    notes = perf.notes[perf.notes["onset_sec"] >= 0.0]  # a note begun before the window is not restruck
    return render(
        Performance(notes, perf.pedal, perf.source), next(p for p in PERFORMERS if p.instrument == instrument), sample_rate
    )


def normalise(audio: np.ndarray, sample_rate: int, target_lufs: float, what: str) -> tuple[np.ndarray, float, bool]:
    """(audio at ``target_lufs`` integrated loudness, gain in dB, whether the peak had to be limited)."""
    import pyloudnorm

    loudness = pyloudnorm.Meter(sample_rate).integrated_loudness(audio.astype(np.float64))
    if not np.isfinite(loudness):
        raise DeepPerformerError(None, f"{what} is silent: nothing to normalise")
    gain_db = float(target_lufs - loudness)
    out = audio * 10 ** (gain_db / 20)
    peak = float(np.abs(out).max())
    limited = peak > 0.99
    if limited:  # never clip: a quieter file, recorded in the key
        out = out * (0.99 / peak)
    return out.astype(np.float32), gain_db, limited


def low_pass(audio: np.ndarray, sample_rate: int, cutoff: float = ANCHOR_HZ) -> np.ndarray:
    """The MUSHRA anchor: ``audio`` low-passed at ``cutoff`` Hz (zero-phase, 8th-order Butterworth)."""
    from scipy.signal import butter, sosfiltfilt

    sos = butter(8, cutoff, fs=sample_rate, output="sos")
    return sosfiltfilt(sos, audio).astype(np.float32)


def build(config: TestConfig, out: Path, demo_page: bool = False, progress: bool = True, log=print) -> list[Stimulus]:
    """Render, cut, normalise and blind every stimulus of ``config`` into ``out``; -> the stimuli."""
    from deepperformer.listening.page import write_demo_page, write_test_page
    from deepperformer.listening.webmushra import write_webmushra

    sr = MelConfig().sample_rate
    out = Path(out)
    stimuli: list[Stimulus] = []
    jobs = [(ex, s) for ex in config.excerpts for s in config.systems]
    with tqdm(total=len(jobs), desc="render stimuli", unit="stimulus", disable=not progress, dynamic_ncols=True) as bar:
        for ex in config.excerpts:
            src = excerpt_source(ex, config.seconds, sr)
            for s in config.systems:
                if s.reference == "original":
                    if src.original is None:
                        raise DeepPerformerError(config.source, f"system {s.name}: excerpt {ex.id} has no original recording")
                    audio = src.original
                else:
                    audio = system_audio(s, ex, src, config.seconds, sr)
                stimuli.append(Stimulus(ex.id, s.name, "system", audio))
                bar.update(1)
            if config.mode == "mushra":
                stimuli += _mushra_extras(config, ex, src, stimuli, sr)
    for st in stimuli:
        if st.role != "anchor":
            st.audio, st.gain_db, st.peak_limited = normalise(st.audio, sr, config.loudness_lufs, f"{st.system} on {st.excerpt}")
    for st in stimuli:  # the anchor is the normalised reference, low-passed
        if st.role == "anchor":
            ref = next(r for r in stimuli if r.excerpt == st.excerpt and r.role == "hidden-reference")
            st.audio, st.gain_db = low_pass(ref.audio, sr), ref.gain_db
    _name(stimuli, config.seed)

    for old in ("page", "webmushra", "demo"):  # a rebuild replaces the audio, never mixes two builds
        shutil.rmtree(out / old, ignore_errors=True)
    audio_dir = out / "page" / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    for st in stimuli:
        write_audio(audio_dir / st.file, st.audio, sr)
    write_key(out / "key.csv", stimuli)
    write_test_page(out / "page" / "index.html", config, stimuli)
    write_webmushra(out / "webmushra", config, stimuli, audio_dir)
    if demo_page:
        write_demo_page(out / "demo", config, stimuli, audio_dir, sr)
    write_text(out / "README.txt", _readme(config, stimuli))
    log(f"{len(stimuli)} stimuli ({len(config.excerpts)} excerpts x {len(config.systems)} systems) -> {out}")
    return stimuli


def _mushra_extras(config: TestConfig, ex: Excerpt, src: Source, stimuli: list[Stimulus], sr: int) -> list[Stimulus]:
    """The excerpt's open reference, hidden reference and anchor: its original recording, else its
    FluidSynth rendering (or that of the listed reference system)."""
    want = config.reference if (config.reference != "original" or src.original is not None) else "fluidsynth"
    if want == "original":
        audio = src.original
    else:
        listed = [
            st for st in stimuli if st.excerpt == ex.id and st.role == "system" and _system(config, st.system).reference == want
        ]
        audio = (
            listed[0].audio if listed else system_audio(System("reference", reference="fluidsynth"), ex, src, config.seconds, sr)
        )
    name = f"reference ({want})"
    return [
        Stimulus(ex.id, name, "reference", audio.copy()),
        Stimulus(ex.id, name, "hidden-reference", audio.copy()),
        Stimulus(ex.id, f"anchor ({ANCHOR_HZ / 1000:.1f} kHz)", "anchor", audio.copy()),
    ]


def _system(config: TestConfig, name: str) -> System:
    return next(s for s in config.systems if s.name == name)


def _name(stimuli: list[Stimulus], seed: int) -> None:
    """Random, unique, meaningless file names (seeded: a rebuild gives the same names)."""
    rng = np.random.default_rng(seed)
    taken: set[str] = set()
    for st in stimuli:
        while True:
            name = f"{int(rng.integers(16**8)):08x}.wav"
            if name not in taken:
                taken.add(name)
                st.file = name
                break


KEY_COLUMNS = ("file", "excerpt", "system", "role", "gain_db", "peak_limited")


def write_key(path: Path, stimuli: list[Stimulus]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(KEY_COLUMNS)
        for st in stimuli:
            w.writerow([st.file, st.excerpt, st.system, st.role, f"{st.gain_db:.2f}", int(st.peak_limited)])


def read_key(path: Path) -> dict[str, dict]:
    """{file: row} of a key file; DeepPerformerError for a missing or malformed one."""
    path = Path(path)
    if not path.is_file():
        raise DeepPerformerError(path, "key file not found (the DIR that `listening-test build` wrote?)")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or any(c not in rows[0] for c in KEY_COLUMNS):
        raise DeepPerformerError(path, f"not a key file (columns {', '.join(KEY_COLUMNS)} expected)")
    return {r["file"]: r for r in rows}


def _readme(config: TestConfig, stimuli: list[Stimulus]) -> str:
    return (
        f"Listening test {config.name!r} ({config.mode}), built by deepperformer.\n"
        f"{len(config.excerpts)} excerpts of {config.seconds:g} s, {len(config.systems)} systems, {len(stimuli)} files "
        f"normalised to {config.loudness_lufs:g} LUFS.\n\n"
        "page/       give this folder to listeners (open page/index.html, or `deepperformer listening-test serve DIR`)\n"
        "key.csv     which file is which system: keep it away from listeners\n"
        "webmushra/  the same test as a webMUSHRA configuration (copy configs/ into a webMUSHRA installation)\n"
    )
