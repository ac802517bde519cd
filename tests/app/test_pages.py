"""Every page through AppTest: empty session, seeded session, uploads, checkpoints and training.

Note: in streamlit 1.67's AppTest, elements that app.py draws (the sidebar) are not in the
tree after ``switch_page``; the real server shows them on every page. Sidebar checks
therefore run on the default page (Home).
"""

from __future__ import annotations

import io
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import seed_session
from PIL import Image
from testkit import ok, png_bytes, texts

from pages.shared import session

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("pages/home.py", "pages/data.py", "pages/train.py", "pages/model.py", "pages/reconstructions.py")
STARTER = ROOT / "assets" / "starter.safetensors"


def _visit(at, page: str):
    at.switch_page(page).run()
    ok(at, page)
    return at


def test_every_page_launches_in_an_empty_session(app):
    app.run()
    ok(app)
    assert "No textures yet" in texts(app)  # sidebar status
    for page in PAGES:
        _visit(app, page)
    _visit(app, "pages/reconstructions.py")
    assert "needs some textures" in texts(app) or "needs a model" in texts(app)
    assert app.session_state[session.MODEL] is None


def test_every_page_launches_with_a_tiny_trained_model(seeded_app):
    at = seeded_app.run()
    ok(at)
    sidebar = texts(at)
    assert "3 images" in sidebar and "4 numbers per patch" in sidebar and "4 steps trained" in sidebar
    for page in PAGES:
        _visit(at, page)
    _visit(at, "pages/reconstructions.py")
    assert [m.label for m in at.metric][:2] == ["VAE PSNR", "PCA PSNR (4 numbers)"]
    assert at.get("download_button")


def test_a_page_shows_progress_while_its_scores_are_computed_and_the_numbers_once_they_are(seeded_app, monkeypatch):
    """Off the page's thread: a page run does not wait for every validation patch to be scored."""
    import threading

    from vae_core.explore import score_runs

    gate = threading.Event()
    real = score_runs._evaluate

    def slow(*args):
        assert gate.wait(60)
        return real(*args)

    monkeypatch.setenv(score_runs.ENV_WAIT_S, "0")
    monkeypatch.setattr(score_runs, "_LINE", score_runs.ScoreLine())  # nothing scored yet
    monkeypatch.setattr(score_runs, "_evaluate", slow)
    at = seeded_app.run()
    at.switch_page("pages/reconstructions.py").run()
    ok(at)
    assert "Scoring the model" in at.get("progress")[0].proto.text  # the bar, not the numbers
    assert not [m for m in at.metric if m.label == "VAE PSNR"]
    assert at.get("imgs") or at.get("image")  # the rest of the page is there meanwhile
    at.switch_page("pages/model.py").run()
    ok(at)
    assert "Scoring the model" in at.get("progress")[0].proto.text and "On your current patches" not in texts(at)
    assert "Measuring how much each number is used" in at.get("progress")[1].proto.text  # queued behind
    gate.set()
    runs = list(score_runs._LINE._runs.values())
    assert [r.key[-1] for r in runs] == ["scores", "kl"]  # both pages asked for the same scoring run
    assert all(r.wait(60) and r.error is None for r in runs)
    at.run()  # what the bars' poll does once the runs have finished
    assert "On your current patches:** " in texts(at) and not at.get("progress")
    assert "numbers change from one of your patches to the next" in texts(at)
    at.switch_page("pages/reconstructions.py").run()
    assert [m.label for m in at.metric][:2] == ["VAE PSNR", "PCA PSNR (4 numbers)"]


def test_every_page_launches_with_the_kind_of_model_the_presets_train(app, tiny_session):
    """The presets train the coefficient model (no convolutions): every page works with one too."""
    from vae_core.config import APP_MODEL
    from vae_core.model.vae import build_model
    from vae_core.training.fit import fit

    model = build_model(replace(APP_MODEL, latent_dim=4, coef_k=32, hidden=32), seed=0)
    result = fit(model, tiny_session["data"], tiny_session["train_config"])
    seed_session(app, tiny_session | {"model": model.eval(), "state": result.state})
    at = app.run()
    ok(at)
    for page in PAGES:
        _visit(at, page)
    _visit(at, "pages/reconstructions.py")
    assert [m.label for m in at.metric][:2] == ["VAE PSNR", "PCA PSNR (4 numbers)"]
    _visit(at, "pages/model.py")
    assert "made of small networks working on the 32 main patterns (PCA)" in texts(at)  # the card names its kind


