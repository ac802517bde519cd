"""Weight-free measures of a synthesized texture: the seam ratio, and a texture-statistics distance to the source.

**Seam ratio.** A seam is a line where two independently made pieces meet. Across it the
picture changes more abruptly than elsewhere when the pieces disagree (ratio > 1), or less
when blending has washed the contrast out there (ratio < 1). :func:`seam_ratio` divides the
mean absolute step across the seam lines by the mean step across every other line of the
image. Two kinds: the *wrap-around* seam (the right edge against the left edge, the bottom
against the top: what you see when the texture is tiled) and the *internal* seams (where
the method's patches start, end or are blended). 1 means no visible seam; plain repetition
of a photo scores 2-7.

**Texture distance.** The sliced Wasserstein distance between the distributions of 7x7 pixel
neighbourhoods of the two images, on four levels of a Laplacian pyramid (the "SWD" of Karras
et al. 2018, "Progressive Growing of GANs", after Rabin et al. 2011). Why this one: it needs
no downloaded network (LPIPS, VGG Gram matrices and FID do); it compares whole distributions
(not only second moments, as a Gram matrix does), so colour, contrast, sharpness and local
structure from 7 to ~56 pixels all count; and it is symmetric and 0 for identical statistics.
Neighbourhoods are normalised by the *source's* mean and spread per pyramid level, so a
washed-out or blurry result is penalised rather than normalised away. LBP/GLCM histograms
were the alternative: grey-only and single-scale, they miss colour and blur.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PYRAMID_LEVELS = 4  # 1, 1/2, 1/4, 1/8 of full resolution
NEIGHBOURHOOD = 7  # side of the compared pixel neighbourhoods
MAX_DESCRIPTORS = 4096  # neighbourhoods sampled per image and level
DIRECTIONS = 256  # random projection directions per level


Lines = list[int] | tuple[int, ...] | np.ndarray  # seam line positions


@dataclass(frozen=True)
class SeamScores:
    """Seam ratios of one image (1 = invisible seams)."""

    wrap: float  # across the wrap-around edges (right vs left, bottom vs top)
    internal: float  # across the method's internal seam lines (nan when it has none)


def _as_float(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[:, :, None]
    return a.astype(np.float64) / (255.0 if a.dtype == np.uint8 else 1.0)


def seam_ratio(image: np.ndarray, seams_x: Lines = (), seams_y: Lines = ()) -> SeamScores:
    """Seam ratios of ``image`` ``(H, W, C)`` (uint8, or float in [0, 1]).

    ``seams_x``: internal vertical seam lines, each ``b`` meaning the line between columns
    ``b - 1`` and ``b`` (``0 < b < W``; others are ignored); ``seams_y`` likewise for rows. The
    step across a line is the mean absolute difference of the two pixel rows/columns it
    separates, averaged over channels. The reference ("interior") is the mean step across
    every line of the image that is neither a seam nor the wrap-around edge.
    """
    a = _as_float(image)
    h, w = a.shape[:2]
    if min(h, w) < 4:
        raise ValueError(f"the image is {w}x{h} pixels; seam ratios need at least 4 on each side")
    dx = np.abs(np.diff(a, axis=1)).mean(axis=(0, 2))  # (W-1,): step across line b = 1..W-1
    dy = np.abs(np.diff(a, axis=0)).mean(axis=(1, 2))  # (H-1,)
    sx = np.zeros(w - 1, bool)
    sy = np.zeros(h - 1, bool)
    for b in np.asarray(seams_x, dtype=np.int64).ravel():
        if 0 < b < w:
            sx[b - 1] = True
    for b in np.asarray(seams_y, dtype=np.int64).ravel():
        if 0 < b < h:
            sy[b - 1] = True
    interior_steps = np.concatenate([dx[~sx] * h, dy[~sy] * w])
    interior = interior_steps.sum() / (h * (~sx).sum() + w * (~sy).sum())
    if interior <= 1e-12:  # a flat image has no seams to see
        return SeamScores(1.0, 1.0 if sx.any() or sy.any() else float("nan"))
    wrap_x = np.abs(a[:, 0] - a[:, -1]).mean()
    wrap_y = np.abs(a[0] - a[-1]).mean()
    wrap = (wrap_x * h + wrap_y * w) / (h + w)
    n_seam = h * sx.sum() + w * sy.sum()
    internal = (dx[sx].sum() * h + dy[sy].sum() * w) / n_seam if n_seam else float("nan")
    return SeamScores(float(wrap / interior), float(internal / interior))


def _blur(a: np.ndarray) -> np.ndarray:
    """Separable binomial (1 4 6 4 1)/16 blur of (H, W, C), reflecting at the edges."""
    k = np.array([1, 4, 6, 4, 1], np.float64) / 16
    p = np.pad(a, ((2, 2), (2, 2), (0, 0)), mode="reflect")
    p = sum(k[i] * p[i : i + a.shape[0]] for i in range(5))
    return sum(k[i] * p[:, i : i + a.shape[1]] for i in range(5))


def laplacian_pyramid(image: np.ndarray, levels: int = PYRAMID_LEVELS) -> list[np.ndarray]:
    """Band-pass levels (finest first: the image minus its blur), then the coarse residual: ``levels`` arrays."""
    a = _as_float(image)
    out = []
    for _ in range(levels - 1):
        blurred = _blur(a)
        out.append(a - blurred)
        a = blurred[::2, ::2]
    out.append(a)
    return out


def _descriptors(level: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random 7x7 neighbourhoods of one pyramid level (with replacement when few): (n, 49 * C)."""
    from numpy.lib.stride_tricks import sliding_window_view

    k = NEIGHBOURHOOD
    windows = sliding_window_view(level, (k, k), axis=(0, 1))  # (h-k+1, w-k+1, C, k, k)
    ys = rng.integers(0, windows.shape[0], n)
    xs = rng.integers(0, windows.shape[1], n)
    return windows[ys, xs].reshape(n, -1)


