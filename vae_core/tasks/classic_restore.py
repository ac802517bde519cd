"""The classic restorers the VAE is measured against, from scikit-image and scipy, on the same damaged image.

One function per method, each ``(H, W, C) uint8 -> (H, W, C) uint8`` (C = 1 or 3), and
:func:`baselines` lists the ones that suit each kind of damage:

- Gaussian noise: non-local means, total variation (Chambolle), wavelet (BayesShrink),
  bilateral, and a 3x3 median. They are *blind*: the noise level is estimated from the
  damaged image (``skimage.restoration.estimate_sigma``), as the VAE is not told it either.
- salt-and-pepper: a 3x3 median, and a switching (adaptive) median that replaces only the
  pixels that look like impulses, by the median of their clean neighbours in the smallest
  window (3x3 up to 9x9) that has any.
- JPEG artefacts: no post-filter (the decoded JPEG itself) and total variation.
- holes: biharmonic inpainting (``skimage.restoration.inpaint_biharmonic``), and the mean of
  the known pixels as the floor any method should beat.

Why not OpenCV's Telea inpainting: it is another smooth, diffusion-like fill (a fast marching
weighted average of the border), the same kind of answer biharmonic gives, and it would add a
~60 MB binary dependency for one call. BM3D has a non-commercial licence: ``bench --restore``
uses it if it happens to be installed; the app never does.

Parameters are the libraries' documented defaults or set from the estimated noise level, once,
for all images; they were not tuned on the built-in samples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vae_core.tasks.damage import impulse_mask

Restorer = Callable[[np.ndarray, np.ndarray | None], np.ndarray]  # (damaged, mask or None) -> restored


def _float(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float64) / 255.0


def _uint8(image: np.ndarray, like: np.ndarray) -> np.ndarray:
    out = np.clip(np.asarray(image, np.float64) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return out.reshape(like.shape)


def _axis(pixels: np.ndarray) -> int | None:
    return -1 if pixels.shape[2] == 3 else None


def _grey_or_colour(pixels: np.ndarray) -> np.ndarray:
    """skimage wants (H, W) for grey and (H, W, 3) with channel_axis=-1 for colour."""
    return _float(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)


def noise_sigma(pixels: np.ndarray) -> float:
    """The noise level of ``(H, W, C) uint8`` on the [0, 1] scale, estimated (wavelet MAD, averaged over channels)."""
    from skimage.restoration import estimate_sigma

    return float(estimate_sigma(_grey_or_colour(pixels), channel_axis=_axis(pixels), average_sigmas=True))


def non_local_means(pixels: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Non-local means (fast mode, 5x5 patches, 13x13 search, h = 0.8 sigma as scikit-image's guide advises)."""
    from skimage.restoration import denoise_nl_means

    sigma = noise_sigma(pixels)
    out = denoise_nl_means(
        _grey_or_colour(pixels),
        h=0.8 * sigma,
        sigma=sigma,
        fast_mode=True,
        patch_size=5,
        patch_distance=6,
        channel_axis=_axis(pixels),
    )
    return _uint8(out, pixels)


def total_variation(pixels: np.ndarray, mask: np.ndarray | None = None, weight: float | None = None) -> np.ndarray:
    """Chambolle's total-variation denoising; ``weight`` defaults to the estimated noise level (at least 0.02)."""
    from skimage.restoration import denoise_tv_chambolle

    weight = max(0.02, noise_sigma(pixels)) if weight is None else weight
    return _uint8(denoise_tv_chambolle(_grey_or_colour(pixels), weight=weight, channel_axis=_axis(pixels)), pixels)


