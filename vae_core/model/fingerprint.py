"""A model's fingerprint: one short string that changes whenever its weights or its configuration change.

Files that only make sense with one particular model (texture recipes, compressed codes)
carry this fingerprint, so that opening them with another model is refused in plain words
instead of silently producing a different picture. It is a SHA-256 over the configuration
(as canonical JSON) and every tensor of the state dict (name, dtype, shape and raw bytes,
in name order), so two models trained alike but not bit-identical get different prints,
and a checkpoint saved and loaded again keeps its print.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

PREFIX = "sha256:"
# ModelConfig fields added after fingerprints were first written (issue 11's model kinds), with the value
# every earlier model has: a field at that value is left out, so an existing model keeps its print.
_ADDED_LATER = {"arch": "conv", "coef_k": 256, "hidden": 512, "mlp_layers": 2}
SHORT = 12  # hex digits shown to people ("3f2a9c0b71de"); the full print is compared


def model_fingerprint(model: Any) -> str:
    """``"sha256:<64 hex>"`` of ``model.config`` and ``model.state_dict()`` (e.g. a ``ConvVAE``)."""
    import torch

    h = hashlib.sha256()
    config = {k: v for k, v in asdict(model.config).items() if _ADDED_LATER.get(k, object()) != v}
    h.update(json.dumps(config, sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"\n{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return PREFIX + h.hexdigest()


def short_fingerprint(fingerprint: str) -> str:
    """The first ``SHORT`` hex digits of a fingerprint, for people to read and compare."""
    return str(fingerprint).removeprefix(PREFIX)[:SHORT]
