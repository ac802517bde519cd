"""The Analyze page in a real browser: a labelled zip uploaded, an analysis run, its confusion matrix, a new image.

Screenshots (tests/e2e/screenshots/analyze_*.png) are for a human to look at.
"""

from __future__ import annotations

import pytest
from e2e_helpers import (
    assert_no_page_error,
    goto_page,
    main,
    screenshot,
    texture_zip,
    upload,
    wait_for_app_idle,
    wait_for_page,
)
from playwright.sync_api import expect
from test_core_loop import try_samples, upload_zip
from testkit import png_bytes

pytestmark = pytest.mark.e2e


def test_analysis_of_an_uploaded_zip_shows_the_confusion_matrix(page, tmp_path):
    try_samples(page)  # the starter model
    goto_page(page, "Data")
    main(page).get_by_role("button", name="Remove all images").click()
    page.get_by_role("button", name="Yes, remove 15 images").click()  # the samples
    expect(main(page)).to_contain_text("No textures yet")
    wait_for_app_idle(page)
    # One zip, a folder per label, and a broken file that is reported while the 12 images load.
    # (texture_zip draws by label position, so two zips would hold the same pictures under other labels.)
    labelled = texture_zip(tmp_path / "textures.zip", ("grid", "ripples", "waves", "weave"), per_label=3, size=64)
    upload_zip(page, labelled, n_images=12, n_labels=4)

    goto_page(page, "Analyze")
    expect(main(page)).to_contain_text("12 images, 4 labels")
    main(page).get_by_role("button", name="Run the analysis").click()
    expect(main(page)).to_contain_text("Where the mistakes are", timeout=120_000)
    wait_for_page(page, "Analyze")
    assert_no_page_error(page, "Analyze")
    expect(main(page)).to_contain_text("On your 12 images of 4 labels")
    expect(main(page)).to_contain_text("Each row is a true label")
    heatmaps = main(page).get_by_test_id("stPlotlyChart").locator(".heatmaplayer")
    expect(heatmaps.first).to_be_attached()  # the confusion matrix (and the label x dimension map)
    screenshot(page, "analyze_result")

    # Classify a new image: the first uploader on this page is the classifier's.
    mine = tmp_path / "mine.png"
    mine.write_bytes(png_bytes(96))
    upload(page, mine)
    expect(main(page).get_by_test_id("stMetric").filter(has_text="Looks most like")).to_be_visible()
    wait_for_app_idle(page)
    assert_no_page_error(page, "Analyze")
    screenshot(page, "analyze_classify")
