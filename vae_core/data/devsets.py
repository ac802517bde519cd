"""A labelled development set for texture classification, made offline from photographs that ship inside packages.

Two parts, both deterministic for a seed and both free of downloads:

* **Photos** (:func:`photo_set`): 14 texture classes cropped from the photographs bundled in
  scikit-image's ``skimage/data`` folder and scikit-learn's ``sklearn/datasets/images``
  (read directly with Pillow: ``skimage.data``'s loaders may fetch files that are not bundled,
  these files are). Each class takes disjoint cells of one or more photos (the class's regions
  in :data:`PHOTO_CLASSES`), and each cell gives one image: a random sub-square of the cell,
  turned by a random angle, resized to at most 128 px. So images of one class differ in
  region, scale and rotation, and no two images share a pixel. A third of the crops from
  colour photos are made grey, so "has colour" does not give a class away.
* **Procedural** (:func:`procedural_set`): families made deliberately hard from the generators
  of :mod:`vae_core.data.samples`: the same generator at two scales (``stripes-fine`` vs
  ``stripes-coarse``, whose ranges overlap) and at two colour palettes with *identical*
  luminance (``marble-warm`` vs ``marble-cool``, which grey-level descriptors such as LBP and
  GLCM cannot separate by construction).

:func:`dev_set` returns both (``part="all"``) or either. ``python -m vae_core devset --out DIR``
writes them as PNGs in one folder per label, which the loaders and ``train --data DIR`` read
back with the same labels. This set is for measuring the Analyze task (``bench --analyze``);
it is not a training set.

**Real photographs for quality work** (:func:`real_photo_images`, ``--data photos`` on the command
line): seeded crops of 19 bundled photographs, 96-384 px a side and mostly not square, colour
and grey, some from a half-size copy of the large photos (a second scale). Unlabelled by class
(each crop's label is its photo), made to train on and to measure reconstruction quality
against PCA on something harder than the procedural samples (README, "Model choices").
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from vae_core.data.images import TextureImage
from vae_core.data.samples import procedural_texture

OUT_SIDE = 128  # crops are at most this many pixels wide
MIN_SIDE = 64  # and at least this many (a small cell is enlarged up to this)
MAX_ZOOM = 1.25  # a crop is never enlarged more than this (so small cells stay sharp and smaller)
GREY_SHARE = 1 / 3  # share of colour-photo crops turned grey
PROCEDURAL_PER_CLASS = 8  # images per procedural class
PROCEDURAL_SIDE = 128  # their side in pixels
REAL_MIN_SIDE, REAL_MAX_SIDE = 96, 384  # sides of the real-photo crops (height and width drawn apart)
REAL_FLAT_STD = 12.0  # a real-photo crop whose pixel std (0..255) is below this is redrawn (up to 8 tries)


@dataclass(frozen=True)
class Region:
    """A rectangle of one bundled photograph, cut into ``nx`` x ``ny`` cells (one image each)."""

    package: str  # "skimage" or "sklearn"
    file: str  # file name inside the package's image folder
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in the photo's pixels
    nx: int  # cells across
    ny: int  # cells down


def _r(package: str, file: str, box: tuple[int, int, int, int], nx: int, ny: int) -> Region:
    return Region(package, file, box, nx, ny)


# Regions picked by eye to hold one texture each (the boxes avoid objects and edges).
PHOTO_CLASSES: dict[str, tuple[Region, ...]] = {
    "brick": (_r("skimage", "brick.png", (0, 0, 512, 512), 3, 3),),
    "grass": (_r("skimage", "grass.png", (0, 0, 512, 512), 3, 3),),
    "gravel": (_r("skimage", "gravel.png", (0, 0, 512, 512), 3, 3),),
    "moon": (_r("skimage", "moon.png", (0, 0, 512, 512), 3, 3),),
    "coins": (_r("skimage", "coins.png", (0, 0, 384, 303), 3, 3),),
    "writing": (
        _r("skimage", "page.png", (0, 40, 384, 180), 3, 1),
        _r("skimage", "text.png", (0, 0, 448, 172), 4, 1),
    ),
    "fur": (
        _r("skimage", "chelsea.png", (140, 0, 350, 90), 2, 1),
        _r("skimage", "chelsea.png", (0, 150, 130, 300), 1, 2),
        _r("skimage", "chelsea.png", (0, 30, 120, 150), 1, 1),
        _r("skimage", "chelsea.png", (190, 90, 255, 220), 1, 2),
    ),
    "wood": (
        _r("skimage", "coffee.png", (480, 50, 600, 410), 1, 3),
        _r("skimage", "coffee.png", (0, 100, 90, 400), 1, 3),
    ),
    "tissue": (
        _r("skimage", "ihc.png", (0, 0, 240, 240), 2, 2),
        _r("skimage", "ihc.png", (300, 0, 440, 240), 1, 2),
        _r("skimage", "ihc.png", (255, 315, 385, 445), 1, 1),
    ),
    "stroma": (
        _r("skimage", "ihc.png", (440, 0, 512, 512), 1, 6),
        _r("skimage", "ihc.png", (130, 230, 250, 490), 1, 2),
    ),
    "stars": (_r("skimage", "hubble_deep_field.jpg", (0, 0, 1000, 872), 3, 3),),
    "retina": (_r("skimage", "retina.jpg", (350, 350, 1060, 1060), 3, 3),),
    "foliage": (
        _r("sklearn", "china.jpg", (0, 330, 200, 427), 2, 1),
        _r("sklearn", "china.jpg", (370, 310, 640, 427), 2, 1),
        _r("sklearn", "china.jpg", (575, 170, 640, 330), 1, 2),
    ),
    "petals": (_r("sklearn", "flower.jpg", (200, 105, 425, 330), 3, 3),),
}

# (class, generator kind, variant): "fine"/"coarse" are two scales, "warm"/"cool" two palettes.
PROCEDURAL_CLASSES: tuple[tuple[str, str, str], ...] = (
    ("stripes-fine", "stripes", "fine"),
    ("stripes-coarse", "stripes", "coarse"),
    ("dots-fine", "dots", "fine"),
    ("dots-coarse", "dots", "coarse"),
    ("cells-fine", "cells", "fine"),
    ("cells-coarse", "cells", "coarse"),
    ("marble-warm", "marble", "warm"),
    ("marble-cool", "marble", "cool"),
)
_HUES = {"warm": (0.0, 0.12), "cool": (0.5, 0.66)}  # HSV hue ranges of the two palettes
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601 luminance, as Pillow's "L"


def _image_folder(package: str) -> Path:
    """The folder of bundled images inside an installed package, found without importing it."""
    folders = {"skimage": ("skimage", "data"), "sklearn": ("sklearn", "datasets/images")}
    if package not in folders:
        raise ValueError(f"package={package!r} has no bundled photographs here; choose 'skimage' or 'sklearn'")
    name, sub = folders[package]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"{name} is not installed; install scikit-image and scikit-learn (requirements.txt)")
    return Path(spec.origin).parent / sub


def _load_photo(package: str, file: str) -> Image.Image:
    """A bundled photograph as a Pillow image in "L" (grey) or "RGB"."""
    path = _image_folder(package) / file
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall {package} (the dev set uses its bundled photos)")
    with Image.open(path) as img:
        return img.convert("L" if img.mode in ("L", "I", "I;16", "1") else "RGB")


def _cells(region: Region) -> list[tuple[int, int, int, int]]:
    """The region's ``nx`` x ``ny`` cells as (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = region.box
    xs = np.linspace(x0, x1, region.nx + 1).round().astype(int)
    ys = np.linspace(y0, y1, region.ny + 1).round().astype(int)
    return [(xs[i], ys[j], xs[i + 1], ys[j + 1]) for j in range(region.ny) for i in range(region.nx)]


