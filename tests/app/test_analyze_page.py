"""The Analyze page through AppTest: what it asks for, an analysis with a tiny model, a new image classified."""

from __future__ import annotations

import json
from dataclasses import replace

from conftest import seed_session
from testkit import ok, png_bytes, texts

from pages.shared import session
from vae_core.data.images import TextureImage
from vae_core.data.samples import procedural_texture

PAGE = "pages/analyze.py"
KINDS = ("stripes", "dots", "marble")


def test_analyze_asks_for_data_then_for_two_labels(app, tiny_session):
    app.run()
    app.switch_page(PAGE).run()
    ok(app, "empty")
    assert "needs some textures" in texts(app)
    seed_session(app, tiny_session)
    app.session_state[session.IMAGES] = [replace(im, label="brick") for im in tiny_session["images"]]
    app.run()
    ok(app, "one label")
    assert "needs at least 2 labels" in texts(app) and "'brick'" in texts(app)
    assert not app.button  # nothing to run yet
    # Two labels, but one small image each: the run explains what is missing, with a way to the Data page.
    app.session_state[session.IMAGES] = [replace(im, name=f"{k}.png", label=k) for im, k in zip(
        tiny_session["images"][:2], ("brick", "sand"), strict=True)]  # fmt: skip
    app.session_state[session.IMAGES_VERSION] = "two labels"
    app.run()
    app.button(key="an_run").click().run()
    app.session_state[session.ANALYSIS].thread.join(60)
    app.run()
    ok(app, "too few")
    assert "Each label needs at least 3 images" in texts(app) and "Too few: 'brick' (1 image)" in texts(app)


def test_an_analysis_with_a_tiny_model_then_a_new_image(seeded_app):
    images = [TextureImage(f"{k}_{i}.png", k, procedural_texture(k, 64, seed=i)) for k in KINDS for i in range(3)]
    seeded_app.session_state[session.IMAGES] = images
    at = seeded_app.run()
    at.switch_page(PAGE).run()
    ok(at, "before")
    assert "9 images, 3 labels" in texts(at)
    at.button(key="an_run").click().run()
    ok(at, "started")
    run = at.session_state[session.ANALYSIS]
    run.thread.join(120)
    assert run.error is None and run.analysis is not None, run.error
    at.run()
    ok(at, "result")
    words = texts(at)
    assert "On your 9 images of 3 labels" in words and "Guessing would be right 33%" in words
    assert run.analysis.result.verdict() in words  # the plain verdict, whichever side won
    table = at.dataframe[0].value
    assert {"VAE texture descriptor", "LBP", "GLCM", "LBP + GLCM", "Raw-pixel PCA"} <= set(table.index)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    heat = [c for c in charts if c["data"][0]["type"] == "heatmap"]
    assert heat and len(heat[0]["data"][0]["z"]) == 3  # the confusion matrix: a row per label
    labels = {b.label for b in at.get("download_button")}
    assert {"Scores (CSV)", "Confusion matrix (CSV)", "Every score and per-label recall (CSV)"} <= labels
    # A new image: its predicted label and how sure the classifier is.
    at.file_uploader(key="an_classify_upload").set_value([("mine.png", png_bytes(80), "image/png")]).run()
    ok(at, "classify")
    guess = at.metric[0]
    assert guess.label == "Looks most like" and guess.value in KINDS and "% sure" in guess.delta

    # Which dimensions matter: a button under the label x dimension map opens that label's average code in the
    # Latent sliders (a click on a heatmap cell does the same through read_dimension_click, unit-tested).
    opener = next(b for b in at.button if (b.key or "").startswith("an_open_"))
    d = int(opener.key.removeprefix("an_open_"))
    opener.click().run()
    ok(at, "opened in the sliders")
    start = at.session_state[session.LAT_START]
    assert any(start["label"].startswith(f"Average code of '{k}'") for k in KINDS) and f"z[{d}]" in start["label"]
    assert start["z"].shape == (at.session_state[session.MODEL].latent_dim,)
    assert any(h.value == "Latent sliders" for h in at.title)  # the page switched
