"""Generate: prior samples, interpolation (endpoints, norms, GIF frames), style mixing, latent arithmetic."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from testkit import tiny_model_config

from vae_core.explore.latent import decode, slerp
from vae_core.imaging import to_uint8_hwc
from vae_core.model.vae import build_model
from vae_core.tasks import generate as g


@pytest.fixture(scope="module")
def model():
    return build_model(tiny_model_config(), seed=0).eval()


def test_a_fixed_seed_gives_identical_samples_and_another_seed_does_not(model):
    a, b = g.prior_samples(model, 6, 0.8, seed=3), g.prior_samples(model, 6, 0.8, seed=3)
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.images, b.images)
    assert a.images.shape == (6, 32, 32, 3) and a.images.dtype == np.uint8
    assert not np.array_equal(a.codes, g.prior_samples(model, 6, 0.8, seed=4).codes)
    cold = g.prior_codes(model.latent_dim, 6, 0.3, seed=3)
    assert np.allclose(cold, a.codes * 0.3 / 0.8, atol=1e-6)  # temperature only scales the same draws


@pytest.mark.parametrize("bad", [{"n": 0}, {"n": 65}, {"temperature": 0.2}, {"temperature": 1.6}])
def test_sample_settings_out_of_range_are_refused_by_name(model, bad):
    kwargs = {"n": 4, "temperature": 1.0} | bad
    with pytest.raises(ValueError, match=next(iter(bad))):
        g.prior_samples(model, **kwargs)


@pytest.mark.parametrize("method", ["slerp", "lerp"])
def test_interpolation_endpoints_decode_to_the_ends(model, method):
    rng = np.random.default_rng(0)
    z0, z1 = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    interp = g.interpolate_ends(model, z0, z1, steps=7, method=method)
    ends = to_uint8_hwc(decode(model, np.stack([z0, z1])))
    assert len(interp.frames) == len(interp.crossfade) == 7
    assert np.array_equal(interp.frames[0], ends[0]) and np.array_equal(interp.frames[-1], ends[1])
    assert np.array_equal(interp.crossfade[0], ends[0]) and np.array_equal(interp.crossfade[-1], ends[1])
    assert not np.array_equal(interp.frames[3], interp.crossfade[3])  # the latent path is not a cross-fade


def test_slerp_keeps_the_norm_where_lerp_shrinks_it():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(32), rng.standard_normal(32)
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    path = slerp(a, b, 9)
    assert np.allclose(np.linalg.norm(path, axis=1), np.linalg.norm(a), rtol=1e-5)
    assert np.linalg.norm((a + b) / 2) < 0.9 * np.linalg.norm(a)  # the straight line's middle is shorter


def test_the_gif_has_one_frame_per_step_and_loops(model):
    z = np.random.default_rng(2).standard_normal((2, 4)).astype(np.float32) * 2
    interp = g.interpolate_ends(model, z[0], z[1], steps=5)
    gif = Image.open(io.BytesIO(g.interpolation_gif(interp)))
    assert gif.format == "GIF" and gif.n_frames == 5 and gif.info.get("loop") == 0
    strip = g.interpolation_strip(interp)
    assert strip.shape[1] > strip.shape[0]  # two rows of five


def test_style_mixing_takes_the_chosen_dimensions_from_a_and_the_rest_from_b():
    a, b = np.arange(6, dtype=np.float32), -np.arange(6, dtype=np.float32) - 10
    mixed = g.mix_dimensions(a, b, [0, 4])
    assert mixed.tolist() == [0, -11, -12, -13, 4, -15]
    with pytest.raises(ValueError, match="dims"):
        g.mix_dimensions(a, b, [6])


def test_latent_arithmetic_adds_the_change_from_b_to_c():
    a, b, c = np.ones(3), np.zeros(3), np.array([0, 2, 0])
    assert g.latent_arithmetic(a, b, c, 0.5).tolist() == [1, 2, 1]
    assert g.latent_arithmetic(a, b, c, 0.0).tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="strength"):
        g.latent_arithmetic(a, b, c, 5)
