"""Cut decoded textures into training/validation patches without leakage.

Kept apart from the decoders (:mod:`vae_core.data.decode`, which only turn untrusted
bytes into pixels) and from the model (which only sees arrays): this module decides *which pixels*
the model trains on and which it is judged on.

Validation is split by **region**, not by patch: in each image the bottom
``val_fraction`` band of rows is validation and the rest is training, and
patches never cross the border. Random patches from one image overlap each
other heavily, so a random per-patch split would put near-copies of training
pixels into validation and make the validation loss look far too good.

Only numpy is needed; arrays stay ``uint8`` so a few thousand patches cost
megabytes, not gigabytes. Conversion to float happens in the training code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from vae_core.config import PATCH_SIZES, PatchConfig
from vae_core.data.images import Rejection, TextureImage, format_bytes, to_channels
from vae_core.imaging import spread_indices


@dataclass
class PatchDataset:
    """Training and validation patches plus their bookkeeping.

    Attributes:
        train: ``(N, C, P, P) uint8`` training patches.
        val: ``(M, C, P, P) uint8`` validation patches (never augmented).
        train_labels: ``(N,) int64`` index into ``label_names``.
        val_labels: ``(M,) int64`` index into ``label_names``.
        train_image_ids: ``(N,) int64`` index into ``image_names``.
        val_image_ids: ``(M,) int64`` index into ``image_names``.
        label_names: Sorted distinct labels of the images used.
        image_names: Names of the images used, in input order.
        patch_size: P.
        channels: C, 1 or 3.
        skipped: Images too small for ``patch_size``, with reasons.
        note: A plain sentence when ``PatchConfig.max_bytes`` made every image give fewer
            patches than asked for; None otherwise.
    """

    train: np.ndarray
    val: np.ndarray
    train_labels: np.ndarray
    val_labels: np.ndarray
    train_image_ids: np.ndarray
    val_image_ids: np.ndarray
    label_names: list[str]
    image_names: list[str]
    patch_size: int
    channels: int
    skipped: list[Rejection] = field(default_factory=list)
    note: str | None = None

    @property
    def n_train(self) -> int:
        """Number of training patches N."""
        return int(self.train.shape[0])

    @property
    def n_val(self) -> int:
        """Number of validation patches M."""
        return int(self.val.shape[0])

    @property
    def n_images(self) -> int:
        """Number of images that contributed patches."""
        return len(self.image_names)

    def summary(self) -> dict:
        """JSON-serialisable overview.

        ``labels`` maps each label to its number of *images*;
        ``train_patches_per_label`` to its number of training patches.
        """
        image_labels: dict[int, int] = {}
        for ids, labels in (
            (self.train_image_ids, self.train_labels),
            (self.val_image_ids, self.val_labels),
        ):
            for image_id, label in zip(ids.tolist(), labels.tolist(), strict=True):
                image_labels[image_id] = label
        per_label = {name: 0 for name in self.label_names}
        for label in image_labels.values():
            per_label[self.label_names[label]] += 1
        train_counts = np.bincount(self.train_labels, minlength=len(self.label_names))
        return {
            "n_images": self.n_images,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "patch_size": int(self.patch_size),
            "channels": int(self.channels),
            "labels": per_label,
            "train_patches_per_label": {
                name: int(count) for name, count in zip(self.label_names, train_counts, strict=True)
            },
            "image_names": list(self.image_names),
            "skipped": [s.name for s in self.skipped],
        }


def grid_positions(length: int, patch_size: int, stride: int) -> list[int]:
    """Start offsets ``0, stride, 2*stride, ...`` plus one flush with the far edge.

    The last patch always ends exactly at ``length`` so the whole axis is
    covered (the last step may be shorter than ``stride``).
    """
    if stride < 1:
        raise ValueError(f"stride={stride} must be at least 1 pixel")
    if patch_size > length:
        raise ValueError(f"patch_size={patch_size} is larger than the side ({length}); choose <= {length}")
    starts = list(range(0, length - patch_size + 1, stride))
    if starts[-1] != length - patch_size:
        starts.append(length - patch_size)
    return starts


def extract_grid(pixels: np.ndarray, patch_size: int, stride: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Cut a regular grid of patches covering the whole image, edges included.

    Args:
        pixels: ``(H, W, C) uint8`` (a 2-D ``(H, W)`` array counts as C=1).
        patch_size: Patch side P; must be <= min(H, W).
        stride: Step between patch origins; the last row/column of patches is
            flush with the bottom/right edge, so every pixel is covered.

    Returns:
        ``(N, C, P, P) uint8`` patches in row-major order and their top-left
        ``(y, x)`` coordinates, for stitching reconstructions back together.
    """
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    height, width = pixels.shape[:2]
    if patch_size > min(height, width):
        raise ValueError(
            f"patch_size={patch_size} is larger than the image ({width}x{height}); choose <= {min(height, width)}"
        )
    ys = grid_positions(height, patch_size, stride)
    xs = grid_positions(width, patch_size, stride)
    coords = [(y, x) for y in ys for x in xs]
    yy = np.array([c[0] for c in coords], dtype=np.intp)
    xx = np.array([c[1] for c in coords], dtype=np.intp)
    return _gather(pixels, yy, xx, patch_size), coords


