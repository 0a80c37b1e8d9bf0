"""Acoustic-model speed on this machine at the paper's model size: inference seconds per second of
audio for a 60-second performance (chunked, the synthesis path, and in one shot), and the time of one
training step at the paper's batch (16 clips of 5 s).

Reference measured in the same run: computing the log-mel of 60 s of audio (MelConfig), so the
figures can be compared across machines as ratios.

    .venv/bin/python benchmarks/acoustic_inference.py [--checkpoint model.pt] [--threads N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from deepperformer.acoustic.inference import predict_mel
from deepperformer.acoustic.model import AcousticConfig, AcousticModel
from deepperformer.audio.mel import MelConfig, log_mel
from deepperformer.core.performance import Performance, make_notes


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", help="an exported acoustic model (default: an untrained paper-size model)")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.checkpoint:
        from deepperformer.pipeline.loading import load_acoustic

        model, _ = load_acoustic(a.checkpoint)
    else:
        model = AcousticModel(AcousticConfig(n_performers=3)).eval()
    rng = np.random.default_rng(0)
    n = int(a.seconds * 8)  # 8 notes per second: a busy piano texture
    onset = np.sort(rng.uniform(0, a.seconds - 1, n))
    perf = Performance(make_notes(onset, rng.uniform(0.1, 1.0, n), rng.integers(36, 96, n), rng.integers(30, 110, n)))
    audio = rng.standard_normal(int(a.seconds * 16000)).astype(np.float32) * 0.1

    ref = best_of(lambda: log_mel(audio, MelConfig()), a.repeats)
    chunked = best_of(lambda: predict_mel(model, perf, chunk_seconds=30.0), a.repeats)
    whole = best_of(lambda: predict_mel(model, perf, chunk_seconds=1e6), a.repeats)
    params = sum(p.numel() for p in model.parameters()) / 1e6

    # one training step at the paper's batch: 16 five-second clips cut from the same performance
    from deepperformer.data.notes import collate_notes, note_arrays

    clips = [note_arrays(perf.window(5.0 * i, 5.0 * i + 5.0), 312) for i in range(16)]
    batch = collate_notes(clips, [312] * 16, [0] * 16, [0.0] * 16)
    target = torch.randn(16, 312, 80)
    train_model = AcousticModel(model.config).train()
    opt = torch.optim.Adam(train_model.parameters(), lr=1e-4)

    def step():
        loss = ((train_model(batch) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up
    train_step = best_of(step, a.repeats)
    print(f"acoustic model {params:.2f} M parameters, {a.threads} threads, {a.seconds:.0f} s performance, {n} notes")
    print(f"reference  log-mel of the audio      {ref:8.3f} s  ({ref / a.seconds:.4f} s per s of audio)")
    print(
        f"chunked    30 s chunks (synthesis)   {chunked:8.3f} s  ({chunked / a.seconds:.4f} s per s of audio, "
        f"{chunked / ref:.1f}x reference)"
    )
    print(
        f"one shot   whole performance         {whole:8.3f} s  ({whole / a.seconds:.4f} s per s of audio, "
        f"{whole / ref:.1f}x reference)"
    )
    print(f"training   one step, batch 16 x 312  {train_step:8.3f} s  ({train_step / ref:.1f}x reference)")


if __name__ == "__main__":
    main()
