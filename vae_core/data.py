"""Turn uploaded files, zip archives and folders into labelled uint8 pixel arrays.

This module is the only place that touches untrusted bytes, so it is kept
separate from patching and modelling: every size, pixel-count and zip limit is
checked here, before anything large is allocated, and every problem becomes a
plain-English :class:`Rejection` instead of a traceback.

Only numpy and Pillow are used (no torch, no streamlit), so the loaders work in
a notebook, a CLI job or a unit test alike.

Conventions
-----------
* Pixels are ``(H, W, C) uint8`` with ``C == 1`` (grey) or ``C == 3`` (RGB).
  Alpha never survives: it is composited over mid-grey (128), because the
  colour hidden under fully transparent pixels is arbitrary and would teach
  the model garbage.
* Every rejection message is a full sentence that names the file and the
  limit or the fix, so a page can show it as-is.
"""

from __future__ import annotations

import io
import os
import re
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageOps

# Pillow format ids we are willing to parse. Restricting ``Image.open`` to
# these keeps rarely used (and rarely fuzzed) decoders away from uploads.
# (Multi-picture JPEGs from phones open through the JPEG plugin as "MPO".)
_PIL_FORMATS = ("PNG", "JPEG", "BMP", "DIB", "GIF", "TIFF", "WEBP")
_FORMATS_TEXT = "PNG, JPEG, BMP, GIF, TIFF, WebP"
# Extensions treated as images inside zips and folders (anything else is reported).
IMAGE_EXTENSIONS = frozenset(
    [
        ".png",
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".bmp",
        ".dib",
        ".gif",
        ".tif",
        ".tiff",
        ".webp",
    ]
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # normal archive, empty archive
# Members smaller than this are exempt from the compression-ratio check: a flat
# test image compresses >100x yet cannot hurt anyone, and the total-bytes cap
# (enforced while reading) still bounds the sum of many small members.
_RATIO_EXEMPT_BYTES = 1 << 20
# Files that operating systems drop into folders and archives on their own.
_SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini"})
# Label rule for bare file names: the prefix before the first "_", "-", space,
# "." or run of digits ("brick_01" -> "brick", "grass-2" -> "grass", "sand3" -> "sand").
_LABEL_PREFIX = re.compile(r"^(.*?)(?:[_\-\s.]|\d)")


class ImageRejected(ValueError):
    """An input that cannot be used; ``str(exc)`` is a sentence naming the file and the fix.

    Attributes:
        name: The file name or zip member path that was rejected.
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name

    def __reduce__(self) -> tuple[type[ImageRejected], tuple[str, str]]:
        # Two-argument __init__ needs this to survive pickling (multiprocessing).
        return (ImageRejected, (self.name, str(self)))


@dataclass(frozen=True)
class ImageLimits:
    """Safety limits applied to every upload (see each field for why)."""

    # Far below Pillow's own 179 M-pixel hard stop: an RGBA 40 M-pixel image
    # already needs ~160 MB decoded plus temporaries, and a shared Streamlit
    # server must survive several users uploading at once.
    max_pixels: int = 40_000_000
    # Smaller images cannot provide even a single 32-pixel patch.
    min_side: int = 32
    # Whole-archive caps; an archive over them is refused outright.
    max_zip_members: int = 2000
    max_zip_total_bytes: int = 1_000_000_000  # sum of uncompressed member sizes
    # Per-member uncompressed/compressed ratio: real images are already
    # compressed (ratio ~1), a zip bomb is thousands to one.
    max_zip_ratio: float = 100.0
    # Per file (plain upload, zip member or file on disk), before decoding.
    max_file_bytes: int = 200_000_000


@dataclass
class TextureImage:
    """One decoded image and its class label.

    Attributes:
        name: File name, or the member path inside a zip archive.
        label: Class name used for colouring plots and probes.
        pixels: ``(H, W, C) uint8``, ``C == 1`` (grey) or ``C == 3`` (RGB).
    """

    name: str
    label: str
    pixels: np.ndarray

    @property
    def channels(self) -> int:
        """Number of channels, 1 or 3."""
        return int(self.pixels.shape[2])


@dataclass
class Rejection:
    """A file that was not loaded, with a reason a non-programmer can act on.

    Attributes:
        name: File name or zip member path.
        reason: A full sentence naming the file and what to do about it.
    """

    name: str
    reason: str


@dataclass
class LoadReport:
    """What a loader produced: usable images plus everything it refused."""

    images: list[TextureImage] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def extend(self, other: LoadReport) -> None:
        """Append ``other``'s images and rejections to this report (in place)."""
        self.images.extend(other.images)
        self.rejected.extend(other.rejected)

    @property
    def labels(self) -> list[str]:
        """Sorted distinct labels of the loaded images."""
        return sorted({image.label for image in self.images})


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def _fmt_pixels(n: int) -> str:
    """Pixel count in words: '144.0 M pixels' for big numbers, '1,600 pixels' otherwise."""
    return f"{n / 1e6:.1f} M pixels" if n >= 1_000_000 else f"{n:,} pixels"


def _fmt_bytes(n: int) -> str:
    """Byte count in words: exact below 1 MB ('14,562 bytes'), else '12.3 MB' / '1.0 GB'.

    Exact small counts keep "is X; the limit is Y" readable when X and Y are
    close. Decimal units, as file managers show them.
    """
    if n < 1_000_000:
        return f"{n:,} bytes"
    if n < 1_000_000_000:
        return f"{n / 1e6:.1f} MB"
    return f"{n / 1e9:.1f} GB"


def label_from_name(member_path: str) -> str:
    """Class label for a file path: its parent folder, else its name prefix.

    ``"brick/a.png" -> "brick"``, ``"x/grass/b.jpg" -> "grass"``,
    ``"brick_01.png" -> "brick"``, ``"grass-2.jpg" -> "grass"``,
    ``"sand3.png" -> "sand"``, ``"01.png" -> "01"`` (no prefix: the stem).

    Callers strip any wrapping folder first (see :func:`load_zip`); this
    function only looks at the path it is given. Backslashes count as
    separators so Windows-made paths work too.
    """
    parts = [p for p in member_path.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts:
        return "unlabelled"
    if len(parts) > 1:
        return parts[-2].strip() or "unlabelled"
    stem = PurePosixPath(parts[-1]).stem.strip()
    match = _LABEL_PREFIX.match(stem)
    prefix = match.group(1).strip() if match else stem
    return prefix or stem or "unlabelled"


def to_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """Convert ``(H, W, C) uint8`` pixels (C in 1, 3) to ``channels`` (1 or 3).

    Grey to RGB replicates the channel; RGB to grey uses Pillow's ITU-R 601-2
    luminance (L = 0.299 R + 0.587 G + 0.114 B), computed in C so a 40 M-pixel
    image needs no float temporaries. A 2-D ``(H, W)`` array counts as grey.
    Returns the input itself when it already matches.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels={channels} is not supported; choose 1 (grey) or 3 (RGB)")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3) or pixels.dtype != np.uint8:
        raise ValueError(
            f"pixels must be (H, W, 1) or (H, W, 3) uint8, got shape {pixels.shape} "
            f"dtype {pixels.dtype}; decode images with vae_core.data.decode_image"
        )
    have = pixels.shape[2]
    if have == channels:
        return pixels
    if channels == 3:
        return np.ascontiguousarray(np.repeat(pixels, 3, axis=2))
    grey = Image.fromarray(np.ascontiguousarray(pixels)).convert("L")
    return np.asarray(grey, dtype=np.uint8)[:, :, None].copy()


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
    if mode == "LA":
        return _composite_over_grey(np.asarray(img, dtype=np.uint8))
    if mode == "RGB":
        return np.array(img, dtype=np.uint8)
    if mode == "RGBA":
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


# ---------------------------------------------------------------------------
# Public loaders
# ---------------------------------------------------------------------------


def decode_image(
    data: bytes,
    name: str,
    *,
    label: str | None = None,
    channels: int | None = None,
    limits: ImageLimits = ImageLimits(),
) -> TextureImage:
    """Decode one uploaded image into ``TextureImage.pixels`` ``(H, W, C) uint8``.

    Accepts PNG, JPEG, BMP, GIF (first frame), TIFF (first page) and WebP
    (first frame). EXIF orientation is applied. Alpha is composited over
    mid-grey, 16-bit and float data are scaled (not clipped) to 0..255.

    Args:
        data: The raw file bytes.
        name: File name, used in messages and for the default label.
        label: Class label; default :func:`label_from_name` of ``name``.
        channels: ``None`` keeps grey sources grey (C=1) and colour as RGB
            (C=3); ``1`` converts colour to luminance; ``3`` replicates grey.
        limits: Size and pixel-count limits.

    Raises:
        ImageRejected: with a sentence naming the file and the problem.
    """
    if channels not in (None, 1, 3):
        raise ValueError(f"channels={channels} is not supported; choose None, 1 (grey) or 3 (RGB)")
    if len(data) > limits.max_file_bytes:
        raise ImageRejected(
            name,
            f"'{name}' is {_fmt_bytes(len(data))}; the limit is "
            f"{_fmt_bytes(limits.max_file_bytes)} per file. Downscale or compress it first.",
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
                f"guard allows {_fmt_pixels(Image.MAX_IMAGE_PIXELS or 0)}). Downscale it first.",
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
                    f"'{name}' is {width}x{height} = {_fmt_pixels(width * height)}; the limit "
                    f"is {_fmt_pixels(limits.max_pixels)}. Downscale it first.",
                )
            if min(width, height) < limits.min_side:
                raise ImageRejected(
                    name,
                    f"'{name}' is only {width}x{height} pixels; both sides must be at least "
                    f"{limits.min_side} pixels. Use a larger image.",
                )
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
            pixels = _pixels_from_pil(oriented, name)

    if channels is not None:
        pixels = to_channels(pixels, channels)
    return TextureImage(
        name=name,
        label=label if label is not None else label_from_name(name),
        pixels=np.ascontiguousarray(pixels),
    )


def _is_hidden(path: str) -> bool:
    """True for macOS/Windows clutter: ``__MACOSX/``, dot-files, Thumbs.db, desktop.ini."""
    parts = path.replace("\\", "/").split("/")
    return (
        any(p == "__MACOSX" or (p.startswith(".") and p not in (".", "..")) for p in parts)
        or parts[-1].lower() in _SYSTEM_FILES
    )


def _is_unsafe(path: str) -> bool:
    """True for paths that would escape an extraction folder: absolute, drive letter, ``..``."""
    norm = path.replace("\\", "/")
    return norm.startswith("/") or re.match(r"^[A-Za-z]:", norm) is not None or ".." in norm.split("/")


def _labels_for(paths: list[str]) -> dict[str, str]:
    """Label every relative path, ignoring a single folder that wraps everything.

    ``textures/brick/a.png`` -> ``brick`` (immediate parent). When every file
    sits in one top-level folder *and* that folder has subfolders, it is just a
    wrapper (what "Compress folder" makes), so its direct files use the
    file-name prefix. When every file sits directly in one folder with no
    subfolders, the folder is the label (``brick/a.png`` -> ``brick``) unless
    the file-name prefixes clearly name classes (at least two distinct
    prefixes, one of them shared by two or more files, e.g.
    ``textures/brick_01.png, textures/brick_02.png, textures/grass_01.png``).
    """
    split = {p: [s for s in p.replace("\\", "/").split("/") if s not in ("", ".")] for p in paths}
    tops = {parts[0] for parts in split.values() if len(parts) > 1}
    all_wrapped = bool(paths) and len(tops) == 1 and all(len(s) > 1 for s in split.values())
    strip_top = False
    if all_wrapped:
        if any(len(s) > 2 for s in split.values()):
            strip_top = True
        else:
            prefixes = [label_from_name(s[-1]) for s in split.values()]
            counts = {label: prefixes.count(label) for label in set(prefixes)}
            strip_top = len(counts) >= 2 and max(counts.values()) >= 2
    labels = {}
    for path, parts in split.items():
        rel = parts[1:] if strip_top else parts
        labels[path] = label_from_name("/".join(rel))
    return labels


def load_zip(
    data: bytes,
    name: str = "archive.zip",
    *,
    channels: int | None = None,
    limits: ImageLimits = ImageLimits(),
) -> LoadReport:
    """Load every image inside a zip archive, in memory (nothing is extracted to disk).

    Labels come from :func:`_labels_for` (parent folder, else file-name prefix).
    Directories and OS clutter (``__MACOSX/``, dot-files, Thumbs.db) are
    skipped silently; unsafe paths, non-image members, password-protected,
    over-compressed and damaged members are skipped and reported one by one,
    so one bad member never costs the good ones.

    Raises:
        ImageRejected: when the *archive as a whole* cannot be trusted or read:
            not a zip, damaged directory, more than ``limits.max_zip_members``
            files, or more than ``limits.max_zip_total_bytes`` uncompressed.
            Refusing outright (rather than loading a prefix) keeps the result
            predictable; :func:`load_files` turns it into a rejection.
    """
    if len(data) > limits.max_zip_total_bytes:
        raise ImageRejected(
            name,
            f"'{name}' is {_fmt_bytes(len(data))}; the limit is "
            f"{_fmt_bytes(limits.max_zip_total_bytes)}. Split it into smaller archives.",
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except Exception as exc:  # BadZipFile, OSError, struct errors, ...
        raise ImageRejected(name, f"'{name}' is not a zip archive this app can read, or it is damaged.") from exc

    report = LoadReport()
    with archive:
        files = [i for i in infos if not i.is_dir()]
        if len(files) > limits.max_zip_members:
            raise ImageRejected(
                name,
                f"'{name}' holds {len(files):,} files; the limit is {limits.max_zip_members:,}. "
                "Split it into smaller archives.",
            )
        declared = sum(i.file_size for i in files)
        if declared > limits.max_zip_total_bytes:
            raise ImageRejected(
                name,
                f"'{name}' unpacks to {_fmt_bytes(declared)}; the limit is "
                f"{_fmt_bytes(limits.max_zip_total_bytes)}. Split it into smaller archives.",
            )

        wanted: list[zipfile.ZipInfo] = []
        for info in files:
            member = info.filename
            suffix = PurePosixPath(member.replace("\\", "/")).suffix.lower()
            if _is_unsafe(member):
                report.rejected.append(
                    Rejection(
                        member,
                        f"'{member}' was skipped: unsafe path (it points outside the archive).",
                    )
                )
            elif _is_hidden(member):
                continue  # OS clutter: users never put it there on purpose
            elif suffix not in IMAGE_EXTENSIONS:
                ext = suffix or "no extension"
                report.rejected.append(Rejection(member, f"'{member}' was skipped: not an image file ({ext})."))
            else:
                wanted.append(info)

        labels = _labels_for([i.filename for i in wanted])
        budget = limits.max_zip_total_bytes  # enforced on bytes actually read
        for info in wanted:
            member = info.filename
            reason = _member_problem(info, member, limits)
            if reason is None and budget <= 0:
                reason = (
                    f"'{member}' was skipped: '{name}' unpacks to more than "
                    f"{_fmt_bytes(limits.max_zip_total_bytes)} in total."
                )
            if reason is None:
                cap = min(limits.max_file_bytes, budget)
                try:
                    # Never trust the header: read at most cap+1 bytes, so an
                    # understated size cannot make us inflate more than the cap.
                    with archive.open(info) as fh:
                        payload = fh.read(cap + 1)
                except Exception:
                    reason = f"'{member}' is damaged inside the archive and was skipped."
                else:
                    budget -= len(payload)
                    if len(payload) > cap:
                        reason = (
                            f"'{member}' unpacks to more than {_fmt_bytes(cap)} "
                            "(per-file or whole-archive limit) and was skipped."
                        )
            if reason is not None:
                report.rejected.append(Rejection(member, reason))
                continue
            try:
                report.images.append(
                    decode_image(
                        payload,
                        member,
                        label=labels[info.filename],
                        channels=channels,
                        limits=limits,
                    )
                )
            except ImageRejected as exc:
                report.rejected.append(Rejection(member, str(exc)))
    return report


def _member_problem(info: zipfile.ZipInfo, member: str, limits: ImageLimits) -> str | None:
    """Reason to skip a zip member before reading it, or ``None`` when it looks fine."""
    if info.flag_bits & 0x1:
        return f"'{member}' is password-protected and was skipped; zip it again without a password."
    if info.file_size > limits.max_file_bytes:
        return f"'{member}' is {_fmt_bytes(info.file_size)}; the limit is {_fmt_bytes(limits.max_file_bytes)} per file."
    if info.file_size > _RATIO_EXEMPT_BYTES:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_zip_ratio:
            return (
                f"'{member}' was skipped: it is compressed {ratio:,.0f} to 1, above the "
                f"{limits.max_zip_ratio:g} to 1 safety limit for zip archives (possible zip bomb)."
            )
    return None


def load_files(
    files: Iterable[tuple[str, bytes]],
    *,
    channels: int | None = None,
    limits: ImageLimits = ImageLimits(),
) -> LoadReport:
    """Load uploads given as ``(file name, bytes)`` pairs: plain images or zip archives.

    Zips are recognised by their magic bytes (``PK\\x03\\x04``), not by the
    extension, so a renamed archive still works. A plain file's label comes
    from its name prefix (``brick_01.png`` -> ``brick``). Never raises for a
    bad file: it lands in ``rejected`` with a reason.
    """
    report = LoadReport()
    for name, data in files:
        try:
            if data[:4] in _ZIP_MAGIC:
                report.extend(load_zip(data, name, channels=channels, limits=limits))
            else:
                base = PurePosixPath(name.replace("\\", "/")).name
                report.images.append(
                    decode_image(
                        data,
                        name,
                        label=label_from_name(base),
                        channels=channels,
                        limits=limits,
                    )
                )
        except ImageRejected as exc:
            report.rejected.append(Rejection(name, str(exc)))
    return report


def load_path(
    path: str | Path,
    *,
    channels: int | None = None,
    limits: ImageLimits = ImageLimits(),
) -> LoadReport:
    """Load a folder (recursively), a zip file or a single image file from disk.

    In a folder, labels follow the zip rules relative to the folder: the
    immediate parent folder, else the file-name prefix. Zip files inside the
    folder are loaded too. Files are visited in sorted order so results are
    reproducible.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"path={str(path)!r} does not exist; give an image, a zip file or a folder")
    report = LoadReport()
    if root.is_file():
        cap = max(limits.max_file_bytes, limits.max_zip_total_bytes)
        if _too_big(root, root.name, cap, report):
            return report
        return load_files([(root.name, root.read_bytes())], channels=channels, limits=limits)

    candidates: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()  # os.walk honours in-place edits: deterministic order
        for fname in sorted(filenames):
            rel = Path(dirpath, fname).relative_to(root).as_posix()
            suffix = PurePosixPath(fname).suffix.lower()
            if _is_hidden(rel):
                continue
            if suffix == ".zip":
                if not _too_big(root / rel, rel, limits.max_zip_total_bytes, report):
                    data = (root / rel).read_bytes()
                    report.extend(load_files([(rel, data)], channels=channels, limits=limits))
            elif suffix in IMAGE_EXTENSIONS:
                candidates.append(rel)
            else:
                kind = suffix or "no extension"
                reason = f"'{rel}' was skipped: not an image file ({kind})."
                report.rejected.append(Rejection(rel, reason))

    labels = _labels_for(candidates)
    for rel in candidates:
        if _too_big(root / rel, rel, limits.max_file_bytes, report):
            continue
        data = (root / rel).read_bytes()
        try:
            image = decode_image(data, rel, label=labels[rel], channels=channels, limits=limits)
        except ImageRejected as exc:
            report.rejected.append(Rejection(rel, str(exc)))
        else:
            report.images.append(image)
    return report


def _too_big(file: Path, name: str, cap: int, report: LoadReport) -> bool:
    """Record a rejection and return True when ``file`` on disk exceeds ``cap`` bytes.

    Checked with ``stat`` so an oversized file is never read into memory.
    """
    size = file.stat().st_size
    if size <= cap:
        return False
    reason = f"'{name}' is {_fmt_bytes(size)}; the limit is {_fmt_bytes(cap)}. Downscale or split it."
    report.rejected.append(Rejection(name, reason))
    return True
