"""Restoration: seeded damage, classic baselines on grey and colour, the VAE's fill, the scores, the task result."""

from __future__ import annotations

import numpy as np
import pytest
from testkit import tiny_images, tiny_model_config, weights

from vae_core.imaging import psnr
from vae_core.tasks import classic_restore
from vae_core.tasks.damage import DamageConfig, centred_hole, damage, impulse_mask, rect_mask
from vae_core.tasks.restore import RestoreConfig, restore
from vae_core.tasks.texture_stats import hole_seam_ratio, region_texture_distance
from vae_core.tasks.vae_restore import FitConfig, fit_codes

KINDS = ("noise", "salt_pepper", "jpeg", "hole")


def smooth_texture(size: int = 96) -> np.ndarray:
    """A smooth colour texture: slow ramps and waves, no detail finer than ~30 px. (size, size, 3) uint8."""
    y, x = np.mgrid[0:size, 0:size] / size
    rgb = np.stack(
        [0.5 + 0.3 * np.sin(2 * np.pi * x), 0.3 + 0.4 * y, 0.5 + 0.25 * np.cos(2 * np.pi * (x + y) / 1.5)], -1
    )
    return np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def smooth_model():
    """A tiny model trained a few steps on the smooth texture (its PCA-initialised path already fits ramps)."""
    from vae_core.config import PatchConfig, TrainConfig
    from vae_core.data.images import TextureImage
    from vae_core.data.patches import make_patches
    from vae_core.model.vae import build_model
    from vae_core.training.fit import fit

    image = TextureImage(name="smooth.png", label="smooth", pixels=smooth_texture(128))
    data = make_patches([image], PatchConfig(patch_size=32, patches_per_image=64, seed=0))
    model = build_model(tiny_model_config(), seed=0)
    fit(model, data, TrainConfig(seconds=None, max_steps=5, batch_size=16, val_every_s=1e9, warmup_steps=1))
    return model.eval()


# --- damage ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_damage_is_seeded_and_changes_the_image(kind):
    clean = tiny_images(("marble",), size=64)[0].pixels
    a = damage(clean, DamageConfig(kind=kind, seed=3)).pixels
    b = damage(clean, DamageConfig(kind=kind, seed=3)).pixels
    assert a.dtype == np.uint8 and a.shape == clean.shape
    assert np.array_equal(a, b)
    assert not np.array_equal(a, clean)
    if kind in ("noise", "salt_pepper"):
        assert not np.array_equal(a, damage(clean, DamageConfig(kind=kind, seed=4)).pixels)


def test_salt_and_pepper_hits_the_asked_share_of_whole_pixels():
    clean = np.full((100, 100, 3), 120, np.uint8)
    out = damage(clean, DamageConfig(kind="salt_pepper", amount=0.1, seed=0)).pixels
    bad = impulse_mask(out)
    assert 0.08 < bad.mean() < 0.12
    assert np.array_equal(out[~bad], clean[~bad])


def test_a_centred_hole_covers_the_asked_share():
    top, left, h, w = centred_hole(200, 100, 0.25)
    assert (h, w) == (100, 50) and (top, left) == (50, 25)
    d = damage(np.zeros((200, 100, 1), np.uint8), DamageConfig(kind="hole", hole_fraction=0.25))
    assert d.mask.mean() == pytest.approx(0.25) and np.all(d.pixels[d.mask] == 128)


def test_bad_damage_settings_name_the_field():
    with pytest.raises(ValueError, match="sigma"):
        DamageConfig(sigma=0).validate()
    with pytest.raises(ValueError, match="quality"):
        DamageConfig(kind="jpeg", quality=100).validate()
    with pytest.raises(ValueError, match="outside"):
        rect_mask(10, 10, (20, 20, 5, 5))
    with pytest.raises(ValueError, match="whole"):
        rect_mask(10, 10, (0, 0, 10, 10))


# --- classic baselines -------------------------------------------------------------------------

CASES = [(kind, name, fn) for kind in KINDS for name, fn, _ in classic_restore.baselines(kind)]


@pytest.mark.parametrize("channels", [1, 3], ids=["grey", "colour"])
@pytest.mark.parametrize(("kind", "name", "fn"), CASES, ids=[f"{k}-{n}" for k, n, _ in CASES])
def test_each_classic_baseline_runs_on_grey_and_colour(kind, name, fn, channels):
    clean = smooth_texture(64)
    clean = clean[:, :, :1] if channels == 1 else clean
    d = damage(clean, DamageConfig(kind=kind, sigma=0.1, amount=0.1, quality=10, seed=0))
    out = fn(d.pixels, d.mask)
    assert out.shape == clean.shape and out.dtype == np.uint8
    if kind == "hole":
        assert np.array_equal(out[~d.mask], clean[~d.mask])  # known pixels untouched
        if name == "Biharmonic":  # the mean colour is about mid grey here, no better than the hole itself
            assert psnr(clean[d.mask], out[d.mask]) > psnr(clean[d.mask], d.pixels[d.mask]) + 3
    elif name != "No post-filter":  # every filter repairs a smooth image better than leaving the damage
        assert psnr(clean, out) > psnr(clean, d.pixels), name


