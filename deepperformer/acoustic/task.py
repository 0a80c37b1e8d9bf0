"""Training stage-2 models (notes -> log-mel): the acoustic model and the paper's baseline.

Both are validated the same way, by the paper's measure: log-mel MSE over real frames and all bins,
with a PNG of target vs predicted mels at every validation.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torchmetrics import SumMetric

from deepperformer.acoustic.baseline import BaselineConfig, RollBaseline
from deepperformer.acoustic.metrics import masked_mse
from deepperformer.acoustic.model import AcousticConfig, AcousticModel
from deepperformer.core.plots import save_mel_comparison
from deepperformer.data.notes import NoteBatch
from deepperformer.networks.schedules import warmup_inverse_sqrt


class StageTwoTask(L.LightningModule):
    """Shared by stage-2 tasks: validation MSE + PNGs; Adam with linear warm-up then inverse-square-root
    decay (FastSpeech's schedule). Subclasses set ``self.model`` and define ``training_loss``."""

    def __init__(self):
        super().__init__()
        # "disable": a NaN must show in the metric, not be silently dropped
        self.val_sse, self.val_count = SumMetric(nan_strategy="disable"), SumMetric(nan_strategy="disable")
        self._png_pending = False

    def training_loss(self, notes: NoteBatch, mel: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        notes, mel, _ = batch
        loss = self.training_loss(notes, mel)
        self.log("train/loss", loss, prog_bar=True, batch_size=mel.shape[0])
        return loss

    def on_validation_epoch_start(self):
        self._png_pending = self.hparams.png_dir is not None and self.trainer.is_global_zero

    def validation_step(self, batch, batch_idx):
        notes, mel, ids = batch
        pred = self.model.predict_log_mel(notes)
        sse, count = masked_mse(pred, mel, notes.frame_mask)
        self.val_sse.update(sse)
        self.val_count.update(count)
        if self._png_pending:
            self._png_pending = False

            t = int(notes.frame_mask[0].sum())
            save_mel_comparison(
                mel[0, :t].cpu().numpy(),
                pred[0, :t].float().cpu().numpy(),
                Path(self.hparams.png_dir) / f"step{self.global_step:07d}.png",
                title=f"{ids[0]} (step {self.global_step})",
            )

    def on_validation_epoch_end(self):
        mse = self.val_sse.compute() / self.val_count.compute().clamp(min=1)
        self.log("val/mse", mse, prog_bar=True)
        self.val_sse.reset()
        self.val_count.reset()

    def configure_optimizers(self):
        h = self.hparams
        opt = torch.optim.Adam(self.parameters(), lr=h.lr, betas=tuple(h.betas), eps=1e-9, weight_decay=h.weight_decay)
        return {"optimizer": opt, "lr_scheduler": warmup_inverse_sqrt(opt, h.warmup_steps, h.schedule_start_step, h.rewarm_steps)}


class AcousticTask(StageTwoTask):
    """The Deep Performer acoustic model, trained with MSE on log-mel (the paper's loss)."""

    def __init__(
        self,
        model: dict,
        performers: list[str],
        lr: float = 1e-3,
        warmup_steps: int = 1000,
        schedule_start_step: int = 0,
        rewarm_steps: int = 200,
        betas: tuple[float, float] = (0.9, 0.98),
        weight_decay: float = 0.0,
        grad_clip: float = 1.0,
        png_dir: str | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.model = AcousticModel(AcousticConfig.from_dict({**model, "n_performers": max(1, len(performers))}))

    def forward(self, batch: NoteBatch) -> torch.Tensor:
        return self.model(batch)

    def training_loss(self, notes, mel):
        sse, count = masked_mse(self.model(notes), mel, notes.frame_mask)
        return sse / count


class BaselineTask(StageTwoTask):
    """The paper's baseline (HiFi-GAN from piano roll + position roll), trained generator-only with an
    L1 loss between the log-mels of generated and real audio (HiFi-GAN's mel loss) on short random
    segments. It has no adversarial phase: its discriminators would cost as much as the vocoder's
    (docs/DESIGN.md, "Measured here"), and the baseline is a reference row, not a model we ship."""

    def __init__(
        self,
        model: dict,
        performers: list[str],
        lr: float = 2e-4,
        warmup_steps: int = 100,
        schedule_start_step: int = 0,
        rewarm_steps: int = 200,
        betas: tuple[float, float] = (0.8, 0.99),
        weight_decay: float = 0.0,
        grad_clip: float = 1.0,
        png_dir: str | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.model = RollBaseline(BaselineConfig.from_dict({**model, "n_performers": max(1, len(performers))}))

    def training_loss(self, notes, mel):
        pred = self.model.predict_log_mel(notes)
        m = notes.frame_mask[..., None].to(pred.dtype)
        return ((pred - mel).abs() * m).sum() / (m.sum() * mel.shape[-1])
