"""The VAE objective: reconstruction error plus beta-weighted KL divergence, with free bits.

Separate from ``model`` so the same loss serves training, validation and benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LossOutput:
    """Per-batch loss terms, all averaged over the batch (per patch)."""

    loss: torch.Tensor  # scalar to minimise
    recon: torch.Tensor  # scalar: sum of squared errors per patch
    kl: torch.Tensor  # scalar: KL(q(z|x) || N(0, I)) in nats per patch, before free bits
    kl_per_dim: torch.Tensor  # (latent_dim,) KL per dimension, averaged over the batch
    mse: torch.Tensor  # scalar: mean squared error per pixel (for PSNR-style read-outs)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)) per element, (B, D) -> (B, D).

    Kingma & Welling 2014, "Auto-Encoding Variational Bayes", appendix B:
    -KL = 1/2 * sum(1 + log sigma^2 - mu^2 - sigma^2).
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def vae_loss(
    x: torch.Tensor,
    recon: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    beta: float,
    free_bits: float = 0.0,
    likelihood: str = "sse",
    eps: float = 1e-5,
) -> LossOutput:
    """Negative beta-ELBO per patch.

    x: (B, C, H, W) in [0, 1]; recon: (B, C, H, W), may stray outside [0, 1] while training;
    mu, logvar: (B, D).
    loss = reconstruction term + beta * sum_d max(free_bits, mean_batch KL_d), where the
    reconstruction term per patch (``likelihood``) is

    * ``"sse"``: the sum of squared errors (a Gaussian decoder with a fixed pixel noise sigma,
      scaled so that beta = 2 sigma^2);
    * ``"patch_gaussian"``: D/2 * log(mse_i + eps), the negative log-likelihood (up to a
      constant) of a Gaussian decoder whose noise variance is fitted to each patch (its
      maximum-likelihood value, mse_i): a "calibrated decoder" (Rybkin et al. 2021,
      "Simple and Effective VAE Training with Calibrated Decoders"), with beta = 1 the plain
      ELBO. Every patch's error then counts relative to its own size, as the mean per-patch
      PSNR that the app reports does; ``eps`` keeps a perfect patch finite.

    Free bits (Kingma et al. 2016, "Improved Variational Inference with Inverse
    Autoregressive Flow", eq. 15) stop the optimiser from pushing every dimension's KL to
    zero, which is how posterior collapse starts. ``LossOutput.recon`` is the sum of squared
    errors whatever the likelihood, so curves stay comparable.
    """
    sq = (recon.float() - x.float()).pow(2).flatten(1)
    sse = sq.sum(1)
    if likelihood == "sse":
        recon_term = sse.mean()
    elif likelihood == "patch_gaussian":
        recon_term = (0.5 * sq.shape[1] * torch.log(sq.mean(1) + eps)).mean()
    else:
        raise ValueError(f"likelihood={likelihood!r} is not supported; choose 'patch_gaussian' or 'sse'")
    kl_dim = kl_divergence(mu.float(), logvar.float()).mean(0)
    kl_term = kl_dim.clamp(min=free_bits).sum() if free_bits > 0 else kl_dim.sum()
    return LossOutput(
        loss=recon_term + beta * kl_term,
        recon=sse.mean().detach(),
        kl=kl_dim.sum().detach(),
        kl_per_dim=kl_dim.detach(),
        mse=sq.mean().detach(),
    )
