"""The convolutional beta-VAE for texture patches.

Encoder: a 3x3 stem, then one stride-2 4x4 convolution per octave down to 4x4, each
followed by ``res_blocks`` residual blocks; a linear layer maps the 4x4 features to
``(mu, logvar)``. The decoder mirrors it with stride-2 transposed convolutions and ends in
a sigmoid, so outputs are pixels in [0, 1].

With ``linear_path`` (the default) the model also has a dense path from pixels to ``mu``
and from ``z`` back to pixels, initialised from PCA of the training patches
(``init_linear_path``). The VAE then starts as probabilistic PCA and the convolutional
paths, zero-initialised at their outputs, learn what a linear model cannot. On a CPU
budget of a minute this is what lets the VAE beat PCA at the same number of latent
dimensions (README, "Model choices"). All shapes come from ``ModelConfig``.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from vae_core.config import ModelConfig
from vae_core.model.base import VAEBase, refiner


def stage_channels(config: ModelConfig) -> list[int]:
    """Feature maps at each resolution, from full size down to 4x4.

    Width doubles once after the first octave and then stays, which keeps the deep,
    small-resolution layers cheap while giving them room.
    """
    n_down = int(math.log2(config.image_size // 4))
    return [config.width] + [config.width * 2] * n_down


def _norm(kind: str, channels: int) -> nn.Module:
    return nn.GroupNorm(min(8, channels // 4), channels) if kind == "group" else nn.Identity()


class ResBlock(nn.Module):
    """x + conv(act(conv(act(x)))) with the last conv zero-initialised (starts as identity)."""

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _norm(norm, channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            _norm(norm, channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ConvVAE(VAEBase):
    """A convolutional beta-VAE: ``encode -> (mu, logvar)``, ``reparameterize``, ``decode``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.arch != "conv":
            raise ValueError(f"arch={config.arch!r} is not a ConvVAE; build the model with model.vae.build_model")
        self.config = config.validate()
        chans = stage_channels(config)
        self.top = chans[-1]

        enc: list[nn.Module] = [nn.Conv2d(config.channels, chans[0], 3, padding=1)]
        for c_in, c_out in itertools.pairwise(chans):
            enc += [nn.SiLU(), nn.Conv2d(c_in, c_out, 4, stride=2, padding=1)]
            enc += [ResBlock(c_out, config.norm) for _ in range(config.res_blocks)]
        enc += [nn.SiLU()]
        self.encoder = nn.Sequential(*enc)
        self.to_stats = nn.Linear(self.top * 16, 2 * config.latent_dim)
        n_pix = config.channels * config.image_size**2
        if config.linear_path:
            self.lin_enc = nn.Linear(n_pix, config.latent_dim)
            self.lin_dec = nn.Linear(config.latent_dim, n_pix)
            # Start as the linear model: conv contributions are zero at first.
            nn.init.zeros_(self.to_stats.weight)
            nn.init.zeros_(self.to_stats.bias)
            # Posterior sigma starts small (e^-3 = 0.05) so early samples of z are not
            # drowned in prior-sized noise; the KL term then pulls it to where it belongs.
            nn.init.constant_(self.to_stats.bias[config.latent_dim :], -6.0)

        self.from_latent = nn.Linear(config.latent_dim, self.top * 16)
        dec: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(chans[::-1]):
            dec += [ResBlock(c_in, config.norm) for _ in range(config.res_blocks)]
            dec += [nn.SiLU(), nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)]
        dec += [nn.SiLU(), nn.Conv2d(chans[0], config.channels, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)
        if config.linear_path:
            nn.init.zeros_(self.decoder[-1].weight)
            nn.init.zeros_(self.decoder[-1].bias)
        self.refine = refiner(config) if config.refine_layers else None

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, C, H, W) in [0, 1] -> (mu, logvar), each (B, latent_dim)."""
        h = self.encoder(x * 2 - 1).flatten(1)
        mu, logvar = self.to_stats(h).float().chunk(2, dim=1)
        if self.config.linear_path:
            mu = mu + self.lin_enc(x.flatten(1)).float()
        # Bounded log-variance keeps exp() finite early in training.
        return mu, logvar.clamp(-12.0, 6.0)

    def decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, latent_dim) -> (B, C, H, W) unclamped (the loss trains on this)."""
        c = self.config
        h = self.from_latent(z).view(-1, self.top, 4, 4)
        out = self.decoder(h).float()
        if c.linear_path:
            out = out + self.lin_dec(z).float().view(-1, c.channels, c.image_size, c.image_size)
        else:
            out = torch.sigmoid(out)
        if self.refine is not None:
            out = out + self.refine(out * 2 - 1).float()
        return out


PCA_MAX_VALUES = 4096 * 49152  # a PCA start reads at most this many pixel values (805 MB as float32)
PCA_MAX_PATCHES = 16384  # and at most this many patches (the baseline, explore.metrics.fit_pca, takes 20,000)


