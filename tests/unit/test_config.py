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
