"""A built-in sample set so the app works with no uploads and no network.

Two sources, both offline:

* Procedural colour textures (stripes, checks, dots, cells, marble, wood)
  written in vectorised numpy. Each kind draws its colours, scales and
  angles from a seeded generator, so one class still has variety, and the
  same seed always gives the same pixels.
* scikit-image's bundled real textures ``brick``, ``grass`` and ``gravel``
  (grey, 512x512). They ship inside the ``skimage/data`` package folder, so
  loading them never downloads anything (checked with scikit-image 0.26).

Kept separate from :mod:`vae_core.data` because nothing here parses
untrusted input.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from vae_core.data.images import LABEL_FROM_SAMPLES, TextureImage
from vae_core.imaging import center_crop

PROCEDURAL_KINDS: tuple[str, ...] = (
    "stripes",
    "checks",
    "dots",
    "cells",
    "marble",
    "wood",
)
# Real photographs bundled inside scikit-image (no download needed).
SKIMAGE_KINDS: tuple[str, ...] = ("brick", "grass", "gravel")


# ---------------------------------------------------------------------------
# Noise and colour helpers
# ---------------------------------------------------------------------------


def value_noise(size: int, cells: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth value noise: ``(size, size) float32`` in [0, 1].

    Random values on a ``(cells+1)^2`` lattice, blended with a smoothstep
    curve so there are no visible grid creases. Vectorised: one gather per
    lattice corner.
    """
    lattice = rng.random((cells + 1, cells + 1), dtype=np.float32)
    coords = np.arange(size, dtype=np.float32) * (cells / size)
    idx = coords.astype(np.intp)
    frac = coords - idx
    frac = frac * frac * (3 - 2 * frac)  # smoothstep
    iy, ix = idx[:, None], idx[None, :]
    fy, fx = frac[:, None], frac[None, :]
    top = lattice[iy, ix] * (1 - fx) + lattice[iy, ix + 1] * fx
    bottom = lattice[iy + 1, ix] * (1 - fx) + lattice[iy + 1, ix + 1] * fx
    return top * (1 - fy) + bottom * fy


def fractal_noise(size: int, base_cells: int, octaves: int, rng: np.random.Generator) -> np.ndarray:
    """Sum of ``octaves`` value-noise layers, each twice as fine and half as strong.

    Returns ``(size, size) float32`` normalised to [0, 1].
    """
    total = np.zeros((size, size), dtype=np.float32)
    amplitude, weight = 1.0, 0.0
    for octave in range(octaves):
        cells = min(base_cells * 2**octave, size)
        total += amplitude * value_noise(size, cells, rng)
        weight += amplitude
        amplitude *= 0.5
    return total / weight