def pca_sample_size(n_pixels: int) -> int:
    """How many patches of ``n_pixels`` values (C*P*P) a PCA start reads: 16,384 up to 64 px, 4,096 at 128 px."""
    return max(1, min(PCA_MAX_PATCHES, PCA_MAX_VALUES // max(1, n_pixels)))


@torch.no_grad()
def pca_basis(
    patches: torch.Tensor, k: int, seed: int = 0, max_patches: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-``k`` PCA of ``patches`` ((N, C, H, W) uint8 or float in [0, 1]) on the CPU.

    Returns ``(mean (D,), components (k', D), std (k',))`` with k' = min(k, N, D): the mean patch, the
    principal directions (rows, orthonormal) and the standard deviation along each. A seeded
    randomized SVD (Halko et al. 2011) on at most ``max_patches`` patches (default
    :func:`pca_sample_size`) keeps this fast at 128 px, where the covariance would not fit.
    """
    g = torch.Generator().manual_seed(seed)
    n = patches.shape[0]
    cap = max_patches or pca_sample_size(int(math.prod(patches.shape[1:])))
    idx = torch.randperm(n, generator=g)[:cap] if n > cap else torch.arange(n)
    x = patches[idx.to(patches.device)].cpu().flatten(1).float()
    if patches.dtype == torch.uint8:
        x.div_(255.0)
    mean = x.mean(0)
    xc = x.sub_(mean)  # in place: at 128 px this is the largest array of a training run
    q = min(k + 10, *xc.shape)
    omega = torch.randn(xc.shape[1], q, generator=g)
    basis, _ = torch.linalg.qr(xc @ omega)
    for _ in range(3):  # power iterations sharpen the spectrum
        basis, _ = torch.linalg.qr(xc @ (xc.T @ basis))
    _, sv, vt = torch.linalg.svd(basis.T @ xc, full_matrices=False)
    comps = vt[:k]
    std = (sv[:k] / max(1, x.shape[0] - 1) ** 0.5).clamp(min=1e-4)
    return mean, comps, std


@torch.no_grad()
def set_linear_path(model: nn.Module, mean: torch.Tensor, comps: torch.Tensor, std: torch.Tensor) -> None:
    """Write whitened PCA into ``model.lin_enc``/``lin_dec``: mu = (x - mean) @ V / s, x = mean + z * s @ V^T.

    That is probabilistic PCA with unit-variance codes, which matches the N(0, I) prior. Uses the
    first ``latent_dim`` of ``comps`` (k', D) and ``std`` (k',); fewer leave the other codes unused.
    """
    kk = min(model.latent_dim, comps.shape[0])
    comps, std = comps[:kk], std[:kk]
    dev = model.lin_enc.weight.device
    model.lin_enc.weight.zero_()
    model.lin_enc.weight[:kk] = (comps / std[:, None]).to(dev)
    model.lin_enc.bias.zero_()
    model.lin_enc.bias[:kk] = (-(comps @ mean) / std).to(dev)
    model.lin_dec.weight.zero_()
    model.lin_dec.weight[:, :kk] = (comps.T * std[None, :]).to(dev)
    model.lin_dec.bias.copy_(mean.to(dev))


@torch.no_grad()
def init_linear_path(model: ConvVAE, patches: torch.Tensor, seed: int = 0, max_patches: int | None = None) -> None:
    """Start the model at whitened PCA of ``patches`` ((N, C, H, W) uint8 or float): its dense path
    (:func:`set_linear_path`), and for a ``CoefVAE`` its coefficient basis too.

    (Why not the PCA baseline's scikit-learn PCA: this one runs in torch, writes straight into the
    weights, and needs only the top k directions; :func:`pca_basis`.)
    """
    if not model.config.linear_path:
        return
    k = max(model.latent_dim, getattr(model, "basis_size", 0))
    mean, comps, std = pca_basis(patches, k, seed=seed, max_patches=max_patches)
    set_linear_path(model, mean, comps, std)
    if hasattr(model, "set_basis"):
        model.set_basis(mean, comps, std)


def kind_words(config: ModelConfig) -> str:
    """The model's kind in a few plain words, for the Model page's card."""
    if config.arch == "coef":
        return f"small networks working on the {config.coef_k} main patterns (PCA) of the patches"
    return "a convolutional network"


def count_parameters(model: nn.Module) -> int:
    """How many numbers the model learns (weights and biases)."""
    return sum(p.numel() for p in model.parameters())


def build_model(config: ModelConfig, seed: int = 0) -> nn.Module:
    """A new model of ``config.arch`` (``ConvVAE`` or ``CoefVAE``) whose initial weights depend only on ``seed``.

    The seed is applied inside ``torch.random.fork_rng``, so building a model for one user
    never changes the global random stream another user's code is drawing from.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return new_model(config)


def new_model(config: ModelConfig) -> nn.Module:
    """``ConvVAE(config)`` or ``CoefVAE(config)``, as ``config.arch`` says (unseeded: torch's global RNG)."""
    if config.arch == "coef":
        from vae_core.model.coef_vae import CoefVAE

        return CoefVAE(config)
    return ConvVAE(config)
