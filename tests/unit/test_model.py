"""ConvVAE shapes, ranges, configs and the loss."""

from __future__ import annotations

import pytest
import torch

from vae_core.config import ModelConfig, TrainConfig
from vae_core.model.losses import kl_divergence, vae_loss
from vae_core.model.vae import ConvVAE, init_linear_path


@pytest.mark.parametrize("size", [32, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("linear_path", [True, False])
def test_shapes_and_range(size, channels, linear_path):
    cfg = ModelConfig(image_size=size, channels=channels, latent_dim=6, width=8, res_blocks=1, linear_path=linear_path)
    model = ConvVAE(cfg)
    x = torch.rand(3, channels, size, size)
    out = model(x)
    assert out.recon.shape == x.shape
    assert out.mu.shape == out.logvar.shape == out.z.shape == (3, 6)
    assert out.recon.min().item() >= 0.0 and out.recon.max().item() <= 1.0
    mu, _ = model.encode(x)
    assert model.decode(mu).shape == x.shape
    assert model.sample(2).shape == (2, channels, size, size)


def test_train_mode_samples_and_eval_mode_uses_mu(tiny_config):
    model = ConvVAE(tiny_config)
    x = torch.rand(4, 3, 32, 32)
    model.eval()
    out = model(x)
    torch.testing.assert_close(out.z, out.mu)
    model.train()
    out = model(x, torch.Generator().manual_seed(0))
    assert not torch.equal(out.z, out.mu)


def test_group_norm_option_builds(tiny_config):
    model = ConvVAE(ModelConfig(**{**tiny_config.__dict__, "norm": "group"}))
    assert any(isinstance(m, torch.nn.GroupNorm) for m in model.modules())


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("image_size", 48, "image_size=48"),
        ("channels", 2, "channels=2"),
        ("latent_dim", 1, "latent_dim=1"),
        ("latent_dim", 300, "latent_dim=300"),
        ("width", 12, "width=12"),
        ("norm", "batch", "norm='batch'"),
    ],
)
def test_bad_model_config_names_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**{field: value}).validate()


def test_bad_train_config_names_the_field():
    with pytest.raises(ValueError, match="lr=5"):
        TrainConfig(lr=5).validate()
    with pytest.raises(ValueError, match="budget"):
        TrainConfig(seconds=None, max_steps=None).validate()


def test_config_from_dict_rejects_unknown_and_wrong_types():
    with pytest.raises(ValueError, match="unknown field"):
        ModelConfig.from_dict({"latent_dim": 8, "colour": "red"})
    with pytest.raises(ValueError, match="wrong type"):
        ModelConfig.from_dict({"latent_dim": "8"})
    assert ModelConfig.from_dict({"latent_dim": 8}).latent_dim == 8


def test_loss_is_finite_and_kl_matches_closed_form():
    x = torch.rand(4, 3, 8, 8)
    mu, logvar = torch.randn(4, 5), torch.randn(4, 5) * 0.1
    lo = vae_loss(x, x * 0.9, mu, logvar, beta=0.5)
    assert torch.isfinite(lo.loss)
    assert lo.kl_per_dim.shape == (5,)
    expected_kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp())).sum(1).mean()
    torch.testing.assert_close(lo.kl, expected_kl)
    torch.testing.assert_close(lo.recon, ((x * 0.1) ** 2).flatten(1).sum(1).mean())
    assert float(kl_divergence(torch.zeros(1, 3), torch.zeros(1, 3)).sum()) == 0.0


def test_free_bits_floor_per_dimension():
    x = torch.rand(2, 3, 8, 8)
    mu, logvar = torch.zeros(2, 4), torch.zeros(2, 4)  # KL exactly 0
    lo = vae_loss(x, x, mu, logvar, beta=1.0, free_bits=0.5)
    assert float(lo.loss) == pytest.approx(4 * 0.5)


def test_pca_init_matches_pca_reconstruction(tiny_data):
    from vae_core.explore.latent import reconstruct
    from vae_core.explore.metrics import fit_pca

    cfg = ModelConfig(image_size=32, latent_dim=8, width=8, res_blocks=0)
    model = ConvVAE(cfg)
    init_linear_path(model, torch.from_numpy(tiny_data.train))
    vae_rec = reconstruct(model, tiny_data.val)
    pca_rec = fit_pca(tiny_data.train, 8).reconstruct(tiny_data.val)
    # Randomized SVD with power iterations lands on the same subspace as exact PCA.
    err_vae = float(((vae_rec - tiny_data.val / 255.0) ** 2).mean())
    err_pca = float(((pca_rec - tiny_data.val / 255.0) ** 2).mean())
    assert err_vae == pytest.approx(err_pca, rel=0.02)
