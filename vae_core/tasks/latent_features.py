"""Texture descriptors made from a trained VAE: its patch codes pooled over an image, and Gram matrices of its encoder.

A 32-number code of one 32-px patch sees too little of a texture, so an image is described
by statistics of many codes, and by what the encoder's convolutions respond to:

* :func:`pool_mean_std` / :func:`pool_mean_cov`: first- and second-order pooling of the
  codes (the covariance is a small Gram-like matrix; its entries are square-rooted with
  their sign, the usual "power normalisation" of second-order pooling);
* :func:`bag_of_codes`: a histogram of which k-means centre each code is nearest to;
* :func:`multiscale_codes`: the image shrunk by 2 and 4 and encoded again, so that the same
  32-px window sees a larger part of the texture;
* :func:`encoder_grams`: Gram matrices of the encoder's intermediate feature maps over the
  whole image (Gatys et al. 2015's texture statistic, with the VAE's encoder as the network);
* :func:`encoder_covariances`: log-Euclidean covariances of the first feature maps, pooled over
  the image's 8 turns and flips: what the descriptor is made of, because it measured best.

The README's "Analyze" section has the ablation that chose which of these make the
descriptor (``bench --analyze``). Every function takes numpy and returns numpy.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from vae_core.explore.latent import encode
from vae_core.imaging import downscale, spread_indices

SCALES = (1, 2, 4)  # image shrink factors that multiscale_codes encodes at
DESCRIPTOR_SIDE = 256  # encoder statistics read at most this centre square of an image (bounds the time)


def signed_sqrt(x: np.ndarray) -> np.ndarray:
    """sign(x) * sqrt(|x|), elementwise: tames the heavy tails of second-order statistics."""
    return np.sign(x) * np.sqrt(np.abs(x))


def pool_mean_std(mu: np.ndarray) -> np.ndarray:
    """Codes ``(N, D)`` -> ``(2D,)``: their mean and standard deviation per dimension."""
    return np.concatenate([mu.mean(0), mu.std(0)]).astype(np.float32)


def pool_mean_cov(mu: np.ndarray) -> np.ndarray:
    """Codes ``(N, D)`` -> ``(D + D(D+1)/2,)``: the mean, then the covariance's upper triangle, power-normalised."""
    d = mu.shape[1]
    centred = mu - mu.mean(0)
    cov = centred.T @ centred / max(1, len(mu))
    return np.concatenate([mu.mean(0), signed_sqrt(cov[np.triu_indices(d)])]).astype(np.float32)


