"""Learning-rate schedules shared by the stages' training tasks."""

from __future__ import annotations

import torch


def warmup_inverse_sqrt(opt: torch.optim.Optimizer, warmup_steps: int, start_step: int = 0, rewarm_steps: int = 200) -> dict:
    """Lightning's scheduler entry for ``opt``: linear warm-up over ``warmup_steps``, then inverse square
    root decay (the Transformer's), stepped every optimizer step. The factor at optimizer step ``s``
    (from 0) is ``min((s + 1) / w, sqrt(w / (s + 1)))``: 1 at the end of the warm-up.

    ``start_step`` > 0 goes on with a schedule an earlier run (an ``init_from``) had already run that
    many steps of: the decay continues from ``start_step`` instead of climbing back to the peak rate,
    which would jolt trained weights with a rate several times the one they last saw. Adam's moments
    start from zero in the new run, so the rate is ramped up linearly over ``rewarm_steps`` first.

    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> f = warmup_inverse_sqrt(opt, 4)["scheduler"].lr_lambdas[0]
    >>> [round(f(s), 3) for s in (0, 3, 15)]
    [0.25, 1.0, 0.5]
    >>> g = warmup_inverse_sqrt(opt, 4, start_step=12, rewarm_steps=2)["scheduler"].lr_lambdas[0]
    >>> [round(g(s), 3) for s in (0, 1, 3)]  # half of f(12), then f(13), f(15)
    [0.277, 0.535, 0.5]
    """
    warm = max(1, int(warmup_steps))
    start, rewarm = max(0, int(start_step)), max(1, int(rewarm_steps))

    def schedule(step: int) -> float:
        step = step + 1
        if start:
            return min(1.0, step / rewarm) * min(1.0, (warm / (start + step)) ** 0.5)
        return min(step / warm, (warm / step) ** 0.5)

    return {"scheduler": torch.optim.lr_scheduler.LambdaLR(opt, schedule), "interval": "step"}
