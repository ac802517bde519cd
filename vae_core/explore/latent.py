"""Latent-space utilities: encode a set, decode a batch, rank and count the dimensions in use, traverse, interpolate.

Everything here takes and returns numpy arrays so that pages and notebooks need not
handle tensors; the model runs in eval mode under ``torch.no_grad``. This is also where a
model is described by its codes: which dimensions it uses (:func:`kl_per_dim`,
:func:`active_dimensions`) and whether it has collapsed (:func:`collapse_check`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from vae_core.imaging import spread_indices
from vae_core.model.losses import kl_divergence
from vae_core.model.vae import ConvVAE

if TYPE_CHECKING:
    from vae_core.data.patches import PatchDataset

ACTIVE_KL_NATS = 0.01  # a dimension with less mean KL than this carries ~no information
SUMMARY_PATCHES = 512  # patches the per-dimension statistics (Model page, sliders) are measured on


def _device(model: ConvVAE) -> torch.device:
    return next(model.parameters()).device


def _batches(patches: np.ndarray, batch_size: int):
    for i in range(0, len(patches), batch_size):
        chunk = np.ascontiguousarray(patches[i : i + batch_size])
        t = torch.from_numpy(chunk)
        yield t.float().div_(255) if t.dtype == torch.uint8 else t.float()


@dataclass
class Codes:
    """Posterior parameters of a set of patches."""

    mu: np.ndarray  # (N, D) float32
    logvar: np.ndarray  # (N, D) float32


@torch.no_grad()
def encode(model: ConvVAE, patches: np.ndarray, batch_size: int = 256) -> Codes:
    """patches: (N, C, H, W) uint8 or float in [0, 1] -> ``Codes`` (mu, logvar), each (N, D)."""
    model.eval()
    dev = _device(model)
    net, layout = _inference_net(model, len(patches))
    mus, lvs = [], []
    for x in _batches(patches, batch_size):
        mu, lv = net.encode(x.to(dev).contiguous(memory_format=layout))
        mus.append(mu.cpu().numpy())
        lvs.append(lv.cpu().numpy())
    d = model.latent_dim
    empty = np.zeros((0, d), np.float32)
    return Codes(np.concatenate(mus) if mus else empty, np.concatenate(lvs) if lvs else empty)


@torch.no_grad()
def decode(model: ConvVAE, z: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """z: (N, D) -> images (N, C, H, W) float32 in [0, 1]."""
    model.eval()
    dev = _device(model)
    z = np.asarray(z, dtype=np.float32).reshape(-1, model.latent_dim)
    outs = [
        model.decode(torch.from_numpy(z[i : i + batch_size]).to(dev)).cpu().numpy()
        for i in range(0, len(z), batch_size)
    ]
    c = model.config
    return np.concatenate(outs) if outs else np.zeros((0, c.channels, c.image_size, c.image_size), np.float32)


RECONSTRUCT_BATCH = 512  # patches per forward pass when scoring: bigger batches measured no faster on a CPU
# Encoding or scoring at least this many patches on a CPU runs a channels-last copy of a convolutional
# model. Measured on one thread with the starter (AMD EPYC): 0.9x at 8 patches (the copy costs more
# than it saves), 1.8x at 32, 2.0x at 128, 1.5x at 384 (the samples' validation set).
CHANNELS_LAST_FROM = 32


def _inference_net(model: ConvVAE, n: int) -> tuple[torch.nn.Module, torch.memory_format]:
    """The network to run ``n`` patches through, and the input layout it wants.

    oneDNN's convolutions are faster on channels-last tensors on a CPU, but converting the
    caller's model in place would change how its weights are stored (and saved); a copy costs
    a few milliseconds. A model without convolutions (the coefficient model) runs as it is.
    """
    has_conv = any(isinstance(m, torch.nn.modules.conv._ConvNd) for m in model.modules())
    if has_conv and n >= CHANNELS_LAST_FROM and _device(model).type == "cpu":
        return copy.deepcopy(model).to(memory_format=torch.channels_last), torch.channels_last
    return model, torch.contiguous_format


@torch.inference_mode()
def reconstruct(model: ConvVAE, patches: np.ndarray, batch_size: int = RECONSTRUCT_BATCH) -> np.ndarray:
    """Encode to mu and decode: (N, C, H, W) uint8 or float in [0, 1] -> (N, C, H, W) float32 in [0, 1].

    The scoring path (``metrics.evaluate`` runs it over every validation patch): one pass per
    batch under ``torch.inference_mode``, written straight into the preallocated output. On a
    CPU, a convolutional model runs as a channels-last copy (``_inference_net``; ``bench --data``
    measures the gain), leaving the caller's model as it was.
    """
    model.eval()
    dev = _device(model)
    c = model.config
    out = np.empty((len(patches), c.channels, c.image_size, c.image_size), np.float32)
    net, layout = _inference_net(model, len(patches))
    start = 0
    for x in _batches(patches, batch_size):
        mu, _ = net.encode(x.to(dev).contiguous(memory_format=layout))
        rec = net.decode(mu)
        out[start : start + len(rec)] = rec.float().cpu().numpy()
        start += len(rec)
    return out


def kl_per_dim(codes: Codes) -> np.ndarray:
    """Mean KL(q(z_d|x) || N(0,1)) over the set, per dimension: (D,) in nats."""
    mu, lv = torch.from_numpy(codes.mu), torch.from_numpy(codes.logvar)
    return kl_divergence(mu, lv).mean(0).numpy()


def rank_dimensions(codes: Codes) -> np.ndarray:
    """Dimension indices sorted by how much the model uses them (mean KL), most first."""
    kl = kl_per_dim(codes)
    return np.argsort(-kl, kind="stable")


def active_dimensions(codes: Codes, threshold: float = ACTIVE_KL_NATS) -> np.ndarray:
    """Boolean mask (D,): dimensions whose mean KL exceeds ``threshold`` nats."""
    return kl_per_dim(codes) > threshold


def summary_patches(data: PatchDataset, n: int = SUMMARY_PATCHES) -> np.ndarray:
    """Up to ``n`` patches, evenly spread, to describe a model by: (M, C, P, P) uint8.

    Validation patches when there are at least ``n // 2`` of them, else validation and
    training together. The Model page's per-dimension chart and the sliders' order, ranges
    and inactive fold are all measured on these same patches.
    """
    source = data.val if len(data.val) >= n // 2 else np.concatenate([data.val, data.train])
    return source[spread_indices(len(source), n)]


def collapse_warning(n_active: int, latent_dim: int, beta: float) -> str | None:
    """A plain warning when fewer than a quarter of the dimensions (or fewer than 2) are in use; else None.

    A beta-VAE whose KL weight is too strong "collapses": most dimensions copy the prior
    and carry no information, so reconstructions look alike.
    """
    if n_active >= max(2, -(-latent_dim // 4)):
        return None
    lower = beta / 4 if beta > 0 else 0.001
    return (
        f"Only {n_active} of {latent_dim} latent dimensions carry information: the model has collapsed towards "
        f"its prior, so its reconstructions look alike. Lower β (now {beta:g}), for example to {lower:g}, "
        "and train again."
    )


def collapse_check(model: ConvVAE, patches: np.ndarray, beta: float, max_patches: int = 512) -> tuple[int, str | None]:
    """Count active latent dimensions on ``patches`` (N, C, P, P); return it with ``collapse_warning``."""
    if len(patches) == 0:
        return 0, None
    n = int(active_dimensions(encode(model, patches[:max_patches])).sum())
    return n, collapse_warning(n, int(model.latent_dim), beta)


def traverse(
    model: ConvVAE,
    z0: np.ndarray,
    dims: list[int] | np.ndarray,
    values: np.ndarray,
) -> np.ndarray:
    """Decode z0 with each of ``dims`` swept through values, all other dimensions fixed.

    z0: (D,); values: (S,) for the same sweep on every dimension, or (len(dims), S) for one
    sweep per dimension -> (len(dims), S, C, H, W) float32 in [0, 1]. The one traversal of
    the package: the sliders' strips and the traversal grid both come from here.
    """
    z0 = np.asarray(z0, dtype=np.float32).reshape(-1)
    dims = [int(d) for d in dims]
    values = np.asarray(values, dtype=np.float32)
    if values.ndim == 1:
        values = np.broadcast_to(values, (len(dims), len(values)))
    if values.shape[0] != len(dims):
        raise ValueError(f"values has {values.shape[0]} rows for {len(dims)} dimensions; give one row per dimension")
    for d in dims:
        if not 0 <= d < model.latent_dim:
            raise ValueError(f"dimension {d} does not exist; the model has latent_dim={model.latent_dim}")
    z = np.repeat(z0[None, None, :], len(dims), 0).repeat(values.shape[1], 1)
    for i, d in enumerate(dims):
        z[i, :, d] = values[i]
    out = decode(model, z.reshape(-1, model.latent_dim))
    return out.reshape(len(dims), values.shape[1], *out.shape[1:])


def lerp(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    """Straight-line interpolation: (D,), (D,) -> (steps, D), endpoints included."""
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return (1 - t) * np.asarray(z0, np.float32) + t * np.asarray(z1, np.float32)


def slerp(z0: np.ndarray, z1: np.ndarray, steps: int) -> np.ndarray:
    """Spherical interpolation (White 2016, "Sampling Generative Networks"): (steps, D).

    Under a Gaussian prior, points on the straight line between two codes have unusually
    small norm; slerp keeps the norm typical. Falls back to lerp for (anti)parallel codes.
    """
    a, b = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-8 or nb < 1e-8:
        return lerp(z0, z1, steps)
    cos = float(np.clip(np.dot(a / na, b / nb), -1.0, 1.0))
    omega = np.arccos(cos)
    if np.sin(omega) < 1e-6:
        return lerp(z0, z1, steps)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    out = (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)
    return out.astype(np.float32)


def interpolate(model: ConvVAE, z0: np.ndarray, z1: np.ndarray, steps: int = 8, method: str = "slerp") -> np.ndarray:
    """Decode an interpolation between two codes: -> (steps, C, H, W)."""
    if method not in ("lerp", "slerp"):
        raise ValueError(f"method={method!r} is not supported; choose 'lerp' or 'slerp'")
    path = slerp(z0, z1, steps) if method == "slerp" else lerp(z0, z1, steps)
    return decode(model, path)
