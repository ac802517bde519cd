"""Open my work restores a session in one step; a broken file changes nothing. Save my work is offered."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from testkit import ok, weights

from pages.shared import session

# The sidebar's "Your work" box on its own page: AppTest runs a page's script directly after the
# first run (not app.py, whose sidebar would then be missing), so the box is its own script here.
SCRIPT = """
from pages.shared import work
from pages.shared.session import init_state
init_state()
work.work_controls()
"""


@pytest.fixture
def box():
    from streamlit.testing.v1 import AppTest

    return AppTest.from_string(SCRIPT, default_timeout=60)


def _work_file(tiny_session) -> bytes:
    from vae_core.model.workfile import save_work

    images = [type(im)(name=im.name, label=f"mine-{im.label}", pixels=im.pixels) for im in tiny_session["images"]]
    return save_work(
        images=images,
        patch_config=tiny_session["patch_config"],
        model=tiny_session["model"],
        train_config=tiny_session["train_config"],
        state=tiny_session["state"],
        dataset=tiny_session["data"].summary(),
        model_source="Trained here (4 steps)",
    ).data


def test_open_my_work_restores_model_images_and_labels(box, tiny_session):
    app = box
    app.run()
    assert not any(b.label == "Save my work" for b in app.get("download_button"))  # nothing to save yet
    app.file_uploader(key="work_upload").set_value(("my_work.zip", _work_file(tiny_session), "application/zip"))
    app.run()
    ok(app, "open my work")
    state = app.session_state
    assert torch.equal(weights(state[session.MODEL]), weights(tiny_session["model"]))
    assert state[session.TRAIN_STATE].step == 4 and state[session.MODEL_SOURCE] == "Trained here (4 steps)"
    assert [im.label for im in state[session.IMAGES]] == [f"mine-{im.label}" for im in tiny_session["images"]]
    assert state[session.DATASET] is not None
    # the session's own patch budget (max_bytes) applies to opened work like to any patch settings
    assert replace(state[session.PATCH_CONFIG], max_bytes=None) == replace(tiny_session["patch_config"], max_bytes=None)
    assert state[session.WORK_SAVED] == state[session.MODEL_VERSION]  # opened from a file: nothing unsaved
    assert any(r"Opened 'my\_work.zip'" in s.value for s in app.success)  # as typed: \_ is Markdown for _
    assert any(b.label == "Save my work" for b in app.get("download_button"))


def test_a_broken_work_file_leaves_the_session_as_it_was(box, tiny_session):
    seeded_app = box
    for key, value in {
        session.IMAGES: list(tiny_session["images"]),
        session.PATCH_CONFIG: tiny_session["patch_config"],
        session.DATASET: tiny_session["data"],
        session.DATASET_VERSION: "data-1",
        session.MODEL: tiny_session["model"],
        session.MODEL_VERSION: "model-1",
        session.MODEL_SOURCE: "Tiny test model",
    }.items():
        seeded_app.session_state[key] = value
    seeded_app.run()
    before = (seeded_app.session_state[session.MODEL_VERSION], seeded_app.session_state[session.DATASET_VERSION])
    seeded_app.file_uploader(key="work_upload").set_value(("broken.zip", b"PK\x03\x04 truncated", "application/zip"))
    seeded_app.run()
    ok(seeded_app, "broken work file")
    after = (seeded_app.session_state[session.MODEL_VERSION], seeded_app.session_state[session.DATASET_VERSION])
    assert after == before
    assert any("not a work file" in e.value and "Nothing was changed" in e.value for e in seeded_app.error)
