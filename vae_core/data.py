"""Turn uploaded files, zip archives and folders into labelled uint8 pixel arrays.

This is the front door: it re-exports the loading API, which lives in three modules
so that each stays about one idea:

* :mod:`vae_core.images`: the shared records (:class:`TextureImage`, :class:`Rejection`,
  :class:`LoadReport`, :class:`ImageLimits`, :class:`ImageRejected`), the label rule
  :func:`label_from_name` and grey/RGB conversion :func:`to_channels`.
* :mod:`vae_core.decode`: :func:`decode_image`, the only code that hands untrusted bytes
  to Pillow (size and pixel limits first, then every colour mode to ``(H, W, C) uint8``).
* :mod:`vae_core.loaders`: :func:`load_files`, :func:`load_zip` and :func:`load_path`,
  which walk uploads, archives and folders, enforce the archive-wide limits and label
  images from folder names or file-name prefixes.

``from vae_core.data import X`` keeps working for every name below. Only numpy and
Pillow are used (no torch, no streamlit), so the loaders work in a notebook, a CLI job
or a unit test alike.

Conventions
-----------
* Pixels are ``(H, W, C) uint8`` with ``C == 1`` (grey) or ``C == 3`` (RGB).
  Alpha never survives: it is composited over mid-grey (128).
* Every rejection message is a full sentence that names the file and the
  limit or the fix, so a page can show it as-is.
"""

from __future__ import annotations

from .decode import decode_image
from .images import (
    ImageLimits,
    ImageRejected,
    LoadReport,
    Rejection,
    TextureImage,
    label_from_name,
    to_channels,
)
from .loaders import IMAGE_EXTENSIONS, load_files, load_path, load_zip

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageLimits",
    "ImageRejected",
    "LoadReport",
    "Rejection",
    "TextureImage",
    "decode_image",
    "label_from_name",
    "load_files",
    "load_path",
    "load_zip",
    "to_channels",
]
