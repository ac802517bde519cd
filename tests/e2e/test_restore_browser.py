"""The Restore page in a real browser: damage a sample with a hole placed by a click, restore it, compare, download.

Screenshots (tests/e2e/screenshots/restore_*.png) are for a person to look at.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from e2e_helpers import goto_page, main, screenshot, wait_for_app_idle
from PIL import Image
from playwright.sync_api import expect
from test_core_loop import try_samples

pytestmark = pytest.mark.e2e

RESTORE_TIMEOUT_MS = 240_000  # the starter fits ~40 patches' codes for 40 steps: seconds alone, minutes when busy


def _thumb(page, label: str):
    """The thumb (role=slider) of the Streamlit slider labelled ``label``."""
    return main(page).get_by_test_id("stSlider").filter(has_text=label).get_by_role("slider")


def _set_slider(page, label: str, value: int) -> None:
    """Move the Streamlit slider labelled ``label`` to ``value`` with the keyboard (Home, then arrows)."""
    thumb = _thumb(page, label)
    thumb.focus()
    thumb.press("Home")
    low = int(thumb.get_attribute("min"))  # the thumb is an <input type=range>
    for _ in range(value - low):
        thumb.press("ArrowRight")
    expect(thumb).to_have_value(str(value))
    wait_for_app_idle(page)


def test_damage_and_restore_an_image_then_download_the_png(page):
    try_samples(page)
    goto_page(page, "Restore")
    view = main(page)
    view.get_by_test_id("stRadio").filter(has_text="Damage").get_by_text("A hole").click()
    wait_for_app_idle(page)
    _set_slider(page, "Hole width", 25)
    _set_slider(page, "Hole height", 25)

    picture = view.get_by_test_id("click-to-place")
    expect(picture).to_be_visible()
    wait_for_app_idle(page)
    box = picture.bounding_box()
    for _ in range(50):  # a rerun can swap the picture for a fresh copy between the check and this read
        if box is not None:
            break
        page.wait_for_timeout(200)
        box = picture.bounding_box()
    assert box is not None, "the picture to click never settled"
    picture.click(position={"x": box["width"] * 0.3, "y": box["height"] * 0.7})
    expect(_thumb(page, "Hole centre, across")).to_have_value(re.compile(r"^(29|30|31)$"))
    expect(_thumb(page, "Hole centre, down")).to_have_value(re.compile(r"^(69|70|71)$"))
    wait_for_app_idle(page)
    screenshot(page, "restore_1_damaged")

    view.get_by_role("button", name="Restore").click()
    verdict = view.get_by_test_id("stAlert").filter(has_text=re.compile(r"The VAE (beats|loses to|and)"))
    expect(verdict.first).to_be_visible(timeout=RESTORE_TIMEOUT_MS)
    wait_for_app_idle(page)
    expect(view).to_contain_text("texture distance")
    expect(view.get_by_test_id("stDataFrame")).to_be_visible()

    slider = view.get_by_test_id("compare-slider")
    expect(slider).to_be_visible()
    slider.scroll_into_view_if_needed()
    screenshot(page, "restore_2_result")
    handle = slider.locator(".iw-handle")
    handle.focus()
    for _ in range(15):  # 2% a press: from the middle to 20%
        handle.press("ArrowLeft")
    assert 15 <= int(handle.get_attribute("aria-valuenow")) <= 25
    screenshot(page, "restore_3_slider")

    with page.expect_download() as info:
        view.get_by_role("button", name="VAE (PNG)").click()
    download = info.value
    assert download.suggested_filename.endswith("_hole_vae.png")
    restored = np.asarray(Image.open(io.BytesIO(Path(download.path()).read_bytes())))
    assert restored.shape == (256, 256, 3) and restored.std() > 5
