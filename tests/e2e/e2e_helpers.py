"""Helpers for the browser tests: waiting on Streamlit, navigating, screenshots, test data.

They wait on conditions the way Streamlit's own ``e2e_playwright`` suite does
(``[data-testid=stApp][data-test-script-state=notRunning]`` after a script run), never on sleeps.
"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
VIEWPORT = {"width": 1400, "height": 900}
EXPECT_TIMEOUT_MS = 60_000  # CPUs are shared with training runs and other jobs: be patient

expect.set_options(timeout=EXPECT_TIMEOUT_MS)

# The start of app.py's last-resort message, shown when a page raises (the traceback goes to the server log).
UNEXPECTED_ERROR = "Something went wrong on this page"

# Titles (the page's st.title) by sidebar link text, used to know that a page has rendered.
PAGE_TITLES = {
    "Home": "Texture VAE Explorer",
    "Data": "Data",
    "Train": "Train",
    "Model": "Model",
    "Reconstructions": "Reconstructions",
    "Latent sliders": "Latent sliders",
    "Latent map": "Latent map",
    "Restore": "Restore",
    "Compress": "Compress",
    "Generate": "Generate",
    "Analyze": "Analyze",
}


# --- helpers -----------------------------------------------------------------------------------


def wait_for_app_idle(page) -> None:
    """Wait until the current script run (or fragment run) has finished."""
    page.locator("[data-testid=stApp][data-test-script-state=notRunning]").wait_for(state="attached")


def main(page):
    """The main area (everything but the sidebar)."""
    return page.get_by_test_id("stMain")


def sidebar(page):
    return page.get_by_test_id("stSidebar")


def wait_for_page(page, name: str) -> None:
    """Wait until page ``name`` (its sidebar link text) shows its title and its script has run."""
    title = PAGE_TITLES[name]
    main(page).locator("h1").filter(has_text=re.compile(rf"^\s*{re.escape(title)}\s*$")).first.wait_for()
    wait_for_app_idle(page)
    assert_no_page_error(page, name)


def assert_no_page_error(page, name: str) -> None:
    """Neither a Python exception box nor the app's last-resort "Something went wrong" message is shown."""
    assert page.get_by_test_id("stException").count() == 0, f"{name}: the page shows a Python exception"
    crashed = main(page).get_by_test_id("stAlert").filter(has_text=UNEXPECTED_ERROR)
    assert crashed.count() == 0, f"{name}: the page shows the app's last-resort error ({UNEXPECTED_ERROR!r})"


def goto_page(page, name: str) -> None:
    """Open a page by clicking its link in the sidebar navigation (by its visible text)."""
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_test_id("stSidebarNavLink").filter(has=page.get_by_text(name, exact=True)).click()
    slug = "" if name == "Home" else name.lower().replace(" ", "_")
    page.wait_for_url(re.compile(rf"/{slug}(\?.*)?$"))
    wait_for_page(page, name)


def wait_for_media(page, timeout_ms: int = 20_000) -> None:
    """Wait until images have decoded, lazy elements have replaced their skeletons and Plotly charts have drawn.

    Best effort: after ``timeout_ms`` the screenshot is taken anyway.
    """
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(
            """() => [...document.images].every(img => img.complete)
                && document.querySelector('[data-testid=stSkeleton], [data-testid=stSkeletonElement]') === null
                && [...document.querySelectorAll('[data-testid=stPlotlyChart]')]
                    .every(chart => chart.querySelector('.main-svg') !== null)""",
            timeout=timeout_ms,
        )


def screenshot(page, name: str) -> Path:
    """Save a full-page PNG to tests/e2e/screenshots/<name>.png.

    Streamlit scrolls its main area inside the window, so a plain full-page shot would only
    show the viewport: the window is made as tall as the content for the shot, then restored.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    wait_for_media(page)
    size = page.viewport_size or VIEWPORT
    height = page.evaluate(
        """() => Math.max(...['stMain', 'stSidebarContent', 'stAppViewContainer'].map(
            id => document.querySelector(`[data-testid=${id}]`)?.scrollHeight ?? 0))"""
    )
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height) + 40, 6000))})
    try:
        page.screenshot(path=str(path), full_page=True, animations="disabled")
    finally:
        page.set_viewport_size(size)
    return path


def wait_for_progress_above(page, scope_selector: str, threshold: float, timeout_ms: int = 90_000) -> float:
    """Wait until the first progress bar under ``scope_selector`` exceeds ``threshold`` percent; return its value."""
    handle = page.wait_for_function(
        """([scope, threshold]) => {
            const bar = document.querySelector(`${scope} [data-testid=stProgress] [role=progressbar]`);
            const value = bar === null ? NaN : Number(bar.getAttribute('aria-valuenow'));
            return value > threshold ? {value} : null;
        }""",
        arg=[scope_selector, threshold],
        timeout=timeout_ms,
    )
    return float(handle.json_value()["value"])


def texture_zip(path: Path, labels: tuple[str, ...], per_label: int = 2, size: int = 128, broken: bool = True) -> Path:
    """A zip of PNG textures, one folder per label (folder = label), plus optionally a junk 'broken.png'."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for k, label in enumerate(labels):
            for i in range(per_label):
                freq = 0.08 * (k + 1) + 0.03 * i
                base = np.sin(freq * x + (k + 1) * np.cos(0.05 * y)) if k % 2 == 0 else np.sin(freq * (x + y))
                rgb = np.stack([base, np.roll(base, 7, axis=0), np.roll(base, 13, axis=1)], axis=-1)
                rgb = (rgb + 1) * 0.4 + 0.1 * rng.random(rgb.shape)
                pixels = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
                png = io.BytesIO()
                Image.fromarray(pixels).save(png, format="PNG")
                archive.writestr(f"{label}/{label}_{i + 1}.png", png.getvalue())
        if broken:
            archive.writestr("broken.png", b"this is not a PNG, just junk bytes \x00\x01\x02" * 20)
    path.write_bytes(buffer.getvalue())
    return path


def upload(page, files: Path | list[Path], scope=None) -> None:
    """Set files on the first file uploader in ``scope`` (default: the main area)."""
    scope = scope if scope is not None else main(page)
    scope.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(files)
    # The upload is done when each file's chip shows; then its rerun must finish, or a click that
    # lands meanwhile can be lost (CI lost the Compress button's click this way once).
    for path in files if isinstance(files, list) else [files]:
        scope.get_by_test_id("stFileChipName").filter(has_text=Path(path).name).first.wait_for()
    expect(scope.get_by_test_id("stFileChipIconSpinner")).to_have_count(0)
    page.wait_for_timeout(300)
    wait_for_app_idle(page)
