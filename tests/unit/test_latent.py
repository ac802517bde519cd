"""Latent utilities: encode/decode sets, ranking, traversal, interpolation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vae_core.explore.latent import (
    Codes,
    active_dimensions,
    decode,
    encode,
    interpolate,
    kl_per_dim,
    lerp,
    rank_dimensions,
    reconstruct,
    slerp,
    traverse,
)
from vae_core.imaging import to_uint8_hwc
from vae_core.model.vae import ConvVAE


@pytest.fixture
def model(tiny_config):
    torch.manual_seed(0)
    return ConvVAE(tiny_config).eval()


def test_channels_last_copy_gives_the_same_codes_and_pictures_and_leaves_the_model_as_it_was(model, monkeypatch):
    import vae_core.explore.latent as latent

    patches = np.random.default_rng(0).integers(0, 256, (40, 3, 32, 32), dtype=np.uint8)
    monkeypatch.setattr(latent, "CHANNELS_LAST_FROM", 10**9)
    plain_codes, plain = encode(model, patches), reconstruct(model, patches)
    monkeypatch.setattr(latent, "CHANNELS_LAST_FROM", 32)
    net, layout = latent._inference_net(model, len(patches))
    assert net is not model and layout == torch.channels_last
    assert latent._inference_net(model, 31)[0] is model  # too few patches to pay for the copy
    np.testing.assert_allclose(encode(model, patches).mu, plain_codes.mu, atol=1e-5)
    np.testing.assert_allclose(reconstruct(model, patches), plain, atol=1e-5)
    assert all(p.is_contiguous() for p in model.parameters())  # the caller's weights are stored as before


def test_a_model_without_convolutions_is_not_copied(tiny_config):
    from dataclasses import replace

    from vae_core.explore.latent import _inference_net
    from vae_core.model.vae import build_model

    coef = build_model(replace(tiny_config, arch="coef", coef_k=16, hidden=32, refine_layers=0), seed=0)
    assert _inference_net(coef, 10_000) == (coef, torch.contiguous_format)


def test_encode_decode_shapes(model, tiny_data):
    codes = encode(model, tiny_data.val, batch_size=7)
    assert codes.mu.shape == codes.logvar.shape == (tiny_data.n_val, 4)
    imgs = decode(model, codes.mu, batch_size=5)
    assert imgs.shape == (tiny_data.n_val, 3, 32, 32)
    assert imgs.dtype == np.float32 and imgs.min() >= 0 and imgs.max() <= 1
    np.testing.assert_allclose(reconstruct(model, tiny_data.val), imgs, atol=1e-6)
    assert encode(model, tiny_data.val[:0]).mu.shape == (0, 4)
    hwc = to_uint8_hwc(imgs[:2])
    assert hwc.shape == (2, 32, 32, 3) and hwc.dtype == np.uint8


def test_rank_and_active_dimensions_follow_kl():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(500, 4)).astype(np.float32) * np.array([0.0, 2.0, 0.5, 1.0], np.float32)
    logvar = np.full((500, 4), -4.0, np.float32)
    logvar[:, 0] = 0.0  # dimension 0 is the prior itself: KL exactly 0
    codes = Codes(mu=mu, logvar=logvar)
    kl = kl_per_dim(codes)
    assert kl[0] == pytest.approx(0.0, abs=1e-6)
    assert list(rank_dimensions(codes)) == [1, 3, 2, 0]
    assert list(active_dimensions(codes)) == [False, True, True, True]


def test_traverse_changes_only_the_chosen_dimension(model):
    z0 = np.zeros(4, np.float32)
    grid = traverse(model, z0, dims=[1, 3], values=np.linspace(-2, 2, 5))
    assert grid.shape == (2, 5, 3, 32, 32)
    np.testing.assert_allclose(grid[0, 2], decode(model, z0[None])[0], atol=1e-6)  # value 0 = z0
    assert not np.allclose(grid[0, 0], grid[0, 4])
    with pytest.raises(ValueError, match="latent_dim=4"):
        traverse(model, z0, dims=[9], values=[0.0])


def test_lerp_and_slerp_paths():
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    for fn in (lerp, slerp):
        p = fn(a, b, 5)
        assert p.shape == (5, 3)
        np.testing.assert_allclose(p[0], a, atol=1e-6)
        np.testing.assert_allclose(p[-1], b, atol=1e-6)
    mid_l, mid_s = np.linalg.norm(lerp(a, b, 3)[1]), np.linalg.norm(slerp(a, b, 3)[1])
    assert mid_s > mid_l  # slerp does not cut through the low-norm middle
    np.testing.assert_allclose(slerp(a, 3 * a, 4), lerp(a, 3 * a, 4), atol=1e-6)  # parallel: falls back


def test_interpolate_decodes(model):
    out = interpolate(model, np.zeros(4), np.ones(4), steps=6, method="lerp")
    assert out.shape == (6, 3, 32, 32)
    with pytest.raises(ValueError, match="method='cubic'"):
        interpolate(model, np.zeros(4), np.ones(4), method="cubic")
