"""The Compress page through AppTest: the guard without a model; compress, compare, download and re-open with one."""

from __future__ import annotations

from testkit import ok, png_bytes, texts

from pages.shared import session

PAGE = "pages/compress.py"


def test_without_a_model_the_page_says_what_it_needs(app):
    app.run()
    app.switch_page(PAGE).run()
    ok(app, PAGE)
    assert "needs a model" in texts(app)
    assert not app.get("plotly_chart")


def test_compress_compare_and_reopen_with_a_tiny_model(seeded_app):
    at = seeded_app.run()
    at.switch_page(PAGE).run()
    ok(at, PAGE)
    assert at.selectbox(key="compress_pick_0").value == "astronaut.png"  # a fair test comes first
    assert "unfair head start" not in texts(at)
    at.radio(key="compress_source").set_value("One of my textures").run()
    assert r"trained on 'stripes\_0.png'" in texts(at)  # the first texture is one the model saw (\_: Markdown's _)
    at.button(key="compress_run").click().run(timeout=120)
    ok(at, "compress")
    saved = at.session_state[session.COMPRESS_RD]
    rd = saved["rd"]
    assert len(at.get("plotly_chart")) == 1
    assert "JPEG" in texts(at) and "WebP" in texts(at)
    assert at.success or at.warning  # the verdict, whichever side wins
    labels = [b.proto.label for b in at.get("download_button")]
    assert any(label.startswith("Download the compressed file") for label in labels)
    assert "VAE (PNG)" in labels and "JPEG (PNG)" in labels

    smallest = min(range(len(rd.files)), key=lambda i: len(rd.files[i].data))
    at.select_slider(key="compress_rate").set_value(smallest).run()
    at.toggle(key="compress_count_weights").set_value(True).run()
    ok(at, "weights")
    assert "decoder's weights are" in texts(at)

    file = rd.files[smallest].data
    at.file_uploader(key="compress_open").set_value([("marble.tvaz", file, "application/octet-stream")]).run()
    ok(at, "open")
    assert not at.error
    assert [b for b in at.get("download_button") if b.proto.label == "Download as PNG"]

    at.file_uploader(key="compress_open").set_value([("photo.png", png_bytes(40), "image/png")]).run()
    assert "is a PNG image" in at.error[0].value
    assert at.session_state[session.COMPRESS_RD]["token"] == saved["token"]  # the measurement is kept
