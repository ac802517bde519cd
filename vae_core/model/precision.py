"""Whether a training run computes in bfloat16 (:func:`use_bf16`): where the hardware does it natively.

bf16 autocast runs the convolutions and matrix products in bfloat16 and keeps the weights, the
optimiser and the loss in float32. It pays only where the hardware multiplies bf16 itself:

* CUDA GPUs that support bf16 (``torch.cuda.is_bf16_supported``);
* CPUs with AMX or AVX-512 BF16 (Intel Xeon since Cooper Lake / Sapphire Rapids, AMD Zen 4):
  measured 2.6x faster per training step on one thread of a 2-core Sapphire Rapids Xeon (README,
  "Model quality"). CPUs without them (AVX2 only) emulate bf16: measured 10x *slower* there.

``TEXTURE_VAE_BF16=0`` (or ``1``) overrides the detection, for A/B measurements.
torch is imported inside the function, so importing this module is cheap.
"""

from __future__ import annotations

import os
from typing import Any


def cpu_has_bf16() -> bool:
    """True when this CPU multiplies bf16 natively (AMX tiles or AVX-512 BF16)."""
    import torch

    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def use_bf16(device: Any, wanted: bool = True) -> bool:
    """Whether a run on ``device`` (a ``torch.device``) autocasts to bf16: ``wanted`` (``TrainConfig.amp``)
    and the device computes bf16 natively, unless ``TEXTURE_VAE_BF16`` says otherwise."""
    if not wanted:
        return False
    forced = os.environ.get("TEXTURE_VAE_BF16", "").strip()
    if forced in ("0", "1"):
        return forced == "1" and device.type in ("cpu", "cuda")
    if device.type == "cuda":
        import torch

        return bool(torch.cuda.is_bf16_supported())
    return device.type == "cpu" and cpu_has_bf16()
