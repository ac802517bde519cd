"""AppTest helpers: a fresh app, and a session seeded with a tiny trained model.

The tiny model (32 px patches, 4 latent dims, width 8) trains a few steps in well under a
second, so every page can be exercised with a real model without waiting for a preset.
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# No background UMAP warm-up in AppTest processes: its thread, still compiling when pytest
# exits, aborts the interpreter (exit 134). The e2e server keeps it (app.WARM_UP_ENV).
os.environ["TEXTURE_VAE_WARM_UP_UMAP"] = "0"

TIMEOUT = 30  # seconds per script run: the first run in a process pays for importing torch


@pytest.fixture(scope="session")
def tiny_session():
    """Images, patches and a tiny model trained for a few steps, as session-state values."""
    from vae_core.config import ModelConfig, TrainConfig
    from vae_core.data import TextureImage
    from vae_core.jobs import fresh_model
    from vae_core.patches import PatchConfig, make_patches
    from vae_core.samples import procedural_texture
    from vae_core.train import fit

    images = [
        TextureImage(name=f"{k}_0.png", label=k, pixels=procedural_texture(k, size=96, seed=1))
        for k in ("stripes", "dots", "marble")
    ]
    patch_config = PatchConfig(patch_size=32, patches_per_image=16, seed=0)
    data = make_patches(images, patch_config)
    model = fresh_model(ModelConfig(image_size=32, channels=3, latent_dim=4, width=8, res_blocks=1), seed=0)
    train_config = TrainConfig(seconds=None, max_steps=4, batch_size=16, val_every_s=1e9, warmup_steps=1)
    result = fit(model, data, train_config)
    return {
        "images": images,
        "patch_config": patch_config,
        "data": data,
        "model": model.eval(),
        "train_config": train_config,
        "state": result.state,
    }


def seed_session(at, s: dict) -> None:
    """Put the tiny session into ``at.session_state`` under the app's keys (pages/shared/state.py)."""
    from pages.shared import state as S

    at.session_state[S.IMAGES] = list(s["images"])
    at.session_state[S.IMAGES_VERSION] = uuid.uuid4().hex
    at.session_state[S.PATCH_CONFIG] = s["patch_config"]
    at.session_state[S.DATASET] = s["data"]
    at.session_state[S.DATASET_VERSION] = uuid.uuid4().hex
    at.session_state[S.MODEL] = s["model"]
    at.session_state[S.MODEL_VERSION] = uuid.uuid4().hex
    at.session_state[S.MODEL_SOURCE] = "Tiny test model"
    at.session_state[S.TRAIN_CONFIG] = s["train_config"]
    at.session_state[S.TRAIN_STATE] = s["state"]
    at.session_state[S.MODEL_DATASET] = s["data"].summary()


@pytest.fixture
def app():
    """A fresh AppTest of app.py (not yet run)."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)


@pytest.fixture
def seeded_app(app, tiny_session):
    seed_session(app, tiny_session)
    return app


@pytest.fixture
def tiny_train_config():
    """Three quick steps: for jobs started by a test."""
    from vae_core.config import TrainConfig

    return replace(TrainConfig(), seconds=None, max_steps=3, batch_size=16, val_every_s=1e9, warmup_steps=1)


# Background work the pages start (slider preview strips, UMAP maps, training jobs) runs in
# daemon threads. A server outlives them; a test process does not, and an interpreter that
# exits while such a thread is inside torch aborts (exit 134). Each test waits for its own.
BACKGROUND_THREADS = ("strips-", "latent-map-umap", "texture-vae-train-")


@pytest.fixture(autouse=True)
def _finish_background_threads():
    before = set(threading.enumerate())
    yield
    for thread in set(threading.enumerate()) - before:
        if thread.name.startswith(BACKGROUND_THREADS):
            thread.join(timeout=120)
