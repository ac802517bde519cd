"""Issue 11's model-quality pieces: the real-photo set, the per-patch loss, the still linear path,
old checkpoints keeping their objective, and the quality benchmark's curve (tiny models only)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch


def test_real_photo_set_is_varied_colour_and_grey_and_seeded():
    from vae_core.data.devsets import real_photo_images

    images = real_photo_images(seed=0)
    assert len(images) >= 50
    channels = {im.pixels.shape[2] for im in images}
    assert channels == {1, 3}  # grey photos (camera, moon, ...) and colour ones
    sizes = {im.pixels.shape[:2] for im in images}
    assert len(sizes) > 40 and all(min(s) >= 96 and max(s) <= 384 for s in sizes)
    assert sum(h != w for h, w in sizes) > len(sizes) // 2  # mostly not square
    assert min(float(im.pixels.std()) for im in images) > 5  # no flat crops
    again = real_photo_images(seed=0)
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(images, again, strict=True))
    other = real_photo_images(seed=1)
    assert any(a.pixels.shape != b.pixels.shape for a, b in zip(images, other, strict=True))


def test_per_patch_loss_is_the_calibrated_gaussian_and_reports_sse():
    from vae_core.model.losses import vae_loss

    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 8, 8, generator=g)
    recon = x + 0.1 * torch.randn(4, 3, 8, 8, generator=g) * torch.tensor([0.1, 1.0, 2.0, 3.0]).view(4, 1, 1, 1)
    mu, logvar = torch.zeros(4, 2), torch.zeros(4, 2)
    lo = vae_loss(x, recon, mu, logvar, beta=1.0, likelihood="patch_gaussian", eps=1e-5)
    mse_i = (recon - x).pow(2).flatten(1).mean(1)
    assert float(lo.loss) == pytest.approx(float((96 * torch.log(mse_i + 1e-5)).mean()), rel=1e-5)
    sse = vae_loss(x, recon, mu, logvar, beta=1.0, likelihood="sse")
    assert float(lo.recon) == pytest.approx(float(sse.recon))  # curves stay in summed squared error
    # Halving every patch's error lowers each patch's term by the same amount, whatever its size.
    half = vae_loss(x, x + (recon - x) * 0.5, mu, logvar, beta=1.0, likelihood="patch_gaussian", eps=0.0)
    full = vae_loss(x, recon, mu, logvar, beta=1.0, likelihood="patch_gaussian", eps=0.0)
    assert float(full.loss - half.loss) == pytest.approx(96 * np.log(4), rel=1e-4)
    with pytest.raises(ValueError, match="likelihood="):
        vae_loss(x, recon, mu, logvar, beta=1.0, likelihood="laplace")


def test_linear_path_stays_at_its_pca_start_for_the_first_steps(tiny_data, tiny_config, tiny_train):
    from vae_core.model.vae import build_model, init_linear_path
    from vae_core.training.fit import fit

    train = replace(tiny_train, max_steps=2, linear_freeze_steps=2, linear_lr_scale=1.0, threads=1)
    model = build_model(tiny_config)
    res = fit(model, tiny_data, train)
    ref = build_model(tiny_config)
    init_linear_path(ref, torch.from_numpy(tiny_data.train), seed=train.seed)
    assert torch.equal(model.lin_enc.weight, ref.lin_enc.weight)
    assert torch.equal(model.lin_dec.weight, ref.lin_dec.weight)
    fit(model, tiny_data, replace(train, max_steps=1), state=res.state)  # step 3: counted across resumes
    assert not torch.equal(model.lin_dec.weight, ref.lin_dec.weight)


def test_configs_saved_before_issue_11_keep_their_objective():
    from vae_core.config import ModelConfig, TrainConfig

    old = {"beta": 0.005, "lr": 5e-3, "seconds": 60.0}  # an old checkpoint lacks the new fields
    tc = TrainConfig.from_dict(old)
    assert (tc.likelihood, tc.linear_freeze_steps, tc.beta, tc.lr) == ("sse", 0, 0.005, 5e-3)
    assert (tc.ema_decay, tc.adam_beta2) == (0.0, 0.999)  # their own weights, not an average; torch's Adam
    assert TrainConfig().likelihood == "patch_gaussian"  # new runs use the per-patch loss
    assert TrainConfig().ema_decay > 0
    assert ModelConfig.from_dict({"latent_dim": 8}).arch == "conv"


def test_bundled_starter_checkpoint_saved_before_still_opens():
    from pathlib import Path

    from vae_core.model.checkpoint import load_checkpoint

    ck = load_checkpoint(Path(__file__).parents[2] / "assets" / "starter.safetensors")
    assert ck.model.config.arch == "conv"
    assert ck.model(torch.rand(2, ck.model.config.channels, 32, 32)).recon.shape[0] == 2


def test_quality_curve_starts_at_pca_and_is_scored_every_n_steps(tiny_data, tiny_config, tiny_train):
    from vae_core.bench.quality import curve

    out = curve(tiny_data, replace(tiny_train, threads=1), steps=4, every=2, model_cfg=tiny_config)
    assert [s for s, _ in out["points"]] == [0, 2, 4]
    assert abs(out["start"]) < 0.3  # the model starts as PCA (randomized SVD: within a fraction of a dB)


def test_coefficient_model_starts_as_pca_and_its_checkpoint_says_which_model(tiny_data, tmp_path):
    from vae_core.config import ModelConfig
    from vae_core.explore.latent import reconstruct
    from vae_core.model.checkpoint import load_checkpoint, save_checkpoint
    from vae_core.model.coef_vae import CoefVAE
    from vae_core.model.vae import build_model, init_linear_path

    cfg = ModelConfig(latent_dim=4, arch="coef", coef_k=16, hidden=16, mlp_layers=1, refine_layers=0)
    model = build_model(cfg)
    assert isinstance(model, CoefVAE)
    init_linear_path(model, torch.from_numpy(tiny_data.train))
    x = torch.from_numpy(tiny_data.val).float() / 255
    with torch.no_grad():
        linear = model.lin_dec(model.lin_enc(x.flatten(1))).clamp(0, 1).view_as(x)
    # The MLPs start at zero: the coefficient model reconstructs exactly as its PCA-started linear path does.
    assert np.allclose(reconstruct(model, tiny_data.val), linear.numpy(), atol=1e-6)
    path = tmp_path / "coef.safetensors"
    save_checkpoint(path, model)
    back = load_checkpoint(path).model
    assert isinstance(back, CoefVAE) and back.config.arch == "coef"
    assert torch.equal(back.basis, model.basis)


def test_fingerprints_of_conv_models_do_not_change_with_the_model_kind_fields(tiny_config):
    import hashlib
    import json
    from dataclasses import asdict

    from vae_core.model.fingerprint import model_fingerprint
    from vae_core.model.vae import build_model

    model = build_model(tiny_config)
    old = {k: v for k, v in asdict(tiny_config).items() if k not in ("arch", "coef_k", "hidden", "mlp_layers")}
    h = hashlib.sha256(json.dumps(old, sort_keys=True).encode())
    for name, t in sorted(model.state_dict().items()):
        h.update(f"\n{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    assert model_fingerprint(model) == "sha256:" + h.hexdigest()  # as computed before those fields existed
    coef = build_model(replace(tiny_config, arch="coef", refine_layers=0))
    assert model_fingerprint(coef) != model_fingerprint(model)


def test_every_coefficient_choice_names_real_settings_and_cuts_keep_the_validation_patches():
    from testkit import tiny_images

    from vae_core.bench.quality import COEF_CHOICES, QUICK_CHOICES, with_patches
    from vae_core.config import APP_MODEL, APP_TRAIN, PatchConfig
    from vae_core.data.patches import make_patches

    assert set(QUICK_CHOICES) <= set(COEF_CHOICES)
    for name, (tc, mc, pc) in COEF_CHOICES.items():
        replace(APP_TRAIN, **tc).validate()  # a misspelt field raises TypeError here
        assert replace(APP_MODEL, **mc).arch == "coef", name
        replace(PatchConfig(), **pc)
    images = tiny_images()
    data = make_patches(images, PatchConfig(patches_per_image=8, seed=0))
    more = with_patches(data, images, {"patches_per_image": 32})
    assert len(more.train) == 4 * len(data.train)
    assert np.array_equal(more.val, data.val) and np.array_equal(more.val_image_ids, data.val_image_ids)
    assert with_patches(data, images, {}) is data
