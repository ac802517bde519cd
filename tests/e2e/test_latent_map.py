"""Latent map in a real browser (issue 4): selection, a dot to the sliders, UMAP in the background."""

from __future__ import annotations

import pytest
from e2e_helpers import assert_no_page_error, goto_page, main, screenshot, wait_for_app_idle
from playwright.sync_api import expect
from test_core_loop import try_samples
from test_latent_browser import PANEL

pytestmark = pytest.mark.e2e

UMAP_TIMEOUT_MS = 480_000  # numba compilation on a busy 2-core machine


def _plot(page):
    chart = main(page).get_by_test_id("stPlotlyChart").first
    chart.locator(".main-svg").first.wait_for()
    return chart


def test_map_box_select_shows_thumbnails_of_the_selection(page):
    try_samples(page)
    goto_page(page, "Latent map")
    chart = _plot(page)
    screenshot(page, "09_latent_map")

    chart.hover()
    chart.locator(".modebar-btn[data-val='select']").first.click()
    area = chart.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(area["x"] + area["width"] * 0.2, area["y"] + area["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * 0.8, area["y"] + area["height"] * 0.8, steps=10)
    page.mouse.up()
    expect(main(page).get_by_text("patches selected")).to_be_visible()
    wait_for_app_idle(page)
    assert main(page).get_by_test_id("stImage").count() > 3  # thumbnails plus the mean decode
    expect(main(page).get_by_role("button", name="Selection latents (CSV)")).to_be_visible()
    screenshot(page, "09b_latent_map_selection")


def test_map_click_on_a_dot_opens_its_code_in_the_sliders(page):
    try_samples(page)
    goto_page(page, "Latent map")
    chart = _plot(page)  # a click on one dot: its pixel position comes from Plotly's own axes
    point = chart.locator(".js-plotly-plot").first.evaluate(
        """gd => {
            const trace = gd._fullData[0], L = gd._fullLayout, r = gd.getBoundingClientRect();
            const i = Math.floor(trace.x.length / 2);
            return {x: r.left + L._size.l + L.xaxis.l2p(trace.x[i]), y: r.top + L._size.t + L.yaxis.l2p(trace.y[i])};
        }"""
    )
    page.mouse.move(point["x"], point["y"])
    chart.locator(".hoverlayer .hovertext").first.wait_for()  # Plotly's click acts on the hovered point
    page.mouse.down()
    page.mouse.up()
    button = main(page).get_by_role("button", name="Open this code in Latent sliders")
    expect(button).to_be_visible()
    wait_for_app_idle(page)
    button.click()
    page.wait_for_url("**/latent_sliders")
    expect(main(page).get_by_test_id("stExpander").first).to_contain_text("Starting point: Point #")
    wait_for_app_idle(page)
    assert_no_page_error(page, "Latent sliders")
    page.locator(PANEL).locator("canvas").first.wait_for()
    screenshot(page, "10_latent_sliders_from_map")


def test_map_umap_runs_in_the_background_with_progress(page):
    try_samples(page)
    goto_page(page, "Latent map")
    main(page).get_by_text("UMAP", exact=True).click()
    wait_for_app_idle(page)
    main(page).get_by_role("button", name="Compute the UMAP map").click()
    # the first map in a server compiles UMAP (the warm-up started with the server may still be at it)
    expect(_plot(page).locator(".gtitle")).to_contain_text("UMAP of", timeout=UMAP_TIMEOUT_MS)
    wait_for_app_idle(page)
    assert_no_page_error(page, "Latent map")
    screenshot(page, "09c_latent_map_umap")
