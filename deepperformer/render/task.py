"""Training the renderer (Lightning): a conditional VAE over note segments.

Loss = masked MSE of the standardized per-note targets (performed notes only) + the global tempo's
MSE + beta x KL(q(z | score, performance) || N(0, I)), beta warmed up linearly over
``kl_warmup_steps`` (so the decoder learns to use z before the prior pulls it in). Validation logs the
reconstruction with the posterior mean (``val/recon``) and with z = 0, what inference uses by
default (``val/prior``, the figure checkpoints are chosen by).
"""

from __future__ import annotations

import lightning as L
import torch
from torchmetrics import SumMetric

from deepperformer.networks.schedules import warmup_inverse_sqrt
from deepperformer.render.model import Renderer, RendererConfig


class RendererTask(L.LightningModule):
    def __init__(
        self,
        model: dict,
        performers: list[str],
        lr: float = 3e-4,
        betas=(0.9, 0.98),
        warmup_steps: int = 500,
        schedule_start_step: int = 0,
        rewarm_steps: int = 200,
        weight_decay: float = 0.01,
        kl_weight: float = 0.01,
        kl_warmup_steps: int = 2000,
        tempo_weight: float = 1.0,
        grad_clip: float = 1.0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.model = Renderer(RendererConfig.from_dict({**model, "n_performers": max(1, len(performers))}))
        self.val_sums = torch.nn.ModuleDict({k: SumMetric(nan_strategy="disable") for k in ("recon", "prior", "count")})

    def _terms(self, batch, z_mode: str):
        m = self.model
        k = m.config.n_targets  # the batches carry every target; a renderer without pedal learns the first four
        y = m.standardize(batch["target"])
        known = batch["known"][..., None].to(y.dtype)
        mu, logvar = m.posterior(batch["x"], batch["onset"], batch["mask"], y * known, batch["log_qpm"])
        if z_mode == "sample":
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        elif z_mode == "mean":
            z = mu
        else:  # "prior": what inference does without a style
            z = torch.zeros_like(mu)
        pred, q = m(batch["x"], batch["onset"], batch["mask"], batch["performer"], z, levels=batch.get("levels"))
        learnt = torch.ones(k, dtype=y.dtype, device=y.device)
        if not m.config.learn_velocity:
            learnt[0] = 0.0  # a corpus without dynamics: velocity is the score's
        sse = ((pred - y) ** 2 * known * learnt).sum()
        count = known.sum() * learnt.sum()
        tempo = ((q - (batch["log_qpm"] - m.qpm_mean) / m.qpm_std) ** 2).mean()
        kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(-1)).mean()
        return sse, count, tempo, kl

    def training_step(self, batch, batch_idx):
        sse, count, tempo, kl = self._terms(batch, "sample")
        recon = sse / count.clamp(min=1)
        beta = self.hparams.kl_weight * min(1.0, self.global_step / max(1, self.hparams.kl_warmup_steps))
        loss = recon + self.hparams.tempo_weight * tempo + beta * kl
        bs = batch["x"].shape[0]
        self.log_dict(
            {"train/loss": loss, "train/recon": recon, "train/tempo": tempo, "train/kl": kl}, batch_size=bs, prog_bar=False
        )
        self.log("train/recon_", recon, prog_bar=True, batch_size=bs, logger=False)
        return loss

    def validation_step(self, batch, batch_idx):
        sse, count, _, _ = self._terms(batch, "mean")
        sse0, _, _, _ = self._terms(batch, "prior")
        self.val_sums["recon"].update(sse)
        self.val_sums["prior"].update(sse0)
        self.val_sums["count"].update(count)

    def on_validation_epoch_end(self):
        count = self.val_sums["count"].compute().clamp(min=1)
        self.log("val/recon", self.val_sums["recon"].compute() / count, prog_bar=True)
        self.log("val/prior", self.val_sums["prior"].compute() / count, prog_bar=True)
        for metric in self.val_sums.values():
            metric.reset()

    def configure_optimizers(self):
        h = self.hparams
        opt = torch.optim.AdamW(self.model.parameters(), lr=h.lr, betas=tuple(h.betas), weight_decay=h.weight_decay)
        return {"optimizer": opt, "lr_scheduler": warmup_inverse_sqrt(opt, h.warmup_steps, h.schedule_start_step, h.rewarm_steps)}
