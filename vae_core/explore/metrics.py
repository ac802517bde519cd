"""Image-quality metrics (PSNR, scikit-image's SSIM), the PCA baseline, and the scores built on them.

PSNR is one formula for the whole package (:func:`vae_core.imaging.psnr_from_mse`); SSIM
comes from scikit-image, the reference implementation people compare against. The
baseline is PCA with k = latent_dim fitted on the training patches: the best *linear* code
with the same number of numbers, which a VAE has to beat to earn its non-linearity.

* :func:`evaluate` scores a model on every validation patch (the CLI's and the README's figures).
* :func:`compare` reconstructs a few patches with both, for pictures (the Reconstructions page).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vae_core.imaging import psnr_from_mse, spread_indices, to_uint8_hwc


def _as_float(patches: np.ndarray) -> np.ndarray:
    a = np.asarray(patches)
    return a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32, copy=False)


def psnr_per_patch(reference: np.ndarray, test: np.ndarray) -> np.ndarray:
    """PSNR in dB of each patch (capped at 100 dB). reference, test: (N, C, H, W), uint8 or float in [0, 1]."""
    ref, tst = _as_float(reference), _as_float(test)
    diff = ref.reshape(len(ref), -1).astype(np.float64) - tst.reshape(len(tst), -1)
    return psnr_from_mse(np.mean(diff * diff, axis=1))


SSIM_WINDOW = 7  # scikit-image's default: a 7x7 uniform window, sample covariance, K1 = 0.01, K2 = 0.03


def ssim_per_patch(reference: np.ndarray, test: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """SSIM of each patch, channels averaged: (N,) float64. Shapes as ``psnr_per_patch``.

    The same arithmetic as ``skimage.metrics.structural_similarity(ref, test, data_range=1,
    channel_axis=0)`` (Wang et al. 2004 with scikit-image's defaults; a unit test holds the two
    together to 1e-6), vectorised over a batch of patches: scipy's ``uniform_filter`` with a
    window of 1 along the batch and channel axes filters each channel of each patch on its own,
    so scoring 40,000 patches is one pass over arrays instead of 120,000 Python calls.
    """
    from scipy.ndimage import uniform_filter

    size = (1, 1, SSIM_WINDOW, SSIM_WINDOW)
    pad = (SSIM_WINDOW - 1) // 2
    cov_norm = SSIM_WINDOW**2 / (SSIM_WINDOW**2 - 1)  # sample covariance, as scikit-image's default
    c1, c2 = 0.01**2, 0.03**2  # (K1 * data_range)^2, (K2 * data_range)^2 with data_range = 1
    out = np.empty(len(reference), dtype=np.float64)
    for start in range(0, len(reference), chunk):
        x = _as_float(reference[start : start + chunk])
        y = _as_float(test[start : start + chunk])
        ux, uy = uniform_filter(x, size), uniform_filter(y, size)
        vx = cov_norm * (uniform_filter(x * x, size) - ux * ux)
        vy = cov_norm * (uniform_filter(y * y, size) - uy * uy)
        vxy = cov_norm * (uniform_filter(x * y, size) - ux * uy)
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
        inner = s[:, :, pad:-pad, pad:-pad]
        out[start : start + chunk] = inner.mean(axis=(2, 3), dtype=np.float64).mean(axis=1)
    return out


@dataclass
class PCABaseline:
    """PCA with k components fitted on training patches; reconstructs like an autoencoder."""

    k: int
    mean: np.ndarray  # (D,)
    components: np.ndarray  # (k, D)
    shape: tuple[int, int, int]  # (C, H, W)

    def encode(self, patches: np.ndarray) -> np.ndarray:
        """(N, C, H, W) -> (N, k) coefficients."""
        x = _as_float(patches).reshape(len(patches), -1)
        return (x - self.mean) @ self.components.T

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """(N, k) -> (N, C, H, W) float in [0, 1]."""
        x = codes @ self.components + self.mean
        return np.clip(x, 0.0, 1.0).reshape(len(codes), *self.shape).astype(np.float32)

    def reconstruct(self, patches: np.ndarray) -> np.ndarray:
        return self.decode(self.encode(patches))


def fit_pca(train_patches: np.ndarray, k: int, seed: int = 0, max_patches: int = 20000) -> PCABaseline:
    """Fit PCA(k) on up to ``max_patches`` training patches (N, C, H, W).

    Why scikit-learn's PCA here (one of three PCAs in the package, each for a reason): this is
    the *baseline* a VAE is judged against, so it should be the reference implementation a
    reader can reproduce, on pixels (D = C*P*P up to 49,152). The model's own PCA start
    (``model.vae.init_linear_path``) is a seeded torch randomized SVD that writes straight into
    the weights; the latent map's (``explore.projection.project_pca``) is an eigendecomposition
    of a tiny D x D covariance of codes.
    """
    from sklearn.decomposition import PCA

    n = len(train_patches)
    if n < 2:
        raise ValueError(f"the PCA baseline needs at least 2 training patches, got {n}")
    rng = np.random.default_rng(seed)
    idx = rng.choice(n, size=max_patches, replace=False) if n > max_patches else np.arange(n)
    x = _as_float(train_patches[idx]).reshape(len(idx), -1)
    k_eff = min(k, x.shape[0], x.shape[1])
    pca = PCA(n_components=k_eff, random_state=seed, svd_solver="auto").fit(x)
    return PCABaseline(
        k=k_eff,
        mean=pca.mean_.astype(np.float32),
        components=pca.components_.astype(np.float32),
        shape=tuple(train_patches.shape[1:]),
    )


@dataclass
class Evaluation:
    """Validation quality of a model next to the PCA baseline at the same number of numbers."""

    psnr: float  # mean per-patch PSNR (dB) of the VAE's reconstructions (z = mu)
    ssim: float  # mean per-patch SSIM
    pca_psnr: float
    pca_ssim: float
    latent_dim: int
    n_val_patches: int
    n_train_patches: int
    psnr_per_patch: np.ndarray = field(repr=False)
    ssim_per_patch: np.ndarray = field(repr=False)
    pca_psnr_per_patch: np.ndarray = field(repr=False)
    pca_ssim_per_patch: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, float | int]:
        return {
            "psnr": round(self.psnr, 3),
            "ssim": round(self.ssim, 4),
            "pca_psnr": round(self.pca_psnr, 3),
            "pca_ssim": round(self.pca_ssim, 4),
            "latent_dim": self.latent_dim,
            "n_val_patches": self.n_val_patches,
            "n_train_patches": self.n_train_patches,
        }


def evaluate(
    model,
    data,
    max_val_patches: int | None = None,
    seed: int = 0,
    on_progress: Callable[[int, int], None] | None = None,
    chunk: int = 2048,
    pca: PCABaseline | None = None,
) -> Evaluation:
    """Score ``model`` (a ConvVAE) on ``data.val`` (a PatchDataset) against PCA(k=latent_dim).

    Every validation patch counts (or ``max_val_patches`` of them, evenly spread): this is the
    one "validation PSNR/SSIM" of the app, the command line and the README. Patches go
    through in chunks of ``chunk`` (2,048: large enough for ``reconstruct``'s fast path, ~20
    progress updates for 40,000 patches); ``on_progress(done, total)`` is called after each.
    ``pca``: the baseline already fitted on ``data.train`` (``fit_pca``), to fit it only once.
    """
    from vae_core.explore.latent import reconstruct

    val = data.val if max_val_patches is None else data.val[spread_indices(len(data.val), max_val_patches)]
    if len(val) == 0:
        raise ValueError("the dataset has no validation patches; raise val_fraction or add images")
    pca = pca or fit_pca(data.train, model.config.latent_dim, seed=seed)
    scores: list[tuple[np.ndarray, ...]] = []
    for i in range(0, len(val), chunk):
        part = val[i : i + chunk]
        rec, prec = reconstruct(model, part), pca.reconstruct(part)
        scores.append((psnr_per_patch(part, rec), ssim_per_patch(part, rec)))
        scores[-1] += (psnr_per_patch(part, prec), ssim_per_patch(part, prec))
        if on_progress is not None:
            on_progress(min(i + chunk, len(val)), len(val))
    p, s, pp, ps = (np.concatenate(column) for column in zip(*scores, strict=True))
    return Evaluation(
        psnr=float(p.mean()),
        ssim=float(s.mean()),
        pca_psnr=float(pp.mean()),
        pca_ssim=float(ps.mean()),
        latent_dim=model.config.latent_dim,
        n_val_patches=len(val),
        n_train_patches=len(data.train),
        psnr_per_patch=p,
        ssim_per_patch=s,
        pca_psnr_per_patch=pp,
        pca_ssim_per_patch=ps,
    )


@dataclass
class Comparison:
    """A few patches reconstructed by the VAE and by PCA with as many numbers, with per-patch scores."""

    originals: np.ndarray  # (n, P, P, C) uint8
    vae: np.ndarray  # (n, P, P, C) uint8: the VAE's reconstruction (z = mu)
    pca: np.ndarray  # (n, P, P, C) uint8: PCA(k)'s reconstruction
    vae_psnr: np.ndarray  # (n,) dB
    vae_ssim: np.ndarray  # (n,)
    pca_psnr: np.ndarray  # (n,) dB
    pca_ssim: np.ndarray  # (n,)
    pca_k: int  # PCA components: latent_dim, or fewer when there are fewer training patches


GRID_ORDERS = ("worst", "best", "cut")


def comparison_columns(c: Comparison, order: str = "worst", scale: int = 2) -> tuple[list[np.ndarray], list[str]]:
    """The Reconstructions grid's columns: for each patch, original / VAE / PCA stacked (``(H, W, C)`` uint8,
    enlarged ``scale`` times), with the VAE's PSNR as its caption.

    ``order``: ``"worst"`` (lowest VAE PSNR first), ``"best"`` or ``"cut"`` (as the patches were cut).
    """
    from vae_core.imaging import tile

    if order not in GRID_ORDERS:
        raise ValueError(f"order must be one of {GRID_ORDERS}, got {order!r}")
    idx = np.arange(len(c.originals))
    if order != "cut":
        idx = np.argsort(c.vae_psnr, kind="stable")
        idx = idx if order == "worst" else idx[::-1]
    stacks = [tile(np.stack([c.originals[i], c.vae[i], c.pca[i]]), cols=1, scale=scale) for i in idx]
    return stacks, [f"{c.vae_psnr[i]:.1f} dB" for i in idx]


def compare(
    model, patches: np.ndarray, train_patches: np.ndarray, seed: int = 0, pca: PCABaseline | None = None
) -> Comparison:
    """Reconstruct ``patches`` (n, C, P, P) with ``model`` (a ConvVAE) and with PCA fitted on ``train_patches``
    (or with ``pca``, that baseline already fitted)."""
    from vae_core.explore.latent import reconstruct

    vae = reconstruct(model, patches)
    pca = pca or fit_pca(train_patches, model.config.latent_dim, seed=seed)
    pca_rec = pca.reconstruct(patches)
    return Comparison(
        originals=np.asarray(patches).transpose(0, 2, 3, 1),
        vae=to_uint8_hwc(vae),
        pca=to_uint8_hwc(pca_rec),
        vae_psnr=psnr_per_patch(patches, vae),
        vae_ssim=ssim_per_patch(patches, vae),
        pca_psnr=psnr_per_patch(patches, pca_rec),
        pca_ssim=ssim_per_patch(patches, pca_rec),
        pca_k=min(model.config.latent_dim, len(train_patches)),
    )
