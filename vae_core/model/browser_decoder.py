"""Export a model's decoder so that a web page can decode latent codes itself.

``decoder_spec(model)`` returns a JSON-ready dict: the decoder's layers in order (a tiny
program) plus every weight they need, packed as little-endian float32 and base64-encoded.
``browser_decoder.js`` (next to this file, plain JavaScript, no dependencies) reads that
dict and decodes a code to pixels with the same arithmetic as the model's ``decode``: the
Latent sliders page uses it to show the exact image the moment a slider is let go, with
no round trip to the server. tests/e2e/test_browser_decoder.py checks, in Chromium, that
the browser's pixels match torch's.

Both model kinds export: a ``ConvVAE``'s decoder starts from ``from_latent`` reshaped to
``top`` x 4 x 4 maps; a ``CoefVAE``'s is a chain of ``linear`` and ``silu`` layers on the code
itself (its MLP, then its fixed PCA basis as one more linear layer), with ``from_latent`` null.
Layer kinds: ``linear``, ``conv`` (3x3, same size), ``convT`` (4x4, stride 2), ``gn`` (GroupNorm),
``silu``, ``sigmoid`` and ``res`` (x + its body). Weight shapes are torch's.
``fits_browser`` says whether a model's spec is small enough to send (``MAX_FLOATS``).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported where it is used: decoder_js() serves pages that must not wait for it
    import torch
    from torch import nn

    from vae_core.model.coef_vae import CoefVAE
    from vae_core.model.vae import ConvVAE

JS_PATH = Path(__file__).with_name("browser_decoder.js")
# The most weights a spec may carry (10 MB of float32, ~13 MB as base64): every convolutional model
# and the coefficient model at 32 px fit; the coefficient model's PCA basis at 64 px (3.1 M numbers)
# does not, and the Latent sliders page then shows the server's pictures only.
MAX_FLOATS = 2_500_000


class _Packer:
    """Concatenates tensors into one float32 buffer and records (offset, length) for each."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.size = 0

    def add(self, tensor: torch.Tensor) -> list[int]:
        flat = tensor.detach().float().cpu().contiguous().numpy().reshape(-1).astype("<f4")
        ref = [self.size, int(flat.size)]
        self.parts.append(flat)
        self.size += flat.size
        return ref

    def base64(self) -> str:
        buf = np.concatenate(self.parts) if self.parts else np.zeros(0, "<f4")
        return base64.b64encode(buf.tobytes()).decode("ascii")


def _layers(modules: nn.Sequential, pack: _Packer) -> list[dict[str, Any]]:
    from torch import nn

    from vae_core.model.vae import ResBlock

    out: list[dict[str, Any]] = []
    for m in modules:
        if isinstance(m, nn.Identity):
            continue
        if isinstance(m, ResBlock):
            out.append({"op": "res", "body": _layers(m.body, pack)})
        elif isinstance(m, nn.Linear):
            out.append({"op": "linear", **_linear(m, pack)})
        elif isinstance(m, nn.SiLU):
            out.append({"op": "silu"})
        elif isinstance(m, nn.Sigmoid):
            out.append({"op": "sigmoid"})
        elif isinstance(m, nn.GroupNorm):
            out.append(
                {"op": "gn", "groups": m.num_groups, "eps": m.eps, "w": pack.add(m.weight), "b": pack.add(m.bias)}
            )
        elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            transposed = isinstance(m, nn.ConvTranspose2d)
            _check_conv(m, transposed=transposed)
            out.append(
                {
                    "op": "convT" if transposed else "conv",
                    "cin": m.in_channels,
                    "cout": m.out_channels,
                    "w": pack.add(m.weight),
                    "b": pack.add(m.bias),
                }
            )
        else:
            raise ValueError(f"the browser decoder has no {type(m).__name__} layer")
    return out


def _check_conv(m: nn.Conv2d | nn.ConvTranspose2d, transposed: bool) -> None:
    """The browser runs the model's two kinds only: 3x3 same-size convolutions and 4x4 stride-2 upsamplers."""
    if transposed:
        ok = m.kernel_size == (4, 4) and m.stride == (2, 2) and m.padding == (1, 1) and m.output_padding == (0, 0)
    else:
        ok = m.kernel_size == (3, 3) and m.stride == (1, 1) and m.padding == (1, 1)
    if not ok or m.groups != 1 or m.dilation != (1, 1) or m.bias is None:
        raise ValueError(f"the browser decoder cannot run {m}")


def _linear(m: nn.Linear, pack: _Packer) -> dict[str, Any]:
    return {"in": m.in_features, "out": m.out_features, "w": pack.add(m.weight), "b": pack.add(m.bias)}


def _coef_synthesis(model: CoefVAE, pack: _Packer) -> dict[str, Any]:
    """The fixed basis as one linear layer: whitened coefficients c -> pixels (c * std) @ V.

    Its bias is zero: ``lin_dec``'s bias holds the mean patch."""
    import torch

    weight = model.basis.T * model.basis_std[None, :]  # (D, k)
    return {
        "op": "linear",
        "in": weight.shape[1],
        "out": weight.shape[0],
        "w": pack.add(weight),
        "b": pack.add(torch.zeros(weight.shape[0])),
    }


def spec_floats(model: nn.Module) -> int:
    """How many numbers ``decoder_spec(model)`` would carry (its parameters and, for a ``CoefVAE``, its basis)."""
    names = ("from_latent", "decoder", "lin_dec", "refine", "dec_mlp")
    count = sum(
        p.numel() for name in names if getattr(model, name, None) is not None for p in getattr(model, name).parameters()
    )
    if model.config.arch == "coef":
        count += model.basis.numel() + model.basis.shape[1]
    return count


def fits_browser(model: nn.Module) -> bool:
    """Whether the model's decoder is small enough to send to a browser (``MAX_FLOATS``)."""
    return spec_floats(model) <= MAX_FLOATS


def decoder_spec(model: ConvVAE | CoefVAE) -> dict[str, Any]:
    """The decoder of ``model`` as a JSON-ready dict for ``browser_decoder.js`` (at 32 px, 1.2 MB of weights for a
    ``ConvVAE``, 5.2 MB for a ``CoefVAE``; base64 adds a third)."""
    c = model.config
    pack = _Packer()
    coef = c.arch == "coef"
    spec: dict[str, Any] = {
        "format": 1,
        "latent_dim": c.latent_dim,
        "channels": c.channels,
        "size": c.image_size,
        "top": None if coef else model.top,
        "from_latent": None if coef else _linear(model.from_latent, pack),
        "decoder": [*_layers(model.dec_mlp, pack), _coef_synthesis(model, pack)]
        if coef
        else _layers(model.decoder, pack),
        "lin_dec": _linear(model.lin_dec, pack) if c.linear_path else None,
        "refine": _layers(model.refine, pack) if model.refine is not None else None,
    }
    spec["weights"] = pack.base64()
    return spec


def decoder_js() -> str:
    """The JavaScript that runs a ``decoder_spec`` (defines ``buildDecoder``; no imports, no network)."""
    return JS_PATH.read_text(encoding="utf-8")
