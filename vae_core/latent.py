"""Latent-space utilities: encode a set, decode a batch, traverse, interpolate, rank dims.

Everything here takes and returns numpy arrays so that pages and notebooks need not
handle tensors; the model runs in eval mode under ``torch.no_grad``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .losses import kl_divergence
from .model import ConvVAE

ACTIVE_KL_NATS = 0.01  # a dimension with less mean KL than this carries ~no information


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
    mus, lvs = [], []
    for x in _batches(patches, batch_size):
        mu, lv = model.encode(x.to(dev))
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


def reconstruct(model: ConvVAE, patches: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Encode to mu and decode: (N, C, H, W) -> (N, C, H, W) float32 in [0, 1]."""
    return decode(model, encode(model, patches, batch_size).mu, batch_size)


def to_uint8_hwc(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) float in [0, 1] -> (N, H, W, C) uint8 for display or PNG."""
    a = np.clip(np.asarray(images) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return a.transpose(0, 2, 3, 1)


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


def traverse(
    model: ConvVAE,
    z0: np.ndarray,
    dims: list[int] | np.ndarray,
    values: np.ndarray,
) -> np.ndarray:
    """Decode z0 with each of ``dims`` set to each of ``values``.

    z0: (D,); values: (S,) -> (len(dims), S, C, H, W) float32 in [0, 1].
    """
    z0 = np.asarray(z0, dtype=np.float32).reshape(-1)
    values = np.asarray(values, dtype=np.float32)
    dims = list(int(d) for d in dims)
    for d in dims:
        if not 0 <= d < model.latent_dim:
            raise ValueError(f"dimension {d} does not exist; the model has latent_dim={model.latent_dim}")
    z = np.repeat(z0[None, None, :], len(dims), 0).repeat(len(values), 1)
    for i, d in enumerate(dims):
        z[i, :, d] = values
    out = decode(model, z.reshape(-1, model.latent_dim))
    return out.reshape(len(dims), len(values), *out.shape[1:])


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
