"""A teacher's first hour in a real browser (issue 9), with a screenshot of every page to look at.

Samples -> the Reconstructions page with the starter (the README's screenshot) -> remove them all
(it asks first) -> upload an own zip -> change the patch size (the sidebar follows at once) ->
train Quick -> Model, Reconstructions, Latent sliders -> the Latent map: a box selection by
dragging in the default mode, then a click on a dot, which works in that mode too.
Screenshots: tests/e2e/screenshots/first_hour_*.png.
"""

from __future__ import annotations

import re

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
    wait_for_media,
)
from playwright.sync_api import expect
from test_core_loop import start_quick_training, try_samples
from test_latent_browser import PANEL
from test_latent_map_browser import _drag_box, _pixel, _plot

pytestmark = pytest.mark.e2e

TRAINED_TIMEOUT_MS = 240_000  # a 30 s Quick run, its set-up and final check, on a shared 2-core machine


def _metric(page, label: str) -> str:
    metric = main(page).get_by_test_id("stMetric").filter(has=page.get_by_text(label, exact=True))
    return metric.get_by_test_id("stMetricValue").inner_text().strip()


def _viewport_shot(page, name: str) -> None:
    """The window as a person sees it at 1400x900 (the README's screenshot), not the whole page."""
    wait_for_media(page)
    screenshot_path = screenshot(page, name)  # the whole page, to look at
    page.screenshot(path=str(screenshot_path.with_name(f"{name}_viewport.png")), animations="disabled")


def test_a_teachers_first_hour(page, tmp_path):
    screenshot(page, "first_hour_01_home")
    try_samples(page)
    goto_page(page, "Reconstructions")
    expect(main(page)).to_contain_text("all 384 validation patches")
    _viewport_shot(page, "first_hour_02_reconstructions_starter")

    # Their own textures: the samples go first, after a confirmation.
    goto_page(page, "Data")
    main(page).get_by_role("button", name="Remove all images").click()
    page.get_by_role("button", name="Yes, remove 15 images").click()
    expect(main(page)).to_contain_text("No textures yet")
    wait_for_app_idle(page)
    upload(page, texture_zip(tmp_path / "own.zip", ("bark", "D103"), per_label=2))
    upload_zip_done = main(page).get_by_test_id("stMetric").filter(has_text="Images used")
    expect(upload_zip_done.get_by_test_id("stMetricValue")).to_have_text("4")
    wait_for_app_idle(page)
    expect(main(page).get_by_test_id("stAlert").filter(has_text="could not be used")).to_contain_text("broken.png")
    expect(sidebar(page)).to_contain_text("4 images")
    expect(sidebar(page)).to_contain_text("2 labels")
    screenshot(page, "first_hour_03_data_own_zip")

    # Patch settings: the sidebar shows the new counts in the same run (it used to wait for the next page).
    size = main(page).get_by_role("slider", name="Patch size (pixels)")
    size.focus()
    size.press("ArrowRight")
    expect(sidebar(page)).to_contain_text("of 64 px")
    wait_for_app_idle(page)
    size.press("ArrowLeft")
    expect(sidebar(page)).to_contain_text("of 32 px")
    wait_for_app_idle(page)

    goto_page(page, "Train")
    screenshot(page, "first_hour_04_train_ready")
    start_quick_training(page)
    expect(sidebar(page)).to_contain_text("Trained here", timeout=TRAINED_TIMEOUT_MS)
    wait_for_app_idle(page)
    expect(sidebar(page)).to_contain_text("trained on CPU")
    assert_no_page_error(page, "Train")
    screenshot(page, "first_hour_05_train_done")

    # One figure, one meaning: the model card's score on the current patches is Reconstructions' headline.
    goto_page(page, "Model")
    expect(main(page)).to_contain_text("On your current patches")
    on_current = re.search(r"On your current patches: ([\d.]+) dB", main(page).inner_text())
    assert on_current, "the Model page does not say how the model does on the current patches"
    screenshot(page, "first_hour_06_model")
    goto_page(page, "Reconstructions")
    headline = _metric(page, "VAE PSNR")
    assert abs(float(headline.split()[0]) - float(on_current.group(1))) <= 0.05, (headline, on_current.group(1))
    screenshot(page, "first_hour_07_reconstructions_trained")

    goto_page(page, "Latent sliders")
    page.locator(f"{PANEL} .lat-row.has-ends").first.wait_for(timeout=120_000)  # the ends of slider #1 are drawn
    expect(page.locator(PANEL).locator("label").first).to_have_text("#1 · most used")
    screenshot(page, "first_hour_08_sliders")

    # The map: dragging selects (no toolbar needed), and a click on a dot still works afterwards.
    goto_page(page, "Latent map")
    chart = _plot(page)
    _drag_box(page, chart)
    expect(main(page).get_by_text("patches selected")).to_be_visible()
    wait_for_app_idle(page)
    screenshot(page, "first_hour_09_map_selection")
    dot = _pixel(chart, 1, "Math.floor(t.x.length / 2)")  # a dot of the biggest group
    page.mouse.move(dot["x"], dot["y"])
    chart.locator(".hoverlayer .hovertext").first.wait_for()
    page.mouse.down()
    page.mouse.up()
    expect(main(page).get_by_role("button", name="Open in sliders")).to_be_visible()
    wait_for_app_idle(page)
    assert_no_page_error(page, "Latent map")
    screenshot(page, "first_hour_10_map_click")
