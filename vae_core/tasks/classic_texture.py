"""The classic ways to cover a large canvas with a texture, as baselines for the VAE's large textures.

* :func:`repeat_tile`: plain repetition of a square crop of the source (what most people do).
* :func:`tiling_and_blending`: Heitz & Neyret's histogram-preserving tiling and blending
  ("High-Performance By-Example Noise using a Histogram-Preserving Blending Operator",
  HPG 2018). The canvas is covered by a triangle lattice; every lattice vertex takes a
  random patch of the source, and each pixel blends the three patches of its triangle's
  vertices with barycentric weights. Blending averages away contrast, so it is done on
  Gaussianised values (each decorrelated colour channel mapped through its own CDF to a
  standard normal) with the variance-preserving operator ``sum(w_i g_i) / sqrt(sum(w_i^2))``
  and mapped back, which keeps the source's histogram.

Both are made *tileable* here like the VAE's seamless canvases, so that the comparison is
fair: the tile for repetition divides the canvas, and the lattice of tiling-and-blending is
chosen periodic with the canvas (its vertex patches are looked up by position modulo the
canvas), so that the right edge continues the left one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ClassicCanvas:
    """A canvas made by a classic method, and where its internal seams lie (for ``seam_ratio``)."""

    pixels: np.ndarray  # (size, size, C) uint8
    seams_x: list[int]  # internal vertical seam lines (see texture_stats.seam_ratio)
    seams_y: list[int]  # internal horizontal seam lines


def _check(source: np.ndarray, size: int) -> np.ndarray:
    source = np.asarray(source)
    if source.ndim != 3 or source.dtype != np.uint8:
        raise ValueError(f"source must be (H, W, C) uint8, got {source.dtype} {source.shape}")
    if not 16 <= size <= 4096:
        raise ValueError(f"size={size} is out of range; choose 16..4096 pixels")
    return source


def repeat_tile(source: np.ndarray, size: int) -> ClassicCanvas:
    """The centred square crop of ``source`` ``(H, W, C) uint8`` whose side divides ``size`` (at most
    ``size // 2``, so it repeats at least 2x2), repeated over a ``size x size`` canvas."""
    source = _check(source, size)
    side = min(source.shape[0], source.shape[1], size // 2)
    while size % side:  # the largest side that divides the canvas: its wrap-around edge is a tile seam too
        side -= 1
    y0, x0 = (source.shape[0] - side) // 2, (source.shape[1] - side) // 2
    tile = source[y0 : y0 + side, x0 : x0 + side]
    reps = size // side
    lines = [k * side for k in range(1, reps)]
    return ClassicCanvas(np.tile(tile, (reps, reps, 1)), lines, lines)


def _gaussianise(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column rank transform to N(0, 1): values (n, C) -> (gaussian (n, C), sorted values (n, C))."""
    from scipy.special import ndtri

    n = len(values)
    order = np.argsort(values, axis=0, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(n)[:, None].repeat(values.shape[1], 1), axis=0)
    return ndtri((ranks + 0.5) / n), np.take_along_axis(values, order, axis=0)


def _degaussianise(g: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    """Inverse of ``_gaussianise``: N(0, 1) values (..., C) -> the source's quantiles."""
    from scipy.special import ndtr

    n = len(sorted_values)
    q = ndtr(g) * n - 0.5
    grid = np.arange(n)
    return np.stack([np.interp(q[..., c], grid, sorted_values[:, c]) for c in range(g.shape[-1])], axis=-1)


def tiling_and_blending(source: np.ndarray, size: int, seed: int = 0, cell: int | None = None) -> ClassicCanvas:
    """Heitz & Neyret's histogram-preserving tiling and blending of random source patches, tileable.

    source: ``(H, W, C) uint8``; size: canvas side; cell: triangle edge in pixels (default: a
    quarter of the source's shorter side, 32-128; each vertex's patch spans two edges). Returns
    the canvas and its horizontal lattice lines as internal seams (the slanted edges are not
    axis-aligned and are not listed).
    """
    source = _check(source, size)
    h, w, c = source.shape
    cell = int(np.clip(min(h, w) // 4, 32, 128)) if cell is None else int(cell)
    if not 4 <= cell <= min(h, w) // 2:
        raise ValueError(f"cell={cell} must be between 4 and half the source's shorter side ({min(h, w) // 2})")
    rng = np.random.default_rng(seed)

    # Decorrelate colours (PCA), then Gaussianise each channel: the operator preserves histograms of Gaussians.
    x = source.reshape(-1, c).astype(np.float64) / 255.0
    mean = x.mean(0)
    _, _, basis = np.linalg.svd(x - mean, full_matrices=False)
    g, sorted_values = _gaussianise((x - mean) @ basis.T)
    g = g.reshape(h, w, c)

    # A triangle lattice periodic with the canvas: nx edges across, ny (even) rows of height ~ sqrt(3)/2 edge.
    nx = max(1, round(size / cell))
    a1 = size / nx
    ny = max(2, 2 * round(size / (a1 * np.sqrt(3) / 2) / 2))
    rh = size / ny
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    t = yy / rh
    s = (xx - t * a1 / 2) / a1
    i0, j0 = np.floor(s).astype(np.int64), np.floor(t).astype(np.int64)
    fs, ft = s - i0, t - j0
    lower = fs + ft < 1
    verts = [
        (np.where(lower, i0, i0 + 1), np.where(lower, j0, j0 + 1), np.where(lower, 1 - fs - ft, fs + ft - 1)),
        (i0 + 1, j0, np.where(lower, fs, 1 - ft)),
        (i0, j0 + 1, np.where(lower, ft, 1 - fs)),
    ]
    reach = int(np.ceil(a1)) + 1  # a vertex's patch covers the pixels within one edge of it
    if min(h, w) <= 2 * reach:
        raise ValueError(f"the source ({w}x{h}) is too small for cell={cell}; choose a smaller cell")
    offsets = np.stack(
        [rng.integers(reach, h - reach, nx * ny), rng.integers(reach, w - reach, nx * ny)], axis=1
    )  # the source point each vertex's patch is centred on
    acc = np.zeros((size, size, c))
    w2 = np.zeros((size, size, 1))
    for vi, vj, weight in verts:
        key = ((vi + (vj // ny) * (ny // 2)) % nx) + nx * (vj % ny)  # the vertex's position modulo the canvas
        vy, vx = vj * rh, vi * a1 + vj * a1 / 2
        sy = np.clip(np.round(yy - 0.5 - vy + offsets[key, 0]), 0, h - 1).astype(np.intp)
        sx = np.clip(np.round(xx - 0.5 - vx + offsets[key, 1]), 0, w - 1).astype(np.intp)
        acc += weight[:, :, None] * g[sy, sx]
        w2 += weight[:, :, None] ** 2
    blended = acc / np.sqrt(np.maximum(w2, 1e-12))  # variance-preserving: still N(0, 1) per channel
    out = _degaussianise(blended, sorted_values) @ basis + mean
    pixels = np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return ClassicCanvas(pixels, [], [round(j * rh) for j in range(1, ny)])
