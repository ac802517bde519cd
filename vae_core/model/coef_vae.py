"""The coefficient VAE (``ModelConfig.arch = "coef"``): small MLPs on the coefficients of a fixed PCA basis.

Like ``ConvVAE`` it has a dense path from pixels to ``mu`` and from ``z`` back to pixels that
``fit`` starts at whitened PCA with ``latent_dim`` components, so it begins as probabilistic
PCA. Beside that path, instead of convolutions, it has two MLPs that work in the space of
the top ``coef_k`` (256) principal components of the training patches, whitened:

    encode: mu = lin_enc(x) + to_stats(enc_mlp(a(x)))[:L], logvar = to_stats(...)[L:]
    decode: x = lin_dec(z) + s(dec_mlp(z))

where ``a(x) = (x - mean) @ V^T / std`` are the patch's whitened PCA coefficients and
``s(c) = (c * std) @ V`` turns coefficients back into pixels (``V``: the ``coef_k`` directions).
The basis is fitted once, when training starts (``model.vae.init_linear_path``), and kept
fixed: it is stored as buffers, not learnt. The MLPs' last layers start at zero, so the model
starts exactly at PCA and learns only what a linear code cannot.

Why: on a 2-core CPU a step costs about a twelfth of the convolutional model's (a few small
matrix products instead of full-resolution convolutions), so a minute buys ~12x more steps,
and the first few hundred PCA components hold nearly all of a 32-px patch's detail that 32
numbers can hope to keep (README, "Model choices", has the measurements).
``browser_decoder`` exports the decoder as a program of ``linear`` and ``silu`` layers.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vae_core.config import ModelConfig
from vae_core.model.base import VAEBase, refiner


def _mlp(n_in: int, hidden: int, layers: int) -> list[nn.Module]:
    """``layers`` x (Linear, SiLU) from ``n_in`` to ``hidden`` features."""
    out: list[nn.Module] = []
    for i in range(layers):
        out += [nn.Linear(n_in if i == 0 else hidden, hidden), nn.SiLU()]
    return out


class CoefVAE(VAEBase):
    """A VAE whose non-linear parts are MLPs on whitened PCA coefficients, beside a PCA-initialised linear path.

    Same interface as ``ConvVAE``: ``encode -> (mu, logvar)``, ``reparameterize``, ``decode``,
    ``decode_raw``, ``forward``, ``sample``, ``latent_dim``, ``config``.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.arch != "coef":
            raise ValueError(f"arch={config.arch!r} is not a CoefVAE; build the model with model.vae.build_model")
        self.config = config.validate()
        c = config
        n_pix = c.channels * c.image_size**2
        self.basis_size = min(c.coef_k, n_pix)
        k, h, n_lat = self.basis_size, c.hidden, c.latent_dim
        self.lin_enc = nn.Linear(n_pix, n_lat)
        self.lin_dec = nn.Linear(n_lat, n_pix)
        # The fixed PCA basis (set by set_basis when training starts; zeros until then).
        self.register_buffer("basis", torch.zeros(k, n_pix))  # (k, D) orthonormal rows
        self.register_buffer("basis_std", torch.ones(k))  # (k,) standard deviation along each
        self.register_buffer("basis_mean", torch.zeros(n_pix))  # (D,) the mean patch
        self.enc_mlp = nn.Sequential(*_mlp(k, h, c.mlp_layers))
        self.to_stats = nn.Linear(h, 2 * n_lat)
        nn.init.zeros_(self.to_stats.weight)
        nn.init.zeros_(self.to_stats.bias)
        # Posterior sigma starts small (e^-3 = 0.05), as in ConvVAE.
        nn.init.constant_(self.to_stats.bias[n_lat:], -6.0)
        self.dec_mlp = nn.Sequential(*_mlp(n_lat, h, c.mlp_layers), nn.Linear(h, k))
        nn.init.zeros_(self.dec_mlp[-1].weight)
        nn.init.zeros_(self.dec_mlp[-1].bias)
        self.refine = refiner(c) if c.refine_layers else None

    @torch.no_grad()
    def set_basis(self, mean: torch.Tensor, comps: torch.Tensor, std: torch.Tensor) -> None:
        """Fix the coefficient basis: ``mean`` (D,), ``comps`` (k', D) principal directions, ``std`` (k',)."""
        kk = min(self.basis_size, comps.shape[0])
        self.basis.zero_()
        self.basis[:kk] = comps[:kk].to(self.basis.device)
        self.basis_std.fill_(1.0)
        self.basis_std[:kk] = std[:kk].to(self.basis.device)
        self.basis_mean.copy_(mean.to(self.basis.device))

    def decoder_buffers(self) -> list[torch.Tensor]:
        """The fixed tensors ``decode`` reads besides its parameters: the basis and its scales."""
        return [self.basis, self.basis_std]

    def coefficients(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) in [0, 1] -> (B, k) whitened PCA coefficients."""
        return F.linear(x.flatten(1) - self.basis_mean, self.basis) / self.basis_std

    def synthesis(self, coef: torch.Tensor) -> torch.Tensor:
        """(B, k) whitened coefficients -> (B, D) pixels (no mean added)."""
        return (coef * self.basis_std) @ self.basis

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, C, H, W) in [0, 1] -> (mu, logvar), each (B, latent_dim)."""
        x = x.float()
        mu, logvar = self.to_stats(self.enc_mlp(self.coefficients(x))).chunk(2, dim=1)
        mu = mu + self.lin_enc(x.flatten(1))
        return mu, logvar.clamp(-12.0, 6.0)

    def decode_raw(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, latent_dim) -> (B, C, H, W) unclamped (the loss trains on this)."""
        c = self.config
        out = self.lin_dec(z) + self.synthesis(self.dec_mlp(z))
        out = out.view(-1, c.channels, c.image_size, c.image_size)
        if self.refine is not None:
            out = out + self.refine(out * 2 - 1).float()
        return out
