"""A listening test's configuration (``listening-test build CONFIG.yaml``): systems x excerpts.

```yaml
name: piano-mushra              # the test's name (page title, webMUSHRA test id)
mode: mushra                    # mushra (0-100 sliders, hidden reference, 3.5 kHz anchor) or mos (5-point ACR)
seconds: 8                      # every version of an excerpt is cut to the same span
seed: 0                         # file names, and nothing else, are drawn from it
loudness_lufs: -23              # ITU-R BS.1770 integrated loudness every file is normalised to
systems:
  - name: ours                  # a stage combination
    renderer: shipped           # shipped | deadpan | PATH (a renderer checkpoint); a performance excerpt is played as is
    acoustic: shipped           # shipped | PATH (an acoustic model, or the paper's baseline: it needs no vocoder)
    vocoder: shipped            # shipped | griffin-lim | PATH
    refine: 32                  # refinement iterations after a neural vocoder (default synthesize's), none: raw
  - name: fluidsynth
    reference: fluidsynth       # original | fluidsynth: a reference system
excerpts:
  - id: minuet                  # a score or performance file
    file: data/examples/minuet_in_g.krn
    instrument: piano
    start: 0                    # seconds into the rendering
  - id: garner                  # a clip of a prepared corpus (its recording is the "original")
    manifest: prepared/bach-violin/manifest.csv
    clip: john-garner_bwv1002_mov8/3
```

MUSHRA (ITU-R BS.1534-3) needs a reference: the excerpt's original recording when it has one, else
its FluidSynth rendering (``reference:`` says which, default ``original`` falling back to
``fluidsynth``). The hidden reference and the 3.5 kHz low-pass anchor are added to every MUSHRA
trial by the build, not listed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from deepperformer.core.errors import DeepPerformerError
from deepperformer.vocoders import REFINE_ITERS

MODES = ("mushra", "mos")
REFERENCES = ("original", "fluidsynth")
INSTRUMENTS = ("piano", "violin")


@dataclass(frozen=True)
class System:
    """A system: a stage combination (``renderer``/``acoustic``/``vocoder``: "shipped", "deadpan",
    "griffin-lim" or a checkpoint path; ``refine``: the vocoder's refinement iterations, None for its
    raw output) or a ``reference`` ("original" or "fluidsynth")."""

    name: str
    renderer: str = "shipped"
    acoustic: str = "shipped"
    vocoder: str = "shipped"
    reference: str | None = None
    refine: int | None = REFINE_ITERS


@dataclass(frozen=True)
class Excerpt:
    """A span of a score/performance ``file`` (from ``start`` seconds) or a prepared ``clip``."""

    id: str
    instrument: str
    file: Path | None = None
    start: float = 0.0
    manifest: Path | None = None
    clip: str | None = None


@dataclass
class TestConfig:
    name: str
    mode: str
    seconds: float
    systems: list[System]
    excerpts: list[Excerpt]
    seed: int = 0
    loudness_lufs: float = -23.0
    reference: str = "original"
    source: Path | None = None
    instructions: str = ""
    extra: dict = field(default_factory=dict)


def _fail(path: Path, problem: str):
    raise DeepPerformerError(path, problem)


def load_config(path: Path) -> TestConfig:
    """Read and check a listening-test configuration; any problem is one DeepPerformerError naming the file."""
    path = Path(path)
    if not path.is_file():
        _fail(path, "listening-test configuration not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        _fail(path, f"not valid YAML ({str(e).splitlines()[0]})")
    if not isinstance(raw, dict):
        _fail(path, "expected a mapping with name, mode, systems and excerpts")
    known = {"name", "mode", "seconds", "seed", "loudness_lufs", "systems", "excerpts", "reference", "instructions"}
    unknown = sorted(set(raw) - known)
    if unknown:
        _fail(path, f"unknown setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    mode = raw.get("mode", "mushra")
    if mode not in MODES:
        _fail(path, f"mode {mode!r}: expected {' or '.join(MODES)}")
    reference = raw.get("reference", "original")
    if reference not in REFERENCES:
        _fail(path, f"reference {reference!r}: expected {' or '.join(REFERENCES)}")
    try:
        seconds = float(raw.get("seconds", 8))
        seed = int(raw.get("seed", 0))
        lufs = float(raw.get("loudness_lufs", -23))
    except (TypeError, ValueError) as e:
        _fail(path, f"seconds, seed and loudness_lufs must be numbers ({e})")
    if not 1.0 <= seconds <= 60.0:
        _fail(path, f"seconds {seconds}: expected 1..60 (MUSHRA items are short)")
    systems = [_system(path, s) for s in _list(path, raw, "systems")]
    excerpts = [_excerpt(path, e) for e in _list(path, raw, "excerpts")]
    for what, names in (("system", [s.name for s in systems]), ("excerpt", [e.id for e in excerpts])):
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            _fail(path, f"{what} names must be unique: {', '.join(dup)}")
    return TestConfig(
        name=str(raw.get("name") or path.stem),
        mode=mode,
        seconds=seconds,
        systems=systems,
        excerpts=excerpts,
        seed=seed,
        loudness_lufs=lufs,
        reference=reference,
        source=path,
        instructions=str(raw.get("instructions", "")),
    )


def _list(path: Path, raw: dict, key: str) -> list[dict]:
    items = raw.get(key)
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        _fail(path, f"{key}: expected a non-empty list of mappings")
    return items


def _system(path: Path, s: dict) -> System:
    known = {"name", "renderer", "acoustic", "vocoder", "reference", "refine"}
    if not s.get("name") or set(s) - known:
        _fail(path, f"system {s}: needs a name; settings are {', '.join(sorted(known))}")
    ref = s.get("reference")
    if ref is not None and ref not in REFERENCES:
        _fail(path, f"system {s['name']}: reference {ref!r}, expected {' or '.join(REFERENCES)}")
    refine = s.get("refine", REFINE_ITERS)
    if refine == "none":
        refine = None
    elif isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
        _fail(path, f"system {s['name']}: refine {refine!r}, expected iterations (0 or more) or none")
    return System(
        name=str(s["name"]),
        renderer=str(s.get("renderer", "shipped")),
        acoustic=str(s.get("acoustic", "shipped")),
        vocoder=str(s.get("vocoder", "shipped")),
        reference=ref,
        refine=refine,
    )


def _excerpt(path: Path, e: dict) -> Excerpt:
    known = {"id", "file", "start", "instrument", "manifest", "clip"}
    if not e.get("id") or set(e) - known:
        _fail(path, f"excerpt {e}: needs an id; settings are {', '.join(sorted(known))}")
    has_file, has_clip = "file" in e, "manifest" in e or "clip" in e
    if has_file == has_clip or (has_clip and not (e.get("manifest") and e.get("clip"))):
        _fail(path, f"excerpt {e['id']}: give either file (+ start) or manifest + clip")
    instrument = e.get("instrument", "piano")
    if instrument not in INSTRUMENTS:
        _fail(path, f"excerpt {e['id']}: instrument {instrument!r}, expected {' or '.join(INSTRUMENTS)}")
    base = path.parent

    def resolve(p):  # relative to the working directory, else to the configuration's folder
        p = Path(p)
        return p if p.is_absolute() or p.exists() else base / p

    try:
        start = float(e.get("start", 0.0))
    except (TypeError, ValueError):
        _fail(path, f"excerpt {e['id']}: start must be a number of seconds")
    return Excerpt(
        id=str(e["id"]),
        instrument=instrument,
        file=resolve(e["file"]) if has_file else None,
        start=start,
        manifest=resolve(e["manifest"]) if has_clip else None,
        clip=str(e["clip"]) if has_clip else None,
    )
