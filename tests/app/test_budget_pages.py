"""The Data page under memory budgets, the server-full guard, the sidebar's memory line, and the Model page
with a malformed checkpoint from someone else (AppTest)."""

from __future__ import annotations

import json

from testkit import ok, png_bytes, texts

from pages.shared import session


def _data_page(app):
    app.run()
    app.switch_page("pages/data.py").run()
    ok(app)
    return app


def test_an_upload_over_the_session_budget_keeps_what_fits_and_says_why(app, monkeypatch):
    monkeypatch.setenv("TEXTURE_VAE_SESSION_IMAGE_MB", "0.03")  # 30,000 bytes: two 64 px RGB images (12,288 each)
    at = _data_page(app)
    files = [(f"brick_{k}.png", png_bytes(64, seed=k), "image/png") for k in range(3)]
    at.file_uploader(key="data_upload").set_value(files).run()
    ok(at)
    assert [im.name for im in at.session_state[session.IMAGES]] == ["brick_0.png", "brick_1.png"]
    shown = [w.value for w in at.warning]
    assert any(w.startswith("Kept 2 images (24,576 bytes); skipped 1: this session's image budget") for w in shown)
    assert any(r"brick\_2.png" in w and "30,000 bytes" in w for w in shown)  # names the file (as typed) and the limit
    assert at.session_state[session.DATASET] is not None  # the images that fit are usable


def test_uploads_once_read_leave_streamlits_upload_store(app, monkeypatch):
    """The raw upload bytes are outside every budget: once decoded, the Data page drops them from the store."""
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager

    removed, left = [], []
    original = MemoryUploadedFileManager.remove_file

    def spy(self, session_id, file_id):
        original(self, session_id, file_id)
        removed.append(file_id)
        left.append(sum(len(f.data) for f in self.file_storage.get(session_id, {}).values()))

    monkeypatch.setattr(MemoryUploadedFileManager, "remove_file", spy)
    at = _data_page(app)
    files = [(f"grass_{k}.png", png_bytes(64, seed=k), "image/png") for k in range(2)]
    at.file_uploader(key="data_upload").set_value(files).run()
    ok(at)
    assert [im.name for im in at.session_state[session.IMAGES]] == ["grass_0.png", "grass_1.png"]
    assert len(removed) == 2 and set(removed) == at.session_state[session.SEEN_UPLOADS]
    assert left[-1] == 0  # nothing of theirs is left in the store


def test_the_patch_budget_is_shown_on_the_data_page(app, monkeypatch):
    monkeypatch.setenv("TEXTURE_VAE_SESSION_PATCH_MB", "0.5")  # room for ~160 patches of 32 px
    at = _data_page(app)
    at.button(key="data_add_samples").click().run()
    ok(at)
    data = at.session_state[session.DATASET]
    assert data.train.nbytes + data.val.nbytes <= 500_000
    assert any(i.value.startswith("Patches are capped at 500,000 bytes") for i in at.info)


def test_a_full_server_refuses_new_uploads_and_takes_them_when_there_is_room(app, monkeypatch):
    monkeypatch.setenv("TEXTURE_VAE_MEMORY_CEILING_MB", "1")  # this process is far above 1 MB
    at = _data_page(app)
    at.file_uploader(key="data_upload").set_value([("grass_1.png", png_bytes(64), "image/png")]).run()
    ok(at)
    assert any("server is full" in e.value and "try again in a minute" in e.value for e in at.error)
    assert at.session_state[session.IMAGES] == []
    monkeypatch.delenv("TEXTURE_VAE_MEMORY_CEILING_MB")
    at.run()  # the same upload is tried again once there is room
    ok(at)
    assert [im.name for im in at.session_state[session.IMAGES]] == ["grass_1.png"]


def test_sidebar_shows_the_sessions_own_memory(seeded_app, tiny_session):
    at = seeded_app.run()
    ok(at)
    line = next(c.value for c in at.caption if "Memory held for you" in c.value)
    images = sum(im.pixels.nbytes for im in tiny_session["images"])
    assert f"images {images / 1e6:.1f} MB" in line and "patches" in line and "model" in line


def _hostile_checkpoint(model) -> bytes:
    from safetensors.torch import load, save

    from vae_core.model.checkpoint import META_KEY, to_bytes
    from vae_core.model.history import TrainState

    blob = to_bytes(model, state=TrainState(step=7))
    n = int.from_bytes(blob[:8], "little")
    meta = json.loads(json.loads(blob[8 : 8 + n])["__metadata__"][META_KEY])
    meta["dataset"] = {
        "n_train": "lots",
        "n_images": 2,
        "labels": {"[x](http://evil.example)": 1, "![img](http://evil.example/a.png)": 1},
    }
    meta["state"]["history"] = {"step": [1, 2, 3], "loss": ["a", "b"]}
    return save(load(blob), metadata={META_KEY: json.dumps(meta)})


def test_model_page_shows_a_malformed_checkpoint_as_plain_text(seeded_app, tiny_session):
    seeded_app.run()
    at = seeded_app.switch_page("pages/model.py").run()
    data = _hostile_checkpoint(tiny_session["model"])
    at.file_uploader(key="model_upload").set_value(("[click](http://name.example).safetensors", data, "x")).run()
    ok(at)
    assert at.session_state[session.TRAIN_STATE].step == 7  # the model loaded
    warnings = [w.value for w in at.warning]
    assert any("history was malformed" in w for w in warnings) and any("n_train" in w for w in warnings)
    plain = [t.value for t in at.text]
    assert "Images per label: [x](http://evil.example) (1), ![img](http://evil.example/a.png) (1)" in plain
    assert "Source: [click](http://name.example).safetensors" in plain  # the card shows the file name as text
    assert "evil.example" not in texts(at)  # no markdown, caption or alert carries a label from the file
    assert "This model has no recorded training history." in texts(at)


def test_a_full_server_refuses_a_new_training_run_before_building_anything(seeded_app, monkeypatch):
    seeded_app.run()
    at = seeded_app.switch_page("pages/train.py").run()
    ok(at)
    model = at.session_state[session.MODEL]
    monkeypatch.setenv("TEXTURE_VAE_MEMORY_CEILING_MB", "1")  # this process is far above 1 MB
    at.button(key="train_start").click().run()
    ok(at)
    assert at.session_state[session.JOB] is None
    assert any("server is full" in e.value and "try again in a minute" in e.value for e in at.error)
    assert at.session_state[session.MODEL] is model  # the current model is untouched
