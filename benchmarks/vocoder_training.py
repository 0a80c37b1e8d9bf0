"""Vocoder training speed on this machine: seconds per generator step in the warm-up phase (mel L1 +
multi-resolution STFT) and in the adversarial phase (plus SpeechBrain's multi-period and multi-scale
discriminators), through the real training task (`deepperformer/tasks/vocoder.py`) and Lightning.

It says what the adversarial phase costs where only a CPU is at hand. Reference measured in the same
run: the log-mel of one batch of audio, so the figures compare across machines as ratios.

    .venv/bin/python benchmarks/vocoder_training.py [--variant v2] [--batch-size 8] [--steps 3] [--threads N]
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from deepperformer.audio import LogMel, MelConfig
from deepperformer.data.audio_clips import collate_audio
from deepperformer.models.vocoder import VocoderConfig


class NoiseClips(Dataset):
    """Random (mel, audio) segments of the training shape; speed does not depend on content."""

    def __init__(self, n: int, frames: int, hop: int):
        self.n, self.frames, self.hop = n, frames, hop

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        g = torch.Generator().manual_seed(i)
        return {"mel": torch.randn(self.frames, 80, generator=g).numpy(),
                "audio": (0.1 * torch.randn(self.frames * self.hop, generator=g)).numpy(), "clip_id": str(i)}


class StepTimer(L.Callback):
    """Wall time of each training batch (generator step, and discriminator step when adversarial)."""

    def __init__(self):
        self.times: list[float] = []

    def on_train_batch_start(self, *args):
        self._t = time.perf_counter()

    def on_train_batch_end(self, *args):
        self.times.append(time.perf_counter() - self._t)


def seconds_per_step(variant: str, batch_size: int, segment_frames: int, steps: int, adversarial: bool) -> float:
    from deepperformer.tasks.vocoder import VocoderTask

    cfg = VocoderConfig.variant(variant)
    task = VocoderTask(cfg.to_dict(), adversarial_start=0 if adversarial else 10**9)
    loader = DataLoader(NoiseClips(batch_size * (steps + 1), segment_frames, cfg.hop_length), batch_size=batch_size,
                        collate_fn=collate_audio)
    timer = StepTimer()
    trainer = L.Trainer(max_steps=steps + 1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0, callbacks=[timer])
    trainer.fit(task, loader)
    return min(timer.times[1:])  # the first step pays for allocation


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", default="v2", choices=("v1", "v2", "v3"))
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--segment-frames", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)  # a benchmark prints its figures only
    cfg = MelConfig()
    audio = 0.1 * torch.randn(a.batch_size, a.segment_frames * cfg.hop_length)
    log_mel = LogMel(cfg)
    t = time.perf_counter()
    for _ in range(10):
        log_mel(audio)
    ref = (time.perf_counter() - t) / 10
    warm = seconds_per_step(a.variant, a.batch_size, a.segment_frames, a.steps, adversarial=False)
    adv = seconds_per_step(a.variant, a.batch_size, a.segment_frames, a.steps, adversarial=True)
    print(f"HiFi-GAN {a.variant}, batch {a.batch_size} x {a.segment_frames * cfg.hop_length} samples, {a.threads} thread(s)")
    print(f"reference: log-mel of the batch            {ref * 1000:9.1f} ms")
    print(f"warm-up step (generator, mel + MR-STFT)   {warm:9.2f} s   {warm / ref:9.0f} x reference")
    print(f"adversarial step (+ MPD/MSD, both steps)  {adv:9.2f} s   {adv / ref:9.0f} x reference")
    print(f"adversarial / warm-up                     {adv / warm:9.1f} x")
    print(f"100k adversarial steps at this speed: {adv * 1e5 / 86400:.1f} days")


if __name__ == "__main__":
    main()
