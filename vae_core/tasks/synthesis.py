"""Large textures from a patch VAE: decode a latent field over overlapping patches and blend them, seamlessly if asked.

The model draws one small square patch per code. A canvas far bigger than a patch is
covered by patches on a grid with 50% overlap (stride = patch / 2), each blended in with a
raised-cosine window (weights sum to 1, so no seams where a patch's edge lies). Which code
each patch gets is the *latent field*; it comes from one of three sources
(:class:`CanvasSettings.field`):

* ``"one"``: one texture (a :class:`Style`: a centre code and how that texture's patches
  vary around it), with ``variation`` scaling the spread;
* ``"blend"``: 2-4 styles, each holding its own region of the canvas, mixed in latent space
  where the regions meet;
* ``"walk"``: a smooth random field of codes from the prior N(0, I): new textures that
  wander across the canvas.

**Why patches are chosen, not just decoded.** A patch decoder has no notion of position:
two neighbouring codes decode to two patches whose stripes or bricks do not line up, and
blending them ghosts (``method="direct"`` does exactly that, for comparison). So by default
(``method="match"``) the field first draws a pool of candidate codes (each from the field at
a random spot, plus its style's variation), decodes them all in one batch, and then fills
the grid in reading order choosing, at each spot, one of the three candidates whose pixels
best agree with what is already on the canvas under its window (plus a penalty for
candidates drawn far away in the field). This is image quilting (Efros & Freeman 2001)
with the decoder as the source of patches; ``bench --generate`` measures both methods.

**Seamless.** The grid wraps around: the last column of patches overlaps the first, the
field is periodic, and the matching sees across the edge; so the right edge continues the
left one and the bottom the top. (Circular padding in the decoder's convolutions, the
usual trick for whole-image generators, cannot do this here: the model's dense path maps
each code straight to a whole patch, so the patches would still meet at hard edges.) Not
seamless: the same is made on a slightly larger canvas and cropped, so its edges do not match.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from vae_core.explore.latent import decode

MAX_CANVAS = 1024  # pixels on a side
MAX_POOL_PIXELS = 768 * 32 * 32  # candidate patches decoded per canvas: 768 at 32 px, 192 at 64, 48 at 128
TOP_K = 3  # each spot picks at random among this many best-matching candidates
FIELDS = ("one", "blend", "walk")
METHODS = ("match", "direct")


@dataclass(frozen=True)
class Style:
    """A texture in latent space: the codes of some of its patches, and the directions in which such codes vary."""

    members: np.ndarray  # (M, D) float32, M >= 1: codes of the texture's patches (or one code)
    spread: np.ndarray  # (D, R) float32: main directions (scaled by their spread) of its codes, for new variants

    @property
    def center(self) -> np.ndarray:
        """The mean code (D,)."""
        return self.members.mean(0)


def principal_spread(mu: np.ndarray, rank: int = 16) -> np.ndarray:
    """Top ``rank`` principal directions of codes ``mu`` (N, D), each scaled by its standard deviation: (D, R)."""
    mu = np.asarray(mu, np.float64)
    if mu.ndim != 2 or len(mu) < 2:
        raise ValueError(f"mu must be (N, D) with N >= 2 codes, got shape {mu.shape}")
    _, sv, vt = np.linalg.svd(mu - mu.mean(0), full_matrices=False)
    r = min(rank, len(sv))
    return (vt[:r].T * (sv[:r] / np.sqrt(len(mu) - 1))).astype(np.float32)


def style_from_codes(mu: np.ndarray, max_members: int = 256, rank: int = 16) -> Style:
    """The style of one texture from its patch codes ``mu`` (N, D): up to ``max_members`` of them, evenly spread."""
    from vae_core.imaging import spread_indices

    mu = np.asarray(mu, np.float32)
    return Style(mu[spread_indices(len(mu), max_members)].copy(), principal_spread(mu, rank))


def style_from_code(z: np.ndarray, spread: np.ndarray) -> Style:
    """A style of one code ``z`` (D,) varying like ``spread`` (D, R), e.g. ``principal_spread`` of a dataset's codes."""
    return Style(np.asarray(z, np.float32).reshape(1, -1).copy(), np.asarray(spread, np.float32))