def wavelet(pixels: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Wavelet shrinkage (BayesShrink, soft thresholds, in YCbCr for colour); estimates the noise itself."""
    from skimage.restoration import denoise_wavelet

    colour = pixels.shape[2] == 3
    out = denoise_wavelet(
        _grey_or_colour(pixels),
        method="BayesShrink",
        mode="soft",
        rescale_sigma=True,
        convert2ycbcr=colour,
        channel_axis=_axis(pixels),
    )
    return _uint8(out, pixels)


def bilateral(pixels: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Bilateral filter: spatial sigma 1.5 px, range sigma twice the estimated noise level."""
    from skimage.restoration import denoise_bilateral

    sigma = max(0.01, noise_sigma(pixels))
    out = denoise_bilateral(
        _grey_or_colour(pixels), sigma_color=2 * sigma, sigma_spatial=1.5, channel_axis=_axis(pixels)
    )
    return _uint8(out, pixels)


def median(pixels: np.ndarray, mask: np.ndarray | None = None, size: int = 3) -> np.ndarray:
    """A ``size`` x ``size`` median, each channel on its own (edges mirrored)."""
    from scipy import ndimage

    return ndimage.median_filter(pixels, size=(size, size, 1), mode="mirror")


def switching_median(pixels: np.ndarray, mask: np.ndarray | None = None, max_size: int = 9) -> np.ndarray:
    """Replace only impulse pixels (every channel 0 or 255) by the median of their clean neighbours.

    The window grows 3x3, 5x5, ... up to ``max_size`` until it holds a clean pixel; an impulse
    with none even then takes the plain median of the largest window. Other pixels are kept.
    """
    bad = impulse_mask(pixels) if mask is None else np.asarray(mask, bool)
    out = pixels.copy()
    todo = np.argwhere(bad)
    r_max = max_size // 2
    raw = np.pad(pixels.astype(np.float32), ((r_max, r_max), (r_max, r_max), (0, 0)), mode="reflect")
    clean = np.pad(~bad, r_max, mode="reflect")
    padded = np.where(clean[:, :, None], raw, np.nan)
    for r in range(1, r_max + 1):
        if len(todo) == 0:
            break
        offs = np.arange(-r, r + 1)
        rows = todo[:, 0, None, None] + r_max + offs[None, :, None]
        cols = todo[:, 1, None, None] + r_max + offs[None, None, :]
        windows = padded[rows, cols].reshape(len(todo), -1, pixels.shape[2])  # (n, k*k, C), NaN = impulse
        found = ~np.all(np.isnan(windows[:, :, 0]), axis=1)
        if r == r_max:  # no clean neighbour even here: the plain median of the window
            windows[~found] = raw[rows, cols].reshape(windows.shape)[~found]
            found[:] = True
        if found.any():
            with np.errstate(all="ignore"):
                values = np.nanmedian(windows[found], axis=1)
            values = np.nan_to_num(values, nan=float(np.mean(pixels)))
            out[todo[found, 0], todo[found, 1]] = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        todo = todo[~found]
    return out


def no_filter(pixels: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The damaged image as it is (for JPEG: what a viewer shows)."""
    return pixels.copy()


def jpeg_total_variation(pixels: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Total variation with a light, fixed weight (0.05): smooths blocking without erasing texture."""
    return total_variation(pixels, weight=0.05)


def biharmonic(pixels: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """scikit-image's biharmonic inpainting of the ``mask`` (H, W) pixels; known pixels are kept exactly."""
    from skimage.restoration import inpaint_biharmonic

    if mask is None:
        raise ValueError("biharmonic inpainting needs the hole's mask; pass mask=(H, W) bool")
    out = _uint8(inpaint_biharmonic(_grey_or_colour(pixels), mask, channel_axis=_axis(pixels)), pixels)
    out[~mask] = pixels[~mask]
    return out


def mean_fill(pixels: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Every missing pixel at the mean colour of the known ones: the floor any inpainting should beat."""
    if mask is None:
        raise ValueError("the mean fill needs the hole's mask; pass mask=(H, W) bool")
    out = pixels.copy()
    out[mask] = np.rint(pixels[~mask].reshape(-1, pixels.shape[2]).mean(axis=0)).astype(np.uint8)
    return out


# The classic methods for each kind of damage, in the order the tables show them.
BASELINES: dict[str, list[tuple[str, Restorer, str]]] = {
    "noise": [
        ("Non-local means", non_local_means, "averages similar patches found nearby; noise level estimated"),
        ("Total variation", total_variation, "flattens small wiggles, keeps edges; weight = estimated noise"),
        ("Wavelet", wavelet, "shrinks small wavelet coefficients (BayesShrink)"),
        ("Bilateral", bilateral, "averages nearby pixels of similar colour"),
        ("Median 3x3", median, "the middle value of each 3x3 neighbourhood"),
    ],
    "salt_pepper": [
        ("Median 3x3", median, "the middle value of each 3x3 neighbourhood, everywhere"),
        ("Switching median", switching_median, "only black/white impulse pixels, from clean neighbours"),
    ],
    "jpeg": [
        ("No post-filter", no_filter, "the decoded JPEG as a viewer shows it"),
        ("Total variation", jpeg_total_variation, "light smoothing of the blocks (weight 0.05)"),
    ],
    "hole": [
        ("Biharmonic", biharmonic, "the smoothest surface that meets the border (scikit-image)"),
        ("Mean colour", mean_fill, "the average colour of the known pixels: the floor"),
    ],
}


def baselines(kind: str) -> list[tuple[str, Restorer, str]]:
    """(name, function, note) of each classic method for damage ``kind`` ("noise", "salt_pepper", "jpeg", "hole")."""
    if kind not in BASELINES:
        raise ValueError(f"kind={kind!r} has no classic baselines; choose one of {list(BASELINES)}")
    return BASELINES[kind]
