"""Learning-rate schedules shared by the stages' training tasks."""

from __future__ import annotations

import torch


def warmup_inverse_sqrt(opt: torch.optim.Optimizer, warmup_steps: int) -> dict:
    """Lightning's scheduler entry for ``opt``: linear warm-up over ``warmup_steps``, then inverse square
    root decay (the Transformer's), stepped every optimizer step. The factor at optimizer step ``s``
    (from 0) is ``min((s + 1) / w, sqrt(w / (s + 1)))``: 1 at the end of the warm-up.

    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> f = warmup_inverse_sqrt(opt, 4)["scheduler"].lr_lambdas[0]
    >>> [round(f(s), 3) for s in (0, 3, 15)]
    [0.25, 1.0, 0.5]
    """
    warm = max(1, int(warmup_steps))

    def schedule(step: int) -> float:
        step = step + 1
        return min(step / warm, (warm / step) ** 0.5)

    return {"scheduler": torch.optim.lr_scheduler.LambdaLR(opt, schedule), "interval": "step"}
