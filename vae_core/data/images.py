"""The records every image loader shares, and the rules for naming and converting them.

* :class:`TextureImage` (one decoded image and its label), :class:`Rejection` and
  :class:`LoadReport` (what a loader produced and refused), and :class:`ImageRejected` (the
  error a refused input raises). The safety limits, :class:`~vae_core.config.ImageLimits`,
  live with the other settings in :mod:`vae_core.config`.
* :func:`label_from_name`, the class-label rule for a file path, and :func:`to_channels`,
  grey <-> RGB conversion of decoded pixels.
* :func:`format_pixels` / :func:`format_bytes` / :func:`plural`, so every message words sizes
  and counts the same way ("1 image", "2 images"), and :func:`as_typed`, which escapes a name
  from an upload so that a page's Markdown shows it as typed.

Kept apart from the decoder (:mod:`vae_core.data.decode`) and the zip/folder walkers
(:mod:`vae_core.data.loaders`) because patching, the samples and the pages use these types
without parsing any bytes. :mod:`vae_core.data` re-exports everything public.

Conventions
-----------
* Pixels are ``(H, W, C) uint8`` with ``C == 1`` (grey) or ``C == 3`` (RGB).
* Every rejection message is a full sentence that names the file and the
  limit or the fix, so a page can show it as-is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np
from PIL import Image

# Label rule for bare file names: the whole stem without its trailing index (see
# ``label_from_name``). An index is a number after a separator ("_01", "-2", " 3", ".4"),
# a copy number ("grass (2)"), or digits straight after a word of two letters or more ("sand3").
_TRAILING_INDEX = re.compile(r"(?:[_\-\s.]+\d+|\s*\(\d+\))$")
_WORD_THEN_DIGITS = re.compile(r"^(.*[^\W\d_]{2})\d+$")

# Where a label came from (``TextureImage.label_from``); the Data page shows it beside the label.
LABEL_FROM_FOLDER = "folder"  # the image's folder in a zip or a directory
LABEL_FROM_NAME = "file name"  # the file name without its index
LABEL_FROM_USER = "you"  # typed or edited by the user
LABEL_FROM_SAMPLES = "built-in"  # the bundled samples


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


@dataclass
class TextureImage:
    """One decoded image and its class label.

    Attributes:
        name: File name, or the member path inside a zip archive.
        label: Class name used for colouring plots and probes.
        pixels: ``(H, W, C) uint8``, ``C == 1`` (grey) or ``C == 3`` (RGB).
        label_from: Which rule made the label: folder, file name, the user, the samples.
        notes: Sentences about how the file was read (only its first frame, transparency put
            on grey), for the user; the image loaded all the same.
    """

    name: str
    label: str
    pixels: np.ndarray
    label_from: str = LABEL_FROM_NAME  # which rule made ``label`` (the LABEL_FROM_* constants)
    notes: list[str] = field(default_factory=list)  # things worth knowing that did not stop it loading

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
    # One sentence about the load as a whole, e.g. how many images the memory budget kept and
    # skipped (``vae_core.data.budget.PixelBudget.summary``); None when there is nothing to say.
    note: str | None = None

    def extend(self, other: LoadReport) -> None:
        """Append ``other``'s images and rejections to this report (in place); its note wins when it has one."""
        self.images.extend(other.images)
        self.rejected.extend(other.rejected)
        self.note = other.note or self.note

    @property
    def labels(self) -> list[str]:
        """Sorted distinct labels of the loaded images."""
        return sorted({image.label for image in self.images})

    @property
    def notes(self) -> list[str]:
        """Every loaded image's notes (first frame only, transparency on grey...), in load order."""
        return [note for image in self.images for note in image.notes]


def format_pixels(n: int) -> str:
    """Pixel count in words: '144.0 M pixels' for big numbers, '1,600 pixels' otherwise."""
    return f"{n / 1e6:.1f} M pixels" if n >= 1_000_000 else f"{n:,} pixels"


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """Count and noun in words: ``plural(1, "image") -> "1 image"``, ``plural(1307, "patch", "patches")``
    -> ``"1,307 patches"``."""
    return f"{n:,} {noun if n == 1 else nouns or noun + 's'}"


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]<>()#+!|~$:])")


def as_typed(text: str) -> str:
    """``text`` (a file name, a label, a message quoting one) escaped so that Markdown shows it as typed.

    An upload's name is the uploader's to choose: ``**big**[click](http://x)`` or ``$x^2$`` in a
    name must not become bold, a link or a formula on the page that reports it. Line breaks
    become spaces, so a name cannot start a heading or a list of its own.
    """
    return _MARKDOWN_SPECIALS.sub(r"\\\1", " ".join(str(text).splitlines()))


def format_bytes(n: int) -> str:
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
    """Class label for a file path: its parent folder, else its file name without a trailing index.

    ``"brick/a.png" -> "brick"``, ``"x/grass/b.jpg" -> "grass"``,
    ``"D103_01.bmp" -> "D103"``, ``"brick_01.png" -> "brick"``, ``"grass-2.jpg" -> "grass"``,
    ``"brick_wall_03.png" -> "brick_wall"``, ``"grass (2).jpg" -> "grass"``,
    ``"sand3.png" -> "sand"``, ``"D12.gif" -> "D12"`` (one letter before digits is a name, as in
    the Brodatz set), ``"01.png" -> "01"`` (nothing before the number: the stem).

    Callers strip any wrapping folder first (see :func:`vae_core.data.loaders.load_zip`); this
    function only looks at the path it is given. Backslashes count as
    separators so Windows-made paths work too.
    """
    return label_and_rule(member_path)[0]


def label_and_rule(member_path: str) -> tuple[str, str]:
    """``label_from_name`` and the rule that made it: ``LABEL_FROM_FOLDER`` or ``LABEL_FROM_NAME``."""
    parts = [p for p in member_path.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts:
        return "unlabelled", LABEL_FROM_NAME
    if len(parts) > 1 and parts[-2].strip():
        return parts[-2].strip(), LABEL_FROM_FOLDER
    return name_without_index(PurePosixPath(parts[-1]).stem), LABEL_FROM_NAME


def name_without_index(stem: str) -> str:
    """A file stem without its trailing index: ``"D103_01" -> "D103"``, ``"IMG_0001_2" -> "IMG"``.

    Trailing indices are removed one after another ("_01", "-2", " (3)"), then digits that
    follow a word of at least two letters ("sand3" -> "sand"; "D12" keeps its digits). A stem
    that is nothing but an index stays as it is ("007").
    """
    label = stem.strip()
    while (match := _TRAILING_INDEX.search(label)) and match.start() > 0:
        label = label[: match.start()].rstrip()
    if match := _WORD_THEN_DIGITS.match(label):
        label = match.group(1)
    return label or stem.strip() or "unlabelled"


def unique_name(name: str, taken: set[str] | frozenset[str]) -> str:
    """``name``, or ``"name (2)"``, ``"name (3)"``... : the first that is not in ``taken``.

    Two uploads called ``photo.jpg`` stay two images with names a person can tell apart.
    """
    candidate, k = name, 2
    while candidate in taken:
        candidate, k = f"{name} ({k})", k + 1
    return candidate


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
