"""The classic texture descriptors the Analyze task measures the VAE against: LBP histograms and GLCM properties.

Both read grey levels only (colour images are converted with Pillow's luminance, as
:func:`vae_core.data.images.to_channels` does), as in their usual use:

* **LBP** (Ojala, Pietikäinen & Mäenpää 2002): rotation-invariant *uniform* local binary
  patterns at three radii, (8 points, radius 1), (16, 2) and (24, 3); a histogram of each,
  normalised, concatenated: 10 + 18 + 26 = 54 numbers.
* **GLCM** (Haralick 1973): grey-level co-occurrence matrices at distances 1, 2 and 4 and four
  directions, 32 grey levels; six properties (contrast, dissimilarity, homogeneity, energy,
  correlation, ASM), each as its mean over the four directions and its range across them:
  6 x 3 x 2 = 36 numbers.

An image's descriptor is computed on the whole image; a patch's on the patch alone (its LBP
codes are read from the whole image's code map, so a patch's border pixels see their real
neighbours). scikit-image does the work; nothing here imports torch.
"""

from __future__ import annotations

import numpy as np

LBP_SCALES = ((8, 1), (16, 2), (24, 3))  # (points, radius) of each LBP histogram
LBP_BINS = sum(p + 2 for p, _ in LBP_SCALES)  # "uniform" LBP with P points has P + 2 codes
GLCM_DISTANCES = (1, 2, 4)
GLCM_ANGLES = (0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4)
GLCM_PROPS = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation", "ASM")
GLCM_LEVELS = 32  # grey levels (256 would make sparse 256 x 256 matrices on a 32 px patch)
GLCM_SIZE = len(GLCM_PROPS) * len(GLCM_DISTANCES) * 2


def grey(pixels: np.ndarray) -> np.ndarray:
    """``(H, W, C) uint8`` -> ``(H, W) uint8`` luminance (grey images are returned as they are)."""
    from vae_core.data.images import to_channels

    return to_channels(pixels, 1)[:, :, 0]


def lbp_maps(grey_pixels: np.ndarray) -> list[np.ndarray]:
    """Uniform LBP code maps of ``(H, W) uint8`` at each of :data:`LBP_SCALES`: a list of ``(H, W) uint8``."""
    from skimage.feature import local_binary_pattern

    return [
        local_binary_pattern(grey_pixels, points, radius, method="uniform").astype(np.uint8)
        for points, radius in LBP_SCALES
    ]


def lbp_histogram(maps: list[np.ndarray], window: tuple[int, int, int] | None = None) -> np.ndarray:
    """The normalised histograms of ``maps`` over the image or ``window`` = (y, x, side), concatenated: ``(54,)``."""
    parts = []
    for (points, _), codes in zip(LBP_SCALES, maps, strict=True):
        if window is not None:
            y, x, side = window
            codes = codes[y : y + side, x : x + side]
        counts = np.bincount(codes.ravel(), minlength=points + 2).astype(np.float32)
        parts.append(counts / max(1.0, counts.sum()))
    return np.concatenate(parts)


def lbp_features(grey_pixels: np.ndarray, windows: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """LBP of an image and of its patches: ``(54,)`` and ``(len(windows), 54)`` float32."""
    maps = lbp_maps(grey_pixels)
    patches = np.stack([lbp_histogram(maps, w) for w in windows]) if windows else np.zeros((0, LBP_BINS), np.float32)
    return lbp_histogram(maps), patches


def glcm_features(grey_pixels: np.ndarray) -> np.ndarray:
    """GLCM properties of ``(H, W) uint8``: ``(36,)`` float32 (means over directions, then ranges across them)."""
    from skimage.feature import graycomatrix, graycoprops

    levels = (grey_pixels.astype(np.uint16) * GLCM_LEVELS // 256).astype(np.uint8)
    matrix = graycomatrix(levels, GLCM_DISTANCES, GLCM_ANGLES, levels=GLCM_LEVELS, symmetric=True, normed=True)
    props = np.stack([graycoprops(matrix, p) for p in GLCM_PROPS])  # (props, distances, angles)
    # A flat patch has no correlation (0/0); call it perfectly correlated, as a flat image is.
    props = np.nan_to_num(props, nan=1.0)
    out = np.concatenate([props.mean(axis=2).ravel(), np.ptp(props, axis=2).ravel()])
    return out.astype(np.float32)


def glcm_patch_features(grey_pixels: np.ndarray, windows: list[tuple[int, int, int]]) -> np.ndarray:
    """GLCM of each window (y, x, side) of ``(H, W) uint8``: ``(len(windows), 36)`` float32."""
    if not windows:
        return np.zeros((0, GLCM_SIZE), np.float32)
    return np.stack([glcm_features(grey_pixels[y : y + s, x : x + s]) for y, x, s in windows])