def texture_distance(source: np.ndarray, image: np.ndarray, seed: int = 0) -> float:
    """Sliced Wasserstein distance of 7x7 neighbourhoods over a 4-level Laplacian pyramid (0 = same statistics).

    source, image: ``(H, W, C)`` with the same C, each side >= 64. The result is the mean over
    levels and random directions of the 1-D Wasserstein-1 distance between the projected
    neighbourhoods, in units of the source's spread at that level (so ~0.05 is sampling noise
    between two halves of one texture, and values near 1 mean unrelated statistics).
    """
    a, b = _as_float(source), _as_float(image)
    if a.shape[2] != b.shape[2]:
        raise ValueError(f"source has {a.shape[2]} channels and image {b.shape[2]}; convert one to match")
    side = 8 * NEIGHBOURHOOD + 8
    if min(a.shape[:2] + b.shape[:2]) < side:
        raise ValueError(f"both images must be at least {side} pixels on each side for the texture distance")
    rng = np.random.default_rng(seed)
    total = 0.0
    for la, lb in zip(laplacian_pyramid(a), laplacian_pyramid(b), strict=True):
        n = MAX_DESCRIPTORS
        da, db = _descriptors(la, n, rng), _descriptors(lb, n, rng)
        c = a.shape[2]
        chan = da.reshape(n, c, -1)
        mean = chan.mean(axis=(0, 2))
        std = max(float(chan.std()), 1e-3)
        da = (da.reshape(n, c, -1) - mean[None, :, None]).reshape(n, -1) / std
        db = (db.reshape(n, c, -1) - mean[None, :, None]).reshape(n, -1) / std
        dirs = rng.standard_normal((da.shape[1], DIRECTIONS))
        dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
        pa, pb = np.sort(da @ dirs, axis=0), np.sort(db @ dirs, axis=0)
        total += float(np.abs(pa - pb).mean())
    return total / PYRAMID_LEVELS
