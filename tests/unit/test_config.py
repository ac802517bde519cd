"""vae_core.config: the settings of the next training run, from a preset and what a person typed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from vae_core.config import PRESETS, configs_for_run


def test_a_new_model_takes_the_preset_cut_to_the_patches_and_the_overrides():
    train, model = configs_for_run(
        PRESETS["quick"], new_model=True, channels=1, patch_size=64, latent_dim=16, beta=0.01, lr=None
    )
    assert model is not None and (model.image_size, model.channels, model.latent_dim) == (64, 1, 16)
    assert train.beta == 0.01 and train.lr == PRESETS["quick"].train.lr and train.seconds == 30.0
    # Every preset trains the coefficient model without the refiner, at batch 128 (README): the presets of
    # up to two minutes a smaller one at rate 2e-3, Quality's ten minutes the larger one at 1e-3.
    assert (model.arch, model.refine_layers, model.coef_k, model.hidden) == ("coef", 0, 128, 256)
    assert all((p.model.arch, p.model.refine_layers, p.train.batch_size) == ("coef", 0, 128) for p in PRESETS.values())
    short = [PRESETS[n] for n in ("quick", "default", "balanced")]
    assert all((p.model.coef_k, p.model.hidden, p.train.lr) == (128, 256, 2e-3) for p in short)
    quality = PRESETS["quality"]
    assert (quality.model.coef_k, quality.model.hidden, quality.train.lr) == (256, 512, 1e-3)
    assert all(p.model.mlp_layers == 2 and p.train.grey_fraction == 0.3 for p in PRESETS.values())


def test_resume_keeps_the_previous_settings_for_the_presets_budget():
    previous = replace(PRESETS["quality"].train, beta=0.02, max_steps=7, device="cpu", seconds=5.0)
    train, model = configs_for_run(
        PRESETS["quick"], new_model=False, channels=3, patch_size=32, previous=previous, resumed_steps=10
    )
    assert model is None
    assert train.beta == 0.02 and train.seconds == 30.0 and train.max_steps is None and train.device == "auto"
    assert train.pca_init  # a model with steps keeps its weights anyway: pca_init only applies at step 0
    fresh, _ = configs_for_run(PRESETS["quick"], new_model=False, channels=3, patch_size=32, resumed_steps=0)
    assert not fresh.pca_init  # a loaded model with no recorded steps is not re-initialised from PCA


def test_a_bad_override_names_the_field():
    with pytest.raises(ValueError, match="batch_size"):
        configs_for_run(PRESETS["quick"], new_model=True, channels=3, patch_size=32, batch_size=0)


# Every field of each config, with values it must refuse (a test below checks no field is missing).
BAD_TRAIN = {
    "seconds": [-1.0, 0.0, float("nan"), 1e9],
    "max_steps": [-1, 10**10, 2.5],
    "batch_size": [0, 5000, 64.0],
    "lr": [0.0, 1.5, float("nan")],
    "lr_min_fraction": [-0.1, 2.0],
    "warmup_steps": [-1, 10**9],
    "weight_decay": [-1.0, 11.0],
    "adam_beta2": [-0.1, 1.0],
    "beta": [-0.1, 1e5, float("inf")],
    "kl_warmup_steps": [-1],
    "free_bits": [-0.1, 1000.0],
    "grad_clip": [-1.0, 0.0],
    "augment": ["yes", 1],
    "val_every_s": [-5.0, float("nan")],
    "val_max_patches": [0, 10**7],
    "seed": [-1, 2**40],
    "pca_init": [1],
    "linear_lr_scale": [-1.0, 1000.0],
    "likelihood": ["laplace", 1],
    "recon_eps": [0.0, 2.0],
    "linear_freeze_steps": [-1, 2.5],
    "ema_decay": [-0.1, 1.0, float("nan")],
    "grey_fraction": [-0.1, 1.5, float("nan"), "half"],
    "device": ["tpu", "cuda:x", "cpu; rm -rf /", 0],
    "amp": ["no"],
    "threads": [0, -2, 5000],
}
BAD_MODEL = {
    "image_size": [48, 256],
    "channels": [2, 0],
    "latent_dim": [1, 300],
    "width": [12, 1024, 0],
    "res_blocks": [-1, 5],
    "norm": ["batch"],
    "linear_path": ["yes", 0],
    "refine_layers": [-1, 7],
    "refine_width": [4, 512],
    "arch": ["mlp", 1],
    "coef_k": [4, 2048],
    "hidden": [8, 8192],
    "mlp_layers": [0, 7],
}


def _cases(bad: dict) -> list:
    return [(name, value) for name, values in bad.items() for value in values]


@pytest.mark.parametrize(("name", "value"), _cases(BAD_TRAIN))
def test_every_train_config_field_out_of_range_is_refused_by_name(name, value):
    from vae_core.config import TrainConfig

    with pytest.raises(ValueError, match=f"^{name}="):
        replace(TrainConfig(), **{name: value}).validate()
    with pytest.raises(ValueError, match=name):  # the JSON path a checkpoint takes
        TrainConfig.from_dict({name: value})


@pytest.mark.parametrize(("name", "value"), _cases(BAD_MODEL))
def test_every_model_config_field_out_of_range_is_refused_by_name(name, value):
    from vae_core.config import ModelConfig

    with pytest.raises(ValueError, match=f"^{name}="):
        replace(ModelConfig(), **{name: value}).validate()


def test_every_config_field_has_refused_values_above():
    from dataclasses import fields

    from vae_core.config import ModelConfig, TrainConfig

    assert set(BAD_TRAIN) == {f.name for f in fields(TrainConfig)}
    assert set(BAD_MODEL) == {f.name for f in fields(ModelConfig)}


def test_defaults_presets_and_edge_values_are_accepted():
    from vae_core.config import ModelConfig, TrainConfig

    for preset in PRESETS.values():
        assert preset.train.validate() is preset.train and preset.model.validate() is preset.model
    TrainConfig(seconds=None, max_steps=0, val_every_s=1e9, device="cuda:1", threads=1, seed=2**32 - 1).validate()
    ModelConfig(image_size=128, width=512, latent_dim=256, res_blocks=4, refine_layers=0).validate()


def test_threads_are_clamped_to_the_machine_not_refused():
    import os

    from vae_core.config import TrainConfig

    cores = os.cpu_count() or 1
    assert TrainConfig.from_dict({"threads": 4096}).threads == min(4096, cores)
    assert TrainConfig(threads=1).for_this_machine().threads == 1
    assert TrainConfig().for_this_machine().threads is None