def _gather(pixels: np.ndarray, ys: np.ndarray, xs: np.ndarray, patch_size: int) -> np.ndarray:
    """Copy patches at top-left ``(ys[i], xs[i])`` from ``(H, W, C)`` into ``(n, C, P, P)``.

    ``sliding_window_view`` is a zero-copy view of shape
    ``(H-P+1, W-P+1, C, P, P)``, so fancy indexing copies exactly the
    requested patches already in channel-first layout.
    """
    windows = sliding_window_view(pixels, (patch_size, patch_size), axis=(0, 1))
    return np.ascontiguousarray(windows[ys, xs], dtype=np.uint8)


@dataclass
class _Plan:
    """Where one image's patches come from: regions as ``(y0, y1, x0, x1)``."""

    image_index: int
    train_region: tuple[int, int, int, int] | None
    val_region: tuple[int, int, int, int] | None


def _split_regions(
    height: int, width: int, patch_size: int, val_fraction: float
) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int] | None] | None:
    """Train/val rectangles for one image, or ``None`` when no region split fits.

    Prefers a bottom band of rows; an image too short for that but wide
    enough gets a right-hand band of columns instead.
    """
    whole = (0, height, 0, width)
    if val_fraction <= 0:
        return whole, None
    band = max(patch_size, round(height * val_fraction))
    if height - band >= patch_size:
        return (0, height - band, 0, width), (height - band, height, 0, width)
    band = max(patch_size, round(width * val_fraction))
    if width - band >= patch_size:
        return (0, height, 0, width - band), (0, height, width - band, width)
    return None


