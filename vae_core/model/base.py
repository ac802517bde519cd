"""What every model kind shares: ``VAEBase`` (reparameterisation, decode, forward, sample), its
``VAEOutput``, and the full-resolution refiner both kinds end in.

Its own module so that the two kinds (``vae.ConvVAE``, ``coef_vae.CoefVAE``) each build on it
without importing each other; ``vae.new_model`` picks the kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vae_core.config import ModelConfig


@dataclass
class VAEOutput:
    """What ``ConvVAE.forward`` returns."""

    recon: torch.Tensor  # (B, C, H, W) in [0, 1]
    recon_raw: torch.Tensor  # (B, C, H, W) before clamping to [0, 1]; the loss uses this
    mu: torch.Tensor  # (B, latent_dim)
    logvar: torch.Tensor  # (B, latent_dim)
    z: torch.Tensor  # (B, latent_dim) the sample that was decoded


def refiner(config: ModelConfig) -> nn.Sequential:
    """Full-resolution residual refiner: image -> correction, zero-initialised output.

    The global paths rebuild a patch from 16 or more numbers and come out soft; a few
    3x3 convolutions applied to that draft sharpen edges the same way everywhere in the
    patch, which is learnt far faster than detail decoded from the 4x4 bottleneck.
    """
    w = config.refine_width
    layers: list[nn.Module] = [nn.Conv2d(config.channels, w, 3, padding=1)]
    for _ in range(config.refine_layers - 1):
        layers += [nn.SiLU(), nn.Conv2d(w, w, 3, padding=1)]
    layers += [nn.SiLU(), nn.Conv2d(w, config.channels, 3, padding=1)]
    nn.init.zeros_(layers[-1].weight)
    nn.init.zeros_(layers[-1].bias)
    return nn.Sequential(*layers)


class VAEBase(nn.Module):
    """What every model kind shares: ``config``, ``latent_dim``, the reparameterisation, ``decode``,
    ``forward`` and ``sample``. A subclass defines ``encode`` and ``decode_raw``."""

    config: ModelConfig

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode_raw(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def reparameterize(
        self,
        mu: torch.Tensor,
        logvar: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """z = mu + sigma * eps (Kingma & Welling 2014, sec. 2.4)."""
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, latent_dim) -> (B, C, H, W) in [0, 1]."""
        return self.decode_raw(z).clamp(0.0, 1.0)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> VAEOutput:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator) if self.training else mu
        raw = self.decode_raw(z)
        return VAEOutput(recon=raw.clamp(0.0, 1.0), recon_raw=raw, mu=mu, logvar=logvar, z=z)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0) -> torch.Tensor:
        """Decode n draws from the prior N(0, I) (scaled by temperature) -> (n, C, H, W)."""
        device = next(self.parameters()).device
        z = torch.randn((n, self.latent_dim), generator=generator, device=device) * temperature
        return self.decode(z)