def bag_of_codes(mu: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Codes ``(N, D)`` and k-means centres ``(K, D)`` -> ``(K,)``: the share of codes nearest to each centre."""
    d2 = ((mu[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
    counts = np.bincount(d2.argmin(1), minlength=len(centres)).astype(np.float32)
    return signed_sqrt(counts / max(1, len(mu)))


def grid_windows(height: int, width: int, size: int, stride: int, cap: int) -> list[tuple[int, int, int]]:
    """At most ``cap`` windows ``(y, x, size)`` on a grid of step ``stride`` covering the image, evenly spread."""
    from vae_core.data.patches import grid_positions

    ys, xs = grid_positions(height, size, stride), grid_positions(width, size, stride)
    windows = [(y, x, size) for y in ys for x in xs]
    return [windows[i] for i in spread_indices(len(windows), cap)]


def cut(pixels: np.ndarray, windows: list[tuple[int, int, int]]) -> np.ndarray:
    """The windows of ``(H, W, C) uint8`` pixels as patches ``(N, C, P, P) uint8``."""
    return np.stack([pixels[y : y + s, x : x + s].transpose(2, 0, 1) for y, x, s in windows])


def shrink_to(pixels: np.ndarray, factor: int, size: int) -> np.ndarray:
    """``(H, W, C) uint8`` shrunk ``factor`` times, but never below ``size`` pixels on its shorter side."""
    height, width = pixels.shape[:2]
    short = min(height, width)
    target = max(size, short / factor)
    if target >= short:
        return pixels
    return downscale(pixels, math.ceil(max(height, width) * target / short))


def multiscale_codes(
    model: nn.Module, pixels: np.ndarray, stride: int, cap: int, scales: tuple[int, ...] = SCALES
) -> np.ndarray:
    """Mean and spread of the codes of ``(H, W, C) uint8`` at each of ``scales``: ``(len(scales) * 2D,)``."""
    size = model.config.image_size
    parts = []
    for factor in scales:
        small = pixels if factor == 1 else shrink_to(pixels, factor, size)
        windows = grid_windows(*small.shape[:2], size, stride, cap)
        parts.append(pool_mean_std(encode(model, cut(small, windows)).mu))
    return np.concatenate(parts)


def _is_activation(layer: nn.Module) -> bool:
    return isinstance(layer, nn.SiLU | nn.ReLU | nn.LeakyReLU | nn.GELU | nn.ELU | nn.Tanh)


def has_feature_maps(model: nn.Module) -> bool:
    """Whether ``model`` has a convolutional encoder that :func:`encoder_maps` can read (a ``ConvVAE`` does)."""
    return isinstance(getattr(model, "encoder", None), nn.Sequential)


@torch.no_grad()
def encoder_maps(model: nn.Module, pixels: np.ndarray, n_maps: int | None = None) -> list[torch.Tensor]:
    """The encoder's feature maps on a whole image, after each activation: a list of ``(C_i, H_i, W_i)``.

    The encoder is fully convolutional up to its last layer, so it runs on an image of any size
    (>= the patch size); it stops after ``n_maps`` maps when given. Needs ``model.encoder`` to be
    an ``nn.Sequential`` fed with ``x * 2 - 1``, as :class:`vae_core.model.vae.ConvVAE` is;
    raises ``ValueError`` for a model without one.
    """
    if not has_feature_maps(model):
        raise ValueError("this model has no convolutional encoder to read; use the code-based descriptors instead")
    model.eval()
    device = next(model.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))[None].float().div_(255).to(device)
    h, maps = x * 2 - 1, []
    for layer in model.encoder:
        h = layer(h)
        if _is_activation(layer):
            maps.append(h[0].float())
            if n_maps is not None and len(maps) >= n_maps:
                break
    return maps


def _unit_length(vec: np.ndarray) -> np.ndarray:
    return vec / max(float(np.linalg.norm(vec)), 1e-8)


def encoder_grams(model: nn.Module, pixels: np.ndarray, n_maps: int | None = None) -> list[np.ndarray]:
    """Gram matrices of the encoder's feature maps on ``(H, W, C) uint8``: one power- and L2-normalised vector per map.

    For a map with C channels: G = F F^T / (H W), its upper triangle (C(C+1)/2 numbers). With
    the default model and all 4 maps: 32 + 3 x 64 channels, 6,768 numbers. Each map's part is
    scaled to unit length so that no layer dominates by the size of its activations.
    """
    parts = []
    for fmap in encoder_maps(model, pixels, n_maps):
        flat = fmap.reshape(fmap.shape[0], -1)
        gram = (flat @ flat.T / flat.shape[1]).cpu().numpy()
        parts.append(_unit_length(signed_sqrt(gram[np.triu_indices(gram.shape[0])])).astype(np.float32))
    return parts


def dihedral(pixels: np.ndarray) -> list[np.ndarray]:
    """The 8 turns and flips of ``(H, W, C)`` pixels (the identity first)."""
    turns = [np.rot90(pixels, k, axes=(0, 1)) for k in range(4)]
    return [np.ascontiguousarray(p) for t in turns for p in (t, t[:, ::-1])]


def log_covariance(cov: torch.Tensor, eps: float = 1e-3) -> np.ndarray:
    """Log-Euclidean form of a ``(C, C)`` covariance: the upper triangle of log(cov + eps I), ``(C(C+1)/2,)``.

    The matrix logarithm maps covariances (which live on a curved cone) to a flat space where a
    linear probe's distances make sense (Arsigny et al. 2006; region covariances: Tuzel et al. 2006).
    """
    cov = cov.double() + eps * torch.eye(cov.shape[0], dtype=torch.float64)
    values, vectors = torch.linalg.eigh(cov)
    log = (vectors * torch.log(values.clamp_min(1e-12))) @ vectors.T
    rows, cols = torch.triu_indices(len(log), len(log))
    return log[rows, cols].cpu().numpy()


def encoder_covariances(
    model: nn.Module, pixels: np.ndarray, n_maps: int = 2, turns: bool = True, side: int = DESCRIPTOR_SIDE
) -> list[np.ndarray]:
    """Log-Euclidean covariance of the encoder's first ``n_maps`` feature maps over an image: one vector per map.

    With ``turns``, the statistics pool the maps of all 8 turns and flips of the image, so the
    descriptor does not change when the texture is turned by 90 degrees or mirrored (LBP's
    "uniform" codes are rotation-invariant too). Only the centre ``side`` x ``side`` of a larger
    image is read, which bounds the cost per image. Each vector is power- and L2-normalised.
    """
    h, w = pixels.shape[:2]
    top, left = (h - min(h, side)) // 2, (w - min(w, side)) // 2
    crop = np.ascontiguousarray(pixels[top : top + side, left : left + side])
    views = dihedral(crop) if turns else [crop]
    # Running sums of x and x x^T per map: no need to hold all 8 views' maps at once.
    count = [0] * n_maps
    first: list[torch.Tensor] = [torch.zeros(0)] * n_maps
    second: list[torch.Tensor] = [torch.zeros(0)] * n_maps
    for view in views:
        for i, fmap in enumerate(encoder_maps(model, view, n_maps)):
            flat = fmap.reshape(fmap.shape[0], -1)
            sums, outer = flat.sum(1, dtype=torch.float64), (flat @ flat.T).double()
            first[i] = sums if count[i] == 0 else first[i] + sums
            second[i] = outer if count[i] == 0 else second[i] + outer
            count[i] += flat.shape[1]
    out = []
    for n, s1, s2 in zip(count, first, second, strict=True):
        mean = s1 / n
        cov = (s2 - n * torch.outer(mean, mean)) / max(1, n - 1)
        out.append(_unit_length(signed_sqrt(log_covariance(cov))).astype(np.float32))
    return out