def test_the_switching_median_only_touches_impulses():
    clean = smooth_texture(64)
    d = damage(clean, DamageConfig(kind="salt_pepper", amount=0.2, seed=1))
    out = classic_restore.switching_median(d.pixels)
    bad = impulse_mask(d.pixels)
    assert np.array_equal(out[~bad], d.pixels[~bad])
    assert psnr(clean, out) > psnr(clean, classic_restore.median(d.pixels)) + 3


# --- the VAE -----------------------------------------------------------------------------------


def test_inpainting_keeps_known_pixels_exactly_and_lowers_the_error_in_the_hole(smooth_model):
    clean = smooth_texture(96)
    d = damage(clean, DamageConfig(kind="hole", hole=(30, 34, 28, 24)))
    before = weights(smooth_model).clone()
    out = fit_codes(smooth_model, d.pixels, ~d.mask, FitConfig(steps=30, seed=0))
    assert out.dtype == np.uint8 and out.shape == clean.shape
    assert np.array_equal(out[~d.mask], clean[~d.mask])  # bit-exact outside the hole
    start = fit_codes(smooth_model, d.pixels, ~d.mask, FitConfig(steps=0, seed=0))  # the codes it starts from
    mean_fill = classic_restore.mean_fill(d.pixels, d.mask)

    def error(image: np.ndarray) -> float:
        return float(np.mean((image[d.mask].astype(float) - clean[d.mask]) ** 2))

    assert error(out) < error(start)
    assert error(out) < 0.5 * error(mean_fill)
    assert np.array_equal(weights(smooth_model), before)  # the caller's model is never changed


def test_fitting_is_seeded(smooth_model):
    d = damage(smooth_texture(64), DamageConfig(kind="hole", hole_fraction=0.3))
    a = fit_codes(smooth_model, d.pixels, ~d.mask, FitConfig(steps=3, seed=1))
    assert np.array_equal(a, fit_codes(smooth_model, d.pixels, ~d.mask, FitConfig(steps=3, seed=1)))


def test_a_too_small_image_or_a_bad_mask_is_refused(smooth_model):
    with pytest.raises(ValueError, match="smaller than the model's 32-pixel patches"):
        fit_codes(smooth_model, np.zeros((20, 40, 3), np.uint8), np.ones((20, 40), bool))
    with pytest.raises(ValueError, match="mask of the image's size"):
        fit_codes(smooth_model, np.zeros((40, 40, 3), np.uint8), np.ones((30, 40), bool))
    with pytest.raises(ValueError, match="steps"):
        FitConfig(steps=-1).validate()


@pytest.mark.parametrize("kind", KINDS)
def test_restore_returns_one_result_with_the_vae_first_and_every_baseline(smooth_model, kind):
    clean = smooth_texture(64)
    seen = []
    result = restore(
        smooth_model,
        clean,
        damage(clean, DamageConfig(kind=kind, seed=0)),
        RestoreConfig(fit=FitConfig(steps=2), impulse_steps=2, denoise_steps=1 if kind == "noise" else 0),
        on_progress=lambda f, words: seen.append(f),
    )
    names = [m.name for m in result.methods]
    assert names[0] == "VAE" and names[1:] == [n for n, _, _ in classic_restore.baselines(kind)]
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)
    for method in result.methods:
        assert method.output.shape == clean.shape and method.seconds >= 0
        assert all(np.isfinite(method.metrics[m.name]) for m in result.metrics), method.name
    assert result.verdict().startswith("The VAE ")
    if kind == "hole":
        assert [m.name for m in result.metrics] == [
            "PSNR in the hole",
            "SSIM around the hole",
            "texture distance",
            "seam ratio",
        ]
        assert np.array_equal(result.vae.output[~result.extra["mask"]], clean[~result.extra["mask"]])
        own, flat = result.extra["original_scores"], result.methods[-1].metrics  # the last: the mean colour
        assert abs(own["seam ratio"] - 1) < abs(flat["seam ratio"] - 1)  # a flat fill leaves an edge


