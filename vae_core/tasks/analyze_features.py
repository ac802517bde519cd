"""The Analyze task's inputs and features: labelled images -> units (images or parts) -> every feature set.

* :func:`make_units` checks the labels (at least 2 classes, at least ``min_images`` images a
  class) and turns images into *units*, the things a classifier is tested on. A unit is an
  image; a class with too few images is cut into spatial blocks (2 x 2 parts of each image),
  when they are big enough, so that it can still be tested on pixels it was not trained on.
* :class:`TextureDescriber` computes, for one unit, every feature set at the image level and
  at the patch level (the VAE's codes of a grid of patches, the pooled VAE descriptor, LBP,
  GLCM); :func:`extract_features` runs it over all units and adds the raw-pixel PCA baseline.

Unsupervised steps (the VAE itself, the PCA baseline) see every unit without its label, as
the VAE did when it was trained; only the probes of :mod:`vae_core.tasks.probes` see labels,
and only on their training folds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vae_core.config import AnalyzeConfig
from vae_core.data.images import TextureImage, to_channels
from vae_core.imaging import downscale, spread_indices
from vae_core.tasks import classic_features as classic
from vae_core.tasks import latent_features as latent

# Feature sets, by the names the app and the CSV files show.
DESCRIPTOR = "VAE texture descriptor"  # pooled over an image: see DESCRIPTOR_PARTS
CODES = "VAE codes"  # per patch: mu; per image: the mean and spread of its patches' mu
LATENT_LBP = "VAE + LBP"  # the descriptor (per patch: mu) next to LBP
LBP, GLCM, LBP_GLCM = "LBP", "GLCM", "LBP + GLCM"
PCA = "Raw-pixel PCA"  # per patch: PCA with latent_dim numbers; per image: their mean and spread
FEATURE_SETS = (DESCRIPTOR, CODES, LATENT_LBP, LBP, GLCM, LBP_GLCM, PCA)
VAE_SETS = (DESCRIPTOR, CODES, LATENT_LBP)  # the sets that use the model
# What the descriptor is made of (README, "Analyze": the ablation that chose it):
# log-Euclidean covariances of the encoder's first two feature maps, pooled over 8 turns/flips.
DESCRIPTOR_PARTS = ("covariance",)
# A model without convolutional feature maps (the coefficient model the presets train) has only
# its codes to pool: their mean and spread at 3 scales (README, "Analyze", has what that scores).
CODE_DESCRIPTOR_PARTS = ("multiscale",)
DESCRIPTOR_WORDS = {
    DESCRIPTOR_PARTS: "Log-Euclidean covariances of the encoder's first two feature maps over the image (at most "
    "its central 256 x 256 pixels), pooled over its 8 turns and flips.",
    CODE_DESCRIPTOR_PARTS: "This model's encoder has no feature maps to read (it works on whole patches), so the "
    "descriptor pools its codes: their mean and spread over the image at full size, half and a quarter.",
}


def descriptor_parts(model) -> tuple[str, ...]:
    """The descriptor's parts for ``model``: encoder covariances where it has feature maps, else its pooled codes."""
    return DESCRIPTOR_PARTS if latent.has_feature_maps(model) else CODE_DESCRIPTOR_PARTS


PCA_FIT_PATCHES = 20_000  # patches the PCA baseline is fitted on, at most


class AnalysisInputError(ValueError):
    """Labelled images that cannot be analysed; ``str(exc)`` says in plain words what is needed."""


@dataclass
class Unit:
    """One thing a classifier is tested on: an image, or a spatial block of one."""

    name: str  # the image's name, with "(part k of 4)" for a block
    label: str
    source: int  # index of the input image it comes from
    pixels: np.ndarray  # (H, W, C) uint8 at the model's channels, shrunk to AnalyzeConfig.max_side


def _blocks(pixels: np.ndarray) -> list[np.ndarray]:
    """The 2 x 2 spatial blocks of ``(H, W, C)`` pixels."""
    h, w = pixels.shape[0] // 2, pixels.shape[1] // 2
    return [pixels[y : y + h, x : x + w] for y in (0, h) for x in (0, w)]