def test_upload_keeps_good_files_and_lists_bad_ones(app, monkeypatch):
    from vae_core.data import loaders

    shown: list[tuple[int, int]] = []  # what the page's progress bar was told, through its callback
    real_load_files = loaders.load_files

    def load_files(files, **kwargs):
        page_callback = kwargs["progress"]
        kwargs["progress"] = lambda done, total: (shown.append((done, total)), page_callback(done, total))
        return real_load_files(files, **kwargs)

    monkeypatch.setattr(loaders, "load_files", load_files)
    app.run()
    at = _visit(app, "pages/data.py")
    at.file_uploader(key="data_upload").set_value(
        [
            ("brick_01.png", png_bytes(64), "image/png"),
            ("notes.txt", b"not an image", "text/plain"),
            ("**big**[x](y).png", b"junk", "image/png"),
        ]
    ).run()
    ok(at)
    assert shown == [(1, 3), (2, 3), (3, 3)]  # "Reading 1 of 3 images", ...
    images = at.session_state[session.IMAGES]
    assert [im.name for im in images] == ["brick_01.png"] and images[0].label == "brick"
    rejected = at.session_state[session.REJECTED]
    assert [r.name for r in rejected] == ["notes.txt", "**big**[x](y).png"] and rejected[0].reason
    assert any("notes.txt" in w.value for w in at.warning)
    # an upload's name is shown as typed, never as Markdown (bold, a link)
    assert any(r"\*\*big\*\*\[x\]\(y\).png" in w.value for w in at.warning)
    assert at.session_state[session.DATASET] is not None and at.session_state[session.DATASET].n_train > 0
    at.run()  # a rerun must not add the same upload twice
    assert len(at.session_state[session.IMAGES]) == 1


def _edit_table(at, edited_rows: dict) -> None:
    """Edit the Data page's table as the browser would: AppTest cannot type into st.data_editor cells, but a
    keyed editor reads its edits (edited_rows, added_rows, deleted_rows) from session state on the next run."""
    key = f"data_table_{at.session_state[session.IMAGES_VERSION]}"
    assert at.data_editor(key=key).editing_mode == "fixed"
    at.session_state[key] = {"edited_rows": edited_rows, "added_rows": [], "deleted_rows": []}
    at.run()
    ok(at)


def test_editing_a_label_in_the_table_relabels_the_dataset(app):
    app.run()
    at = _visit(app, "pages/data.py")
    at.file_uploader(key="data_upload").set_value(
        [("brick_01.png", png_bytes(64, 0), "image/png"), ("grass_01.png", png_bytes(64, 1), "image/png")]
    ).run()
    assert at.session_state[session.DATASET].label_names == ["brick", "grass"]
    images_version = at.session_state[session.IMAGES_VERSION]
    dataset_version = at.session_state[session.DATASET_VERSION]

    _edit_table(at, {0: {"Label": "  carpet "}})
    assert [im.label for im in at.session_state[session.IMAGES]] == ["carpet", "grass"]
    assert at.session_state[session.DATASET].label_names == ["carpet", "grass"]
    assert at.session_state[session.IMAGES_VERSION] != images_version  # caches keyed on the versions see the change
    assert at.session_state[session.DATASET_VERSION] != dataset_version
    assert list(at.data_editor[0].value["Label"]) == ["carpet", "grass"]  # the table shows the new label

    version = at.session_state[session.IMAGES_VERSION]
    _edit_table(at, {1: {"Label": None}})  # a cleared cell keeps the old label (it used to become "nan")
    assert [im.label for im in at.session_state[session.IMAGES]] == ["carpet", "grass"]
    assert at.session_state[session.IMAGES_VERSION] == version

    _edit_table(at, {0: {"Keep": False}})
    assert [im.name for im in at.session_state[session.IMAGES]] == ["grass_01.png"]
    assert at.session_state[session.DATASET].label_names == ["grass"]


