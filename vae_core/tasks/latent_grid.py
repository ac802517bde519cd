"""An image as the latent codes of a grid of its patches, and back: the model's side of the codec (``tasks.codec``).

The grid is ``data.patches.grid_positions``'s: non-overlapping by default (stride = patch
size, the last row and column flush with the edges), or overlapping by half. Decoding blends
the patches with ``explore.fullimage.blend_window``, so overlapping ones meet without seams
and the flush last row and column are averaged where they overlap their neighbours. Both
compressing and opening a file decode through :func:`decode_grid`, so their pixels are the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vae_core.data.images import to_channels
from vae_core.data.patches import grid_positions

MAX_SIDE = 8192  # pixels per side an image or a file may have
MAX_PIXELS = 16_777_216  # pixels an image or a file may have (4096 x 4096); decoding needs ~20 bytes each


@dataclass
class GridCodes:
    """An image's patches on a grid, encoded once so that every rate can be packed from them."""

    mu: np.ndarray  # (N, D) float32 codes of the patches
    sigma: np.ndarray  # (D,) float64 mean posterior standard deviation of each dimension
    height: int
    width: int
    channels: int
    patch_size: int
    stride: int


def fingerprint_bytes(model: Any) -> bytes:
    """The first 8 bytes of the model's SHA-256 fingerprint (``vae_core.model.fingerprint``), as a file stores them."""
    from vae_core.model.fingerprint import PREFIX, model_fingerprint

    return bytes.fromhex(model_fingerprint(model).removeprefix(PREFIX))[:8]


def encode_grid(model: Any, pixels: np.ndarray, overlap: bool = False, batch_size: int = 256) -> GridCodes:
    """Encode ``pixels`` ((H, W, C) uint8, each side >= the patch size) patch by patch on a grid."""
    import torch

    from vae_core.data.patches import extract_grid

    size, channels = int(model.config.image_size), int(model.config.channels)
    pixels = np.asarray(pixels)
    pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
    if pixels.dtype != np.uint8 or pixels.ndim != 3:
        raise ValueError(f"pixels must be a (H, W, C) uint8 image, got {pixels.dtype} {pixels.shape}")
    height, width = pixels.shape[:2]
    if min(height, width) < size or max(height, width) > MAX_SIDE or height * width > MAX_PIXELS:
        raise ValueError(
            f"the image is {width}x{height} pixels; it must be at least {size} (the model's patch size) and at "
            f"most {MAX_SIDE} pixels on each side, {MAX_PIXELS:,} pixels in all; crop or resize it"
        )
    stride = size // 2 if overlap else size
    patches, _ = extract_grid(to_channels(pixels, channels), size, stride)
    mus, sigmas = [], []
    with torch.no_grad():
        for start in range(0, len(patches), batch_size):
            x = torch.from_numpy(patches[start : start + batch_size]).float().div_(255.0)
            mu, logvar = model.encode(x)
            mus.append(mu.float().numpy())
            sigmas.append(torch.exp(0.5 * logvar.float()).numpy())
    sigma = np.concatenate(sigmas).astype(np.float64).mean(axis=0)
    return GridCodes(np.concatenate(mus), sigma, height, width, channels, size, stride)


def decode_grid(model: Any, z_hat: np.ndarray, grid: Any, batch_size: int = 256) -> np.ndarray:
    """Decode codes ((N, D) float32, grid order) and blend the patches: -> (H, W, C) uint8.

    ``grid``: anything with ``height``, ``width``, ``channels``, ``patch_size`` and ``stride``
    (a ``GridCodes`` or a file's ``codec.Header``). The one decode path of both compression
    and decompression, so their pixels are identical.
    """
    import torch

    from vae_core.explore.fullimage import blend_window

    size, (height, width) = grid.patch_size, (grid.height, grid.width)
    ys = grid_positions(height, size, grid.stride)
    xs = grid_positions(width, size, grid.stride)
    window = blend_window(size)[:, :, None].astype(np.float32)
    acc = np.zeros((height, width, grid.channels), np.float32)  # float32: half the memory, same 8-bit result
    weight = np.zeros((height, width, 1), np.float32)
    coords = [(y, x) for y in ys for x in xs]
    with torch.no_grad():
        for start in range(0, len(coords), batch_size):
            out = model.decode(torch.from_numpy(np.ascontiguousarray(z_hat[start : start + batch_size])))
            for patch, (y, x) in zip(out.float().numpy(), coords[start : start + batch_size], strict=True):
                acc[y : y + size, x : x + size] += patch.transpose(1, 2, 0) * window
                weight[y : y + size, x : x + size] += window
    return np.clip(acc / weight * 255.0 + 0.5, 0, 255).astype(np.uint8)