def test_restore_stops_early_when_asked(smooth_model):
    clean = smooth_texture(64)
    result = restore(smooth_model, clean, damage(clean, DamageConfig(kind="hole")), should_stop=lambda: True)
    assert "stopped early" in result.vae.note and result.extra["stopped"]


# --- texture statistics ------------------------------------------------------------------------


def test_texture_distance_tells_a_flat_fill_from_the_texture_itself():
    image = tiny_images(("dots",), size=128)[0].pixels
    mask = rect_mask(128, 128, centred_hole(128, 128, 0.25))
    flat = classic_restore.mean_fill(image, mask)
    own = region_texture_distance(image, mask, seed=0)
    assert own == region_texture_distance(image, mask, seed=0)  # seeded
    assert region_texture_distance(flat, mask, seed=0) > 3 * own
    assert np.isnan(region_texture_distance(image, rect_mask(128, 128, (60, 60, 2, 2))))  # too small to measure


def test_the_seam_ratio_is_about_one_for_the_original_and_high_for_a_pasted_patch():
    image = tiny_images(("marble",), size=128)[0].pixels
    mask = rect_mask(128, 128, (40, 40, 48, 48))
    assert 0.7 < hole_seam_ratio(image, mask) < 1.4
    pasted = image.copy()
    pasted[mask] = 255 - image[mask]  # the right texture statistics, but an edge all round
    assert hole_seam_ratio(pasted, mask) > 1.5 * hole_seam_ratio(image, mask)
    assert np.isnan(hole_seam_ratio(image, np.zeros((128, 128), bool)))


def test_the_code_prior_shrinks_its_covariance_as_scikit_learn_does():
    from sklearn.covariance import LedoitWolf

    from vae_core.tasks.vae_restore import ledoit_wolf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)) @ rng.normal(size=(6, 6))
    x -= x.mean(axis=0)
    assert np.allclose(ledoit_wolf(x), LedoitWolf(assume_centered=True).fit(x).covariance_)


def test_a_hole_placed_near_the_edge_stays_inside_the_image():
    from vae_core.tasks.damage import hole_around

    assert hole_around(100, 200, 50, 100, 20, 40) == (40, 80, 20, 40)
    assert hole_around(100, 200, 0, 199, 20, 40) == (0, 160, 20, 40)
    assert hole_around(100, 200, 50, 100, 500, 500) == (0, 0, 99, 199)  # never the whole image


def test_the_magnifier_crop_stays_inside_and_enlarges_crisply():
    from vae_core.imaging import zoom_crop

    image = np.arange(40 * 30 * 3, dtype=np.uint8).reshape(40, 30, 3)
    crop = zoom_crop(image, 0, 29, 8, 4)
    assert crop.shape == (32, 32, 3)
    assert np.array_equal(crop[::4, ::4], image[0:8, 22:30])


def test_the_written_out_adam_steps_like_torch_optim():
    import torch

    from vae_core.tasks.vae_restore import Adam

    target = torch.tensor([[1.0, -2.0, 0.5]])
    ours, ref = torch.zeros(1, 3, requires_grad=True), torch.zeros(1, 3, requires_grad=True)
    adam, opt = Adam(ours, 0.1), torch.optim.Adam([ref], lr=0.1)
    for _ in range(5):
        for z in (ours, ref):
            z.grad = None
            ((z - target) ** 2).sum().backward()
        adam.step(ours)
        opt.step()
    assert torch.allclose(ours, ref, atol=1e-6)


def test_a_loss_is_explained_in_plain_words_and_a_win_is_not():
    from vae_core.tasks.restore import HOLE_PSNR, PSNR, SEAM, why_the_vae_loses
    from vae_core.tasks.results import MethodResult, TaskResult

    def result(kind, metrics, vae, classic):
        methods = [MethodResult("VAE", True, vae), MethodResult("Classic", False, classic)]
        return TaskResult(task="repair", metrics=metrics, methods=methods, extra={"kind": kind})

    lost = result("noise", [PSNR], {"PSNR": 24.0}, {"PSNR": 27.0})
    assert why_the_vae_loses(lost).startswith("Why: the model redraws every patch")
    assert why_the_vae_loses(result("noise", [PSNR], {"PSNR": 28.0}, {"PSNR": 27.0})) is None
    hole = result(
        "hole", [HOLE_PSNR, SEAM], {HOLE_PSNR.name: 20.0, SEAM.name: 1.5}, {HOLE_PSNR.name: 19.0, SEAM.name: 1.1}
    )
    assert why_the_vae_loses(hole) is None  # ahead on the headline
    assert "nothing inside a hole is known" in why_the_vae_loses(hole, [HOLE_PSNR.name, SEAM.name])  # behind on seams
