"""Weight-free measures of how well a filled region matches its texture: a texture-statistics distance and a seam ratio.

PSNR inside a hole barely separates inpainting methods on stochastic textures: any fill that
guesses the local mean scores within about a dB of the best, blurry or not. Two measures that
need no pretrained network (none can be downloaded here) look at what a person sees instead:

* :func:`texture_distance`: a sliced Wasserstein distance between the distribution of small
  patches inside the region and the distribution of patches of the known texture, at three
  scales (the image, and its 2x and 4x box-downscaled versions). Patches are projected onto
  random unit directions (seeded) and the sorted projections compared; the mean absolute
  difference of their quantiles is averaged over directions and scales. It is 0 for identical
  statistics and grows when the fill is too smooth, too noisy or of the wrong structure. It is
  in pixel units on the [0, 1] scale. (Rabin et al. 2011, "Wasserstein barycenter and its
  application to texture mixing"; Heitz et al. 2021 use it as a texture loss.)
* :func:`seam_ratio`: the mean gradient magnitude on a thin band along the region's border,
  divided by the mean gradient magnitude of the known texture away from it. About 1 means the
  border looks like any other place of the texture; well above 1, a visible edge (a seam);
  well below 1, a smoothed-over border.

The original image's own scores on the same region are the reference to read these against:
they are not 0 and 1 exactly, because a region of a real texture differs from the rest.
Only numpy and scipy.
"""

from __future__ import annotations

import numpy as np

SCALES = (1, 2, 4)  # box downscaling factors the patch statistics are measured at
PATCH = 5  # side of the patches compared, in pixels at each scale
PROJECTIONS = 64  # random directions of the sliced Wasserstein distance
MAX_PATCHES = 4096  # patches drawn from each side at each scale (seeded), to bound the work
MIN_PATCHES = 8  # fewer patches than this at a scale: that scale is skipped
SEAM_TARGET = 1.0  # the ideal seam ratio: the border is like any other place of the texture


def _float(pixels: np.ndarray) -> np.ndarray:
    a = np.asarray(pixels)
    a = a[:, :, None] if a.ndim == 2 else a
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)


def _box_down(image: np.ndarray, mask: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Box-average ``image`` (H, W, C) by ``s``; a coarse pixel is in ``mask`` when all its fine pixels are."""
    if s == 1:
        return image, mask
    h, w = (image.shape[0] // s) * s, (image.shape[1] // s) * s
    img = image[:h, :w].reshape(h // s, s, w // s, s, -1).mean(axis=(1, 3))
    m = mask[:h, :w].reshape(h // s, s, w // s, s).all(axis=(1, 3))
    return img, m


def _patches_centred_in(image: np.ndarray, mask: np.ndarray, k: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``n`` k x k patches, flattened (M, k*k*C), whose centre pixel is in ``mask``, drawn without replacing."""
    r = k // 2
    inner = np.zeros_like(mask)
    inner[r : mask.shape[0] - r, r : mask.shape[1] - r] = mask[r : mask.shape[0] - r, r : mask.shape[1] - r]
    ys, xs = np.nonzero(inner)
    if len(ys) == 0:
        return np.zeros((0, k * k * image.shape[2]), image.dtype)
    if len(ys) > n:
        pick = rng.choice(len(ys), size=n, replace=False)
        ys, xs = ys[pick], xs[pick]
    offsets = np.arange(-r, r + 1)
    rows = (ys[:, None, None] + offsets[None, :, None]).repeat(k, axis=2)
    cols = (xs[:, None, None] + offsets[None, None, :]).repeat(k, axis=1)
    return image[rows, cols].reshape(len(ys), -1)


def _sliced_wasserstein(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, n_proj: int) -> float:
    """Sliced 1-Wasserstein distance between point sets a (Na, D) and b (Nb, D), via 128 quantiles."""
    directions = rng.normal(size=(a.shape[1], n_proj))
    directions /= np.linalg.norm(directions, axis=0, keepdims=True)
    q = np.linspace(0.0, 1.0, 128)
    pa = np.quantile(a @ directions, q, axis=0)
    pb = np.quantile(b @ directions, q, axis=0)
    return float(np.mean(np.abs(pa - pb)))


def texture_distance(
    image: np.ndarray,
    region: np.ndarray,
    reference: np.ndarray | None = None,
    *,
    seed: int = 0,
    scales: tuple[int, ...] = SCALES,
    patch: int = PATCH,
) -> float:
    """How far the texture of ``region`` is from that of ``reference`` in the same image (lower is better).

    Args:
        image: ``(H, W, C) uint8`` or float in [0, 1].
        region: ``(H, W) bool``: the pixels judged (e.g. a filled hole).
        reference: ``(H, W) bool``: the known texture; default ``~region``.
        seed: seeds the patch draws and the projections (same seed, same figure).

    Returns:
        The sliced Wasserstein distance of k x k patch distributions, averaged over ``scales``
        (pixel units on the [0, 1] scale); NaN when the region is too small to hold
        ``MIN_PATCHES`` patches at any scale.
    """
    img = _float(image)
    region = np.asarray(region, bool)
    reference = ~region if reference is None else np.asarray(reference, bool)
    if region.shape != img.shape[:2] or reference.shape != img.shape[:2]:
        raise ValueError(f"region/reference masks must be {img.shape[:2]}, got {region.shape} and {reference.shape}")
    rng = np.random.default_rng(seed)
    scores = []
    for s in scales:
        small, reg = _box_down(img, region, s)
        _, ref = _box_down(img, reference, s)
        a = _patches_centred_in(small, reg, patch, MAX_PATCHES, rng)
        b = _patches_centred_in(small, ref, patch, MAX_PATCHES, rng)
        if len(a) >= MIN_PATCHES and len(b) >= MIN_PATCHES:
            scores.append(_sliced_wasserstein(a, b, rng, PROJECTIONS))
    return float(np.mean(scores)) if scores else float("nan")


def gradient_magnitude(image: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude, averaged over channels: ``(H, W) float`` (image as in :func:`texture_distance`)."""
    from scipy import ndimage

    img = _float(image)
    gx = np.stack([ndimage.sobel(img[:, :, c], axis=1) for c in range(img.shape[2])], -1)
    gy = np.stack([ndimage.sobel(img[:, :, c], axis=0) for c in range(img.shape[2])], -1)
    return np.hypot(gx, gy).mean(axis=2)


def border_band(mask: np.ndarray, width: int = 1) -> np.ndarray:
    """``(H, W) bool``: pixels within ``width`` of the border of ``mask``, on either side."""
    from scipy import ndimage

    grow = ndimage.binary_dilation(mask, iterations=width)
    shrink = ndimage.binary_erosion(mask, iterations=width, border_value=1)
    return grow & ~shrink


def seam_ratio(image: np.ndarray, mask: np.ndarray, width: int = 1) -> float:
    """Mean gradient on the border band of ``mask`` (H, W) over the mean gradient of the known texture.

    The known texture is every pixel outside ``mask`` and at least ``width + 1`` pixels from
    its border (so the band is not counted twice). About 1: no visible seam; NaN when either
    part is empty.
    """
    from scipy import ndimage

    mask = np.asarray(mask, bool)
    grad = gradient_magnitude(image)
    band = border_band(mask, width)
    far = ~ndimage.binary_dilation(mask, iterations=width + 1)
    if not band.any() or not far.any():
        return float("nan")
    known = float(grad[far].mean())
    return float(grad[band].mean() / known) if known > 0 else float("nan")