def _crop(photo: Image.Image, cell: tuple[int, int, int, int], rng: np.random.Generator) -> np.ndarray:
    """One image from one cell: a random sub-square, a random turn, resized: ``(S, S, C) uint8``, S <= 128."""
    x0, y0, x1, y1 = cell
    side = min(x1 - x0, y1 - y0)
    sub = int(side * rng.uniform(0.75, 1.0))
    left = x0 + int(rng.integers(0, x1 - x0 - sub + 1))
    top = y0 + int(rng.integers(0, y1 - y0 - sub + 1))
    angle = float(rng.uniform(0.0, 360.0))
    square = photo.crop((left, top, left + sub, top + sub)).rotate(angle, Image.Resampling.BICUBIC)
    # The largest axis-aligned square inside the turned one (no black corners).
    theta = np.deg2rad(angle)
    inner = int(sub / (abs(np.cos(theta)) + abs(np.sin(theta))))
    margin = (sub - inner) // 2
    square = square.crop((margin, margin, margin + inner, margin + inner))
    out = int(np.clip(round(inner * MAX_ZOOM), MIN_SIDE, OUT_SIDE))
    pixels = np.asarray(square.resize((out, out), Image.Resampling.LANCZOS), dtype=np.uint8)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def photo_set(seed: int = 0) -> list[TextureImage]:
    """The photo part: 14 classes, 6-9 images each, ``(S, S, C) uint8`` with S in [64, 128], grey or colour.

    Named ``"{label}_{k:02d}.png"``. Deterministic for ``seed``: each class draws from its own
    ``default_rng([seed, class index])``.
    """
    images: list[TextureImage] = []
    photos: dict[tuple[str, str], Image.Image] = {}
    for c, (label, regions) in enumerate(PHOTO_CLASSES.items()):
        rng = np.random.default_rng([seed, c])
        k = 0
        for region in regions:
            key = (region.package, region.file)
            if key not in photos:
                photos[key] = _load_photo(*key)
            for cell in _cells(region):
                pixels = _crop(photos[key], cell, rng)
                if pixels.shape[2] == 3 and rng.random() < GREY_SHARE:
                    grey = Image.fromarray(pixels).convert("L")
                    pixels = np.asarray(grey, dtype=np.uint8)[:, :, None]
                images.append(TextureImage(f"{label}_{k:02d}.png", label, np.ascontiguousarray(pixels)))
                k += 1
    return images


