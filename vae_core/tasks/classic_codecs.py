"""The classic codecs the VAE is measured against, through Pillow: JPEG and WebP on the whole image, and JPEG per patch.

Each returns a :class:`Coded`: the decoded pixels and the bytes it counted.

* **JPEG** and **WebP** compress the whole image as one file; their bytes are the whole
  file, headers included (a VAE file counts its header too). JPEG gets optimised Huffman
  tables (``optimize=True``) and WebP its slowest, best method (``method=6``), so each is
  at its best.
* **JPEG per patch** compresses each patch of the VAE's grid on its own, with the standard
  tables for its quality (``optimize=False``), and counts only each file's entropy-coded
  scan: the tables and headers are shared, like the VAE's decoder weights. A full JPEG
  file per 32-pixel patch would spend several bits per pixel on headers alone
  (:attr:`Coded.header_bytes`), which is why "the VAE beats per-patch JPEG files" would not
  be a fair claim, and why the whole-image codecs come first.

:func:`at_budget` finds the best quality whose size fits a byte budget (equal-size comparisons).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vae_core.data.patches import grid_positions

QUALITY_RANGE = {"JPEG": (1, 95), "WebP": (0, 100), "JPEG per patch": (1, 95)}  # Pillow's useful qualities


@dataclass
class Coded:
    """One classic codec's result on one image."""

    method: str  # "JPEG", "WebP" or "JPEG per patch"
    quality: int  # the codec's quality setting
    n_bytes: int  # bytes counted: the whole file, or (per patch) the entropy-coded scans only
    output: np.ndarray  # (H, W, C) uint8 decoded image
    header_bytes: int = 0  # per patch: the headers and tables left out of n_bytes (all patches together)

    @property
    def setting(self) -> str:
        return f"quality {self.quality}"


def _pil(pixels: np.ndarray, mode_for_webp: bool = False):
    from PIL import Image

    grey = pixels.shape[2] == 1
    img = Image.fromarray(pixels[:, :, 0] if grey else pixels)
    return img.convert("RGB") if grey and mode_for_webp else img  # WebP has no grey mode


def _decode(data: bytes, channels: int) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        out = np.asarray(img.convert("L" if channels == 1 else "RGB"))
    return out[:, :, None] if channels == 1 else out


def jpeg(pixels: np.ndarray, quality: int) -> Coded:
    """Whole-image JPEG (optimised Huffman tables) of ``pixels`` (H, W, C) uint8."""
    buf = io.BytesIO()
    _pil(pixels).save(buf, format="JPEG", quality=int(quality), optimize=True)
    data = buf.getvalue()
    return Coded("JPEG", int(quality), len(data), _decode(data, pixels.shape[2]))


def webp(pixels: np.ndarray, quality: int) -> Coded:
    """Whole-image lossy WebP (method 6) of ``pixels`` (H, W, C) uint8."""
    buf = io.BytesIO()
    _pil(pixels, mode_for_webp=True).save(buf, format="WEBP", quality=int(quality), method=6)
    data = buf.getvalue()
    return Coded("WebP", int(quality), len(data), _decode(data, pixels.shape[2]))


def scan_bytes(data: bytes) -> int:
    """Bytes of a baseline JPEG file's entropy-coded scan: after the SOS segment, before EOI."""
    pos = 2  # after SOI
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError("not a baseline JPEG: lost the marker chain")
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker == 0xDA:  # start of scan: the entropy-coded data follows its header
            end = len(data) - 2 if data[-2:] == b"\xff\xd9" else len(data)
            return end - (pos + 2 + length)
        pos += 2 + length
    raise ValueError("not a baseline JPEG: no scan found")


def jpeg_per_patch(pixels: np.ndarray, quality: int, patch_size: int) -> Coded:
    """Every patch of the VAE's non-overlapping grid as its own JPEG; counts the entropy-coded scans only."""
    height, width, channels = pixels.shape
    out = np.empty_like(pixels)
    scans = headers = 0
    for y in grid_positions(height, patch_size, patch_size):
        for x in grid_positions(width, patch_size, patch_size):
            buf = io.BytesIO()
            _pil(np.ascontiguousarray(pixels[y : y + patch_size, x : x + patch_size])).save(
                buf, format="JPEG", quality=int(quality), optimize=False
            )
            data = buf.getvalue()
            scan = scan_bytes(data)
            scans, headers = scans + scan, headers + len(data) - scan
            out[y : y + patch_size, x : x + patch_size] = _decode(data, channels)
    return Coded("JPEG per patch", int(quality), scans, out, header_bytes=headers)


def coder(method: str, patch_size: int) -> Callable[[np.ndarray, int], Coded]:
    """The function that codes an image with ``method`` at a quality."""
    if method == "JPEG":
        return jpeg
    if method == "WebP":
        return webp
    if method == "JPEG per patch":
        return lambda pixels, quality: jpeg_per_patch(pixels, quality, patch_size)
    raise ValueError(f"method {method!r} is not a classic codec here; choose one of {list(QUALITY_RANGE)}")


def at_budget(method: str, pixels: np.ndarray, max_bytes: int, patch_size: int = 32) -> tuple[Coded, bool]:
    """The highest quality of ``method`` whose size is at most ``max_bytes``: -> (result, fits).

    Binary search on the quality (sizes grow with it, near enough). When even the lowest
    quality is bigger than the budget, that smallest result comes back with ``fits=False``.
    """
    code = coder(method, patch_size)
    lo, hi = QUALITY_RANGE[method]
    best = code(pixels, lo)
    if best.n_bytes > max_bytes:
        return best, False
    lo += 1
    while lo <= hi:
        mid = (lo + hi) // 2
        trial = code(pixels, mid)
        if trial.n_bytes <= max_bytes:
            best, lo = trial, mid + 1
        else:
            hi = mid - 1
    return best, True
