"""bf16 on the CPU only where the CPU computes it natively.

bf16 autocast pays on CPUs whose oneDNN kernels run bf16 in hardware (AVX-512 BF16 / AMX, or AVX-512
cores where oneDNN converts fast); elsewhere (an AVX2-only CPU) every bf16 op is emulated, and a step
measured here on an AMD EPYC with AVX2 only took 5-9 times as long as in fp32. A recipe that asks for
bf16 therefore gets it where it helps and fp32, with a one-line warning, where it would not: recipes
stay correct for every machine, and GPUs are untouched.
"""

from __future__ import annotations

import warnings

import torch

from deepperformer.core.errors import DeepPerformerWarning


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU's oneDNN runs bf16 natively (False when torch cannot tell)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def trains_on_cpu(accelerator: str | None) -> bool:
    """Whether Lightning's ``accelerator`` setting ends up on the CPU here."""
    return accelerator == "cpu" or (accelerator in (None, "auto") and not torch.cuda.is_available())


def lightning_precision(precision: str, accelerator: str | None) -> str:
    """The Lightning ``precision`` to train with: ``precision``, except bf16 on a CPU without fast bf16
    (then fp32, with a warning saying so)."""
    if "bf16" in str(precision) and trains_on_cpu(accelerator) and not cpu_has_fast_bf16():
        warnings.warn(
            DeepPerformerWarning(None, f"precision {precision}: this CPU has no fast bf16, training in fp32"), stacklevel=2
        )
        return "32-true"
    return precision


def cpu_autocast_bf16(asked: bool) -> bool:
    """Whether to autocast to bf16 on the CPU: only when ``asked`` and the CPU runs bf16 fast (a warning
    when asked in vain)."""
    if asked and not cpu_has_fast_bf16():
        warnings.warn(DeepPerformerWarning(None, "autocast_bf16: this CPU has no fast bf16, running in fp32"), stacklevel=2)
        return False
    return asked