def _positions(
    region: tuple[int, int, int, int],
    patch_size: int,
    stride: int | None,
    count: int,
    rng: np.random.Generator | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners inside ``region``: ``count`` random ones or at most ``count`` on a grid.

    ``stride=None`` means uniformly random positions (needs ``rng``). A grid
    longer than ``count`` is thinned: randomly when an rng is given
    (training), evenly spaced otherwise (validation, so it covers the band).
    """
    y0, y1, x0, x1 = region
    if stride is None:
        assert rng is not None, "random positions need a generator"
        ys = rng.integers(y0, y1 - patch_size + 1, size=count)
        xs = rng.integers(x0, x1 - patch_size + 1, size=count)
        return ys.astype(np.intp), xs.astype(np.intp)
    gy = np.array(grid_positions(y1 - y0, patch_size, stride), dtype=np.intp) + y0
    gx = np.array(grid_positions(x1 - x0, patch_size, stride), dtype=np.intp) + x0
    ys, xs = (a.ravel() for a in np.meshgrid(gy, gx, indexing="ij"))
    if ys.size > count:
        if rng is not None:
            keep = np.sort(rng.choice(ys.size, size=count, replace=False))
        else:
            keep = spread_indices(ys.size, count)
        ys, xs = ys[keep], xs[keep]
    return ys, xs


def _augment(patches: np.ndarray, ops: np.ndarray) -> None:
    """Apply flip/rotation ``ops[i]`` (0..7, 0 = identity) to patch ``i`` of ``(N, C, P, P)``, in place.

    Textures have no "up", so the 8 flips/90-degree rotations preserve the
    label and multiply the effective data eightfold. Patches are grouped by
    operation so numpy does the work in 7 vectorised steps, not N Python calls.
    """
    for op in range(1, 8):  # op 0 is the identity
        idx = np.flatnonzero(ops == op)
        if idx.size == 0:
            continue
        block = np.rot90(patches[idx], k=op % 4, axes=(2, 3))
        if op >= 4:
            block = block[:, :, :, ::-1]
        patches[idx] = block


def _check_config(config: PatchConfig) -> int | None:
    """Validate ``config`` and return the effective stride (``None`` for random mode)."""
    if config.patch_size not in PATCH_SIZES:
        raise ValueError(f"patch_size={config.patch_size} is not supported; choose 32, 64 or 128")
    if not 1 <= config.patches_per_image <= 100_000:
        raise ValueError(f"patches_per_image={config.patches_per_image} is out of range; choose 1..100000")
    if config.mode not in ("random", "strided"):
        raise ValueError(f"mode={config.mode!r} is not supported; choose 'random' or 'strided'")
    if not 0 <= config.val_fraction < 1:
        raise ValueError(f"val_fraction={config.val_fraction} must be in [0, 1); 0.2 keeps a fifth for validation")
    if config.channels not in (1, 3):
        raise ValueError(f"channels={config.channels} is not supported; choose 1 (grey) or 3 (RGB)")
    if config.max_bytes is not None and config.max_bytes < 1:
        raise ValueError(f"max_bytes={config.max_bytes} must be positive; None means no cap")
    if config.mode == "random":
        return None
    stride = config.stride if config.stride is not None else config.patch_size // 2
    if stride < 1:
        raise ValueError(f"stride={stride} must be at least 1 pixel; the default is patch_size // 2")
    return stride


def make_patches(images: list[TextureImage], config: PatchConfig) -> PatchDataset:
    """Cut ``images`` into augmented training and clean validation patches.

    Per image, the bottom ``val_fraction`` band of rows (at least one patch
    tall) is validation and the rest is training; patches are drawn only
    inside their own region, so no pixel is shared between the two sets. An
    image too short for both gets a right-hand column band instead; one too
    small for either split is used whole (split *by image*): it goes to
    training, except that if no image at all would give validation patches,
    the last such image goes to validation (with a single usable image, there
    is then no validation set; ``n_val == 0``).

    Validation patches form a non-overlapping grid over the band, capped at
    ``max(8, patches_per_image // 4)`` per image and spread evenly.

    Images smaller than ``patch_size`` are skipped and listed in
    ``PatchDataset.skipped``.

    Memory: when the patches would exceed ``config.max_bytes``, every image gives the same
    smaller number of training patches (the largest that fits; validation shrinks with it),
    worked out from the image sizes before anything is allocated; ``PatchDataset.note`` says so.

    Raises:
        ValueError: empty ``images``, a bad config field, every image
            smaller than ``patch_size`` (message names the largest size that fits), or a
            ``max_bytes`` too small for even one patch per image.
    """
    stride = _check_config(config)
    if not images:
        raise ValueError("no images: add some textures first")
    size = config.patch_size

    skipped: list[Rejection] = []
    used: list[TextureImage] = []
    for image in images:
        height, width = image.pixels.shape[:2]
        if min(height, width) < size:
            skipped.append(
                Rejection(
                    image.name,
                    f"'{image.name}' is {width}x{height} pixels, smaller than patch_size={size}; "
                    f"choose a patch size <= {min(height, width)} or use a larger image.",
                )
            )
        else:
            used.append(image)
    if not used:
        biggest = max(min(i.pixels.shape[:2]) for i in images)
        fits = [p for p in PATCH_SIZES if p <= biggest]
        hint = f"choose patch_size={fits[-1]}" if fits else f"use images at least {PATCH_SIZES[0]} pixels on each side"
        raise ValueError(
            f"patch_size={size} is larger than every image (largest usable side: {biggest} pixels); {hint}"
        )

    # Plan regions first so arrays can be preallocated at their final size.
    plans: list[_Plan] = []
    whole_images: list[int] = []
    for k, image in enumerate(used):
        height, width = image.pixels.shape[:2]
        split = _split_regions(height, width, size, config.val_fraction)
        if split is None:
            plans.append(_Plan(k, (0, height, 0, width), None))
            whole_images.append(k)
        else:
            plans.append(_Plan(k, split[0], split[1]))
    if config.val_fraction > 0 and whole_images and len(used) > 1 and all(p.val_region is None for p in plans):
        last = plans[whole_images[-1]]
        last.val_region, last.train_region = last.train_region, None

    per_image, note = _per_image_within_budget(plans, stride, config)

    # One child generator per image: adding an image leaves the others' patches unchanged.
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(len(used))]
    val_cap = max(8, per_image // 4)
    train_pos: list[tuple[np.ndarray, np.ndarray] | None] = []
    val_pos: list[tuple[np.ndarray, np.ndarray] | None] = []
    ops: list[np.ndarray] = []
    for plan in plans:
        rng = rngs[plan.image_index]
        if plan.train_region is None:
            train_pos.append(None)
        else:
            train_pos.append(_positions(plan.train_region, size, stride, per_image, rng))
            ops.append(rng.integers(0, 8, size=train_pos[-1][0].size))
        # Validation: non-overlapping grid (stride = P), no randomness, no augmentation.
        val_pos.append(_positions(plan.val_region, size, size, val_cap, None) if plan.val_region else None)

    label_names = sorted({image.label for image in used})
    label_index = {name: i for i, name in enumerate(label_names)}
    train = _fill(used, train_pos, size, config.channels)
    val = _fill(used, val_pos, size, config.channels)
    if config.augment and ops:
        _augment(train[0], np.concatenate(ops))
    labels_of = np.array([label_index[image.label] for image in used], dtype=np.int64)
    return PatchDataset(
        train=train[0],
        val=val[0],
        train_labels=labels_of[train[1]],
        val_labels=labels_of[val[1]],
        train_image_ids=train[1],
        val_image_ids=val[1],
        label_names=label_names,
        image_names=[image.name for image in used],
        patch_size=size,
        channels=config.channels,
        skipped=skipped,
        note=note,
    )


def _count_patches(plans: list[_Plan], size: int, stride: int | None, per_image: int) -> int:
    """How many patches (training + validation) ``make_patches`` cuts at ``per_image``, without cutting any."""

    def grid(region: tuple[int, int, int, int], step: int) -> int:
        y0, y1, x0, x1 = region
        return len(grid_positions(y1 - y0, size, step)) * len(grid_positions(x1 - x0, size, step))

    val_cap = max(8, per_image // 4)
    total = 0
    for plan in plans:
        if plan.train_region is not None:
            total += per_image if stride is None else min(per_image, grid(plan.train_region, stride))
        if plan.val_region is not None:
            total += min(val_cap, grid(plan.val_region, size))
    return total


def _per_image_within_budget(plans: list[_Plan], stride: int | None, config: PatchConfig) -> tuple[int, str | None]:
    """(training patches per image, note): ``config.patches_per_image``, or the largest count whose
    patches fit in ``config.max_bytes`` with a sentence saying so."""
    asked = config.patches_per_image
    size = config.patch_size
    per_patch = config.channels * size * size
    need = _count_patches(plans, size, stride, asked) * per_patch
    if config.max_bytes is None or need <= config.max_bytes:
        return asked, None
    if _count_patches(plans, size, stride, 1) * per_patch > config.max_bytes:
        raise ValueError(
            f"max_bytes={config.max_bytes}: the patch budget of {format_bytes(config.max_bytes)} cannot hold even "
            f"one patch per image for {len(plans)} images at {size} px; use fewer images or a smaller patch size"
        )
    lo, hi = 1, asked  # the count only grows with per_image: the largest that fits, by bisection
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _count_patches(plans, size, stride, mid) * per_patch <= config.max_bytes:
            lo = mid
        else:
            hi = mid - 1
    note = (
        f"Patches are capped at {format_bytes(config.max_bytes)} of memory: {asked:,} training patches from "
        f"each of {len(plans)} images would need {format_bytes(need)}, so each image gives {lo:,} instead."
    )
    return lo, note


def _fill(
    images: list[TextureImage],
    positions: list[tuple[np.ndarray, np.ndarray] | None],
    size: int,
    channels: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Preallocate ``(N, C, P, P) uint8`` and copy every image's patches in; also return image ids."""
    total = sum(p[0].size for p in positions if p is not None)
    out = np.empty((total, channels, size, size), dtype=np.uint8)
    ids = np.empty(total, dtype=np.int64)
    start = 0
    for k, (image, pos) in enumerate(zip(images, positions, strict=True)):
        if pos is None or pos[0].size == 0:
            continue
        pixels = to_channels(image.pixels, channels)
        stop = start + pos[0].size
        out[start:stop] = _gather(pixels, pos[0], pos[1], size)
        ids[start:stop] = k
        start = stop
    return out, ids
