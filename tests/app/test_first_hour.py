"""What a first-time user hit in their first hour (issue 9), through AppTest: each test would have caught one.

A freeze on patch settings that fit no image, a stale sidebar, quality figures that disagree
between pages, a map that forgets UMAP, a stale error on the Model page, samples that replaced
the user's own work without asking, and labels cut at the first digit.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from testkit import ok, png_bytes, texts

from pages.shared import session
from vae_core.config import STARTER_CHECKPOINT

DATA, MODEL, RECON, MAP = "pages/data.py", "pages/model.py", "pages/reconstructions.py", "pages/latent_map.py"


def _upload(at, files: list[tuple[str, bytes]]):
    at.file_uploader(key="data_upload").set_value([(name, data, "image/png") for name, data in files]).run()
    ok(at, "upload")
    return at


def test_a_patch_size_bigger_than_every_image_says_why_and_does_not_rerun_forever(app):
    """Item 1: one 100x100 image and patch size 128 used to rerun the page forever, with no message."""
    app.run()
    at = _upload(app.switch_page(DATA).run(), [("small_01.png", png_bytes(100))])
    at.select_slider(key="data_patch_size").set_value(128).run()  # AppTest's 30 s timeout fails a rerun loop
    ok(at, "patch size 128")
    assert any("Could not cut 128-pixel patches" in e.value and "32 px" in e.value for e in at.error), texts(at)
    assert at.session_state[session.DATASET].patch_size == 32  # the old patches are kept...
    assert at.select_slider(key="data_patch_size").value == 32  # ...and the slider says so
    at.run()
    ok(at, "next run")
    assert not at.error  # said once, not on every later run
    assert at.session_state[session.DATASET].patch_size == 32


def _sidebar_then_data_page() -> None:
    """app.py's order on the Data page: the sidebar first, then the page (AppTest's switch_page runs a page
    without app.py, so its sidebar never shows there)."""
    import runpy

    from pages.shared.session import ROOT, init_state
    from pages.shared.sidebar import render_sidebar

    init_state()
    render_sidebar()
    runpy.run_path(str(ROOT / "pages" / "data.py"))


def test_the_sidebar_counts_change_in_the_same_run_as_the_patch_settings(monkeypatch):
    """Item 2: the sidebar (drawn before the page) showed the old counts until the next page."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setattr(st, "page_link", lambda *args, **kwargs: None)  # links need app.py's navigation
    at = AppTest.from_function(_sidebar_then_data_page, default_timeout=60).run()
    _upload(at, [("brick_01.png", png_bytes(200)), ("grass_01.png", png_bytes(200, 1))])
    assert "validation patches of 32 px" in at.sidebar.markdown[0].value
    at.select_slider(key="data_patch_size").set_value(64).run()
    ok(at, "patch size 64")
    assert at.session_state[session.DATASET].patch_size == 64
    assert "validation patches of 64 px" in at.sidebar.markdown[0].value  # in the same run, not the next page


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_one_validation_psnr_everywhere_measured_on_every_validation_patch(seeded_app, tiny_session):
    """Item 3: Reconstructions averaged only the patches shown, so its PSNR moved with "How many"."""
    from vae_core.explore.metrics import evaluate

    expected = evaluate(tiny_session["model"], tiny_session["data"])
    at = seeded_app.run()
    at.switch_page(RECON).run()
    ok(at, RECON)
    headline = _metric(at, "VAE PSNR")
    assert headline == f"{expected.psnr:.2f} dB"
    assert f"all {expected.n_val_patches} validation patches" in texts(at)
    at.select_slider(key="recon_count").set_value(16).run()
    assert _metric(at, "VAE PSNR") == headline  # the headline no longer moves with the grid
    shown = min(16, expected.n_val_patches)
    assert f"On these {shown} validation patches" in texts(at)  # the grid's own average says which patches

    # The model card: the figure from training, on the data it was trained on, and the same figure as above.
    at.switch_page(MODEL).run()
    ok(at, MODEL)
    final = tiny_session["state"].history.summary()["final_val_psnr"]
    assert _metric(at, "PSNR when training ended") == f"{final:.1f} dB"
    assert "data it was trained on" in next(m.help for m in at.metric if m.label == "PSNR when training ended")
    assert f"On your current patches:** {expected.psnr:.1f} dB" in texts(at)
    # Trained on these same patches (fewer than 512 validation patches): training's last check is the same figure.
    assert final == pytest.approx(expected.psnr, abs=0.05)


def test_the_map_keeps_umap_after_a_visit_to_another_page(seeded_app):
    """Item 6: Layout came back as PCA; Streamlit forgets a widget's value when its page is left."""
    at = seeded_app.run()
    at.switch_page(MAP).run()
    at.radio(key="map_method").set_value("UMAP").run()
    at.radio(key="map_view").set_value("3D").run()
    at.switch_page(DATA).run()
    at.switch_page(MAP).run()
    ok(at, MAP)
    assert at.radio(key="map_method").value == "UMAP" and at.radio(key="map_view").value == "3D"


