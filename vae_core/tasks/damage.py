"""Damage a clean image on purpose, reproducibly: Gaussian noise, salt-and-pepper, JPEG artefacts, a hole.

Restoration is judged on pictures whose clean original is known, so the damage is ours: every
kind is seeded (``np.random.default_rng(seed)``) and described by one :class:`DamageConfig`.
Kept apart from the restorers (:mod:`vae_core.tasks.restore`) so that the VAE and every classic
method start from the very same damaged pixels, and a notebook can damage an image without
loading a model. Only numpy and Pillow.

Conventions: images are ``(H, W, C) uint8`` with C = 1 or 3; masks are ``(H, W) bool`` with
True where a pixel is *missing* (a hole) or *corrupted* (an impulse).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

KINDS = ("noise", "salt_pepper", "jpeg", "hole")
KIND_NAMES = {"noise": "Gaussian noise", "salt_pepper": "salt-and-pepper", "jpeg": "JPEG artefacts", "hole": "a hole"}
HOLE_FILL = 128  # what a missing pixel shows in the damaged picture (mid grey); no method reads it


@dataclass(frozen=True)
class DamageConfig:
    """What damage to do (one comment per field); only the fields of ``kind`` are used."""

    kind: str = "noise"  # one of KINDS: "noise", "salt_pepper", "jpeg", "hole"
    sigma: float = 0.1  # noise: standard deviation, as a fraction of the full 0-255 range
    amount: float = 0.1  # salt_pepper: fraction of pixels set to black or white
    quality: int = 10  # jpeg: Pillow's JPEG quality, 1 (worst) to 95
    hole: tuple[int, int, int, int] | None = None  # hole: (top, left, height, width) in pixels; None: centred
    hole_fraction: float = 0.25  # hole: share of the image's area when ``hole`` is None
    seed: int = 0  # seeds np.random.default_rng; same seed -> same damage

    def validate(self) -> DamageConfig:
        """Raise ``ValueError`` naming the bad field and the fix; return self."""
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r} is not a kind of damage; choose one of {KINDS}")
        if not 0 < self.sigma <= 1:
            raise ValueError(f"sigma={self.sigma} is out of range; choose a noise level in (0, 1], e.g. 0.1")
        if not 0 < self.amount < 1:
            raise ValueError(f"amount={self.amount} is out of range; choose a fraction in (0, 1), e.g. 0.1")
        if not 1 <= self.quality <= 95:
            raise ValueError(f"quality={self.quality} is out of range; choose 1..95")
        if not 0 < self.hole_fraction < 1:
            raise ValueError(f"hole_fraction={self.hole_fraction} is out of range; choose a share in (0, 1)")
        return self

    def describe(self) -> str:
        """The damage in plain words, e.g. "Gaussian noise, sigma 0.10"."""
        if self.kind == "noise":
            return f"Gaussian noise, σ = {self.sigma:.2f}"
        if self.kind == "salt_pepper":
            return f"salt-and-pepper on {self.amount:.0%} of the pixels"
        if self.kind == "jpeg":
            return f"JPEG artefacts at quality {self.quality}"
        return "a hole" if self.hole is not None else f"a hole of {self.hole_fraction:.0%} of the image"


@dataclass
class Damaged:
    """A damaged image and what is known about the damage."""

    pixels: np.ndarray  # (H, W, C) uint8: what every method starts from
    config: DamageConfig  # how it was made
    mask: np.ndarray | None = field(default=None, repr=False)  # (H, W) bool: True = missing pixel (holes only)


def add_gaussian_noise(pixels: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``(H, W, C) uint8`` plus N(0, sigma^2) on the [0, 1] scale, rounded and clipped: ``(H, W, C) uint8``."""
    noisy = pixels.astype(np.float32) + rng.normal(0.0, sigma * 255.0, pixels.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def add_salt_and_pepper(pixels: np.ndarray, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Set ``amount`` of the pixels (all channels of each) to black or white, half each: ``(H, W, C) uint8``.

    Whole pixels, not single channels, go bad: that is what a dead sensor pixel or a dropped
    bit in a stored image looks like, and it lets a detector find them by value.
    """
    out = pixels.copy()
    hit = rng.random(pixels.shape[:2]) < amount
    salt = rng.random(pixels.shape[:2]) < 0.5
    out[hit & salt] = 255
    out[hit & ~salt] = 0
    return out


def jpeg_round_trip(pixels: np.ndarray, quality: int) -> np.ndarray:
    """Save ``(H, W, C) uint8`` as JPEG at ``quality`` (Pillow, 4:2:0 chroma) and decode it again."""
    from PIL import Image

    grey = pixels.shape[2] == 1
    buf = io.BytesIO()
    Image.fromarray(pixels[:, :, 0] if grey else pixels).save(buf, format="JPEG", quality=int(quality))
    out = np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.uint8)
    return out[:, :, None] if out.ndim == 2 else out


def centred_hole(height: int, width: int, fraction: float) -> tuple[int, int, int, int]:
    """A rectangle of about ``fraction`` of the image's area, same aspect ratio, centred: (top, left, h, w)."""
    scale = float(np.sqrt(fraction))
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    return (height - h) // 2, (width - w) // 2, h, w


def hole_around(height: int, width: int, cy: float, cx: float, h: int, w: int) -> tuple[int, int, int, int]:
    """A ``h`` x ``w`` hole centred near (cy, cx), moved to lie inside the image: (top, left, h, w)."""
    h, w = max(1, min(int(h), height - 1)), max(1, min(int(w), width - 1))
    top = min(max(0, round(cy - h / 2)), height - h)
    left = min(max(0, round(cx - w / 2)), width - w)
    return top, left, h, w


def rect_mask(height: int, width: int, hole: tuple[int, int, int, int]) -> np.ndarray:
    """``(height, width) bool``, True inside ``hole`` = (top, left, h, w), clipped to the image.

    Raises ``ValueError`` when nothing of the hole is inside the image or nothing outside it.
    """
    top, left, h, w = (int(v) for v in hole)
    mask = np.zeros((height, width), bool)
    mask[max(0, top) : max(0, top + h), max(0, left) : max(0, left + w)] = True
    if not mask.any():
        raise ValueError(f"hole={hole} lies outside the {width}x{height} image; place it inside")
    if mask.all():
        raise ValueError(f"hole={hole} covers the whole {width}x{height} image; make it smaller")
    return mask


def punch_hole(pixels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``pixels`` with the pixels under ``mask`` (H, W) set to mid grey: ``(H, W, C) uint8``."""
    if mask.shape != pixels.shape[:2]:
        raise ValueError(f"mask is {mask.shape}, the image {pixels.shape[:2]}; give a mask of the image's size")
    out = pixels.copy()
    out[mask] = HOLE_FILL
    return out


def damage(pixels: np.ndarray, config: DamageConfig, mask: np.ndarray | None = None) -> Damaged:
    """Damage ``pixels`` (H, W, C) uint8 as ``config`` says; a hole comes from ``mask`` (H, W) bool if given."""
    config.validate()
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
        raise ValueError(f"pixels must be (H, W, 1) or (H, W, 3) uint8, got {pixels.shape} {pixels.dtype}")
    rng = np.random.default_rng(config.seed)
    if config.kind == "noise":
        return Damaged(add_gaussian_noise(pixels, config.sigma, rng), config)
    if config.kind == "salt_pepper":
        return Damaged(add_salt_and_pepper(pixels, config.amount, rng), config)
    if config.kind == "jpeg":
        return Damaged(jpeg_round_trip(pixels, config.quality), config)
    height, width = pixels.shape[:2]
    if mask is None:
        hole = config.hole or centred_hole(height, width, config.hole_fraction)
        mask = rect_mask(height, width, hole)
    elif mask.all() or not mask.any():
        raise ValueError("the hole mask must cover some of the image but not all of it")
    return Damaged(punch_hole(pixels, mask), config, mask)


def impulse_mask(pixels: np.ndarray) -> np.ndarray:
    """Pixels that look like salt-and-pepper impulses: every channel 0, or every channel 255: ``(H, W) bool``.

    The detector of the switching median filter (and of the VAE's impulse fill). A photograph's
    own pure black or white pixels are flagged too; replacing them by their neighbours' median
    changes little.
    """
    return np.all(pixels == 0, axis=2) | np.all(pixels == 255, axis=2)
