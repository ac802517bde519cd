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
# exits, aborts the interpreter (exit 134). The e2e servers go without it too (tests/e2e/conftest.py).
os.environ["TEXTURE_VAE_WARM_UP_UMAP"] = "0"
# Pages wait for their validation scores instead of showing progress and polling (AppTest does not
# run a fragment's timer): every test reads the numbers in one run. One test sets it to 0.
os.environ["TEXTURE_VAE_SCORE_WAIT_S"] = "60"

TIMEOUT = 30  # seconds per script run: the first run in a process pays for importing torch


@pytest.fixture(scope="session")
def tiny_session():
    """Images, patches and a tiny model trained for a few steps, as session-state values."""
    from testkit import tiny_images, tiny_model_config

    from vae_core.config import PatchConfig, TrainConfig
    from vae_core.data.patches import make_patches
    from vae_core.model.vae import build_model
    from vae_core.training.fit import fit

    images = tiny_images(("stripes", "dots", "marble"), name="{kind}_0.png")
    patch_config = PatchConfig(patch_size=32, patches_per_image=16, seed=0)
    data = make_patches(images, patch_config)
    model = build_model(tiny_model_config(), seed=0)
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
    from pages.shared import session

    at.session_state[session.IMAGES] = list(s["images"])
    at.session_state[session.IMAGES_VERSION] = uuid.uuid4().hex
    at.session_state[session.PATCH_CONFIG] = s["patch_config"]
    at.session_state[session.DATASET] = s["data"]
    at.session_state[session.DATASET_VERSION] = uuid.uuid4().hex
    at.session_state[session.MODEL] = s["model"]
    at.session_state[session.MODEL_VERSION] = uuid.uuid4().hex
    at.session_state[session.MODEL_SOURCE] = "Tiny test model"
    at.session_state[session.TRAIN_CONFIG] = s["train_config"]
    at.session_state[session.TRAIN_STATE] = s["state"]
    at.session_state[session.MODEL_DATASET] = s["data"].summary()


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
BACKGROUND_THREADS = ("strips-", "latent-map-umap", "texture-vae-train-", "validation-scores")


@pytest.fixture(autouse=True)
def _finish_background_threads():
    before = set(threading.enumerate())
    yield
    for thread in set(threading.enumerate()) - before:
        if thread.name.startswith(BACKGROUND_THREADS):
            thread.join(timeout=120)
