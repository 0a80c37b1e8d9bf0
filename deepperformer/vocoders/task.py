"""Training the HiFi-GAN vocoder: a generator warm-up, then HiFi-GAN's adversarial training.

Phase 1 (steps < ``adversarial_start``): the generator alone learns from reconstruction losses,
HiFi-GAN's mel L1 plus Parallel WaveGAN's multi-resolution STFT loss. This is the phase a CPU can
afford (no discriminators to run) and it already gives intelligible audio.
Phase 2: the discriminators of the recipe's ``discriminator`` section (HiFi-GAN's MPD + MSD by
default, lighter sets for CPUs: :mod:`deepperformer.vocoders.discriminators`) join with SpeechBrain's
least-squares adversarial losses and feature matching, the mel L1 kept. Weights as the HiFi-GAN paper:
adversarial 1 per sub-discriminator, feature matching 2 summed over every layer, mel 45.
SpeechBrain's ``MelganFeatureLoss`` averages over the layers where the paper sums, so its value is
multiplied by the number of feature maps here (``feature_weight`` keeps the paper's meaning).

``trainer.global_step`` counts generator steps: the discriminator's optimizer is stepped directly,
so ``max_steps`` and ``adversarial_start`` mean the same thing in both phases.

Validation is copy-synthesis of whole held-out clips: log-mel MSE (the paper's measure, on the mel
of the generated audio) and the multi-resolution STFT distance, with a mel PNG and a WAV per check.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torchmetrics import MeanMetric, SumMetric

from deepperformer.audio.io import write_audio
from deepperformer.audio.mel import LogMel, MelConfig
from deepperformer.core.plots import save_mel_comparison
from deepperformer.core.precision import cpu_autocast_bf16
from deepperformer.vocoders.build import make_vocoder
from deepperformer.vocoders.discriminators import DiscriminatorConfig, Discriminators
from deepperformer.vocoders.stft import LOSS_STFT_RESOLUTIONS, multi_resolution_stft


class VocoderTask(L.LightningModule):
    def __init__(
        self,
        model: dict,
        lr: float = 2e-4,
        betas: tuple[float, float] = (0.8, 0.99),
        lr_decay: float = 0.999,
        lr_decay_every: int = 1000,
        adversarial_start: int = 0,
        mel_weight: float = 45.0,
        stft_weight: float = 20.0,
        feature_weight: float = 2.0,
        adversarial_weight: float = 1.0,
        grad_clip: float = 100.0,
        discriminator: dict | None = None,
        stft_resolutions: list | None = None,
        autocast_bf16: bool = False,
        compile: bool = False,
        png_dir: str | None = None,
        wav_dir: str | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        from speechbrain.lobes.models.HifiGAN import (
            DiscriminatorLoss,
            GeneratorLoss,
            MelganFeatureLoss,
            MSEDLoss,
            MSEGLoss,
        )

        self.model = make_vocoder(model)
        self.discriminator = Discriminators(DiscriminatorConfig.from_dict(discriminator or {}))
        # MelganFeatureLoss averages over the layers; the paper sums them: scale by their number
        fm_weight = feature_weight * self.discriminator.n_feature_maps()
        self.g_adv_loss = GeneratorLoss(
            mseg_loss=MSEGLoss(),
            mseg_loss_weight=adversarial_weight,
            feat_match_loss=MelganFeatureLoss(),
            feat_match_loss_weight=fm_weight,
        )
        self.stft_resolutions = tuple(tuple(r) for r in (stft_resolutions or LOSS_STFT_RESOLUTIONS))
        self.d_loss = DiscriminatorLoss(msed_loss=MSEDLoss())
        self.log_mel = LogMel(MelConfig())
        self.val_sse, self.val_count = SumMetric(nan_strategy="disable"), SumMetric(nan_strategy="disable")
        self.val_sc, self.val_mag = MeanMetric(nan_strategy="disable"), MeanMetric(nan_strategy="disable")
        self._sample_pending = False
        self._bf16_fast = True  # whether this CPU runs bf16 fast: settled at fit start

    def reconstruction_loss(self, y_hat: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """mel_weight * mel L1 + stft_weight * (spectral convergence + log-STFT L1); y_hat, y ``[B, S]``."""
        mel_l1 = (self.log_mel(y_hat) - self.log_mel(y)).abs().mean()
        sc, mag = multi_resolution_stft(y_hat, y, self.stft_resolutions)
        h = self.hparams
        return h.mel_weight * mel_l1 + h.stft_weight * (sc + mag), {"mel_l1": mel_l1, "stft_sc": sc, "stft_mag": mag}

    def on_fit_start(self):
        # emulated bf16 (an AVX2-only CPU) runs several times slower than fp32: then fp32, with a warning
        if self.hparams.autocast_bf16 and self.device.type == "cpu":
            self._bf16_fast = cpu_autocast_bf16(True)
        if self.hparams.compile:  # the forwards only: the modules, their state dicts and exports stay as they are
            self.model.forward = torch.compile(self.model.forward)
            self.discriminator.forward = torch.compile(self.discriminator.forward)

    def autocast(self):
        """bf16 autocast of the discriminators on the CPU when the recipe asks for it and the CPU runs
        bf16 fast (AVX-512 BF16 / AMX: :mod:`deepperformer.core.precision`), else a no-op. Only the
        discriminators: they are most of an adversarial step's cost, and the generator gains nothing
        from it (benchmarks/vocoder_training.py)."""
        enabled = self.hparams.autocast_bf16 and self._bf16_fast and self.device.type == "cpu"
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled)

    def discriminate(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[list, list, list, list]:
        """(scores real, scores fake, features real, features fake) of audio ``[B, S]``, in one pass
        of the discriminators over ``[2B, 1, S]`` (one larger batch runs faster than two)."""
        with self.autocast():
            scores, feats = self.discriminator(torch.cat([real, fake])[:, None])
        b = real.shape[0]
        s_real, s_fake = [s[:b].float() for s in scores], [s[b:].float() for s in scores]
        f_real = [[t[:b].float() for t in f] for f in feats]
        f_fake = [[t[b:].float() for t in f] for f in feats]
        return s_real, s_fake, f_real, f_fake

    def training_step(self, batch, batch_idx):
        mel, audio, _, _ = batch
        h = self.hparams
        opt_g, opt_d = self.optimizers()
        sch_g, sch_d = self.lr_schedulers()
        y_hat = self.model(mel)  # [B, S], in fp32: bf16 audio would carry quantisation noise at -50 dB
        adversarial = self.global_step >= h.adversarial_start
        logs = {}
        if adversarial:
            s_real, s_fake, _, _ = self.discriminate(audio, y_hat.detach())
            d_loss = self.d_loss(s_fake, s_real)["D_loss"]
            opt_d.zero_grad()
            self.manual_backward(d_loss)
            self.clip_gradients(opt_d, gradient_clip_val=h.grad_clip, gradient_clip_algorithm="norm")
            opt_d.optimizer.step()  # the raw optimizer: global_step counts generator steps only
            sch_d.step()
            logs["train/d_loss"] = d_loss
        g_loss, parts = self.reconstruction_loss(y_hat, audio)
        if adversarial:
            # the generator's step needs gradients through the discriminator, not of its weights
            self.discriminator.requires_grad_(False)
            _, s_fake, f_real, f_fake = self.discriminate(audio, y_hat)
            f_real = [[t.detach() for t in f] for f in f_real]
            adv = self.g_adv_loss(None, scores_fake=s_fake, feats_fake=f_fake, feats_real=f_real)
            self.discriminator.requires_grad_(True)
            g_loss = g_loss + adv["G_adv_loss"]
            logs["train/g_adv"] = adv["G_adv_loss"]
            logs["train/g_fm"] = adv["G_feat_match_loss"]
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        self.clip_gradients(opt_g, gradient_clip_val=h.grad_clip, gradient_clip_algorithm="norm")
        opt_g.step()
        sch_g.step()
        logs.update({"train/loss": g_loss, "train/stft_sc": parts["stft_sc"], "train/stft_mag": parts["stft_mag"]})
        self.log_dict(logs, prog_bar=False, batch_size=mel.shape[0])
        self.log("train/mel_l1", parts["mel_l1"], prog_bar=True, batch_size=mel.shape[0])

    def on_validation_epoch_start(self):
        self._sample_pending = self.trainer.is_global_zero and self.hparams.png_dir is not None

    def validation_step(self, batch, batch_idx):
        mel, audio, lengths, ids = batch
        y_hat = self.model(mel)
        pred, target = self.log_mel(y_hat), self.log_mel(audio)  # [B, T + 1, n_mels]
        t = pred.shape[1]
        mask = (torch.arange(t, device=mel.device)[None] < lengths[:, None]).to(pred.dtype)[..., None]
        self.val_sse.update(((pred - target) ** 2 * mask).sum())
        self.val_count.update(mask.sum() * pred.shape[-1])
        for i in range(mel.shape[0]):
            n = int(lengths[i]) * self.model.config.hop_length
            sc, mag = multi_resolution_stft(y_hat[i : i + 1, :n], audio[i : i + 1, :n])
            self.val_sc.update(sc)
            self.val_mag.update(mag)
        if self._sample_pending:
            self._sample_pending = False
            self.save_sample(
                target[0, : int(lengths[0])],
                pred[0, : int(lengths[0])],
                y_hat[0, : int(lengths[0]) * self.model.config.hop_length],
                ids[0],
            )

    def save_sample(self, target: torch.Tensor, pred: torch.Tensor, wav: torch.Tensor, clip_id: str) -> None:

        name = f"step{self.global_step:07d}"
        save_mel_comparison(
            target.float().cpu().numpy(),
            pred.float().cpu().numpy(),
            Path(self.hparams.png_dir) / f"{name}.png",
            title=f"{clip_id}: copy synthesis (step {self.global_step})",
        )
        if self.hparams.wav_dir:
            write_audio(Path(self.hparams.wav_dir) / f"{name}.wav", wav.float().cpu().numpy(), MelConfig().sample_rate)

    def on_validation_epoch_end(self):
        self.log("val/mse", self.val_sse.compute() / self.val_count.compute().clamp(min=1), prog_bar=True)
        self.log("val/stft_sc", self.val_sc.compute())
        self.log("val/stft_mag", self.val_mag.compute())
        for m in (self.val_sse, self.val_count, self.val_sc, self.val_mag):
            m.reset()

    def configure_optimizers(self):
        h = self.hparams
        opts = [torch.optim.AdamW(m.parameters(), lr=h.lr, betas=tuple(h.betas)) for m in (self.model, self.discriminator)]
        # HiFi-GAN decays the rate by lr_decay per epoch; here per lr_decay_every steps, smoothly
        gamma = h.lr_decay ** (1.0 / max(1, h.lr_decay_every))
        return opts, [torch.optim.lr_scheduler.ExponentialLR(o, gamma) for o in opts]