def test_a_checkpoint_error_goes_when_the_file_goes_or_the_page_is_left(seeded_app):
    """Item 8: an old error stayed on the Model page after the bad file was removed."""
    seeded_app.run()
    at = seeded_app.switch_page(MODEL).run()
    uploader = at.file_uploader(key="model_upload")
    uploader.set_value(("broken.safetensors", b"\x00" * 100, "application/octet-stream")).run()
    assert any("Could not load this file" in e.value for e in at.error)
    at.run()  # still there while the file is
    assert any("Could not load this file" in e.value for e in at.error)
    at.file_uploader(key="model_upload").set_value(None).run()
    ok(at, "file removed")
    assert not at.error

    at.file_uploader(key="model_upload").set_value(("again.safetensors", b"\x01" * 100, "application/octet-stream"))
    at.run()
    assert any("Could not load this file" in e.value for e in at.error)
    at.switch_page(DATA).run()
    at.switch_page(MODEL).run()
    ok(at, "back on the Model page")
    assert not at.error


def test_the_samples_ask_before_replacing_the_users_own_images_and_model(seeded_app, tiny_session):
    """Item 9: "Try it with sample textures" silently replaced the user's images and trained model."""
    at = seeded_app.run()
    model = at.session_state[session.MODEL]
    at.button(key="home_try_samples").click().run()
    ok(at, "asked")
    assert at.session_state[session.MODEL] is model and len(at.session_state[session.IMAGES]) == 3
    assert any("would replace your 3 images and your model (Tiny test model)" in w.value for w in at.warning)
    at.button(key="home_confirm_cancel").click().run()
    assert at.session_state[session.MODEL] is model and not at.warning

    at.button(key="home_try_samples").click().run()
    at.button(key="home_confirm_add").click().run()
    ok(at, "added beside")
    assert len(at.session_state[session.IMAGES]) == 3 + 15 and at.session_state[session.MODEL] is model
    assert any("added beside yours" in s.value for s in at.success)


@pytest.mark.skipif(not STARTER_CHECKPOINT.is_file(), reason="assets/starter.safetensors is not installed")
def test_replacing_the_users_work_with_the_samples_takes_a_second_click(seeded_app):
    at = seeded_app.run()
    at.button(key="home_try_samples").click().run()
    at.button(key="home_confirm_replace").click().run()
    ok(at, "replaced")
    assert len(at.session_state[session.IMAGES]) == 15
    assert at.session_state[session.MODEL_SOURCE] == session.STARTER_SOURCE
    at.button(key="home_try_samples").click().run()  # only the samples and the starter: nothing to lose, no question
    assert not at.warning and any("Samples and the starter model are loaded" in s.value for s in at.success)


def test_remove_all_images_needs_a_confirmation(seeded_app):
    at = seeded_app.run()
    at.switch_page(DATA).run()
    confirm = at.button(key="data_remove_all")  # the only way to remove them all: a button inside a popover
    assert confirm.label == "Yes, remove 3 images" and len(at.session_state[session.IMAGES]) == 3
    at.button(key="data_remove_all").click().run()
    ok(at, "removed")
    assert at.session_state[session.IMAGES] == [] and at.session_state[session.DATASET] is None


def _bmp(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, "BMP")
    return buf.getvalue()


def test_labels_keep_the_whole_name_before_the_index_and_say_where_they_came_from(app):
    """Item 13: D103_01.bmp, D104_06.bmp... were all labelled "D"."""
    app.run()
    at = _upload(
        app.switch_page(DATA).run(), [("D103_01.bmp", _bmp(0)), ("D103_02.bmp", _bmp(1)), ("D104_06.bmp", _bmp(2))]
    )
    assert at.session_state[session.DATASET].label_names == ["D103", "D104"]
    table = at.data_editor[0].value
    assert list(table["Label"]) == ["D103", "D103", "D104"] and set(table["Label from"]) == {"file name"}
    key = f"data_table_{at.session_state[session.IMAGES_VERSION]}"
    at.session_state[key] = {"edited_rows": {2: {"Label": "raffia"}}, "added_rows": [], "deleted_rows": []}
    at.run()
    ok(at, "edited")
    assert list(at.data_editor[0].value["Label from"]) == ["file name", "file name", "you"]


def test_a_file_read_with_a_note_loads_and_says_so(app):
    """Item 14: an animated GIF loads its first frame, and the Data page says only that frame is used."""
    frames = [Image.new("RGB", (64, 64), c) for c in ((200, 0, 0), (0, 0, 200))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    app.run()
    at = _upload(app.switch_page(DATA).run(), [("anim.gif", buf.getvalue()), ("empty.png", b"")])
    assert [im.name for im in at.session_state[session.IMAGES]] == ["anim.gif"]
    assert any("'anim.gif' has 2 frames; only the first is used." in i.value for i in at.info)
    assert any("'empty.png' is empty" in w.value for w in at.warning)
