"""Decode one untrusted image file into ``(H, W, C) uint8`` pixels: :func:`decode_image`.

This is the only place that hands uploaded bytes to Pillow, so it is kept separate
from the zip and folder walkers (:mod:`vae_core.data.loaders`): the file-size and pixel-count
limits are checked here before anything large is allocated, only an allow-list of
Pillow's decoders is used, and every problem becomes an :class:`~vae_core.data.images.ImageRejected`
with a plain sentence instead of a traceback.

Conventions
-----------
* Alpha never survives: it is composited over mid-grey (128), because the
  colour hidden under fully transparent pixels is arbitrary and would teach
  the model garbage.
* 16-bit and float data are scaled (never clipped) to 0..255.

Only numpy and Pillow are used (no torch, no streamlit).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps

from vae_core.config import DEFAULT_LIMITS, ImageLimits
from vae_core.data.budget import PixelBudget, decoded_channels
from vae_core.data.images import (
    LABEL_FROM_NAME,
    ImageRejected,
    TextureImage,
    format_bytes,
    format_pixels,
    label_and_rule,
    to_channels,
)

# Pillow format ids we are willing to parse. Restricting ``Image.open`` to
# these keeps rarely used (and rarely fuzzed) decoders away from uploads.
# (Multi-picture JPEGs from phones open through the JPEG plugin as "MPO".)
_PIL_FORMATS = ("PNG", "JPEG", "BMP", "DIB", "GIF", "TIFF", "WEBP")
_FORMATS_TEXT = "PNG, JPEG, BMP, GIF, TIFF, WebP"


def _composite_over_grey(pixels: np.ndarray) -> np.ndarray:
    """``(H, W, K+1) uint8`` with alpha last -> ``(H, W, K) uint8`` over mid-grey 128.

    Integer maths in uint16 (c*a + 128*(255-a) <= 255*255 fits) one channel at
    a time, so peak memory stays near one extra channel.
    """
    alpha = pixels[:, :, -1].astype(np.uint16)
    inv = (255 - alpha) * 128 + 127  # +127 rounds the division below
    out = np.empty((*pixels.shape[:2], pixels.shape[2] - 1), dtype=np.uint8)
    for c in range(out.shape[2]):
        out[:, :, c] = (pixels[:, :, c].astype(np.uint16) * alpha + inv) // 255
    return out


def _scale_high_bit_depth(arr: np.ndarray, mode: str) -> np.ndarray:
    """Scale 16/32-bit integer or float grey data to ``(H, W) uint8`` (scaled, never clipped).

    * ``I;16*`` (0..65535): divide by 257, so 65535 -> 255 and 32768 -> 128.
    * ``I`` (int32): values in 0..65535 are treated as 16-bit (how most
      scientific TIFFs and older PNG readers store them); larger non-negative
      values use the int32 range 0..2**31-1; negative data uses the full int32
      range. Honest limit: a 12-bit sensor stored as 16-bit comes out dark.
    * ``F`` (float32): 0..1 -> x255, 0..255 as-is, 0..65535 -> /257,
      otherwise min-max stretched; NaN/inf become 0.
    """
    if mode.startswith("I;16"):
        return ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if mode == "I":
        lo, hi = (int(arr.min()), int(arr.max())) if arr.size else (0, 0)
        if lo >= 0 and hi <= 65535:
            return ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
        if lo >= 0:
            top = 2**31 - 1
            return ((arr.astype(np.int64) * 255 + top // 2) // top).astype(np.uint8)
        shifted = arr.astype(np.int64) + 2**31
        top = 2**32 - 1
        return ((shifted * 255 + top // 2) // top).astype(np.uint8)
    # Mode F.
    data = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    if lo >= 0 and hi <= 1:
        data = data * 255
    elif lo >= 0 and hi <= 255:
        pass
    elif lo >= 0 and hi <= 65535:
        data = data / 257
    else:
        data = (data - lo) * (255 / (hi - lo)) if hi > lo else np.zeros_like(data)
    return np.clip(np.rint(data), 0, 255).astype(np.uint8)


def _notes(img: Image.Image, name: str) -> list[str]:
    """What the user should know about how ``img`` was read (it still loads): extra frames, transparency."""
    notes = []
    frames = getattr(img, "n_frames", 1) or 1
    if frames > 1:
        kind = "pages" if img.format == "TIFF" else "frames"
        notes.append(f"'{name}' has {frames} {kind}; only the first is used.")
    if img.has_transparency_data:  # an alpha channel, or one colour marked transparent
        with_alpha = img if img.mode in ("LA", "RGBA", "PA", "La", "RGBa") else img.convert("RGBA")
        if with_alpha.getchannel("A").getextrema()[0] < 255:  # some pixel is not fully opaque
            notes.append(f"'{name}' has transparent parts; they were put on a mid-grey background.")
    return notes


def _pixels_from_pil(img: Image.Image, name: str) -> np.ndarray:
    """Any supported Pillow mode -> ``(H, W, 1|3) uint8``; grey modes stay 1-channel."""
    mode = img.mode
    # Palette, bilevel and RGB images may carry a single transparent colour
    # ("transparency" in info); route them through RGBA so it becomes grey.
    if mode in ("P", "PA") or (mode == "RGB" and "transparency" in img.info):
        img = img.convert("RGBA") if img.has_transparency_data else img.convert("RGB")
        mode = img.mode
    if mode == "1":
        img, mode = img.convert("L"), "L"
    if mode in ("La",):
        img, mode = img.convert("LA"), "LA"
    if mode in ("RGBa",):
        img, mode = img.convert("RGBA"), "RGBA"

    # np.array (not asarray + copy) gives a writable array with one copy fewer.
    if mode == "L":
        return np.array(img, dtype=np.uint8)[:, :, None]
    if mode == "RGB":
        return np.array(img, dtype=np.uint8)
    if mode in ("LA", "RGBA"):
        return _composite_over_grey(np.asarray(img, dtype=np.uint8))
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _scale_high_bit_depth(np.asarray(img), mode)[:, :, None]
    # CMYK, YCbCr, RGBX, HSV, ...: let Pillow do the colour maths.
    try:
        return np.array(img.convert("RGB"), dtype=np.uint8)
    except ValueError as exc:
        raise ImageRejected(
            name,
            f"'{name}' uses the colour mode {mode}, which this app cannot convert; "
            "save it as an RGB or greyscale PNG and upload it again.",
        ) from exc


def decode_image(
    data: bytes,
    name: str,
    *,
    label: str | None = None,
    channels: int | None = None,
    limits: ImageLimits = DEFAULT_LIMITS,
    budget: PixelBudget | None = None,
    label_from: str = LABEL_FROM_NAME,
) -> TextureImage:
    """Decode one uploaded image into ``TextureImage.pixels`` ``(H, W, C) uint8``.

    Accepts PNG, JPEG, BMP, GIF (first frame), TIFF (first page) and WebP
    (first frame). EXIF orientation is applied. Alpha is composited over
    mid-grey, 16-bit and float data are scaled (not clipped) to 0..255.

    Args:
        data: The raw file bytes.
        name: File name, used in messages and for the default label.
        label: Class label; default :func:`~vae_core.data.images.label_from_name` of ``name``.
        channels: ``None`` keeps grey sources grey (C=1) and colour as RGB
            (C=3); ``1`` converts colour to luminance; ``3`` replicates grey.
        limits: Size and pixel-count limits.
        budget: The upload's memory budget: checked from the header before decoding, and
            charged with the decoded size when the image is kept. None: no budget.
        label_from: The rule that made ``label`` (kept on the image; ignored when ``label`` is None).

    The image's ``notes`` say when only the first frame or page was used and when transparent
    parts were put on grey.

    Raises:
        ImageRejected: with a sentence naming the file and the problem.
    """
    if channels not in (None, 1, 3):
        raise ValueError(f"channels={channels} is not supported; choose None, 1 (grey) or 3 (RGB)")
    if len(data) == 0:
        raise ImageRejected(name, f"'{name}' is empty (0 bytes). Save or export it again, then upload it.")
    if len(data) > limits.max_file_bytes:
        raise ImageRejected(
            name,
            f"'{name}' is {format_bytes(len(data))}; the limit is "
            f"{format_bytes(limits.max_file_bytes)} per file. Downscale or compress it first.",
        )
    unreadable = ImageRejected(
        name,
        f"'{name}' is not an image this app can read ({_FORMATS_TEXT}), or it is damaged.",
    )
    # Pillow only *warns* between MAX_IMAGE_PIXELS and twice that; make the
    # warning an error so a bomb never gets decoded. Honest limit:
    # catch_warnings is process-global, so a concurrent thread may briefly see
    # this filter; that only makes it stricter.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            # With an explicit format list Pillow does not load its lazily
            # registered plugins (TIFF, WebP, ...) by itself; init() is cheap
            # after the first call.
            Image.init()
            img = Image.open(io.BytesIO(data), formats=list(_PIL_FORMATS))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(
                name,
                f"'{name}' is too large to open safely (Pillow's decompression-bomb "
                f"guard allows {format_pixels(Image.MAX_IMAGE_PIXELS or 0)}). Downscale it first.",
            ) from exc
        except Exception as exc:  # Pillow raises many types for bad headers
            raise unreadable from exc

        with img:
            # Image.open only parsed the header, so these checks run before
            # any pixel data is decoded or allocated.
            width, height = img.size
            if width * height > limits.max_pixels:
                raise ImageRejected(
                    name,
                    f"'{name}' is {width}x{height} = {format_pixels(width * height)}; the limit "
                    f"is {format_pixels(limits.max_pixels)}. Downscale it first.",
                )
            if min(width, height) < limits.min_side:
                raise ImageRejected(
                    name,
                    f"'{name}' is only {width}x{height} pixels; both sides must be at least "
                    f"{limits.min_side} pixels. Use a larger image.",
                )
            if budget is not None:  # from the header too: a file that does not fit is never decoded
                budget.check(name, width, height, decoded_channels(img.mode, channels))
            try:
                img.seek(0)  # first frame of a GIF/WebP, first page of a TIFF
                img.load()
            except (
                Image.DecompressionBombError,
                Image.DecompressionBombWarning,
            ) as exc:
                raise ImageRejected(name, f"'{name}' is too large to open safely. Downscale it first.") from exc
            except Exception as exc:
                raise unreadable from exc
            oriented: Image.Image = img
            try:
                # Only transpose when needed: exif_transpose copies the image
                # even when there is nothing to do, doubling peak memory.
                if img.getexif().get(0x0112, 1) in range(2, 9):
                    oriented = ImageOps.exif_transpose(img)
            except Exception:
                # A malformed EXIF block should not cost the user the image;
                # the honest cost is that it may show up rotated.
                oriented = img
            notes = _notes(img, name)
            pixels = _pixels_from_pil(oriented, name)

    if channels is not None:
        pixels = to_channels(pixels, channels)
    if budget is not None:
        budget.add(pixels.nbytes)
    if label is None:
        label, label_from = label_and_rule(name)
    return TextureImage(name=name, label=label, pixels=np.ascontiguousarray(pixels), label_from=label_from, notes=notes)
