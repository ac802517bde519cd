"""The Restore page through AppTest: empty session, a tiny model repairing noise and a hole, a bad upload."""

from __future__ import annotations

from testkit import ok, png_bytes, texts

from pages.shared import session

PAGE = "pages/restore.py"


def _restore(at):
    """Press Restore, wait for the background run, and draw the page with its result."""
    at.button(key="rs_go").click().run()
    ok(at, "restore started")
    run = at.session_state[session.RESTORE_RUN]
    run.thread.join(timeout=120)
    assert not run.thread.is_alive(), "the restoration did not finish in 120 s"
    assert run.error is None, run.error
    at.run()
    ok(at, "restore result")
    return run.result


def test_the_restore_page_asks_for_a_model_when_empty(app):
    app.run()
    app.switch_page(PAGE).run()
    ok(app, PAGE)
    assert "needs a model" in texts(app)


def test_restore_noise_and_a_hole_with_a_tiny_model(seeded_app):
    at = seeded_app.run()
    at.switch_page(PAGE).run()
    ok(at, PAGE)
    assert at.radio(key="rs_source").value == "My textures"
    assert at.radio(key="rs_kind").value == "Noise"
    result = _restore(at)
    assert [m.name for m in result.methods][:2] == ["VAE", "Non-local means"]
    shown = texts(at)
    assert "The VAE " in shown and "PSNR" in shown and "The damaged picture itself scores" in shown
    downloads = [b.label for b in at.get("download_button")]
    assert "Scores (CSV)" in downloads and "VAE (PNG)" in downloads and "Non-local means (PNG)" in downloads

    at.radio(key="rs_kind").set_value("A hole").run()
    ok(at, "hole settings")
    assert "result below is for earlier settings" in texts(at)
    at.slider(key="rs_hole_x").set_value(30).run()  # what a click on the picture does
    result = _restore(at)
    mask = result.extra["mask"]
    assert mask.any() and abs(mask.nonzero()[1].mean() - 0.3 * mask.shape[1]) < 2
    shown = texts(at)
    assert "texture distance" in shown and "seam ratio" in shown and "A perfect fill" in shown
    assert "Biharmonic (PNG)" in [b.label for b in at.get("download_button")]


def test_a_broken_upload_is_reported_and_nothing_else_is_lost(seeded_app):
    at = seeded_app.run()
    at.switch_page(PAGE).run()
    at.radio(key="rs_source").set_value("Upload an image").run()
    at.file_uploader(key="rs_upload").set_value([("notes.png", b"not an image at all", "image/png")]).run()
    ok(at, "broken upload")
    assert at.error and "notes.png" in at.error[0].value
    at.file_uploader(key="rs_upload").set_value([("brick.png", png_bytes(600, width=300), "image/png")]).run()
    ok(at, "big upload")
    assert "Shrunk from 300×600 to 128×256" in texts(at)
    assert len(at.session_state[session.IMAGES]) == 3
