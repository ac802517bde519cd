"""Large textures from a patch VAE: decode a latent field over overlapping patches and blend them, seamlessly if asked.

The model draws one small square patch per code. A canvas far bigger than a patch is
covered by patches on a grid with 50% overlap (stride = patch / 2), each blended in with a
raised-cosine window (weights sum to 1, so no seams where a patch's edge lies). Which code
each patch gets is the *latent field*; it comes from one of three sources
(:class:`CanvasSettings.field`):

* ``"one"``: one texture (a :class:`Style`: codes of some of its patches, and the directions in
  which its codes vary, scaled by ``variation`` to make new variants);
* ``"blend"``: 2-4 styles, each holding its own region of the canvas, mixed in latent space
  where the regions meet;
* ``"walk"``: a smooth random field of codes from the prior N(0, I): new textures that
  wander across the canvas.

**Why patches are chosen, not just decoded.** A patch decoder has no notion of position:
two neighbouring codes decode to two patches whose stripes or bricks do not line up, and
blending them ghosts (``method="direct"`` does exactly that, for comparison). So by default
(``method="match"``) a pool of candidate codes is drawn from the field (each at a random spot),
decoded in one batch, and the grid is filled with candidates whose pixels agree with their
neighbours (:func:`vae_core.tasks.quilting.quilt`: image quilting with the decoder as the
source of patches). ``bench --generate`` measures both.

**Seamless.** The grid wraps around: the last column of patches overlaps the first, the
field is periodic, and the matching sees across the edge, so the right edge continues the
left one and the bottom the top. Circular padding in the decoder's convolutions (the usual
trick of whole-image generators) was measured and does not work here: the model's dense path
maps each code straight to a whole patch, so decoding a grid of codes as one image still
leaves a hard edge at every patch border (seam ratios 2-4 on the samples, ``bench
--generate``). Not seamless: the same is made on a larger canvas and cropped, so its edges
do not match.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vae_core.tasks.quilting import TOP_K, Painter, Pool, decode_patches, quilt

MAX_CANVAS = 1024  # pixels on a side
MAX_POOL_PIXELS = 768 * 32 * 32  # candidate patches decoded per canvas: 768 at 32 px, 192 at 64, 48 at 128
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
    painter = Painter(side, p, int(model.config.channels))
    if settings.method == "direct":
        codes = _direct_codes(styles, field, settings.variation, rng)
        patches = decode_patches(model, codes.reshape(-1, dims), 0, n * n, on_progress)
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


def _match(model, painter: Painter, styles, field, settings: CanvasSettings, rng, on_progress) -> np.ndarray:
    """Decode a pool of candidates drawn from the field, and quilt the canvas with them: -> codes (n, n, D)."""
    p, n = painter.patch, field.shape[0]
    k = max(TOP_K, MAX_POOL_PIXELS // (p * p))
    spots = rng.integers(0, n, (k, 2))
    codes = _codes_at(styles, field, spots, settings.variation, rng)
    total = k + 2 * n * n
    patches = decode_patches(model, codes, 0, total, on_progress)
    pool = Pool(patches, codes, field[spots[:, 0], spots[:, 1]], field, settings.locality)
    return codes[quilt(painter, pool, rng, on_progress, done=k, total=total)]
