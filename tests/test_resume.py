"""Training killed with SIGKILL at a random moment resumes from its last checkpoint onto the same loss
curve as an uninterrupted run with the same seed: for the acoustic model, the vocoder and the renderer
(tiny debug recipes, real subprocesses, a real SIGKILL)."""

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "debug"
STEPS = 10


def _command(stage: str, manifest: Path, run: Path) -> list[str]:
    recipe, instrument = {
        "acoustic": ("acoustic.yaml", "violin"),
        "vocoder": ("vocoder.yaml", "violin"),
        "renderer": ("renderer.yaml", "piano"),
    }[stage]
    return [
        sys.executable,
        "-m",
        "deepperformer",
        "train",
        str(RECIPES / recipe),
        "--set",
        f"data.manifests=[{manifest}]",
        "--set",
        f"data.instrument={instrument}",
        "--set",
        "trainer.checkpoint_every_steps=3",
        "--set",
        "trainer.val_every_steps=1000",  # no validation: the curve is the training loss
        "--max-steps",
        str(STEPS),
        "-o",
        str(run),
    ]


def _losses(run: Path) -> dict[int, float]:
    """{step: training loss} over every start of the run (a later start's rows replace an earlier's)."""
    out = {}
    for f in sorted((run / "logs").glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1])):
        for row in csv.DictReader(open(f)):
            key = next(k for k in ("train/loss", "train/loss_g", "train/mel") if k in row)
            if row.get(key):
                out[int(row["step"])] = float(row[key])
    return out


@pytest.mark.parametrize("stage", ["acoustic", "vocoder", "renderer"])
def test_a_run_killed_at_a_random_moment_resumes_on_the_same_loss_curve(stage, corpus, vienna, tmp_path):
    manifest = vienna if stage == "renderer" else corpus
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    quiet = dict(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    whole = subprocess.Popen(_command(stage, manifest, tmp_path / "whole"), **quiet)
    killed = subprocess.Popen(_command(stage, manifest, tmp_path / "killed"), **quiet)
    last = tmp_path / "killed" / "ckpt" / "last.ckpt"
    deadline = time.time() + 120
    while not last.exists() and killed.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 0.5))  # somewhere after the first checkpoint
    was_running = killed.poll() is None
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert whole.wait() == 0, whole.stderr.read().decode()[-2000:]
    resumed = subprocess.run(_command(stage, manifest, tmp_path / "killed"), capture_output=True, text=True, env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (tmp_path / "killed" / "model.pt").exists()

    reference, curve = _losses(tmp_path / "whole"), _losses(tmp_path / "killed")
    assert len(reference) >= STEPS - 1
    assert set(curve) == set(reference), f"steps differ (killed while running: {was_running})"
    for step in sorted(reference):
        assert curve[step] == pytest.approx(reference[step], rel=1e-5, abs=1e-6), f"step {step}"
