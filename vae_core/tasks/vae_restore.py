"""The VAE's two ways to restore an image: redraw it through the model, or fit the codes to the pixels that are known.

* :func:`redraw` (noise, JPEG artefacts): every overlapping patch is encoded and decoded, and
  the decodes are blended with a raised-cosine window (the whole-image path of
  :func:`vae_core.explore.fullimage.reconstruct_image`). The model can only draw what it
  learnt from clean textures, so noise it never saw is mostly left out.
* :func:`fit_codes` (holes, salt-and-pepper impulses, and optionally noise): the codes ``z``
  of the patches that touch the missing pixels are optimised with Adam, through the decoder,
  so that (a) each decode matches the known pixels, (b) overlapping decodes agree with each
  other where pixels are missing, and (c) the codes stay likely under a prior. That is maximum
  a posteriori (MAP) inference with the VAE as the image prior:

      loss = sum_p ||known_p * (decode(z_p) - x_p)||^2 / (2 sigma^2)
           + agreement * sum_p ||missing_p * (decode(z_p) - blend_p)||^2 / (2 sigma^2)
           + prior_weight * sum_p (z_p - m)^T S^-1 (z_p - m) / 2

  where ``blend`` is the window-weighted mean of all decodes at each pixel, taken from the
  previous step (so patches can be processed in small batches and memory stays bounded).
  The agreement term is what carries the texture from the hole's border into its middle:
  a patch entirely inside a hole sees no known pixel, only its neighbours. The missing pixels
  are then filled from ``blend``; known pixels are returned exactly as they were.

  The prior N(m, S) is, by default, *this image's* distribution of codes (mean and Ledoit-Wolf
  covariance of the codes of its wholly known patches), not the model's N(0, I): a model
  trained on several textures otherwise lets a fill drift towards another texture it knows
  (measured: marble filled with dots). Patches mostly inside the hole start at the code of a
  random known patch (seeded) rather than at the code of a flat grey patch, which keeps some
  texture in the middle of a big hole instead of the mean colour. Tried during development and
  not kept (it did not visibly help; no figures were kept): peeling the hole ring by ring from
  the border inwards.

torch is imported inside the functions; the model is used through ``encode``/``decode`` only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vae_core.data.images import to_channels
from vae_core.data.patches import grid_positions
from vae_core.explore.fullimage import blend_window, reconstruct_image

BATCH = 128  # patches per forward/backward pass: bounds the memory of one optimisation step


@dataclass(frozen=True)
class FitConfig:
    """How the codes are fitted to the known pixels (one comment per field)."""

    steps: int = 40  # Adam steps on the codes
    lr: float = 0.05  # Adam's learning rate on z (codes are on the prior's N(0, 1) scale)
    sigma: float = 0.05  # pixel noise (0-1 scale) the data terms assume: the model's own error, plus any noise
    prior_weight: float = 1.0  # weight of the prior term ||z||^2 / 2 (1 = the VAE's own prior)
    stride_divisor: int = 2  # patches overlap: stride = patch size // this (2: 50%, 4: 75%)
    prior: str = "image"  # "image": N(mean, cov) of the codes of this image's known patches; "standard": N(0, I)
    init: str = "sample"  # "sample": mostly-missing patches start at a known patch's code; "encode": at the mean fill's
    seed: int = 0  # seeds which known codes the "sample" start draws
    agreement: float = 1.0  # weight of the term that makes overlapping decodes agree on missing pixels

    def validate(self) -> FitConfig:
        """Raise ``ValueError`` naming the bad field and the fix; return self."""
        if not 0 <= self.steps <= 2000:
            raise ValueError(f"steps={self.steps} is out of range; choose 0..2000")
        if not 0 < self.lr <= 1:
            raise ValueError(f"lr={self.lr} is out of range; choose (0, 1], e.g. 0.05")
        if not 0 < self.sigma <= 1:
            raise ValueError(f"sigma={self.sigma} is out of range; choose (0, 1], e.g. 0.05")
        if self.prior_weight < 0:
            raise ValueError(f"prior_weight={self.prior_weight} must be >= 0")
        if self.prior not in ("image", "standard"):
            raise ValueError(f"prior={self.prior!r} is not supported; choose 'image' or 'standard'")
        if self.init not in ("sample", "encode"):
            raise ValueError(f"init={self.init!r} is not supported; choose 'sample' or 'encode'")
        if self.stride_divisor not in (1, 2, 4, 8):
            raise ValueError(f"stride_divisor={self.stride_divisor} is not supported; choose 1, 2, 4 or 8")
        return self


def _as_model_pixels(model, pixels: np.ndarray) -> np.ndarray:
    pixels = np.asarray(pixels)
    pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
    if pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be uint8 (H, W, C), got {pixels.dtype}")
    size = int(model.config.image_size)
    if min(pixels.shape[:2]) < size:
        raise ValueError(
            f"the image is {pixels.shape[1]}x{pixels.shape[0]} pixels, smaller than the model's {size}-pixel "
            f"patches; use an image at least {size} pixels on each side"
        )
    return to_channels(pixels, int(model.config.channels))


def redraw(
    model, pixels: np.ndarray, stride_divisor: int = 4, on_progress: Callable[[int, int], None] | None = None
) -> np.ndarray:
    """Encode and decode every overlapping patch of ``pixels`` (H, W, C) uint8 and blend: ``(H, W, C_model) uint8``."""
    pixels = _as_model_pixels(model, pixels)
    stride = max(1, int(model.config.image_size) // stride_divisor)
    return reconstruct_image(model, pixels, stride, on_progress=on_progress)


def patch_grid(height: int, width: int, size: int, stride: int, active: np.ndarray) -> list[tuple[int, int]]:
    """Top-left corners of the grid patches (``grid_positions`` on each axis) that touch ``active`` (H, W) bool."""
    ys, xs = grid_positions(height, size, stride), grid_positions(width, size, stride)
    return [(y, x) for y in ys for x in xs if active[y : y + size, x : x + size].any()]


def fit_codes(
    model,
    pixels: np.ndarray,
    known: np.ndarray,
    config: FitConfig = FitConfig(),
    *,
    active: np.ndarray | None = None,
    keep_known: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> np.ndarray:
    """Fit the codes of the patches touching ``active`` to the ``known`` pixels; return the restored image.

    Args:
        model: a ``ConvVAE`` (``encode``, ``decode``, ``config.image_size``, ``config.channels``).
        pixels: ``(H, W, C) uint8``; converted to the model's channel count.
        known: ``(H, W) bool``: True where a pixel of ``pixels`` can be trusted.
        config: steps, learning rate, pixel noise, prior weight, overlap.
        active: ``(H, W) bool``: the patches that touch it are optimised (default ``~known``);
            pixels outside those patches are returned as they were.
        keep_known: True (holes, impulses): known pixels are returned exactly as given, only the
            others are filled. False (noise): every covered pixel is replaced by the blend.
        on_progress: called as ``on_progress(step, steps)``.
        should_stop: polled between steps; True ends the fit early with the codes so far.

    Returns:
        ``(H, W, C_model) uint8``.
    """
    import torch

    config.validate()
    pixels = _as_model_pixels(model, pixels)
    known = np.asarray(known, bool)
    if known.shape != pixels.shape[:2]:
        raise ValueError(f"known is {known.shape}, the image {pixels.shape[:2]}; give a mask of the image's size")
    if not known.any():
        raise ValueError("no pixel is known; the codes need some known pixels to fit")
    active = ~known if active is None else np.asarray(active, bool)
    size, height, width = int(model.config.image_size), *pixels.shape[:2]
    coords = patch_grid(height, width, size, max(1, size // config.stride_divisor), active)
    if not coords:
        return pixels.copy()

    # The region the chosen patches cover, and each patch pixel's flat index into it.
    y0, x0 = min(c[0] for c in coords), min(c[1] for c in coords)
    y1, x1 = max(c[0] for c in coords) + size, max(c[1] for c in coords) + size
    rh, rw = y1 - y0, x1 - x0
    offs = (np.arange(size)[:, None] * rw + np.arange(size)[None, :]).reshape(-1)
    idx = torch.from_numpy(np.array([(y - y0) * rw + (x - x0) + offs for y, x in coords], dtype=np.int64))
    target = torch.from_numpy(pixels[y0:y1, x0:x1].astype(np.float32) / 255.0).permute(2, 0, 1).reshape(-1, rh * rw)
    seen = torch.from_numpy(known[y0:y1, x0:x1].reshape(-1))
    window = torch.from_numpy(blend_window(size).reshape(-1).astype(np.float32))
    weight = torch.zeros(rh * rw).index_add_(0, idx.reshape(-1), window.repeat(len(coords)))
    weight = weight.clamp_min(1e-8)

    # Start: missing pixels at the mean of the known ones, each code at the encoder's guess for that;
    # with init="sample", a patch that is mostly missing starts at the code of a random known patch.
    fill = target[:, seen].mean(dim=1, keepdim=True)
    estimate = torch.where(seen, target, fill)
    model = frozen_copy(model)
    with torch.no_grad():
        z = torch.cat([model.encode(_gather(estimate, idx[i : i + BATCH], size))[0] for i in range(0, len(idx), BATCH)])
    needs_pool = config.prior == "image" or config.init == "sample"
    pool = known_codes(model, pixels, known) if needs_pool else np.zeros((0, model.latent_dim), np.float32)
    mean, precision = texture_prior(pool) if config.prior == "image" else (None, None)
    if config.init == "sample":
        mostly_missing = (~seen[idx]).float().mean(dim=1) > 0.5
        if len(pool) and mostly_missing.any():
            pick = np.random.default_rng(config.seed).integers(0, len(pool), int(mostly_missing.sum()))
            z[mostly_missing] = torch.from_numpy(pool[pick])
    if mean is not None:
        mean, precision = torch.from_numpy(mean), torch.from_numpy(precision)
    z.requires_grad_(True)
    adam = Adam(z, config.lr)
    scale = 1.0 / (2 * config.sigma**2)
    for step in range(config.steps):
        if should_stop is not None and should_stop():
            break
        z.grad = None
        acc = torch.zeros_like(target)
        for i in range(0, len(idx), BATCH):
            out = model.decode(z[i : i + BATCH])  # (b, C, P, P)
            goal = _gather(estimate, idx[i : i + BATCH], size)
            weights = torch.where(seen[idx[i : i + BATCH]], 1.0, config.agreement)[:, None]  # (b, 1, P*P)
            data = (((out - goal) ** 2).flatten(2) * weights).sum() * scale
            prior = 0.5 * config.prior_weight * _mahalanobis(z[i : i + BATCH], mean, precision)
            (data + prior).backward()
            _accumulate(acc, out.detach(), idx[i : i + BATCH], window)
        adam.step(z)
        blend = acc / weight
        estimate = torch.where(seen, target, blend)
        if on_progress is not None:
            on_progress(step + 1, config.steps)
    with torch.no_grad():  # the final codes' decodes (the loop's blend is one step behind them)
        acc = torch.zeros_like(target)
        for i in range(0, len(idx), BATCH):
            _accumulate(acc, model.decode(z[i : i + BATCH]), idx[i : i + BATCH], window)
        blend = acc / weight

    region = np.clip(blend.reshape(-1, rh, rw).permute(1, 2, 0).numpy() * 255.0 + 0.5, 0, 255).astype(np.uint8)
    out = pixels.copy()
    if keep_known:
        missing = ~known[y0:y1, x0:x1]
        out[y0:y1, x0:x1][missing] = region[missing]
    else:
        out[y0:y1, x0:x1] = region
    return out


class Adam:
    """Adam (Kingma & Ba 2015) on one tensor, written out: ``torch.optim`` imports torch's compiler stack
    (``torch._dynamo``, sympy) on first use, which took 16 s of a restoration on a busy server."""

    def __init__(self, z, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        import torch

        self.lr, self.betas, self.eps, self.t = lr, betas, eps, 0
        self.m, self.v = torch.zeros_like(z), torch.zeros_like(z)

    def step(self, z) -> None:
        """One update of ``z`` (a leaf tensor) from ``z.grad``, in place."""
        import torch

        b1, b2 = self.betas
        self.t += 1
        with torch.no_grad():
            self.m.mul_(b1).add_(z.grad, alpha=1 - b1)
            self.v.mul_(b2).addcmul_(z.grad, z.grad, value=1 - b2)
            denom = (self.v / (1 - b2**self.t)).sqrt_().add_(self.eps)
            z.addcdiv_(self.m, denom, value=-self.lr / (1 - b1**self.t))


def frozen_copy(model):
    """A copy of ``model`` in eval mode whose weights need no gradient: the fit writes nothing to the caller's model,
    and another thread may keep using (or replace) it meanwhile."""
    import copy

    twin = copy.deepcopy(model).eval()
    for p in twin.parameters():
        p.requires_grad_(False)
    return twin


def known_codes(model, pixels: np.ndarray, known: np.ndarray, max_codes: int = 512) -> np.ndarray:
    """Codes (mu) of up to ``max_codes`` grid patches (stride P/2) wholly in ``known`` (H, W): ``(M, D) float32``."""
    from vae_core.explore.latent import encode
    from vae_core.imaging import spread_indices

    size = int(model.config.image_size)
    height, width = pixels.shape[:2]
    inside = [
        (y, x)
        for y in grid_positions(height, size, max(1, size // 2))
        for x in grid_positions(width, size, max(1, size // 2))
        if known[y : y + size, x : x + size].all()
    ]
    inside = [inside[i] for i in spread_indices(len(inside), max_codes)]
    if not inside:
        return np.zeros((0, model.latent_dim), np.float32)
    patches = np.stack([pixels[y : y + size, x : x + size].transpose(2, 0, 1) for y, x in inside])
    return encode(model, patches).mu


def texture_prior(codes: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The image's own distribution of codes (M, D): mean (D,) and precision (D, D), Ledoit-Wolf shrunk.

    (None, None) when there are fewer than 8 codes: the standard prior N(0, I) is used then.
    """
    if len(codes) < 8:
        return None, None
    x = codes.astype(np.float64)
    mean = x.mean(axis=0)
    cov = ledoit_wolf(x - mean)
    return mean.astype(np.float32), np.linalg.inv(cov).astype(np.float32)


