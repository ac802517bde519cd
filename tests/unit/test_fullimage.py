"""Full-image reconstruction from blended overlapping patches, and the display helpers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from vae_core.explore.fullimage import blend_window, reconstruct_image
from vae_core.explore.latent import reconstruct
from vae_core.imaging import to_uint8_hwc
from vae_core.model.vae import ConvVAE


@dataclass(frozen=True)
class _Cfg:
    image_size: int
    channels: int
    latent_dim: int


class IdentityVAE(nn.Module):
    """A fake model whose code is the patch itself: decode(encode(x)) == x exactly."""

    def __init__(self, size: int = 16, channels: int = 3) -> None:
        super().__init__()
        self.config = _Cfg(size, channels, channels * size * size)
        self.dummy = nn.Parameter(torch.zeros(1))  # latent helpers read the device from a parameter

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, x):
        return x.flatten(1), torch.zeros_like(x.flatten(1))

    def decode(self, z):
        c = self.config
        return z.view(-1, c.channels, c.image_size, c.image_size)


class ShiftVAE(IdentityVAE):
    """Adds a constant that depends on nothing: every patch is reconstructed 'too bright'."""

    def decode(self, z):
        return (super().decode(z) + 0.1).clamp(0, 1)


def _image(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


@pytest.mark.parametrize("shape", [(40, 56, 3), (16, 16, 3), (33, 70, 3)])
def test_shape_and_dtype(shape):
    out = reconstruct_image(IdentityVAE(16), _image(*shape))
    assert out.shape == shape and out.dtype == np.uint8


@pytest.mark.parametrize("stride", [None, 4, 11, 16])
def test_identity_model_gives_the_input_back(stride):
    """With a perfect autoencoder the blend must be invisible: seams are exact, edges covered."""
    img = _image(45, 61, seed=1)
    out = reconstruct_image(IdentityVAE(16), img, stride=stride)
    np.testing.assert_array_equal(out, img)


def test_constant_shift_blends_without_seams():
    img = np.full((48, 48, 3), 100, np.uint8)
    out = reconstruct_image(ShiftVAE(16), img)
    # every pixel, border and seams included, gets exactly the per-patch value
    assert np.all(out == round(100 + 0.1 * 255))


def test_single_patch_image_is_the_models_reconstruction(tiny_config):
    torch.manual_seed(0)
    model = ConvVAE(tiny_config).eval()
    img = _image(32, 32, seed=2)
    out = reconstruct_image(model, img)
    expected = to_uint8_hwc(reconstruct(model, img.transpose(2, 0, 1)[None]))[0]
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1  # float rounding only


def test_grey_image_is_converted_to_the_models_channels():
    img = _image(20, 20, c=1)
    out = reconstruct_image(IdentityVAE(16, channels=3), img)
    assert out.shape == (20, 20, 3)
    np.testing.assert_array_equal(out[:, :, 0], img[:, :, 0])


def test_progress_is_reported():
    calls = []
    reconstruct_image(IdentityVAE(16), _image(64, 64), batch_size=5, on_progress=lambda d, t: calls.append((d, t)))
    assert calls[-1][0] == calls[-1][1] == 49  # 7 x 7 patches at stride 8
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_too_small_image_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="at least 16 pixels"):
        reconstruct_image(IdentityVAE(16), _image(10, 40))


def test_bad_stride_is_refused():
    with pytest.raises(ValueError, match="stride=17"):
        reconstruct_image(IdentityVAE(16), _image(32, 32), stride=17)


def test_window_is_positive_and_peaks_in_the_middle():
    w = blend_window(8)
    assert w.shape == (8, 8) and (w > 0).all()
    assert w[3:5, 3:5].min() == w.max() and w[0, 0] == w.min()