def test_samples_button_and_patch_settings(app):
    app.run()
    at = _visit(app, "pages/data.py")
    at.button(key="data_add_samples").click().run()
    assert len(at.session_state[session.IMAGES]) == 15
    assert at.session_state[session.DATASET].patch_size == 32
    at.select_slider(key="data_patch_size").set_value(64).run()
    ok(at)
    assert at.session_state[session.DATASET].patch_size == 64
    at.select_slider(key="data_patch_size").set_value(128).run()  # the grey photos are 512 px: still fine
    ok(at)
    assert at.session_state[session.DATASET].patch_size == 128


def test_bad_checkpoint_upload_keeps_the_current_model(seeded_app):
    seeded_app.run()
    at = _visit(seeded_app, "pages/model.py")
    before, version = at.session_state[session.MODEL], at.session_state[session.MODEL_VERSION]
    at.file_uploader(key="model_upload").set_value(("broken.safetensors", b"\x00" * 100, "application/octet-stream"))
    at.run()
    ok(at)
    assert at.session_state[session.MODEL] is before and at.session_state[session.MODEL_VERSION] == version
    assert any("Could not load this file" in e.value and "unchanged" in e.value for e in at.error)


def test_good_checkpoint_upload_replaces_the_model(seeded_app, tiny_session):
    from vae_core.model.checkpoint import to_bytes

    data = to_bytes(tiny_session["model"], train_config=tiny_session["train_config"], state=tiny_session["state"])
    seeded_app.run()
    at = _visit(seeded_app, "pages/model.py")
    version = at.session_state[session.MODEL_VERSION]
    at.file_uploader(key="model_upload").set_value(("mine.safetensors", data, "application/octet-stream")).run()
    ok(at)
    assert at.session_state[session.MODEL_VERSION] != version
    assert at.session_state[session.MODEL_SOURCE] == "mine.safetensors"
    assert at.session_state[session.TRAIN_STATE].step == 4


def test_training_job_result_becomes_the_sessions_model(seeded_app, tiny_session, tiny_train_config):
    """A few steps through the job API; the Train page then adopts the trained model."""
    from vae_core.training.jobs import TrainingJob
    from vae_core.training.slots import JobSlots

    job = TrainingJob(
        tiny_session["model"],
        tiny_session["data"],
        tiny_train_config,
        state=tiny_session["state"],
        slots=JobSlots(1),
    ).start()
    assert job.wait(60) and job.snapshot().status == "finished"
    seeded_app.session_state[session.JOB] = job
    seeded_app.run()
    at = _visit(seeded_app, "pages/train.py")
    assert at.session_state[session.MODEL] is job.model
    assert at.session_state[session.TRAIN_STATE].step == 7  # 4 seeded steps + 3 more
    assert any("Trained 3 steps" in s.value for s in at.success)
    at.run()  # adopting happens once: a rerun keeps the same model version
    version = at.session_state[session.MODEL_VERSION]
    at.run()
    assert at.session_state[session.MODEL_VERSION] == version


def test_train_page_refuses_a_patch_size_bigger_than_the_images(seeded_app):
    seeded_app.run()
    at = _visit(seeded_app, "pages/train.py")
    data = at.session_state[session.DATASET]
    at.selectbox(key="train_patch").set_value(128)
    at.button(key="train_start").click().run()
    ok(at)
    assert at.session_state[session.JOB] is None
    assert any("patch_size=128" in e.value for e in at.error)
    assert at.session_state[session.DATASET] is data  # the old patches are kept


def test_whole_image_reconstruction_and_download(seeded_app):
    seeded_app.run()
    at = _visit(seeded_app, "pages/reconstructions.py")
    at.button(key="recon_full_run").click().run()
    ok(at)
    result = at.session_state["recon_full"]
    assert result["recon"].shape == result["original"].shape == (96, 96, 3)
    assert any(b.label == "Download the rebuilt image (PNG)" for b in at.get("download_button"))


