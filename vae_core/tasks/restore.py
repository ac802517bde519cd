"""Restore a damaged image with the VAE and with every classic method that suits the damage, measured the same way.

:func:`restore` is the task: given the clean original and its damaged copy
(:mod:`vae_core.tasks.damage`), it runs the VAE (:mod:`vae_core.tasks.vae_restore`) and the
classic baselines (:mod:`vae_core.tasks.classic_restore`) on the same pixels, scores each
against the original, and returns one :class:`~vae_core.tasks.results.TaskResult`:

- noise, salt-and-pepper, JPEG: PSNR and SSIM of the whole image;
- a hole: PSNR over the hole's pixels, SSIM over the hole's bounding box (the rest of the
  image is identical for every method, by construction), the texture-statistics distance
  between the fill and the known texture, and the seam ratio at the hole's border
  (:mod:`vae_core.tasks.texture_stats`, the measures Generate uses for its seams and textures,
  applied to a region). The original's own scores on the same region are
  kept in ``extra["original_scores"]``: what a perfect fill would score.

Which VAE method for which damage: noise and JPEG are redrawn through the model (overlapping
patches, blended), optionally followed by a few MAP steps on the codes against the noisy
pixels (``RestoreConfig.denoise_steps``); salt-and-pepper pixels (found by value, as the
switching median finds them) and holes are filled by fitting the codes to the known pixels.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from vae_core.data.images import to_channels
from vae_core.imaging import psnr_from_mse
from vae_core.tasks.classic_restore import baselines, noise_sigma
from vae_core.tasks.damage import KIND_NAMES, Damaged, impulse_mask
from vae_core.tasks.results import MethodResult, Metric, TaskResult
from vae_core.tasks.texture_stats import hole_seam_ratio, region_texture_distance
from vae_core.tasks.vae_restore import FitConfig, fit_codes, redraw

MAX_PIXELS = 1024 * 1024  # restore() refuses bigger images: the app shrinks uploads to fit its own, smaller limit
SEAM_TARGET = 1.0  # the ideal seam ratio: the hole's border is like any other place of the texture
VAE_SHARE = 0.85  # share of the progress bar given to the VAE (the classic methods take seconds)

PSNR = Metric("PSNR", True, 2, " dB", "how close to the original, pixel by pixel (higher is better; 30 dB looks close)")
SSIM = Metric("SSIM", True, 3, "", "how well local structure and contrast match the original (1 = identical)")
HOLE_PSNR = Metric("PSNR in the hole", True, 2, " dB", "PSNR over the hole's pixels only (higher is better)")
HOLE_SSIM = Metric("SSIM around the hole", True, 3, "", "SSIM over the hole's bounding box (1 = identical)")
TEXTURE = Metric(
    "texture distance",
    False,
    3,
    "",
    "how different the fill's small-scale patterns are from the rest of the texture (lower is better)",
)
SEAM = Metric(
    "seam ratio",
    False,
    2,
    "",
    "edge strength along the hole's border over that of the texture (1 = no visible seam)",
    best_at=SEAM_TARGET,
)


# Why the VAE loses, per damage, in words for a non-programmer (shown only when it does lose).
WHY_THE_VAE_LOSES = {
    "noise": (
        "Why: the model redraws every patch from what it learnt in a few minutes of training. That drops "
        "the noise, but also fine detail it never learnt to draw, so its picture is softer than the "
        "original. Filters made for noise (non-local means above all) keep more of that detail."
    ),
    "salt_pepper": (
        "Why: the switching median replaces only the black and white dots, each from its clean "
        "neighbours, which is nearly exact on most textures. The model has to redraw those pixels "
        "from its own patches, which are softer than the original."
    ),
    "jpeg": (
        "Why: the model smooths away JPEG's blocks, but it cannot bring back the detail JPEG threw "
        "away, and its own redrawing blurs a little more."
    ),
    "hole": (
        "Why: nothing inside a hole is known, so every method guesses. The model's guess continues the "
        "texture around the hole but is blurrier than the real thing; biharmonic inpainting draws the "
        "smoothest surface that meets the border, which scores well on PSNR because it guesses the "
        "local average colour, while the texture distance shows how flat it is."
    ),
}


def why_the_vae_loses(result: TaskResult, metrics: list[str] | None = None) -> str | None:
    """A plain-words reason when the VAE is behind the best classic method on any of ``metrics``, else None.

    ``metrics``: names of ``result.metrics`` (default: the headline). ``result`` is from :func:`restore`.
    """
    margins = [result.vae_margin(name) for name in metrics or [None]]
    if not any(m is not None and round(m, 3) < 0 for m in margins):
        return None
    return WHY_THE_VAE_LOSES.get(str(result.extra.get("kind")))


@dataclass(frozen=True)
class RestoreConfig:
    """How the VAE restores (one comment per field); the classic methods have fixed settings."""

    fit: FitConfig = field(default_factory=FitConfig)  # code fitting for holes and salt-and-pepper
    redraw_divisor: int = 4  # noise/JPEG: patches overlap by 1 - 1/this (4: 75%, each pixel in 16 patches)
    impulse_steps: int = 10  # salt-and-pepper: fit steps (40 gained <= 0.5 dB over 10 at 3.5x the time, README)
    denoise_steps: int = 0  # noise: MAP steps on the codes after the redraw (0: the redraw alone)
    model_sigma: float = 0.05  # the model's own pixel error (beta = 2 sigma^2), added to the noise in MAP steps


def _score_whole(reference: np.ndarray, output: np.ndarray) -> dict[str, float]:
    from skimage.metrics import structural_similarity

    diff = (reference.astype(np.float64) - output) / 255.0
    ssim = structural_similarity(reference, output, data_range=255, channel_axis=2)
    return {PSNR.name: float(psnr_from_mse(np.mean(diff**2))), SSIM.name: float(ssim)}


def hole_box(mask: np.ndarray, margin: int = 3, min_side: int = 7) -> tuple[slice, slice]:
    """The bounding box of ``mask`` (H, W), grown by ``margin`` and to at least ``min_side`` (SSIM's window)."""
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    out = []
    for lo, hi, n in ((ys.min(), ys.max() + 1, h), (xs.min(), xs.max() + 1, w)):
        lo, hi = max(0, lo - margin), min(n, hi + margin)
        grow = max(0, min(min_side, n) - (hi - lo))
        lo = max(0, lo - grow // 2 - grow % 2)
        hi = min(n, lo + max(hi - lo, min(min_side, n)))
        out.append(slice(lo, hi))
    return out[0], out[1]


def score_hole(reference: np.ndarray, output: np.ndarray, mask: np.ndarray, seed: int = 0) -> dict[str, float]:
    """The four hole measures of ``output`` against ``reference`` (both (H, W, C) uint8) for ``mask`` (H, W)."""
    from skimage.metrics import structural_similarity

    diff = (reference.astype(np.float64) - output)[mask] / 255.0
    box = hole_box(mask)
    ssim = structural_similarity(reference[box], output[box], data_range=255, channel_axis=2)
    return {
        HOLE_PSNR.name: float(psnr_from_mse(np.mean(diff**2))),
        HOLE_SSIM.name: float(ssim),
        TEXTURE.name: region_texture_distance(output, mask, seed=seed),
        SEAM.name: hole_seam_ratio(output, mask),
    }


def _vae_method(
    model, damaged: Damaged, config: RestoreConfig, progress: Callable[[int, int], None], should_stop
) -> tuple[np.ndarray, str]:
    """The VAE's restoration of ``damaged`` and a note on how it was made."""
    pixels, kind = damaged.pixels, damaged.config.kind
    if kind == "hole":
        out = fit_codes(model, pixels, ~damaged.mask, config.fit, on_progress=progress, should_stop=should_stop)
        return out, f"codes of the patches around the hole fitted to the known pixels ({config.fit.steps} steps)"
    if kind == "salt_pepper":
        bad = impulse_mask(pixels)
        if not bad.any():
            return redraw(model, pixels, config.redraw_divisor), "no impulse pixels found: the image redrawn"
        fit = replace(config.fit, steps=config.impulse_steps)
        out = fit_codes(model, pixels, ~bad, fit, on_progress=progress, should_stop=should_stop)
        return out, f"black/white pixels treated as missing, codes fitted to the rest ({fit.steps} steps)"
    out = redraw(model, pixels, config.redraw_divisor, on_progress=progress)
    note = f"every patch encoded and decoded, {1 - 1 / config.redraw_divisor:.0%} overlap, blended"
    if kind == "noise" and config.denoise_steps > 0:
        sigma = float(np.hypot(noise_sigma(pixels), config.model_sigma))
        fit = replace(config.fit, steps=config.denoise_steps, sigma=sigma, prior="standard", init="encode")
        everywhere = np.ones(pixels.shape[:2], bool)
        out = fit_codes(model, pixels, everywhere, fit, active=everywhere, keep_known=False, should_stop=should_stop)
        note += f", then {config.denoise_steps} MAP steps on the codes"
    return out, note


def restore(
    model,
    clean: np.ndarray,
    damaged: Damaged,
    config: RestoreConfig = RestoreConfig(),
    *,
    on_progress: Callable[[float, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TaskResult:
    """Restore ``damaged`` with the VAE and the classic methods for its kind; score each against ``clean``.

    Args:
        model: a ``ConvVAE``.
        clean: ``(H, W, C) uint8`` original; ``damaged.pixels`` must have its height and width.
        damaged: from :func:`vae_core.tasks.damage.damage`.
        on_progress: called as ``on_progress(fraction in [0, 1], words)``.
        should_stop: polled during the VAE's optimisation; True ends it early (the result says so).

    Returns:
        A ``TaskResult`` in the model's channel count: the VAE first, then each classic method.
    """
    clean = np.asarray(clean)
    clean = clean[:, :, None] if clean.ndim == 2 else clean
    if clean.shape[:2] != damaged.pixels.shape[:2]:
        raise ValueError(f"the damaged image is {damaged.pixels.shape[:2]}, the original {clean.shape[:2]}")
    if clean.shape[0] * clean.shape[1] > MAX_PIXELS:
        raise ValueError(
            f"the image has {clean.shape[0] * clean.shape[1]:,} pixels; restore at most {MAX_PIXELS:,} "
            "(shrink it with vae_core.imaging.downscale)"
        )
    channels = int(model.config.channels)
    reference = to_channels(clean, channels)
    damaged = replace(damaged, pixels=to_channels(damaged.pixels, channels))
    kind, mask = damaged.config.kind, damaged.mask
    report = on_progress or (lambda fraction, words: None)

    def vae_progress(done: int, total: int) -> None:
        report(VAE_SHARE * done / max(1, total), f"The VAE is restoring: {done:,} of {total:,}")

    def score(output: np.ndarray) -> dict[str, float]:
        return score_hole(reference, output, mask) if kind == "hole" else _score_whole(reference, output)

    report(0.0, "The VAE is restoring")
    t = time.perf_counter()
    out, note = _vae_method(model, damaged, config, vae_progress, should_stop)
    stopped = should_stop is not None and should_stop()
    note += " (stopped early)" if stopped else ""
    methods = [MethodResult("VAE", True, score(out), out, time.perf_counter() - t, note)]
    classic = baselines(kind)
    for i, (name, fn, why) in enumerate(classic):
        report(VAE_SHARE + (1 - VAE_SHARE) * i / len(classic), f"Classic method: {name}")
        t = time.perf_counter()
        out = fn(damaged.pixels, mask)
        methods.append(MethodResult(name, False, score(out), out, time.perf_counter() - t, why))
    report(1.0, "Done")
    metrics = [HOLE_PSNR, HOLE_SSIM, TEXTURE, SEAM] if kind == "hole" else [PSNR, SSIM]
    extra: dict[str, object] = {
        "damage": damaged.config.describe(),
        "kind": kind,
        "kind_name": KIND_NAMES[kind],
        "mask": mask,
        "damaged_scores": score(damaged.pixels) if kind != "hole" else None,
        "original_scores": score(reference) if kind == "hole" else None,
        "stopped": stopped,
    }
    return TaskResult(
        task=f"repair of {KIND_NAMES[kind]}",
        metrics=metrics,
        methods=methods,
        reference=reference,
        damaged=damaged.pixels,
        extra=extra,
    )