def _recolour(pixels: np.ndarray, variant: str, rng: np.random.Generator) -> np.ndarray:
    """Repaint ``(H, W, 3) uint8`` between two colours of one palette, keeping each pixel's luminance.

    The dark and light colours are scaled so that their luminance is exactly that of the
    pixel, so the grey image (what LBP and GLCM read) does not depend on the palette.
    """
    import colorsys

    luma = (pixels.astype(np.float32) / 255.0) @ _LUMA  # (H, W) in [0, 1]
    hue = rng.uniform(*_HUES[variant])
    rgb = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.45, 0.75), 1.0), np.float32)
    # rgb * (L / Y(rgb)) has luminance L; capped at 1 per channel, which only the brightest pixels reach.
    out = np.clip(rgb[None, None, :] * (luma / float(rgb @ _LUMA))[:, :, None], 0.0, 1.0)
    return np.rint(out * 255).astype(np.uint8)


def procedural_set(seed: int = 0, per_class: int = PROCEDURAL_PER_CLASS) -> list[TextureImage]:
    """The procedural part: 8 classes of ``per_class`` colour images ``(128, 128, 3) uint8``, ``{label}_{k:02d}.png``.

    "fine" images are drawn at twice the size and halved, so their features are half as large
    as the "coarse" ones drawn at full size (each generator draws its scale from a range, so the
    two classes overlap). "warm"/"cool" repaint one marble texture in two palettes of equal
    luminance.
    """
    side = PROCEDURAL_SIDE
    images = []
    for c, (label, kind, variant) in enumerate(PROCEDURAL_CLASSES):
        for k in range(per_class):
            texture_seed = int(np.random.default_rng([seed, c, k]).integers(2**31))
            if variant == "fine":
                big = Image.fromarray(procedural_texture(kind, 2 * side, texture_seed))
                pixels = np.asarray(big.resize((side, side), Image.Resampling.LANCZOS), dtype=np.uint8)
            elif variant == "coarse":
                pixels = procedural_texture(kind, side, texture_seed)
            else:
                pixels = _recolour(
                    procedural_texture(kind, side, texture_seed), variant, np.random.default_rng(texture_seed)
                )
            images.append(TextureImage(f"{label}_{k:02d}.png", label, np.ascontiguousarray(pixels)))
    return images


def dev_set(part: str = "all", seed: int = 0) -> list[TextureImage]:
    """The development set: ``part`` = "photos", "procedural" or "all" (photos first)."""
    if part not in ("photos", "procedural", "all"):
        raise ValueError(f"part={part!r} is not a part of the dev set; choose 'photos', 'procedural' or 'all'")
    images = photo_set(seed) if part in ("photos", "all") else []
    return images + (procedural_set(seed) if part in ("procedural", "all") else [])