@pytest.mark.skipif(not STARTER.is_file(), reason="assets/starter.safetensors is not installed")
def test_home_button_loads_samples_and_the_starter_model(app):
    app.run()
    app.button(key="home_try_samples").click().run()
    ok(app)
    assert len(app.session_state[session.IMAGES]) == 15
    model, data = app.session_state[session.MODEL], app.session_state[session.DATASET]
    assert model is not None and data.patch_size == model.config.image_size
    assert any("Samples and the starter model are loaded" in s.value for s in app.success)


def test_an_unexpected_failure_shows_a_plain_message_not_a_traceback(app):
    app.session_state[session.MODEL] = object()  # something no page can work with
    app.run()
    assert not app.exception
    assert any("Something went wrong" in e.value for e in app.error)


def test_a_queued_job_shows_its_place_and_can_leave_the_queue(seeded_app, tiny_session, tiny_train_config):
    from vae_core.training.jobs import TrainingJob
    from vae_core.training.slots import JobSlots

    slots = JobSlots(1)
    assert slots.acquire(ticket=-1) == 0  # someone else's job holds the only slot
    job = TrainingJob(tiny_session["model"], tiny_session["data"], tiny_train_config, slots=slots).start()
    seeded_app.session_state[session.JOB] = job
    seeded_app.run()
    at = _visit(seeded_app, "pages/train.py")
    assert any("number 1 in the queue" in i.value for i in at.info)
    at.button(key="train_stop").click().run()
    assert job.wait(30) and job.snapshot().status == "stopped"
    slots.release(-1)
    at.run()
    ok(at)
    assert at.session_state[session.TRAIN_STATE].step == 4  # nothing was trained, the model is unchanged


def test_resume_from_the_train_page_continues_the_step_count(seeded_app):
    seeded_app.run()
    at = _visit(seeded_app, "pages/train.py")
    at.button(key="train_resume").click().run()
    ok(at)
    job = at.session_state[session.JOB]
    assert job is not None and job.state is not at.session_state[session.TRAIN_STATE]  # it trains a copy
    deadline = time.monotonic() + 60
    while job.snapshot().step <= 4 and not job.snapshot().done and time.monotonic() < deadline:
        job.wait(0.05)  # until Resume has trained at least one step past the seeded model's 4
    job.stop()  # the preset's budget is 30 s: end it now
    assert job.wait(60)
    at.run()
    ok(at)
    assert at.session_state[session.MODEL] is job.model
    assert at.session_state[session.TRAIN_STATE].step > 4  # Resume really trained
    assert at.session_state[session.TRAIN_STATE].history.step[:5] == [1, 2, 3, 4, 5]  # continuing the count


def test_a_webcam_photo_is_added_with_its_label(app):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(buf, format="JPEG")
    app.run()
    at = _visit(app, "pages/data.py")
    at.toggle(key="data_camera_on").set_value(True).run()
    at.camera_input(key="data_camera").set_value(("photo.jpg", buf.getvalue(), "image/jpeg"))
    at.text_input(key="data_camera_label").set_value("carpet").run()
    at.button(key="data_camera_add").click().run()
    ok(at)
    images = at.session_state[session.IMAGES]
    assert len(images) == 1 and images[0].label == "carpet" and images[0].pixels.shape == (120, 160, 3)


def test_a_difference_that_rounds_to_zero_is_shown_neutral():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(
        """
import streamlit as st
from pages.shared.compare_view import metric_vs
metric_vs("a", "1", -0.0003, 3, " vs PCA")
metric_vs("b", "1", -0.0123, 3, " vs PCA")
metric_vs("c", "1", 1.234, 2, " dB")
"""
    ).run()
    neutral, down, up = at.metric
    assert neutral.delta == "±0.000 vs PCA" and neutral.proto.color == neutral.proto.MetricColor.GRAY
    assert neutral.proto.direction == neutral.proto.MetricDirection.NONE
    assert down.delta == "-0.012 vs PCA" and up.delta == "+1.23 dB"


