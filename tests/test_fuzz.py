"""No input crashes: every reader, fed truncated, bit-flipped, empty and wrong-extension files.

Each case runs the command a user would (in-process): ``render`` for scores, ``synthesize`` with
Griffin-Lim for performances, ``vocode`` with Griffin-Lim for audio, ``info`` for checkpoints. A
damaged file may still be readable (a flipped bit in a velocity); what is never allowed is another
exit code, a traceback, more than one line of error, or an output file (or its temporary) left
behind by a failed run. The default suite tries a few cases per format; ``pytest -m fuzz`` runs the
long campaign and prints how many cases it tried.
"""

import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DATA = Path(__file__).resolve().parent / "data"

#: format -> (a valid file of it, how the command is run on it)
SEEDS = {
    ".mid": (DATA / "scores" / "minuet.mid", "render"),
    ".musicxml": (DATA / "scores" / "minuet.musicxml", "render"),
    ".mxl": (DATA / "scores" / "minuet.mxl", "render"),
    ".mei": (DATA / "scores" / "minuet.mei", "render"),
    ".krn": (DATA / "scores" / "minuet.krn", "render"),
    ".match": (DATA / "vienna4x22" / "match" / "Minuet_p01.match", "synthesize"),
    ".csv": (None, "synthesize"),  # written by `render` below (the note CSV format)
    ".mp3": (DATA / "bach-violin" / "audio" / "jane-doe" / "jane-doe_bwv1001_mov1.mp3", "vocode"),
    ".pt": (Path(__file__).resolve().parents[1] / "checkpoints" / "acoustic_bach_violin.pt", "info"),
}
FAST = settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
LONG = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

mutations = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0.0, 1.0)),
    st.tuples(st.just("flip"), st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 7)), min_size=1, max_size=24)),
    st.tuples(st.just("empty"), st.none()),
    st.tuples(st.just("foreign"), st.sampled_from(sorted(SEEDS))),  # another format's bytes under this suffix
)


def _drop_broken_lazy_modules() -> None:
    """hypothesis reads ``__file__`` of every module in ``sys.modules``; SpeechBrain registers lazy
    modules for optional integrations (k2, ...) whose ``__file__`` raises ImportError when the package is
    missing. Once SpeechBrain is imported (by another test), drop those from ``sys.modules``."""
    for name, module in list(sys.modules.items()):
        if type(module).__name__ in ("LazyModule", "DeprecatedModuleRedirect"):
            try:
                getattr(module, "__file__", None)
            except Exception:  # noqa: BLE001 - whatever the missing integration raises
                sys.modules.pop(name, None)


def _seed_bytes(suffix: str, tmp: Path) -> bytes:
    path, _ = SEEDS[suffix]
    if path is None:  # the note CSV: render one
        from deepperformer.cli.main import main

        out = tmp / "seed.csv"
        assert main(["render", str(DATA / "scores" / "minuet.musicxml"), "-o", str(out), "--no-png"]) == 0
        path = out
    return path.read_bytes()


def _mutate(data: bytes, mutation, tmp: Path) -> bytes:
    kind, arg = mutation
    if kind == "truncate":
        return data[: int(len(data) * arg)]
    if kind == "flip":
        b = bytearray(data)
        for pos, bit in arg:
            if b:
                b[min(int(pos * len(b)), len(b) - 1)] ^= 1 << bit
        return bytes(b)
    if kind == "empty":
        return b""
    return _seed_bytes(arg, tmp)


def _command(kind: str, path: Path, out_dir: Path) -> tuple[list[str], Path]:
    if kind == "render":
        out = out_dir / "out.csv"
        return ["render", str(path), "-o", str(out), "--no-png"], out
    out = out_dir / "out.wav"
    if kind == "synthesize":
        return ["synthesize", str(path), "-o", str(out), "--vocoder", "griffin-lim", "--instrument", "piano"], out
    if kind == "vocode":
        return ["vocode", str(path), "-o", str(out), "--vocoder", "griffin-lim"], out
    return ["info", str(path)], out


def check_case(suffix: str, mutation, tmp: Path, capsys) -> str:
    """Run one damaged file through its command; return "ok" or "refused" (asserting the rules)."""
    from deepperformer.cli.main import main

    case = tmp / "case"
    shutil.rmtree(case, ignore_errors=True)
    case.mkdir(parents=True)
    path = case / f"input{suffix}"
    path.write_bytes(_mutate(_seed_bytes(suffix, tmp), mutation, tmp))
    out_dir = case / "out"
    out_dir.mkdir()
    args, out = _command(SEEDS[suffix][1], path, out_dir)
    capsys.readouterr()
    code = main(args)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    if code == 0:
        return "ok"
    assert code == 2, (code, err)
    lines = [line for line in err.strip().splitlines() if not line.startswith("deepperformer: warning:")]
    assert len(lines) == 1 and lines[0].startswith("deepperformer: error: "), err
    assert "input" in lines[0] or "out" in lines[0], err  # names the file
    assert not any(out_dir.iterdir()), list(out_dir.iterdir())  # nothing written, no temporary left
    return "refused"


@pytest.mark.parametrize("suffix", sorted(SEEDS))
def test_damaged_files_are_refused_cleanly(suffix, tmp_path_factory, capsys):
    tmp = tmp_path_factory.mktemp("fuzz")
    _drop_broken_lazy_modules()

    @FAST
    @given(mutation=mutations)
    def run(mutation):
        check_case(suffix, mutation, tmp, capsys)

    run()


@pytest.mark.fuzz
@pytest.mark.parametrize("suffix", sorted(SEEDS))
def test_long_fuzz_campaign(suffix, tmp_path_factory, capsys):
    tmp = tmp_path_factory.mktemp("fuzz")
    _drop_broken_lazy_modules()
    tally = {"ok": 0, "refused": 0}

    @LONG
    @given(mutation=mutations)
    def run(mutation):
        tally[check_case(suffix, mutation, tmp, capsys)] += 1

    run()
    with capsys.disabled():
        print(f"\nfuzz {suffix}: {sum(tally.values())} cases, {tally['refused']} refused cleanly, {tally['ok']} still readable")
