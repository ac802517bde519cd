"""Generate in a real browser: an interpolation downloaded as a GIF with one frame per step, and a seamless
512x512 texture downloaded at full size that tiles without a seam."""

from __future__ import annotations

import numpy as np
import pytest
from e2e_helpers import goto_page, main, screenshot, wait_for_app_idle
from PIL import Image
from playwright.sync_api import expect
from test_core_loop import try_samples

from vae_core.tasks.texture_stats import seam_ratio

pytestmark = pytest.mark.e2e

LARGE_TIMEOUT_MS = 180_000  # a 512 px canvas and two classic ones on a shared 2-core machine


def _download(page, name: str) -> str:
    with page.expect_download() as info:
        main(page).get_by_role("button", name=name).click()
    return info.value.path()


def test_an_interpolation_gif_and_a_seamless_512_texture(page):
    try_samples(page)
    goto_page(page, "Generate")
    tab = main(page).get_by_role("tab", name="Blend two textures")
    tab.click()
    main(page).get_by_role("slider", name="Frames").wait_for()
    main(page).get_by_role("button", name="Blend", exact=True).click()
    expect(main(page).get_by_role("button", name="Animation (GIF)")).to_be_visible()
    wait_for_app_idle(page)
    screenshot(page, "20_generate_blend")
    gif = Image.open(_download(page, "Animation (GIF)"))
    assert gif.format == "GIF" and gif.n_frames == 8  # the default: 8 frames

    main(page).get_by_role("tab", name="Large texture").click()
    main(page).get_by_role("button", name="Make the texture").click()
    expect(main(page).get_by_role("button", name="VAE (PNG)")).to_be_visible(timeout=LARGE_TIMEOUT_MS)
    wait_for_app_idle(page)
    screenshot(page, "21_generate_large_texture")
    pixels = np.asarray(Image.open(_download(page, "VAE (PNG)")))
    assert pixels.shape[:2] == (512, 512)
    assert seam_ratio(pixels).wrap < 1.3  # it tiles: plain repetition of a photo scores 2-7