def test_time_left_says_finishing_instead_of_zero_seconds():
    from types import SimpleNamespace

    from vae_core.training.progress import time_left

    assert time_left(SimpleNamespace(eta_s=12.2)) == "about 12 s left"
    assert time_left(SimpleNamespace(eta_s=0.2)) == "finishing…"
    assert time_left(SimpleNamespace(eta_s=None)) == "" and time_left(None) == ""


def test_loss_figure_has_no_empty_validation_panel_and_round_tick_labels(tiny_session):
    import plotly.graph_objects as go

    from vae_core.explore.figures import loss_figure
    from vae_core.model.history import History

    history = History.from_dict(tiny_session["state"].history.to_dict())
    history.val_step, history.val_loss, history.val_mse, history.val_psnr = [], [], [], []
    fig = go.Figure(loss_figure(history))  # a plain dict, as plotly (and st.plotly_chart) reads it
    assert [a.text for a in fig.layout.annotations] == ["Redrawing error ↓", "Information in the code"]
    history.val_step, history.val_psnr = [2, 4], [20.000011, 20.000013]  # a flat curve
    fig = go.Figure(loss_figure(history))
    assert fig.layout.yaxis3.tickformat == ".1f" and fig.layout.yaxis2.tickformat == "~.3g"
    low, high = fig.layout.yaxis3.range
    assert high - low == pytest.approx(1.0) and low < 20.000011 < 20.000013 < high


def test_count_bars_keep_the_given_order_top_to_bottom_and_the_data_page_draws_them(seeded_app):
    import json

    import plotly.graph_objects as go

    from vae_core.explore.figures import count_bars

    fig = go.Figure(count_bars({"stripes": 12, "dots": 3, "marble": 7}, "Training patches"))
    assert list(fig.data[0].y) == ["stripes", "dots", "marble"] and list(fig.data[0].x) == [12, 3, 7]
    assert fig.layout.yaxis.autorange == "reversed"  # the first key on top, as a list is read
    probs = go.Figure(count_bars({"a": 0.7, "b": 0.3}, "probability", percent=True))
    assert probs.layout.xaxis.tickformat == ".0%" and ":.0%" in probs.data[0].hovertemplate
    seeded_app.run()
    at = _visit(seeded_app, "pages/data.py")
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    bars = [c for c in charts if c["data"] and c["data"][0].get("orientation") == "h"]
    data = at.session_state[session.DATASET]
    assert len(bars) == 1 and sum(bars[0]["data"][0]["x"]) == data.n_train
    assert bars[0]["data"][0]["y"] == list(data.summary()["train_patches_per_label"])


def test_train_page_estimates_steps_at_the_entered_batch_size(seeded_app, tiny_session, tiny_train_config):
    from vae_core.config import PRESETS
    from vae_core.training.jobs import TrainingJob
    from vae_core.training.slots import JobSlots

    job = TrainingJob(tiny_session["model"], tiny_session["data"], tiny_train_config, slots=JobSlots(1)).start()
    assert job.wait(60)
    pps = job.snapshot().info.patches_per_s
    seeded_app.session_state[session.JOB] = job
    seeded_app.run()
    at = _visit(seeded_app, "pages/train.py")
    quick = PRESETS["quick"].train
    expected = f"≈ {pps * quick.seconds / quick.batch_size:,.0f}"
    assert any("Measured here" in c.value and expected in c.value for c in at.caption)
    at.session_state["train_batch"] = 7  # as after submitting the form with 7 under Advanced settings
    at.run()
    ok(at)
    text = next(c.value for c in at.caption if "Measured here" in c.value)
    assert "at batch size 7" in text and f"≈ {pps * quick.seconds / 7:,.0f}" in text


def test_model_page_download_sits_under_the_card_as_a_secondary_button(seeded_app):
    seeded_app.run()
    at = _visit(seeded_app, "pages/model.py")
    (button,) = [b for b in at.get("download_button") if b.proto.label == "Download the model (.safetensors)"]
    assert button.proto.type != "primary"
    help_text = next(m.help for m in at.metric if m.label == "Patch size")
    assert "32×32 pixels" in help_text and "colour" in help_text