@dataclass(frozen=True)
class CanvasSettings:
    """How a large texture is made (everything needed to make it again, with the styles)."""

    size: int = 512  # canvas side in pixels: a multiple of half the patch size, up to MAX_CANVAS
    seamless: bool = True  # the right edge continues the left and the bottom the top (tileable)
    field: str = "one"  # where the codes come from: "one" style, a "blend" of 2-4, or a prior "walk"
    variation: float = 0.5  # new variants: noise added to the styles' codes, in units of their spread (0-3)
    method: str = "match"  # "match": choose candidates that agree with their neighbours; "direct": decode the field
    temperature: float = 1.0  # "walk" only: scale of the prior field (0.3-1.5)
    walk_scale: float = 0.35  # "walk" only: how far (fraction of the canvas) before the texture changes
    locality: float = 4.0  # "match": penalty for a candidate drawn elsewhere in the field (0 = ignore)
    seed: int = 0  # seeds the pool, the field's randomness and the choices

    def validate(self, patch_size: int) -> CanvasSettings:
        """Raise ``ValueError`` naming the bad field and the fix; return self."""
        half = patch_size // 2
        if not 2 * patch_size <= self.size <= MAX_CANVAS or self.size % half:
            raise ValueError(
                f"size={self.size} must be a multiple of {half} between {2 * patch_size} and {MAX_CANVAS} pixels"
            )
        if self.field not in FIELDS:
            raise ValueError(f"field={self.field!r} is not supported; choose one of {FIELDS}")
        if self.method not in METHODS:
            raise ValueError(f"method={self.method!r} is not supported; choose one of {METHODS}")
        if not 0 <= self.variation <= 3:
            raise ValueError(f"variation={self.variation} is out of range; choose 0..3")
        if not 0.1 <= self.temperature <= 2:
            raise ValueError(f"temperature={self.temperature} is out of range; choose 0.1..2")
        if not 0.05 <= self.walk_scale <= 1:
            raise ValueError(f"walk_scale={self.walk_scale} is out of range; choose 0.05..1")
        if not 0 <= self.locality <= 100:
            raise ValueError(f"locality={self.locality} is out of range; choose 0..100")
        return self


@dataclass
class Canvas:
    """A synthesized large texture and how it was made."""

    pixels: np.ndarray  # (size, size, C) uint8
    codes: np.ndarray  # (n, n, D) float32: the code decoded at each grid spot (row-major, before cropping)
    seams_x: list[int]  # internal seam lines (patch edges and overlap middles), for texture_stats.seam_ratio
    seams_y: list[int]
    seconds: float  # wall time


def tiled_preview(pixels: np.ndarray, max_side: int = 1024) -> np.ndarray:
    """``pixels`` (H, W, C) uint8 repeated 2x2, so that seams (or their absence) show, at most ``max_side`` wide."""
    from vae_core.imaging import downscale

    return downscale(np.tile(pixels, (2, 2, 1)), max_side)


def seam_view(pixels: np.ndarray, side: int) -> np.ndarray:
    """The ``side`` x ``side`` centre of ``pixels`` (H, W, C) repeated 2x2: where its four copies meet, so a seam
    would cross the middle; at the canvas's own scale, so it can sit beside a source of that size."""
    h, w = pixels.shape[:2]
    side = min(side, 2 * h, 2 * w)
    y0, x0 = h - side // 2, w - side // 2
    return np.ascontiguousarray(np.tile(pixels, (2, 2, 1))[y0 : y0 + side, x0 : x0 + side])


