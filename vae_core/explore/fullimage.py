"""Whole images from patches: seam-free reconstruction of a full texture, and display tiles.

The model only sees square patches. To rebuild a whole image we cut overlapping patches
on a grid (``patches.extract_grid``, last row/column flush with the edges), reconstruct
each one, and blend them back with a separable raised-cosine (Hann-like) weight window,
normalised by the summed weights at every pixel. A patch's centre then dominates its
edges, so the seams where independently reconstructed patches meet fade out instead of
showing as a grid. The window is never zero (it is sampled at pixel centres), so pixels
on the image border, which only one patch covers, still get a well-defined value.

Separate from ``latent`` because this is about image geometry, not the latent space. The
small pixel helpers (grids, PNG bytes, downscaling) live in :mod:`vae_core.imaging`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from vae_core.data.images import to_channels
from vae_core.data.patches import extract_grid


def blend_window(size: int) -> np.ndarray:
    """Separable 2-D raised-cosine window (size, size), float64, strictly positive.

    ``w[i] = sin(pi * (i + 0.5) / size) ** 2``: 1 near the centre, small (never 0) at the
    edges. With 50% overlap the 1-D windows of neighbouring patches sum to about 1.
    """
    if size < 1:
        raise ValueError(f"size={size} must be at least 1")
    w = np.sin(np.pi * (np.arange(size) + 0.5) / size) ** 2
    w = np.maximum(w, 1e-3)  # keep border pixels well-conditioned for tiny windows
    return np.outer(w, w)


def reconstruct_image(
    model: Any,
    pixels: np.ndarray,
    stride: int | None = None,
    *,
    batch_size: int = 256,
    on_progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Rebuild a whole image through ``model`` (a ``ConvVAE``) from blended overlapping patches.

    Args:
        model: anything with ``config.image_size``, ``config.channels``, ``encode`` and
            ``decode`` like ``ConvVAE``; patches are decoded from ``z = mu``.
        pixels: ``(H, W, C) uint8`` (or ``(H, W)``), each side >= the model's patch size.
            Colour/grey is converted to the model's channel count.
        stride: step between patches; default ``patch_size // 2`` (50% overlap).
        on_progress: called as ``on_progress(done, total)`` patches, for a progress bar.

    Returns:
        ``(H, W, C_model) uint8``.
    """
    from vae_core.explore.latent import reconstruct

    size = int(model.config.image_size)
    channels = int(model.config.channels)
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be uint8 (H, W, C), got {pixels.dtype}")
    height, width = pixels.shape[:2]
    if min(height, width) < size:
        raise ValueError(
            f"the image is {width}x{height} pixels, smaller than the model's {size}-pixel patches; "
            f"use an image at least {size} pixels on each side"
        )
    stride = max(1, size // 2) if stride is None else int(stride)
    if not 1 <= stride <= size:
        raise ValueError(f"stride={stride} must be between 1 and the patch size {size}")
    pixels = to_channels(pixels, channels)
    patches, coords = extract_grid(pixels, size, stride)

    window = blend_window(size)
    acc = np.zeros((height, width, channels), np.float64)
    weight = np.zeros((height, width, 1), np.float64)
    total = len(patches)
    for start in range(0, total, batch_size):
        chunk = reconstruct(model, patches[start : start + batch_size], batch_size)  # (n, C, P, P) in [0, 1]
        for rec, (y, x) in zip(chunk, coords[start : start + batch_size], strict=True):
            acc[y : y + size, x : x + size] += rec.transpose(1, 2, 0) * window[:, :, None]
            weight[y : y + size, x : x + size] += window[:, :, None]
        if on_progress is not None:
            on_progress(min(start + batch_size, total), total)
    out = acc / weight  # every pixel is covered by >= 1 patch with a positive weight
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)
