"""End-to-end synthesis speed and memory on this machine: `deepperformer synthesize` on whole pieces.

Each input runs in its own process (so each peak resident memory is its own), once in full and once
cut to its first ``--excerpt`` seconds: equal peaks for the excerpt and the whole piece show that
memory stays flat with length. Prints audio duration, wall time, real-time factor (wall / audio) and
peak memory per input; the reference measured in the same run is the log-mel computation of the
output audio (the stage-2/3 work per second, as a ratio to a fixed signal-processing cost).

    .venv/bin/python benchmarks/synthesis.py INPUT:INSTRUMENT [INPUT:INSTRUMENT ...] [--threads N] [--vocoder V ...]
        [--refine N|none ...]

e.g. ``../shared/data/bach-violin/scores/bwv1002/bwv1002_mov8.mxl:violin`` and a 3-minute piano MIDI.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def run(
    input_path: str,
    instrument: str,
    out: Path,
    threads: int,
    excerpt: float | None,
    vocoder: str | None = None,
    refine: str | None = None,
) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    src = input_path
    if excerpt is not None:  # the same input cut to its first seconds, as a performance CSV
        from deepperformer.render.inputs import load_input

        r = load_input(Path(input_path))
        cut = r.performance.window(0.0, excerpt)
        src = str(out.with_suffix(".excerpt.csv"))
        cut.write_csv(src)
    cmd = [sys.executable, "-m", "deepperformer", "synthesize", src, "-o", str(out), "--instrument", instrument]
    if vocoder:
        cmd += ["--vocoder", vocoder]
    if refine is not None:  # the mel-consistency refinement after the vocoder: N iterations, or none
        cmd += ["--no-refine"] if refine == "none" else ["--refine", refine]
    t = time.perf_counter()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if res.returncode != 0:
        raise SystemExit(f"{input_path}: synthesize failed: {res.stderr.strip().splitlines()[-1]}")
    m = re.search(r"wrote .*: ([\d.]+) s of audio in ([\d.]+) s \(real-time factor ([\d.]+)\), peak memory (\d+) MB", res.stdout)
    return {
        "audio_s": float(m.group(1)),
        "synth_s": float(m.group(2)),
        "rtf": float(m.group(3)),
        "peak_mb": int(m.group(4)),
        "process_s": wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("inputs", nargs="+", help="INPUT:INSTRUMENT (a score or a performance, and piano|violin)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--vocoder",
        action="append",
        default=[],
        help="a vocoder checkpoint or griffin-lim (repeatable: one row each; default: the shipped one)",
    )
    ap.add_argument(
        "--refine",
        action="append",
        default=[],
        help="refinement iterations after the vocoder, or none (repeatable: one row each; default: synthesize's)",
    )
    ap.add_argument(
        "--excerpt", type=float, default=60.0, help="seconds of the short run (default 60: longer than one chunk of each stage)"
    )
    a = ap.parse_args()
    import torch

    from deepperformer.audio.io import load_audio
    from deepperformer.audio.mel import MelConfig, log_mel

    torch.set_num_threads(a.threads)
    print(f"threads: {a.threads}")
    print(
        f"{'input':<34}{'vocoder':<26}{'refine':>7}{'audio s':>9}{'wall s':>8}{'RTF':>7}{'peak MB':>9}"
        f"{'excerpt peak MB':>17}{'x log-mel ref':>15}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        runs = [(i, v, r) for i in a.inputs for v in (a.vocoder or [None]) for r in (a.refine or [None])]
        for item, vocoder, refine in runs:
            path, _, instrument = item.rpartition(":")
            full = run(path, instrument, Path(tmp) / "full.wav", a.threads, None, vocoder, refine)
            short = run(path, instrument, Path(tmp) / "short.wav", a.threads, a.excerpt, vocoder, refine)
            audio = load_audio(Path(tmp) / "full.wav", MelConfig().sample_rate)
            t = time.perf_counter()
            log_mel(audio, MelConfig())
            ref = max(time.perf_counter() - t, 1e-6)
            print(
                f"{Path(path).name[:33]:<34}{Path(vocoder or 'shipped default').stem[:25]:<26}{refine or 'default':>7}"
                f"{full['audio_s']:>9.1f}{full['synth_s']:>8.1f}{full['rtf']:>7.3f}{full['peak_mb']:>9d}"
                f"{short['peak_mb']:>17d}{full['synth_s'] / ref:>15.1f}"
            )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