# (package, file, crops) of the real-photo set. Left out on purpose: synthetic or near-empty images
# (logo, phantom, chessboards, the colour wheel, the horse silhouette, cell and clock_motion: one
# small object on a flat field) and motorcycle_right (a near-copy of motorcycle_left, which would
# leak pixels from training into validation patches).
REAL_PHOTOS: tuple[tuple[str, str, int], ...] = (
    ("skimage", "astronaut.png", 3),
    ("skimage", "brick.png", 3),
    ("skimage", "camera.png", 3),
    ("skimage", "chelsea.png", 3),
    ("skimage", "coffee.png", 3),
    ("skimage", "coins.png", 3),
    ("skimage", "grass.png", 3),
    ("skimage", "gravel.png", 3),
    ("skimage", "hubble_deep_field.jpg", 3),
    ("skimage", "ihc.png", 3),
    ("skimage", "microaneurysms.png", 1),
    ("skimage", "moon.png", 3),
    ("skimage", "motorcycle_left.png", 4),
    ("skimage", "page.png", 2),
    ("skimage", "retina.jpg", 4),
    ("skimage", "rocket.jpg", 3),
    ("skimage", "text.png", 2),
    ("sklearn", "china.jpg", 4),
    ("sklearn", "flower.jpg", 4),
)


def _real_crops(photo: Image.Image, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``n`` crops ``(h, w, C) uint8`` of varied size; nearly flat ones are redrawn (the busiest of 8 tries kept)."""
    pixels = np.asarray(photo, dtype=np.uint8)
    pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
    h0, w0 = pixels.shape[:2]
    out: list[np.ndarray] = []
    for _ in range(n):
        best: np.ndarray | None = None
        for _attempt in range(8):
            src = pixels
            if min(h0, w0) >= 600 and rng.random() < 0.5:  # large photos: half the crops at half size
                src = np.asarray(photo.reduce(2), dtype=np.uint8)
                src = src[:, :, None] if src.ndim == 2 else src
            h, w = src.shape[:2]
            ch = int(rng.integers(REAL_MIN_SIDE, min(REAL_MAX_SIDE, h) + 1)) if h >= REAL_MIN_SIDE else h
            cw = int(rng.integers(REAL_MIN_SIDE, min(REAL_MAX_SIDE, w) + 1)) if w >= REAL_MIN_SIDE else w
            y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            crop = np.ascontiguousarray(src[y : y + ch, x : x + cw])
            if best is None or crop.std() > best.std() or crop.std() >= REAL_FLAT_STD:
                best = crop
            if crop.std() >= REAL_FLAT_STD:
                break
        out.append(best)
    return out


def real_photo_images(seed: int = 0) -> list[TextureImage]:
    """Crops of the bundled photographs for training and quality measurement: 57 images (34 colour, 23 grey),
    ``(h, w, C) uint8`` with h, w in [96, 384]. Named ``"{photo}_{i}.png"``, labelled ``"{photo}"``.

    Deterministic for ``seed`` (each photo draws from ``default_rng([seed, photo index])``); builds in
    well under a second. Photos are listed in :data:`REAL_PHOTOS`.
    """
    images: list[TextureImage] = []
    for k, (package, file, n) in enumerate(REAL_PHOTOS):
        stem = file.rsplit(".", 1)[0]
        rng = np.random.default_rng([seed, k])
        for i, crop in enumerate(_real_crops(_load_photo(package, file), n, rng)):
            images.append(TextureImage(f"{stem}_{i}.png", stem, crop))
    return images


def write_dev_set(out_dir: str | Path, part: str = "all", seed: int = 0) -> list[Path]:
    """Write :func:`dev_set` as PNGs into ``out_dir/<label>/<name>`` (grey as 8-bit grey); returns the paths."""
    out = Path(out_dir)
    paths = []
    for image in dev_set(part, seed):
        folder = out / image.label
        folder.mkdir(parents=True, exist_ok=True)
        pixels = image.pixels[:, :, 0] if image.channels == 1 else image.pixels
        path = folder / image.name
        Image.fromarray(np.ascontiguousarray(pixels)).save(path, format="PNG")
        paths.append(path)
    return paths