def _colour(
    rng: np.random.Generator,
    sat: tuple[float, float],
    val: tuple[float, float],
    hue: float | None = None,
) -> np.ndarray:
    """A random RGB colour ``(3,) float32`` in [0, 1] from HSV ranges (hue random unless given)."""
    h = rng.random() if hue is None else hue % 1.0
    s = rng.uniform(*sat)
    v = rng.uniform(*val)
    return np.array(colorsys.hsv_to_rgb(h, s, v), dtype=np.float32)


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Blend colours ``a``, ``b`` ``(3,)`` by weights ``t`` ``(H, W)`` in [0, 1] -> ``(H, W, 3)``."""
    t = t[:, :, None]
    return a * (1 - t) + b * t


def _coords(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``y, x`` as ``(size, 1)`` and ``(1, size)`` float32 in [0, 1)."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size
    return axis[:, None], axis[None, :]


def _finish(rgb: np.ndarray, rng: np.random.Generator, grain: float = 0.02) -> np.ndarray:
    """Add faint per-pixel grain (real textures are never perfectly clean) and quantise to uint8."""
    noise = rng.normal(0.0, grain, size=rgb.shape[:2]).astype(np.float32)[:, :, None]
    return np.clip(np.rint((rgb + noise) * 255), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------
# The six procedural kinds: (size, rng) -> (size, size, 3) float32 in [0, 1]
# ---------------------------------------------------------------------------


def _stripes(size: int, rng: np.random.Generator) -> np.ndarray:
    """Parallel bands at a random angle and period, slightly wobbly."""
    y, x = _coords(size)
    angle = rng.uniform(0, np.pi)
    periods = rng.uniform(4, 14)
    wobble = (fractal_noise(size, 4, 3, rng) - 0.5) * rng.uniform(0.0, 0.6)
    phase = (x * np.cos(angle) + y * np.sin(angle)) * periods + wobble
    softness = rng.uniform(0.05, 0.3)
    t = np.clip((np.abs((phase % 1.0) - 0.5) * 2 - 0.5) / softness + 0.5, 0, 1)
    hue = rng.random()
    a = _colour(rng, (0.4, 0.9), (0.6, 1.0), hue)
    b = _colour(rng, (0.3, 0.9), (0.15, 0.6), hue + rng.uniform(0.1, 0.5))
    return _mix(a, b, t)


def _checks(size: int, rng: np.random.Generator) -> np.ndarray:
    """A checkerboard with a random square size and a small random tilt."""
    y, x = _coords(size)
    angle = rng.uniform(-0.3, 0.3)
    squares = rng.integers(4, 13)
    u = (x * np.cos(angle) - y * np.sin(angle)) * squares
    v = (x * np.sin(angle) + y * np.cos(angle)) * squares
    t = ((np.floor(u) + np.floor(v)) % 2).astype(np.float32)
    shade = fractal_noise(size, 8, 2, rng) * 0.15  # uneven print, not flat vector art
    hue = rng.random()
    a = _colour(rng, (0.0, 0.5), (0.75, 1.0), hue)
    b = _colour(rng, (0.4, 1.0), (0.2, 0.6), hue + rng.uniform(0.0, 0.6))
    return _mix(a, b, t) - shade[:, :, None]


def _dots(size: int, rng: np.random.Generator) -> np.ndarray:
    """Round dots on a (slightly jittered) grid with a random spacing and radius."""
    y, x = _coords(size)
    count = rng.integers(5, 14)
    radius = rng.uniform(0.18, 0.4)
    jitter = rng.uniform(0.0, 0.25)
    gy, gx = y * count, x * count
    cy, cx = np.floor(gy), np.floor(gx)
    # Per-cell offsets from a lookup table so each dot moves independently.
    offsets = rng.uniform(-jitter, jitter, size=(2, count + 1, count + 1)).astype(np.float32)
    iy = np.broadcast_to(cy.astype(np.intp), (size, size))
    ix = np.broadcast_to(cx.astype(np.intp), (size, size))
    dy = gy - cy - 0.5 - offsets[0][iy, ix]
    dx = gx - cx - 0.5 - offsets[1][iy, ix]
    dist = np.sqrt(dy * dy + dx * dx)
    edge = 1.5 * count / size  # ~1.5 pixels of anti-aliasing
    t = np.clip((radius - dist) / edge + 0.5, 0, 1)
    background = _colour(rng, (0.1, 0.6), (0.6, 1.0))
    dot = _colour(rng, (0.5, 1.0), (0.2, 0.8))
    return _mix(background, dot, t)


def _cells(size: int, rng: np.random.Generator) -> np.ndarray:
    """Voronoi cells: each cell a shade of one palette, with dark mortar-like borders."""
    n_points = int(rng.integers(20, 70))
    points = rng.random((n_points, 2), dtype=np.float32)
    y, x = _coords(size)
    # (H, W, n) distances: 256*256*70 floats ~ 18 MB, fine for a one-off.
    d2 = (y[:, :, None] - points[:, 0]) ** 2 + (x[:, :, None] - points[:, 1]) ** 2
    nearest2 = np.partition(d2, 1, axis=2)[:, :, :2]
    owner = np.argmin(d2, axis=2)
    border = np.sqrt(nearest2[:, :, 1]) - np.sqrt(nearest2[:, :, 0])
    width = rng.uniform(0.004, 0.015)
    hue = rng.random()
    palette = np.stack(
        [_colour(rng, (0.3, 0.8), (0.45, 0.95), hue + rng.uniform(-0.08, 0.08)) for _ in range(n_points)]
    )
    rgb = palette[owner]
    mortar = _colour(rng, (0.0, 0.3), (0.05, 0.3))
    t = np.clip(border / width, 0, 1)
    return mortar * (1 - t[:, :, None]) + rgb * t[:, :, None]


def _marble(size: int, rng: np.random.Generator) -> np.ndarray:
    """Veined marble: a sine pattern distorted by fractal turbulence."""
    y, x = _coords(size)
    angle = rng.uniform(0, np.pi)
    freq = rng.uniform(2, 6)
    turbulence = fractal_noise(size, int(rng.integers(3, 6)), 5, rng)
    strength = rng.uniform(3, 8)
    phase = (x * np.cos(angle) + y * np.sin(angle)) * freq + turbulence * strength
    veins = np.abs(np.sin(phase * np.pi)) ** rng.uniform(0.3, 0.8)
    base = _colour(rng, (0.0, 0.25), (0.75, 1.0))
    vein = _colour(rng, (0.2, 0.7), (0.1, 0.5))
    return _mix(vein, base, veins.astype(np.float32))


def _wood(size: int, rng: np.random.Generator) -> np.ndarray:
    """Wood grain: noisy concentric rings around an off-image centre, stretched along the grain."""
    y, x = _coords(size)
    cy, cx = rng.uniform(-1.0, 2.0), rng.uniform(-1.0, 2.0)
    stretch = rng.uniform(2.0, 6.0)
    angle = rng.uniform(0, np.pi)
    u = (x - cx) * np.cos(angle) - (y - cy) * np.sin(angle)
    v = (x - cx) * np.sin(angle) + (y - cy) * np.cos(angle)
    radius = np.sqrt(u * u + (v / stretch) ** 2)
    rings = rng.uniform(8, 20)
    noise = fractal_noise(size, 4, 4, rng)
    t = (radius * rings + noise * rng.uniform(1.0, 3.0)) % 1.0
    t = (t ** rng.uniform(1.5, 4.0)).astype(np.float32)
    hue = rng.uniform(0.04, 0.11)  # browns and honey tones
    light = _colour(rng, (0.35, 0.6), (0.7, 0.95), hue)
    dark = _colour(rng, (0.5, 0.85), (0.25, 0.5), hue)
    return _mix(light, dark, t)


_GENERATORS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "stripes": _stripes,
    "checks": _checks,
    "dots": _dots,
    "cells": _cells,
    "marble": _marble,
    "wood": _wood,
}


def _procedural(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """Generate one texture of ``kind`` with ``rng``: ``(size, size, 3) uint8``."""
    if kind not in _GENERATORS:
        raise ValueError(f"kind={kind!r} is not a procedural texture; choose one of {', '.join(PROCEDURAL_KINDS)}")
    if size < 32:
        raise ValueError(f"size={size} is too small for a texture; choose >= 32")
    return _finish(_GENERATORS[kind](size, rng).astype(np.float32), rng)


def procedural_texture(kind: str, size: int = 256, seed: int = 0) -> np.ndarray:
    """One procedural colour texture: ``(size, size, 3) uint8``, identical for the same seed.

    Args:
        kind: One of :data:`PROCEDURAL_KINDS`.
        size: Side length in pixels (>= 32).
        seed: Seed for ``np.random.default_rng``; colours, scales and angles vary with it.
    """
    return _procedural(kind, size, np.random.default_rng(seed))


def _skimage_texture(kind: str, size: int) -> np.ndarray:
    """A bundled scikit-image texture as ``(S, S, 1) uint8``, centre-cropped to ``S = min(512, 2*size)``.

    Imported lazily: ``skimage.data`` takes a noticeable moment to import and
    only this function needs it.
    """
    import skimage.data  # lazy on purpose, see docstring

    grey = np.asarray(getattr(skimage.data, kind)(), dtype=np.uint8)
    return np.ascontiguousarray(center_crop(grey[:, :, None], 2 * size))


def sample_textures(seed: int = 0, size: int = 256, per_kind: int = 2) -> list[TextureImage]:
    """The built-in sample set: ``per_kind`` images of each procedural kind plus brick/grass/gravel.

    Procedural images are ``(size, size, 3) uint8`` named ``"{kind}_{i}.png"``
    and labelled ``kind``. The three scikit-image photographs (one each, grey,
    ``(S, S, 1)`` with ``S = min(512, 2 * size)``) are named ``"{kind}.png"``;
    they are bigger because one real photo has to provide as many patches as
    several procedural ones. Image ``i`` of kind ``k`` uses the generator
    ``default_rng([seed, k, i])``, so changing ``per_kind`` does not change
    the images that remain.
    """
    if per_kind < 1:
        raise ValueError(f"per_kind={per_kind} must be at least 1")
    images = [
        TextureImage(
            name=f"{kind}_{i}.png",
            label=kind,
            pixels=_procedural(kind, size, np.random.default_rng([seed, k, i])),
            label_from=LABEL_FROM_SAMPLES,
        )
        for k, kind in enumerate(PROCEDURAL_KINDS)
        for i in range(per_kind)
    ]
    images.extend(
        TextureImage(name=f"{kind}.png", label=kind, pixels=_skimage_texture(kind, size), label_from=LABEL_FROM_SAMPLES)
        for kind in SKIMAGE_KINDS
    )
    return images


def write_sample_pngs(out_dir: str | Path, seed: int = 0) -> list[Path]:
    """Write :func:`sample_textures` (default size) as PNGs into ``out_dir`` (created if needed).

    Grey images are written as 8-bit greyscale PNGs, colour ones as RGB. The
    file names give the labels back through
    :func:`vae_core.data.images.label_from_name` (``stripes_0.png`` -> ``stripes``).

    Returns:
        The written paths, in sample-set order.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for image in sample_textures(seed=seed):
        pixels = image.pixels[:, :, 0] if image.pixels.shape[2] == 1 else image.pixels
        path = out / image.name
        Image.fromarray(np.ascontiguousarray(pixels)).save(path, format="PNG", optimize=True)
        paths.append(path)
    return paths


# Real photographs bundled inside scikit-image that no built-in training set uses: images a
# model trained on the samples has never seen (the fair test of a codec or a restorer).
PHOTOGRAPH_KINDS: tuple[str, ...] = ("astronaut", "coffee", "chelsea", "camera")


def unseen_photographs(kinds: tuple[str, ...] = PHOTOGRAPH_KINDS) -> list[TextureImage]:
    """scikit-image's bundled photographs ``kinds`` (colour, or grey ``(H, W, 1)``), named ``"{kind}.png"``.

    None of them is in :func:`sample_textures`; they load from the installed package, never
    from the network (``camera`` is grey, the others colour; 300 to 600 pixels a side).
    """
    import skimage.data  # lazy on purpose, see _skimage_texture

    images = []
    for kind in kinds:
        if kind not in PHOTOGRAPH_KINDS:
            raise ValueError(f"kind={kind!r} is not a bundled photograph here; choose from {PHOTOGRAPH_KINDS}")
        pixels = np.asarray(getattr(skimage.data, kind)(), dtype=np.uint8)
        pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels[:, :, :3]
        images.append(TextureImage(name=f"{kind}.png", label=kind, pixels=np.ascontiguousarray(pixels)))
    return images
