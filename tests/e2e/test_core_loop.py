"""The core loop in a real browser (issue 3): samples to reconstructions, upload to training, two users at once.

Every page is screenshotted into tests/e2e/screenshots/ (git-ignored) for a human to look at.
"""

from __future__ import annotations

import re
import time

import pytest
from e2e_helpers import (
    assert_no_page_error,
    goto_page,
    main,
    screenshot,
    sidebar,
    texture_zip,
    upload,
    wait_for_app_idle,
    wait_for_progress_above,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

MAIN = "[data-testid=stMain]"
QUICK_BATCH = 16  # see start_quick_training
SAMPLE_LABELS = ("brick", "cells", "checks", "dots", "grass", "gravel", "marble", "stripes", "wood")


def try_samples(page) -> None:
    """Home's one-click start, then wait for its success message."""
    main(page).get_by_role("button", name="Try it with sample textures").click()
    expect(main(page).get_by_test_id("stAlert")).to_contain_text("Samples and the starter model are loaded")
    wait_for_app_idle(page)
    assert_no_page_error(page, "Home")


def upload_zip(page, path, n_images: int, n_labels: int) -> None:
    """On the Data page: upload a zip and wait until its images are cut into patches."""
    upload(page, path)
    metrics = main(page).get_by_test_id("stMetric")
    expect(metrics.filter(has_text="Images used").get_by_test_id("stMetricValue")).to_have_text(str(n_images))
    expect(metrics.filter(has_text="Labels").get_by_test_id("stMetricValue")).to_have_text(str(n_labels))
    wait_for_app_idle(page)


def start_quick_training(page, batch_size: int | None = QUICK_BATCH) -> float:
    """On the Train page: choose Quick, press Start; return the progress (percent) once it first shows.

    The progress bar moves once per optimisation step. On a busy 2-core machine a step of the
    default batch (64) can take several seconds, which leaves a 30-second Quick run only a few
    readings; a smaller batch (Advanced settings) gives the bar more, smaller moves.
    """
    form = main(page).get_by_test_id("stForm")
    form.get_by_text(re.compile(r"^Quick \(")).click()
    if batch_size is not None:
        form.get_by_text("Advanced settings").click()
        field = form.get_by_label("Batch size")
        field.fill(str(batch_size))
        field.press("Tab")
    form.get_by_role("button", name="Start training").click()
    expect(main(page).get_by_test_id("stProgress")).to_be_visible()
    return wait_for_progress_above(page, MAIN, -1.0)


def stop_training(page) -> None:
    """On the Train page: press Stop and wait until the run is reported as stopped."""
    main(page).get_by_role("button", name="Stop").click()
    expect(main(page).get_by_test_id("stAlert").filter(has_text="Stopped")).to_be_visible(timeout=90_000)
    # The stopped run's weights become the session's model (the sidebar says where it came from).
    expect(sidebar(page)).to_contain_text("Trained here", timeout=60_000)
    wait_for_app_idle(page)


def assert_reconstructions(page, min_images: int = 16) -> None:
    """On Reconstructions: a grid of at least ``min_images`` decoded images and PSNR/SSIM metrics."""
    images = main(page).get_by_test_id("stImage").locator("img")
    expect(images.nth(min_images - 1)).to_be_visible()
    count_loaded = "els => els.filter(e => e.complete && e.naturalWidth > 0).length"
    deadline = time.monotonic() + 30  # visible is not yet decoded: the browser decodes images asynchronously
    while (loaded := images.evaluate_all(count_loaded)) < min_images and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert loaded >= min_images, f"only {loaded} of the grid's images decoded in the browser after 30 s"
    metrics = main(page).get_by_test_id("stMetric")
    psnr = metrics.filter(has_text="VAE PSNR").get_by_test_id("stMetricValue").inner_text()
    ssim = metrics.filter(has_text="VAE SSIM").get_by_test_id("stMetricValue").inner_text()
    match = re.fullmatch(r"([\d.]+) dB", psnr.strip())
    assert match and 5.0 < float(match.group(1)) < 80.0, f"VAE PSNR looks wrong: {psnr!r}"
    assert 0.0 <= float(ssim) <= 1.0, f"VAE SSIM looks wrong: {ssim!r}"
    expect(main(page).get_by_test_id("stImageCaption").first).to_contain_text("dB")


def test_samples_to_reconstructions(page):
    """Home -> "Try it with sample textures" -> every page works, and Reconstructions shows a grid."""
    expect(main(page)).to_contain_text("Three steps")
    screenshot(page, "01_home")

    try_samples(page)
    bar = sidebar(page)
    expect(bar).to_contain_text("15 images")
    expect(bar).to_contain_text(f"{len(SAMPLE_LABELS)} labels")
    expect(bar).to_contain_text("Starter model")
    screenshot(page, "01b_home_samples_loaded")

    goto_page(page, "Data")
    expect(main(page)).to_contain_text("Your textures (15)")
    screenshot(page, "02a_data_samples")

    goto_page(page, "Model")
    expect(main(page)).to_contain_text("Starter model")
    expect(main(page)).to_contain_text("Model card")
    screenshot(page, "05a_model_starter")

    goto_page(page, "Reconstructions")
    assert_reconstructions(page, min_images=32)
    screenshot(page, "06a_reconstructions_starter")
    assert_no_page_error(page, "Reconstructions")


def test_upload_train_navigate_stop(page, tmp_path):
    """Upload a zip (with one broken file), Quick-train, leave and come back mid-run, stop, see reconstructions."""
    archive = texture_zip(tmp_path / "textures.zip", ("bark", "pebbles"), per_label=2)

    goto_page(page, "Data")
    screenshot(page, "02_data_empty")
    upload_zip(page, archive, n_images=4, n_labels=2)
    rejected = main(page).get_by_test_id("stAlert").filter(has_text="could not be used")
    expect(rejected).to_contain_text("broken.png")
    for good in ("bark_1.png", "bark_2.png", "pebbles_1.png", "pebbles_2.png"):
        expect(rejected).not_to_contain_text(good)
    expect(sidebar(page)).to_contain_text("4 images")
    expect(sidebar(page)).to_contain_text("2 labels")
    screenshot(page, "02_data_uploaded")

    goto_page(page, "Train")
    screenshot(page, "03_train_ready")
    first = start_quick_training(page)
    second = wait_for_progress_above(page, MAIN, first)
    assert second > first

    # Leave mid-run: the run goes on in the background, and the sidebar and the page say so.
    goto_page(page, "Model")
    expect(main(page)).to_contain_text("training run is in progress")
    expect(sidebar(page)).to_contain_text("Training")
    expect(sidebar(page).get_by_test_id("stProgress")).to_be_visible()
    goto_page(page, "Train")
    third = wait_for_progress_above(page, MAIN, second)
    assert third > second, f"progress did not move on after coming back: {second} -> {third}"
    screenshot(page, "03_train_during")

    stop_training(page)
    screenshot(page, "04_train_after")

    goto_page(page, "Model")
    expect(main(page)).to_contain_text("Trained here")
    expect(main(page)).to_contain_text("bark (2)")
    expect(main(page)).to_contain_text("pebbles (2)")
    screenshot(page, "05_model_trained")

    goto_page(page, "Reconstructions")
    assert_reconstructions(page)
    screenshot(page, "06_reconstructions_trained")


def test_two_sessions_are_isolated(new_context, tmp_path):
    """A trains on its own uploads while B uses the starter model; neither sees the other's data or model."""
    a, b = new_context(), new_context()
    own_labels = ("lichen", "quartzite")

    try_samples(b)
    expect(sidebar(b)).to_contain_text("15 images")
    expect(sidebar(b)).to_contain_text(f"{len(SAMPLE_LABELS)} labels")
    expect(sidebar(b)).to_contain_text("Starter model")

    goto_page(a, "Data")
    upload_zip(a, texture_zip(tmp_path / "a.zip", own_labels, per_label=2, broken=False), n_images=4, n_labels=2)
    # Control for the checks on B below: A's labels do show on A's Data page (the patches-per-label chart).
    for label in own_labels:
        expect(main(a)).to_contain_text(label)
    goto_page(a, "Train")
    a_progress = start_quick_training(a)
    expect(sidebar(a)).to_contain_text("4 images")
    expect(sidebar(a)).to_contain_text("2 labels")
    expect(sidebar(a)).not_to_contain_text("15 images")

    # While A trains, B sees nothing of it: no progress bar, no "Training" status, no Progress section.
    goto_page(b, "Train")
    assert b.get_by_test_id("stProgress").count() == 0, "B shows a progress bar while only A is training"
    expect(sidebar(b)).not_to_contain_text("Training")
    expect(main(b)).not_to_contain_text("Progress")
    screenshot(b, "07_isolation_b_train")
    # ...and A's run was still going at that point.
    wait_for_progress_above(a, MAIN, a_progress)
    screenshot(a, "07_isolation_a_train")

    # Each page has rendered B's own content (labels chart, model card, reconstruction grid) before the check.
    for name, own_content in (("Data", "stripes"), ("Model", "stripes"), ("Reconstructions", "VAE PSNR")):
        goto_page(b, name)
        expect(main(b)).to_contain_text(own_content)
        html = b.content()  # the whole document, including chart labels and hidden text
        for label in own_labels:
            assert label not in html, f"B's {name} page shows A's label {label!r}"
    screenshot(b, "07_isolation_b_reconstructions")

    # A's Quick run ends by itself; its model is A's alone.
    expect(sidebar(a)).to_contain_text("Trained here", timeout=120_000)
    goto_page(a, "Model")
    expect(main(a)).to_contain_text("lichen (2)")
    expect(main(a)).to_contain_text("quartzite (2)")
    a_text = main(a).inner_text()
    assert not [label for label in SAMPLE_LABELS if f"{label} (" in a_text], "A's model card lists sample labels"

    goto_page(b, "Model")
    expect(main(b)).to_contain_text("Starter model")
    expect(sidebar(b)).not_to_contain_text("Trained here")
    html = b.content()
    assert not [label for label in own_labels if label in html], "B's Model page shows A's labels"
    assert_no_page_error(b, "Model (B)")
