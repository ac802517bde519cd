"""Latent sliders and Latent map through AppTest: empty session, tiny model, uploaded start image, map to sliders."""

from __future__ import annotations

import json

import numpy as np
from testkit import ok, png_bytes, texts

from pages.shared import session

SLIDERS, MAP = "pages/latent_sliders.py", "pages/latent_map.py"


def _wait_strips(at) -> None:
    job = at.session_state[session.LAT_JOB]
    assert job.done.wait(30), "the slider previews were not decoded in 30 s"
    assert job.error is None, job.error


def test_latent_pages_ask_for_data_and_a_model_when_empty(app):
    app.run()
    for page in (SLIDERS, MAP):
        app.switch_page(page).run()
        ok(app, page)
        assert "needs some textures" in texts(app)


def test_sliders_with_a_tiny_model(seeded_app):
    at = seeded_app.run()
    at.switch_page(SLIDERS).run()
    ok(at, SLIDERS)
    z = at.session_state[session.LAT_Z]
    assert z.shape == (4,) and np.isfinite(z).all()
    assert "Patch 1 of the training set" in texts(at)
    # the browser decoder went out with the first run, for this model (later runs send only its token)
    assert at.session_state[session.LAT_DECODER_SENT] == at.session_state[session.MODEL_VERSION]
    _wait_strips(at)
    assert at.session_state[session.LAT_JOB].sprites  # every active dimension got a strip of frames
    assert any(b.label == "Download the image (PNG)" for b in at.get("download_button"))
    # the copyable code is the current latent vector
    assert np.allclose(json.loads(at.code[0].value), z, atol=1e-3)
    at.radio(key="lat_start_kind").set_value("The origin (all zeros)").run()
    at.button(key="lat_use_origin").click().run()
    ok(at, "origin")
    assert np.allclose(at.session_state[session.LAT_Z], 0)
    at.button(key="lat_randomize").click().run()
    assert not np.allclose(at.session_state[session.LAT_Z], 0)
    at.button(key="lat_reset").click().run()
    assert np.allclose(at.session_state[session.LAT_Z], 0)
    at.button(key="lat_grid_run").click().run()
    ok(at, "grid")
    assert any(b.label == "Download the grid (PNG)" for b in at.get("download_button"))


def test_sliders_start_from_an_uploaded_image(seeded_app):
    at = seeded_app.run()
    at.switch_page(SLIDERS).run()
    at.radio(key="lat_start_kind").set_value("An image I upload").run()
    at.file_uploader(key="lat_upload").set_value([("brick.png", png_bytes(80, width=80 + 10), "image/png")]).run()
    ok(at, "upload")
    assert at.session_state[session.LAT_START]["label"] == "Uploaded image brick.png"
    assert at.session_state[session.LAT_Z].shape == (4,)
    at.file_uploader(key="lat_upload").set_value([("notes.png", b"not an image", "image/png")]).run()
    ok(at, "bad upload")
    assert at.error  # the reason is shown, the page survives


def test_map_with_a_tiny_model_and_its_decode_anywhere(seeded_app):
    at = seeded_app.run()
    at.switch_page(MAP).run()
    ok(at, MAP)
    assert at.session_state[session.MODEL] is not None
    assert "Decode anywhere" in [h.value for h in at.subheader]
    assert "estimate" in texts(at)
    at.selectbox(key="map_colour").set_value("error").run()
    ok(at, "recon error colour")
    at.radio(key="map_view").set_value("3D").run()
    ok(at, "3D")
    at.radio(key="map_view").set_value("2D").run()
    at.button(key="map_open_xy").click().run()
    ok(at, "open estimate")
    assert at.session_state[session.LAT_START]["label"].startswith("Map position")


def test_map_guards_umap_for_a_small_dataset(seeded_app, tiny_session):
    from dataclasses import replace

    from vae_core.data.patches import make_patches

    small = make_patches(tiny_session["images"][:1], replace(tiny_session["patch_config"], patches_per_image=4))
    seeded_app.session_state[session.DATASET] = small
    at = seeded_app.run()
    at.switch_page(MAP).run()
    at.radio(key="map_method").set_value("UMAP").run()
    ok(at, "UMAP")
    assert "UMAP needs at least 10 patches" in texts(at)
    assert at.get("plotly_chart")  # PCA is shown instead


def test_map_computes_umap_in_the_background_and_then_shows_it(seeded_app):
    import threading

    at = seeded_app.run()
    at.switch_page(MAP).run()
    at.radio(key="map_method").set_value("UMAP").run()
    assert "UMAP finds curved structure" in texts(at)
    at.button(key="map_umap_run").click().run()
    ok(at, "UMAP started")
    run = at.session_state[session.MAP_UMAP]
    worker = next(t for t in threading.enumerate() if t.name == "latent-map-umap")
    worker.join(240)
    assert run.error is None and run.result is not None
    at.run()
    ok(at, "UMAP shown")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["layout"]["title"]["text"].startswith("UMAP of")
    assert spec["data"][0]["name"] == "empty space"  # the clickable grid under the dots (decode anywhere)
    assert "UMAP's inverse is approximate" in texts(at)
    at.selectbox(key="map_colour").set_value("source").run()
    ok(at, "UMAP coloured by source image")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["name"] for t in spec["data"][1:]} == set(at.session_state[session.DATASET].image_names)
