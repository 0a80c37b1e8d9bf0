"""Vocoder training speed on this machine: seconds per training step in the warm-up phase (mel L1 +
multi-resolution STFT, generator only) and in the adversarial phase with each discriminator set of
`deepperformer/vocoders/discriminators.py`, through the real training task
(`deepperformer/vocoders/task.py`) and Lightning, in fp32 and with bf16 autocast.

It says what each adversarial recipe costs where only a CPU is at hand. Reference measured in the same
run: the generator-only step in fp32, so the figures compare across machines as ratios.

    .venv/bin/python benchmarks/vocoder_training.py [--generators v2,vocos-cpu] [--batch-size 8]
        [--segment-frames 32] [--steps 3] [--threads N] [--sets warmup,quarter-mpd,...] [--bf16] [--compile]
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from deepperformer.audio.mel import MelConfig
from deepperformer.data.audio_clips import collate_audio
from deepperformer.vocoders.hifigan import VocoderConfig
from deepperformer.vocoders.vocos import VocosConfig


class NoiseClips(Dataset):
    """Random (mel, audio) segments of the training shape; speed does not depend on content."""

    def __init__(self, n: int, frames: int, hop: int):
        self.n, self.frames, self.hop = n, frames, hop

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        g = torch.Generator().manual_seed(i)
        return {
            "mel": torch.randn(self.frames, 80, generator=g).numpy(),
            "audio": (0.1 * torch.randn(self.frames * self.hop, generator=g)).numpy(),
            "clip_id": str(i),
        }


class StepTimer(L.Callback):
    """Wall time of each training batch (generator step, and discriminator step when adversarial)."""

    def __init__(self):
        self.times: list[float] = []

    def on_train_batch_start(self, *args):
        self._t = time.perf_counter()

    def on_train_batch_end(self, *args):
        self.times.append(time.perf_counter() - self._t)


#: Discriminator sets (a recipe's `discriminator` section); None = the generator-only warm-up.
MRD = [[512, 128, 512], [1024, 256, 1024], [2048, 512, 2048]]
SETS = {
    "warmup": None,
    "mpd+msd": dict(mpd_width=1.0, msd=True),
    "mpd": dict(mpd_width=1.0, msd=False),
    "msd": dict(mpd_periods=[], msd=True),
    "half-mpd": dict(mpd_width=0.5, msd=False),
    "quarter-mpd": dict(mpd_width=0.25, msd=False),
    "mrd": dict(mpd_periods=[], msd=False, mrd_resolutions=MRD),
    "quarter-mpd+mrd": dict(mpd_width=0.25, msd=False, mrd_resolutions=MRD),
    "quarter-mpd+mrd16": dict(mpd_width=0.25, msd=False, mrd_resolutions=MRD, mrd_channels=16),
}


#: Generators: HiFi-GAN's sizes and the Vocos-style model of recipes/vocoder/vocos*.yaml.
GENERATORS = {
    "v1": lambda: VocoderConfig.variant("v1"),
    "v2": lambda: VocoderConfig.variant("v2"),
    "v3": lambda: VocoderConfig.variant("v3"),
    "vocos": lambda: VocosConfig(),
    "vocos-cpu": lambda: VocosConfig(dim=384, intermediate_dim=1152),
}


def seconds_per_step(
    generator: str,
    batch_size: int,
    segment_frames: int,
    steps: int,
    discriminator: dict | None,
    bf16: bool = False,
    compile: bool = False,
) -> float:
    from deepperformer.vocoders.task import VocoderTask

    cfg = GENERATORS[generator]()
    task = VocoderTask(
        cfg.to_dict(),
        adversarial_start=10**9 if discriminator is None else 0,
        discriminator=discriminator,
        autocast_bf16=bf16,
        compile=compile,
    )
    loader = DataLoader(
        NoiseClips(batch_size * (steps + 2), segment_frames, cfg.hop_length), batch_size=batch_size, collate_fn=collate_audio
    )
    timer = StepTimer()
    trainer = L.Trainer(
        max_steps=steps + 2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        callbacks=[timer],
    )
    trainer.fit(task, loader)
    return min(timer.times[2:])  # the first steps pay for allocation (and compilation)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--generators", default="v2,vocos-cpu", help=f"comma-separated, of {', '.join(GENERATORS)}")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--segment-frames", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument(
        "--sets", default="warmup,quarter-mpd,quarter-mpd+mrd16,mpd+msd", help=f"comma-separated, of {', '.join(SETS)}"
    )
    ap.add_argument("--bf16", action="store_true", help="also time each set with bf16 autocast of the discriminators")
    ap.add_argument("--compile", action="store_true", help="also time each set with torch.compile (slow to start)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from deepperformer.core import precision

    fast = precision.cpu_has_fast_bf16()
    # training falls back to fp32 where bf16 would be emulated; a benchmark measures what bf16 costs regardless
    precision.cpu_has_fast_bf16 = lambda: True
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)  # a benchmark prints its figures only
    hop = MelConfig().hop_length
    print(
        f"batch {a.batch_size} x {a.segment_frames * hop} samples, {a.threads} thread(s); "
        f"reference: a HiFi-GAN V2 generator-only (warm-up) step in fp32, measured in this run; "
        f"this CPU ({torch.backends.cpu.get_cpu_capability()}) runs bf16 {'natively' if fast else 'emulated: training uses fp32'}"
    )
    ref = seconds_per_step("v2", a.batch_size, a.segment_frames, a.steps, None)
    print(f"{'generator':10s} {'discriminators':18s} {'mode':12s} {'s/step':>8s} {'x reference':>12s}")
    modes = [(False, False)] + ([(True, False)] if a.bf16 else []) + ([(False, True)] if a.compile else [])
    for gen in a.generators.split(","):
        for name in a.sets.split(","):
            for bf16, comp in modes:
                if name == "warmup" and bf16:
                    continue  # autocast touches only the discriminators
                if gen == "v2" and name == "warmup" and not comp:
                    t = ref
                else:
                    t = seconds_per_step(gen, a.batch_size, a.segment_frames, a.steps, SETS[name], bf16, comp)
                mode = "bf16" if bf16 else "compile" if comp else "fp32"
                print(f"{gen:10s} {name:18s} {mode:12s} {t:8.2f} {t / ref:12.1f}", flush=True)


if __name__ == "__main__":
    main()