def ledoit_wolf(x: np.ndarray) -> np.ndarray:
    """Ledoit-Wolf shrunk covariance (D, D) of centred samples ``x`` (M, D): (1 - s) C + s tr(C)/D I.

    The shrinkage s is Ledoit & Wolf's (2004) optimal one, computed as scikit-learn's
    ``ledoit_wolf_shrinkage`` does; written out here (a dozen lines) so that restoring an
    image does not import scikit-learn, which costs seconds on a busy server.
    """
    n, d = x.shape
    cov = x.T @ x / n
    mu = np.trace(cov) / d
    x2 = x**2
    beta_ = np.sum(x2.T @ x2) / n
    delta_ = np.sum(cov**2)
    beta = (beta_ - delta_) / (d * n)
    delta = (delta_ - 2.0 * mu * np.trace(cov) + d * mu**2) / d
    shrink = 0.0 if delta <= 0 else min(beta, delta) / delta
    return (1.0 - shrink) * cov + shrink * mu * np.eye(d)


def _mahalanobis(z, mean, precision):
    """Sum over rows of (z - mean) P (z - mean); the plain ||z||^2 when ``mean`` is None."""
    if mean is None:
        return (z**2).sum()
    d = z - mean
    return ((d @ precision) * d).sum()


def _accumulate(acc, out, idx, window) -> None:
    """Add decodes ``out`` (b, C, P, P) times ``window`` (P*P,) at flat indices ``idx`` (b, P*P) of ``acc`` (C, R)."""
    acc.index_add_(1, idx.reshape(-1), (out.flatten(2) * window).permute(1, 0, 2).reshape(out.shape[1], -1))


def _gather(image, idx, size: int):
    """Patches at flat indices ``idx`` (n, P*P) of ``image`` (C, R): ``(n, C, P, P)``."""
    return image[:, idx].permute(1, 0, 2).reshape(len(idx), image.shape[0], size, size)
