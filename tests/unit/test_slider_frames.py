"""Frames for the live latent sliders: ranges, strips, sprites and the background strip job."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from vae_core.explore.latent import decode
from vae_core.explore.sliders import StripJob, slider_ranges, sprite_png, strip_frames
from vae_core.imaging import data_url, to_uint8_hwc
from vae_core.model.vae import ConvVAE


@pytest.fixture
def model(tiny_config):
    torch.manual_seed(0)
    return ConvVAE(tiny_config).eval()


def test_slider_ranges_follow_the_codes():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(400, 3)) * np.array([0.01, 1.0, 3.0]) + np.array([5.0, 0.0, -1.0])
    lo, hi = slider_ranges(mu, n_sigma=3.0)
    assert lo.shape == hi.shape == (3,)
    assert np.all(lo < hi)
    np.testing.assert_allclose((lo + hi) / 2, mu.mean(0), atol=1e-5)
    assert hi[0] - lo[0] == pytest.approx(2.0)  # a collapsed dimension still gets +-1
    assert hi[2] - lo[2] == pytest.approx(6 * mu[:, 2].std(), rel=1e-4)
    with pytest.raises(ValueError, match="non-empty"):
        slider_ranges(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="n_sigma=0"):
        slider_ranges(mu, n_sigma=0)


def test_strips_equal_frame_by_frame_decodes(model):
    z0 = np.linspace(-1, 1, 4).astype(np.float32)
    values = np.array([[-2.0, 0.0, 2.0], [1.0, 1.5, 2.0]], np.float32)
    frames = strip_frames(model, z0, [0, 3], values)
    assert frames.shape == (2, 3, 32, 32, 3) and frames.dtype == np.uint8
    z = z0.copy()
    z[3] = 1.5
    np.testing.assert_array_equal(frames[1, 1], to_uint8_hwc(decode(model, z[None]))[0])
    with pytest.raises(ValueError, match="dimension 7"):
        strip_frames(model, z0, [7], values[:1])


def test_sprite_is_frames_side_by_side(model):
    frames = strip_frames(model, np.zeros(4, np.float32), [1], np.array([[0.0, 1.0, 2.0, 3.0, 4.0]]))[0]
    png = sprite_png(frames)
    img = np.asarray(Image.open(io.BytesIO(png)))
    assert img.shape[:2] == (32, 5 * 32)
    np.testing.assert_array_equal(img[:, 64:96], frames[2])
    assert data_url(png).startswith("data:image/png;base64,")


def test_strip_job_fills_sprites_and_can_be_cancelled(model):
    values = np.tile(np.linspace(-1, 1, 5, dtype=np.float32), (4, 1))
    job = StripJob(model, np.zeros(4, np.float32), [2, 0, 1, 3], values, token="t")
    assert job.done.wait(60)
    assert job.error is None
    assert sorted(job.sprites) == [0, 1, 2, 3]
    late = StripJob(model, np.zeros(4, np.float32), [0, 1], values[:2], token="u", start_delay_s=30)
    late.cancel()
    assert late.done.wait(5)
    assert late.sprites == {}


def test_rank_label_names_sliders_for_people():
    from vae_core.explore.sliders import rank_label

    assert [rank_label(r) for r in range(3)] == ["#1 · most used", "#2", "#3"]
    assert rank_label(5, active=False) == "unused"