def label_problem(images: list[TextureImage], min_images: int = 3) -> str | None:
    """A plain sentence saying what the labels lack (fewer than 2 labels), or None when they may do."""
    labels = sorted({im.label for im in images})
    if not images:
        return "There are no images yet. Add labelled textures on the Data page."
    if len(labels) < 2:
        return (
            f"Telling textures apart needs at least 2 labels, and all {len(images)} of your images are labelled "
            f"'{labels[0]}'. Give each kind of texture its own label on the Data page: from a zip's folder names, "
            "from the start of the file names (brick_1.png), or in the Label column."
        )
    return None


def make_units(
    images: list[TextureImage], patch_size: int, channels: int, config: AnalyzeConfig | None = None
) -> tuple[list[Unit], list[str]]:
    """Units to classify, and the names of images skipped as smaller than ``patch_size``.

    A class with fewer than ``config.min_images`` images has each image cut into 2 x 2 blocks
    when every block is at least ``2 * patch_size`` pixels on a side. Raises
    :class:`AnalysisInputError` with fewer than 2 labels, a class still short of
    ``min_images`` units, or more than ``config.max_units`` units.
    """
    config = config or AnalyzeConfig()
    problem = label_problem(images, config.min_images)
    if problem:
        raise AnalysisInputError(problem)
    units: list[Unit] = []
    skipped: list[str] = []
    short: list[str] = []
    for label in sorted({im.label for im in images}):
        members = []
        for index, image in enumerate(images):
            if image.label != label:
                continue
            if min(image.pixels.shape[:2]) < patch_size:
                skipped.append(image.name)
                continue
            members.append((index, image.name, downscale(to_channels(image.pixels, channels), config.max_side)))
        if len(members) >= config.min_images:
            units += [Unit(name, label, index, pixels) for index, name, pixels in members]
            continue
        parts = [
            Unit(f"{name} (part {k + 1} of 4)", label, index, np.ascontiguousarray(block))
            for index, name, pixels in members
            if min(pixels.shape[:2]) // 2 >= 2 * patch_size
            for k, block in enumerate(_blocks(pixels))
        ]
        if len(parts) >= config.min_images:
            units += parts
        else:
            short.append(f"'{label}' ({len(members)} image{'s' if len(members) != 1 else ''})")
    if short:
        raise AnalysisInputError(
            f"Each label needs at least {config.min_images} images, because the classifier is always tested on "
            f"images it did not learn from. Too few: {', '.join(short)}. Add more images of "
            f"{'this label' if len(short) == 1 else 'these labels'}, or larger ones: an image at least "
            f"{4 * patch_size} pixels on each side is cut into 4 parts that count as separate images."
        )
    if len(units) > config.max_units:
        raise AnalysisInputError(
            f"That is {len(units):,} images to analyse; one analysis takes at most {config.max_units:,}. "
            "Remove some on the Data page."
        )
    return units, skipped


@dataclass
class UnitFeatures:
    """Every feature set of one unit (the raw-pixel PCA is added later, once it is fitted)."""

    image: dict[str, np.ndarray]  # set name -> (F,)
    patch: dict[str, np.ndarray]  # set name -> (n, F)
    blocks: dict[tuple[str, str], list[int]]  # (set, level) -> column counts of its parts (probes.block_weights)
    windows: list[tuple[int, int, int]]  # the patches' (y, x, side)
    mu: np.ndarray  # (n, D) the patches' codes


