"""Shared fixtures: a tiny model config and a tiny patch dataset, both fast on a CPU."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def tiny_data():
    """~100 training patches of 32 px from a few procedural textures (seeded)."""
    from vae_core.data import TextureImage
    from vae_core.patches import PatchConfig, make_patches
    from vae_core.samples import procedural_texture

    images = [
        TextureImage(name=f"{k}.png", label=k, pixels=procedural_texture(k, size=96, seed=1))
        for k in ("stripes", "dots", "marble", "checks")
    ]
    return make_patches(images, PatchConfig(patch_size=32, patches_per_image=32, seed=0))


@pytest.fixture
def tiny_config():
    from vae_core.config import ModelConfig

    return ModelConfig(image_size=32, channels=3, latent_dim=4, width=8, res_blocks=1)


@pytest.fixture
def tiny_train():
    from vae_core.config import TrainConfig

    return TrainConfig(seconds=None, max_steps=5, batch_size=16, val_every_s=1e9, kl_warmup_steps=2, warmup_steps=1)


def assert_close(a, b, atol: float = 0.0) -> None:
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol, rtol=0)