def _smooth_field(n: int, dims: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """A periodic Gaussian random field on an n x n grid: (n, n, dims), each dim with zero mean and unit variance.

    White noise low-pass filtered in Fourier space (so it wraps around), correlation length
    ``scale * n`` grid steps.
    """
    noise = rng.standard_normal((n, n, dims))
    f = np.fft.fftfreq(n)
    k2 = f[:, None] ** 2 + f[None, :] ** 2
    sigma = max(scale * n, 0.5)
    filt = np.exp(-2 * (np.pi * sigma) ** 2 * k2)[:, :, None]
    out = np.real(np.fft.ifft2(np.fft.fft2(noise, axes=(0, 1)) * filt, axes=(0, 1)))
    out -= out.mean(axis=(0, 1))
    return out / np.maximum(out.std(axis=(0, 1)), 1e-8)


def _region_weights(n: int, count: int, periodic: bool) -> np.ndarray:
    """Where each of ``count`` (2-4) styles holds the canvas: (n, n, count) weights summing to 1.

    Style 0 sits at the top-left, 1 to its right, 2 below, 3 diagonally. Periodic weights
    (cosine bumps) come back round at the edges; otherwise they ramp across the canvas.
    Smoothstep twice keeps each region pure and makes the crossings short.
    """
    u = (np.arange(n) + 0.5) / n
    ramp = (1 + np.cos(2 * np.pi * u)) / 2 if periodic else 1 - u
    for _ in range(2):
        ramp = ramp * ramp * (3 - 2 * ramp)
    a, b = ramp, 1 - ramp
    ones = np.ones(n)
    if count == 2:
        cols = [np.outer(ones, a), np.outer(ones, b)]
    elif count == 3:
        cols = [np.outer(a, a), np.outer(a, b), np.outer(b, ones)]
    elif count == 4:
        cols = [np.outer(a, a), np.outer(a, b), np.outer(b, a), np.outer(b, b)]
    else:
        raise ValueError(f"a blend takes 2-4 textures, got {count}")
    return np.stack(cols, axis=-1)


def _field(styles: list[Style], settings: CanvasSettings, n: int, dims: int, rng: np.random.Generator) -> np.ndarray:
    """How much each style holds each grid spot: (n, n, S) weights summing to 1; for "walk", the prior's (n, n, D)."""
    if settings.field == "walk":
        return (settings.temperature * _smooth_field(n, dims, settings.walk_scale, rng)).astype(np.float32)
    wanted = (1, 1) if settings.field == "one" else (2, 4)
    if not wanted[0] <= len(styles) <= wanted[1]:
        need = "one style" if wanted[1] == 1 else "2-4 styles"
        raise ValueError(f"field={settings.field!r} takes {need}, got {len(styles)}")
    if len(styles) == 1:
        return np.ones((n, n, 1), np.float32)
    return _region_weights(n, len(styles), settings.seamless).astype(np.float32)


def _codes_at(styles: list[Style], field: np.ndarray, spots: np.ndarray, variation: float, rng) -> np.ndarray:
    """One new code for each grid spot in ``spots`` (K, 2): a random member of each style, mixed by the
    field's weights there, plus ``variation`` times noise along the mixed spread; for a prior walk, the
    field's code plus isotropic noise of ``variation / 4``. -> (K, D) float32."""
    k = len(spots)
    here = field[spots[:, 0], spots[:, 1]]  # (K, S) weights or (K, D) walk codes
    if not styles or here.shape[1] != len(styles):
        return (here + variation / 4 * rng.standard_normal(here.shape)).astype(np.float32)
    rank = max(s.spread.shape[1] for s in styles)
    z = np.zeros((k, styles[0].members.shape[1]))
    eps = rng.standard_normal((k, rank))
    for i, s in enumerate(styles):
        member = s.members[rng.integers(0, len(s.members), k)]
        noise = eps[:, : s.spread.shape[1]] @ s.spread.T
        z += here[:, i : i + 1] * (member + variation * noise)
    return z.astype(np.float32)


def _pieces(start: int, length: int, total: int) -> list[tuple[slice, slice]]:
    """(patch slice, canvas slice) pairs covering ``start .. start + length`` on a canvas that wraps at ``total``."""
    start %= total
    if start + length <= total:
        return [(slice(0, length), slice(start, start + length))]
    first = total - start
    return [(slice(0, first), slice(start, total)), (slice(first, length), slice(0, length - first))]


def _window(size: int) -> np.ndarray:
    """Raised-cosine window (size, size, 1): with 50% overlap the weights of neighbours sum to exactly 1."""
    w = np.sin(np.pi * (np.arange(size) + 0.5) / size) ** 2
    return np.outer(w, w)[:, :, None].astype(np.float32)


def _shrink(a: np.ndarray, f: int) -> np.ndarray:
    """Block means over f x f pixels of (..., P, P, C) -> (..., P/f, P/f, C)."""
    if f == 1:
        return a
    *lead, p, _, c = a.shape
    return a.reshape(*lead, p // f, f, p // f, f, c).mean(axis=(-4, -2))


class _Painter:
    """The canvas being filled: weighted sums and weights on a grid that wraps around."""

    def __init__(self, side: int, patch: int, channels: int) -> None:
        self.side, self.patch = side, patch
        self.acc = np.zeros((side, side, channels), np.float32)
        self.weight = np.zeros((side, side, 1), np.float32)
        self.window = _window(patch)

    def read(self, y: int, x: int) -> tuple[np.ndarray, np.ndarray]:
        """What is already under the patch at (y, x): (weighted sum (P, P, C), weight (P, P, 1))."""
        p = self.patch
        acc = np.empty((p, p, self.acc.shape[2]), np.float32)
        weight = np.empty((p, p, 1), np.float32)
        for py, cy in _pieces(y, p, self.side):
            for px, cx in _pieces(x, p, self.side):
                acc[py, px], weight[py, px] = self.acc[cy, cx], self.weight[cy, cx]
        return acc, weight

    def add(self, y: int, x: int, patch: np.ndarray) -> None:
        """Blend ``patch`` (P, P, C) in at (y, x)."""
        p = self.patch
        for py, cy in _pieces(y, p, self.side):
            for px, cx in _pieces(x, p, self.side):
                self.acc[cy, cx] += patch[py, px] * self.window[py, px]
                self.weight[cy, cx] += self.window[py, px]

    def pixels(self) -> np.ndarray:
        return self.acc / np.maximum(self.weight, 1e-8)


def _decode_hwc(model, z: np.ndarray, done: int, total: int, on_progress) -> np.ndarray:
    """Decode codes (N, D) in batches of 128, reporting progress: -> (N, P, P, C) float32."""
    out = []
    for i in range(0, len(z), 128):
        out.append(decode(model, z[i : i + 128]).transpose(0, 2, 3, 1))
        if on_progress is not None:
            on_progress(done + min(i + 128, len(z)), total)
    return np.concatenate(out)


def synthesize(
    model,
    styles: list[Style],
    settings: CanvasSettings,
    on_progress: Callable[[int, int], None] | None = None,
) -> Canvas:
    """Make a large texture: ``settings.size`` pixels square, from ``styles`` (see the module docstring).

    model: a ``ConvVAE`` (anything with ``config.image_size``/``channels``, ``latent_dim`` and
    ``decode``). styles: one for ``field="one"``, 2-4 for ``"blend"``, none needed for ``"walk"``.
    on_progress: called as ``on_progress(done, total)`` work units (patches), for a progress bar.
    Same model, styles and settings give the same pixels.
    """
    t0 = time.perf_counter()
    p, dims = int(model.config.image_size), int(model.latent_dim)
    settings.validate(p)
    for s in styles:
        if s.members.ndim != 2 or s.members.shape[1] != dims or s.spread.ndim != 2 or s.spread.shape[0] != dims:
            raise ValueError(
                f"a style has codes of shape {s.members.shape} and spread {s.spread.shape}; "
                f"this model's codes have {dims} numbers"
            )
    rng = np.random.default_rng(settings.seed)
    stride = p // 2
    side = settings.size if settings.seamless else settings.size + 2 * p
    n = side // stride
    field = _field(styles, settings, n, dims, rng)
    painter = _Painter(side, p, int(model.config.channels))
    if settings.method == "direct":
        codes = _direct_codes(styles, field, settings.variation, rng)
        patches = _decode_hwc(model, codes.reshape(-1, dims), 0, n * n, on_progress)
        for k in range(n * n):
            painter.add((k // n) * stride, (k % n) * stride, patches[k])
    else:
        codes = _match(model, painter, styles, field, settings, rng, on_progress)
    out = painter.pixels()
    if not settings.seamless:
        out = out[p : p + settings.size, p : p + settings.size]
    lines = list(range(p // 4, settings.size, p // 4))
    pixels = np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Canvas(pixels, codes, lines, lines, time.perf_counter() - t0)


def _direct_codes(styles: list[Style], field: np.ndarray, variation: float, rng) -> np.ndarray:
    """The smoothly varying field itself: mixed style centres plus smooth noise along the spread: (n, n, D)."""
    n = field.shape[0]
    if not styles or field.shape[-1] != len(styles):  # a prior walk is already a field of codes
        return (field + variation / 4 * _smooth_field(n, field.shape[-1], 1.5 / n, rng)).astype(np.float32)
    rank = max(s.spread.shape[1] for s in styles)
    wiggle = _smooth_field(n, rank, 1.5 / n, rng)  # correlated over ~1.5 grid steps: neighbours are alike
    codes = np.zeros((n, n, styles[0].members.shape[1]))
    for i, s in enumerate(styles):
        codes += field[:, :, i : i + 1] * (s.center + variation * wiggle[:, :, : s.spread.shape[1]] @ s.spread.T)
    return codes.astype(np.float32)


def _match(model, painter: _Painter, styles, field, settings: CanvasSettings, rng, on_progress) -> np.ndarray:
    """Fill the grid in reading order with pool candidates that agree with the canvas so far: -> codes (n, n, D)."""
    p, n, dims = painter.patch, field.shape[0], int(model.latent_dim)
    k = max(TOP_K, MAX_POOL_PIXELS // (p * p))
    spots = rng.integers(0, n, (k, 2))
    pool = _codes_at(styles, field, spots, settings.variation, rng)
    total = k + n * n
    patches = _decode_hwc(model, pool, 0, total, on_progress)  # (K, P, P, C)
    f = max(1, p // 16)  # candidates are compared at 16 x 16 (or full size below 16 px)
    small = _shrink(patches, f).reshape(k, -1, patches.shape[-1])  # (K, m, C)
    small_sq, small_flat = (small**2).sum(-1), small.reshape(k, -1)
    var = float(patches.var()) + 1e-4
    origin = field[spots[:, 0], spots[:, 1]]  # where in the field each candidate was drawn
    flat = field.reshape(-1, field.shape[-1])
    norm = float(((flat[:, None] - flat[None, :: max(1, len(flat) // 64)]) ** 2).sum(-1).mean())
    far = settings.locality / norm if norm > 1e-8 else 0.0  # 0 for one style: every candidate belongs everywhere
    codes = np.zeros((n, n, dims), np.float32)
    stride, done = p // 2, k
    # Spot (gy, gx) overlaps the spots left of it, above-left, above and above-right, so the spots of one
    # "wavefront" 2*gy + gx = t overlap none of each other: they are matched together, as one matrix product.
    with threadpool_limits(1, user_api="blas"):  # small products: extra threads only contend on a busy CPU
        for t in range(3 * (n - 1) + 1):
            wave = [(gy, t - 2 * gy) for gy in range(n) if 0 <= t - 2 * gy < n]
            reads = [painter.read(gy * stride, gx * stride) for gy, gx in wave]
            acc = _shrink(np.stack([r[0] for r in reads]), f)  # (B, m', m', C)
            weight = _shrink(np.stack([r[1] for r in reads]), f)
            w = weight.reshape(len(wave), -1)  # (B, m): how much of each compared pixel is already painted
            known = (acc / np.maximum(weight, 1e-6)).reshape(len(wave), -1)
            c = small.shape[-1]
            cost = (w @ small_sq.T - 2 * (np.repeat(w, c, axis=1) * known) @ small_flat.T) / (
                np.maximum(w.sum(1, keepdims=True), 1e-6) * var
            )  # (B, K): mean squared disagreement with the canvas, in units of the pool's variance
            if far:
                here = np.stack([field[gy, gx] for gy, gx in wave])
                cost = cost + far * ((origin[None] - here[:, None]) ** 2).sum(-1)
            best = np.argpartition(cost, TOP_K - 1, axis=1)[:, :TOP_K]
            for (gy, gx), options in zip(wave, best, strict=True):
                pick = int(rng.choice(options))
                painter.add(gy * stride, gx * stride, patches[pick])
                codes[gy, gx] = pool[pick]
            done += len(wave)
            if on_progress is not None:
                on_progress(done, total)
    return codes