class TextureDescriber:
    """Computes a unit's feature sets with one model; also used to describe a new image to classify."""

    def __init__(self, model, config: AnalyzeConfig | None = None, parts: tuple[str, ...] | None = None):
        self.model, self.config = model, config or AnalyzeConfig()
        self.parts = parts or descriptor_parts(model)  # default: what this model kind measured best with
        self.size = int(model.config.image_size)
        self.stride = max(1, self.size // 2)
        self.pca = None  # fitted by extract_features: sklearn PCA with latent_dim components
        self.seconds = dict.fromkeys(FEATURE_SETS, 0.0)  # time spent making each set, so far

    @property
    def words(self) -> str:
        """What the VAE texture descriptor is made of, in a sentence or two (for the page's details)."""
        return DESCRIPTOR_WORDS.get(self.parts, f"Parts: {', '.join(self.parts)}.")

    def descriptor(self, pixels: np.ndarray, mu: np.ndarray) -> list[np.ndarray]:
        """The pooled VAE descriptor of ``(H, W, C) uint8`` whose patches have codes ``mu`` (n, D), as its blocks."""
        makers: dict[str, Callable[[], list[np.ndarray]]] = {
            "meanstd": lambda: [latent.pool_mean_std(mu)],
            "meancov": lambda: [latent.pool_mean_cov(mu)],
            "multiscale": lambda: [latent.multiscale_codes(self.model, pixels, self.stride, self.config.max_patches)],
            "gram": lambda: latent.encoder_grams(self.model, pixels),
            "covariance": lambda: latent.encoder_covariances(self.model, pixels),
        }
        return [block for part in self.parts for block in makers[part]()]

    def describe(self, pixels: np.ndarray) -> UnitFeatures:
        """Every feature set of ``(H, W, C) uint8`` pixels (C = the model's channels), PCA excepted."""
        from vae_core.explore.latent import encode

        clock = time.perf_counter
        t0 = clock()
        windows = latent.grid_windows(*pixels.shape[:2], self.size, self.stride, self.config.max_patches)
        mu = encode(self.model, latent.cut(pixels, windows)).mu
        t1 = clock()
        grey = classic.grey(pixels)
        lbp, lbp_patches = classic.lbp_features(grey, windows)
        t2 = clock()
        glcm, glcm_patches = classic.glcm_features(grey), classic.glcm_patch_features(grey, windows)
        t3 = clock()
        blocks = self.descriptor(pixels, mu)
        t4 = clock()
        spent = {CODES: t1 - t0, LBP: t2 - t1, GLCM: t3 - t2, DESCRIPTOR: t4 - t3}
        spent |= {LATENT_LBP: spent[DESCRIPTOR] + spent[LBP], LBP_GLCM: spent[LBP] + spent[GLCM]}
        for name, seconds in spent.items():
            self.seconds[name] += seconds
        descriptor = np.concatenate(blocks)
        image = {
            DESCRIPTOR: descriptor,
            CODES: latent.pool_mean_std(mu),
            LATENT_LBP: np.concatenate([descriptor, lbp]),
            LBP: lbp,
            GLCM: glcm,
            LBP_GLCM: np.concatenate([lbp, glcm]),
        }
        patch = {
            CODES: mu,
            LATENT_LBP: np.hstack([mu, lbp_patches]),
            LBP: lbp_patches,
            GLCM: glcm_patches,
            LBP_GLCM: np.hstack([lbp_patches, glcm_patches]),
        }
        sizes = [len(b) for b in blocks]
        parts = {
            (DESCRIPTOR, "image"): sizes,
            (LATENT_LBP, "image"): [*sizes, len(lbp)],
            (LBP_GLCM, "image"): [len(lbp), len(glcm)],
            (LATENT_LBP, "patch"): [mu.shape[1], len(lbp)],
            (LBP_GLCM, "patch"): [len(lbp), len(glcm)],
        }
        return UnitFeatures(image, patch, parts, windows, mu)

    def add_pca(self, pixels: np.ndarray, features: UnitFeatures) -> None:
        """Add the raw-pixel PCA codes of the unit's patches (per patch, and their mean and spread)."""
        started = time.perf_counter()
        flat = latent.cut(pixels, features.windows).reshape(len(features.windows), -1).astype(np.float32) / 255
        codes = self.pca.transform(flat).astype(np.float32)
        self.seconds[PCA] += time.perf_counter() - started
        features.patch[PCA] = codes
        features.image[PCA] = latent.pool_mean_std(codes)


@dataclass
class Features:
    """Every feature set of every unit and patch of one analysis, with what is needed to show and export them."""

    label_names: list[str]  # sorted class names; labels below index into it
    unit_names: list[str]  # (U,)
    unit_labels: np.ndarray  # (U,) int64
    unit_sources: np.ndarray  # (U,) int64 index of the input image
    image: dict[str, np.ndarray]  # set name -> (U, F) float32
    patch: dict[str, np.ndarray]  # set name -> (Np, F) float32 (no DESCRIPTOR: it is pooled over an image)
    blocks: dict[tuple[str, str], list[int]]  # (set, level) -> column counts of a combined set's parts
    patch_unit: np.ndarray  # (Np,) int64 unit each patch was cut from
    gallery: np.ndarray  # (G, C, P, P) uint8 a few patches of each unit, to show as nearest neighbours
    gallery_mu: np.ndarray  # (G, D) their codes
    gallery_unit: np.ndarray  # (G,) int64 their unit
    skipped: list[str] = field(default_factory=list)  # images smaller than a patch

    @property
    def patch_mu(self) -> np.ndarray:
        """(Np, D) every patch's code."""
        return self.patch[CODES]


def extract_features(
    units: list[Unit],
    describer: TextureDescriber,
    on_progress: Callable[[float, str], None] | None = None,
    skipped: list[str] | None = None,
) -> Features:
    """Run ``describer`` over ``units``, fit the raw-pixel PCA on their patches and add it; progress in [0, 1]."""
    from sklearn.decomposition import PCA as SkPCA

    report = on_progress or (lambda fraction, message: None)
    config = describer.config
    rows: list[UnitFeatures] = []
    fit_sample, gallery, gallery_mu, gallery_unit = [], [], [], []
    for u, unit in enumerate(units):
        if u % 4 == 0:
            report(0.9 * u / len(units), f"Describing image {u + 1:,} of {len(units):,}")
        f = describer.describe(unit.pixels)
        rows.append(f)
        keep = spread_indices(len(f.windows), config.gallery_per_image)
        patches = latent.cut(unit.pixels, [f.windows[i] for i in keep])
        gallery.append(patches)
        gallery_mu.append(f.mu[keep])
        gallery_unit.append(np.full(len(keep), u, np.int64))
        per_unit = max(1, PCA_FIT_PATCHES // len(units))
        pick = spread_indices(len(f.windows), per_unit)
        fit_sample.append(latent.cut(unit.pixels, [f.windows[i] for i in pick]).reshape(len(pick), -1))
    report(0.9, "Fitting the raw-pixel PCA baseline")
    started = time.perf_counter()
    sample = np.concatenate(fit_sample).astype(np.float32) / 255
    k = min(describer.model.latent_dim, *sample.shape)
    describer.pca = SkPCA(k, svd_solver="randomized", random_state=config.seed).fit(sample)
    describer.seconds[PCA] += time.perf_counter() - started
    for unit, f in zip(units, rows, strict=True):
        describer.add_pca(unit.pixels, f)
    label_names = sorted({u.label for u in units})
    return Features(
        label_names=label_names,
        unit_names=[u.name for u in units],
        unit_labels=np.array([label_names.index(u.label) for u in units], np.int64),
        unit_sources=np.array([u.source for u in units], np.int64),
        image={name: np.stack([f.image[name] for f in rows]).astype(np.float32) for name in rows[0].image},
        patch={name: np.concatenate([f.patch[name] for f in rows]).astype(np.float32) for name in rows[0].patch},
        blocks=rows[0].blocks,
        patch_unit=np.concatenate([np.full(len(f.windows), u, np.int64) for u, f in enumerate(rows)]),
        gallery=np.concatenate(gallery),
        gallery_mu=np.concatenate(gallery_mu),
        gallery_unit=np.concatenate(gallery_unit),
        skipped=list(skipped or []),
    )
