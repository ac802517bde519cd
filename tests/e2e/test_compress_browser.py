"""The Compress page in a real browser: compress a photograph, download the file, open it again, same picture."""

from __future__ import annotations

import io

import numpy as np
import pytest
from e2e_helpers import assert_no_page_error, goto_page, main, screenshot, upload, wait_for_app_idle
from PIL import Image
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def _photo(path):
    """A 192 x 192 crop of scikit-image's bundled coffee photograph: real, and not in the starter's training set."""
    from skimage import data

    Image.fromarray(data.coffee()[130:322, 230:422]).save(path)
    return path


def _download(page, button) -> bytes:
    with page.expect_download() as info:
        button.click()
    return open(info.value.path(), "rb").read()


def test_compress_download_and_reopen_the_file(page, tmp_path):
    main(page).get_by_role("button", name="Try it with sample textures").click()
    expect(main(page).get_by_test_id("stAlert")).to_contain_text("Samples and the starter model are loaded")
    goto_page(page, "Compress")
    screenshot(page, "compress_start")

    main(page).get_by_text("Upload an image").click()
    wait_for_app_idle(page)
    image_uploader = main(page).get_by_test_id("stFileUploader").filter(has_text="An image")
    expect(image_uploader).to_be_visible()  # not the compressed-file uploader further down
    upload(page, _photo(tmp_path / "coffee.png"), scope=image_uploader)
    run = main(page).get_by_role("button", name="Compress at every size")
    expect(run).to_be_enabled()
    run.click()
    expect(main(page).get_by_test_id("stPlotlyChart")).to_be_visible(timeout=120_000)
    wait_for_app_idle(page)
    assert_no_page_error(page, "Compress")
    expect(main(page)).to_contain_text("WebP")
    verdict = main(page).get_by_test_id("stAlert").filter(has_text="The VAE")
    expect(verdict).to_be_visible()
    screenshot(page, "compress_compared")
    main(page).get_by_text("Zoom into the centre (4x)").click()
    wait_for_app_idle(page)
    assert_no_page_error(page, "Compress (zoom)")
    screenshot(page, "compress_zoomed")

    file_button = main(page).get_by_role("button", name="Download the compressed file")
    stored = _download(page, file_button)
    vae_png = _download(page, main(page).get_by_role("button", name="VAE (PNG)"))
    assert stored[:4] == b"TVAZ" and f"({len(stored):,} bytes)" in file_button.inner_text()  # the size is the file's

    compressed = tmp_path / "coffee.tvaz"
    compressed.write_bytes(stored)
    opener = main(page).get_by_test_id("stFileUploader").filter(has_text="A compressed texture")
    upload(page, compressed, scope=opener)
    reopened = main(page).get_by_role("button", name="Download as PNG")
    expect(reopened).to_be_visible()
    wait_for_app_idle(page)
    assert_no_page_error(page, "Compress (open)")
    expect(main(page)).to_contain_text(f"192x192 pixels from {len(stored):,} bytes")
    screenshot(page, "compress_reopened")
    again = np.asarray(Image.open(io.BytesIO(_download(page, reopened))))
    assert np.array_equal(again, np.asarray(Image.open(io.BytesIO(vae_png))))
