"""Small pixel helpers every part of the package uses: grids, PNG bytes and data URLs, crops, spread indices, PSNR.

Kept at the bottom of the package, next to ``config``, because data loading, training, the
explore views and the pages all need them and none of them is about the model. Only numpy
and Pillow (imported where used); no torch, so a page that only shows pictures stays light.

Conventions: images are ``(H, W, C) uint8`` with C = 1 or 3; patch batches are
``(N, C, P, P)``; float images are in [0, 1].
"""

from __future__ import annotations

import base64
import io

import numpy as np

PSNR_CAP_DB = 100.0  # PSNR of identical images is infinite; capped so that means stay finite


def spread_indices(n_total: int, n: int) -> np.ndarray:
    """At most ``n`` of ``range(n_total)``, evenly spread, first and last included (all when fewer): (M,) int64.

    The one rule for "a representative subset" (the map's points, the reconstructions shown,
    the codes the sliders are measured on, the validation patches checked during training):
    an ordered dataset (by image, by class) is then sampled across its whole length, never
    only at its start.
    """
    if n_total <= 0 or n <= 0:
        return np.zeros(0, dtype=np.int64)
    if n_total <= n:
        return np.arange(n_total, dtype=np.int64)
    return np.unique(np.linspace(0, n_total - 1, num=n).round().astype(np.int64))


def center_crop(pixels: np.ndarray, side: int | None = None) -> np.ndarray:
    """The centred square of ``(H, W, C)`` pixels, ``side`` wide (default and at most: the shorter side); a view."""
    h, w = pixels.shape[:2]
    s = min(h, w) if side is None else min(h, w, side)
    return pixels[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]


def center_patch(pixels: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop ``(H, W, C) uint8`` to a square and resize it to ``size``: -> ``(C, size, size) uint8``."""
    from PIL import Image

    crop = center_crop(pixels)
    if crop.shape[0] != size:
        img = Image.fromarray(crop.squeeze(-1) if crop.shape[-1] == 1 else crop)
        crop = np.asarray(img.resize((size, size), Image.Resampling.LANCZOS))
        crop = crop[..., None] if crop.ndim == 2 else crop
    return np.ascontiguousarray(crop.transpose(2, 0, 1))


def downscale(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink ``(H, W, C) uint8`` so its longer side is at most ``max_side`` (area filter); else return it."""
    from PIL import Image

    height, width = pixels.shape[:2]
    if max(height, width) <= max_side:
        return pixels
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    grey = pixels.ndim == 3 and pixels.shape[2] == 1
    img = Image.fromarray(pixels[:, :, 0] if grey else pixels)
    out = np.asarray(img.resize(size, Image.Resampling.BOX), dtype=np.uint8)
    return out[:, :, None] if out.ndim == 2 else out


def thumbnail(pixels: np.ndarray, side: int) -> np.ndarray:
    """The centred square of ``(H, W, C) uint8`` pixels, shrunk to at most ``side`` pixels: for tables and lists."""
    return downscale(np.ascontiguousarray(center_crop(pixels)), side)


def tile(images: np.ndarray, cols: int = 8, pad: int = 2, fill: int = 255, scale: int = 1) -> np.ndarray:
    """Lay out ``(N, H, W, C) uint8`` images in a grid with ``pad`` pixels between -> ``(H', W', C) uint8``.

    ``scale`` > 1 enlarges every image by pixel repetition first, so small patches stay
    crisp when a browser shows them large. (Not ``torchvision.utils.make_grid``: that works
    on torch tensors and pads the outer border too; these grids are numpy and must not
    make a page import torch.)
    """
    images = np.asarray(images)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty (N, H, W, C) array, got shape {images.shape}")
    if scale > 1:
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
    n, h, w, c = images.shape
    cols = max(1, min(cols, n))
    rows = -(-n // cols)
    out = np.full((rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad, c), fill, np.uint8)
    for i, img in enumerate(images):
        r, k = divmod(i, cols)
        out[r * (h + pad) : r * (h + pad) + h, k * (w + pad) : k * (w + pad) + w] = img
    return out


def to_uint8_hwc(images: np.ndarray) -> np.ndarray:
    """``(N, C, H, W)`` float in [0, 1] -> ``(N, H, W, C) uint8`` (rounded), for display or PNG."""
    a = np.clip(np.asarray(images) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return a.transpose(0, 2, 3, 1)


def to_png(pixels: np.ndarray) -> bytes:
    """``(H, W, C) uint8`` (C = 1 or 3) -> PNG file bytes, for downloads."""
    from PIL import Image

    a = np.ascontiguousarray(pixels)
    img = Image.fromarray(a[:, :, 0] if a.ndim == 3 and a.shape[2] == 1 else a)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def data_url(png: bytes) -> str:
    """PNG bytes -> a ``data:image/png;base64,...`` URL a browser shows without another request."""
    return "data:image/png;base64," + base64.b64encode(png).decode()


def psnr_from_mse(mse: np.ndarray | float, data_range: float = 1.0) -> np.ndarray:
    """PSNR in dB from mean squared errors (same units as ``data_range``), capped at ``PSNR_CAP_DB``.

    The one PSNR formula of the package: training's validation, the per-patch scores and
    whole-image scores all come through here, so a figure means the same thing everywhere.
    """
    mse = np.asarray(mse, dtype=np.float64)
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(data_range**2 / mse)
    return np.minimum(np.where(mse > 0, db, PSNR_CAP_DB), PSNR_CAP_DB)


def psnr(reference: np.ndarray, test: np.ndarray) -> float:
    """PSNR in dB of two same-shape uint8 images (capped at 100 dB for identical images)."""
    a = np.asarray(reference, np.float64) / 255.0
    b = np.asarray(test, np.float64) / 255.0
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return float(psnr_from_mse(np.mean((a - b) ** 2)))


def zoom_crop(pixels: np.ndarray, cy: int, cx: int, side: int, scale: int) -> np.ndarray:
    """The ``side``-pixel square of ``(H, W, C) uint8`` centred near (cy, cx), kept inside the image, enlarged
    ``scale`` times by pixel repetition (crisp, for a magnifier): ``(S * scale, S * scale, C)``, S = min(side, H, W)."""
    h, w = pixels.shape[:2]
    s = max(1, min(side, h, w))
    top = min(max(0, int(cy) - s // 2), h - s)
    left = min(max(0, int(cx) - s // 2), w - s)
    crop = pixels[top : top + s, left : left + s]
    return crop.repeat(scale, axis=0).repeat(scale, axis=1) if scale > 1 else crop.copy()
