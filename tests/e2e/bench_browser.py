"""Browser timings of the Latent sliders and the 20,000-point Latent map (a benchmark, not a test).

    python tests/e2e/bench_browser.py [--repeats 3] [--json out.json] [--no-map]

Runs, against a fresh `streamlit run app.py` in Debian's Chromium, the same scenarios as the
tests that check their behaviour, and reports how fast they were (min / median / max over
``--repeats`` runs, each in a new browser session):

- sliders (``test_latent_browser.slider_drag_runs``): frames drawn per second while a thumb is
  dragged, and the time from letting go to the exact image on screen, for a slider whose
  preview strip is ready and for one whose strip is stale (the browser decodes every frame);
- map (``test_latent_map_browser.big_map_metrics``): a 20,000-point map from the sidebar click
  to drawn, zoom, hover, a box selection to its thumbnails, recolouring.

The README's Performance section cites these figures with the machine they came from.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_app import _free_port, _start, _stop  # noqa: E402
from conftest import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS  # noqa: E402
from e2e_helpers import VIEWPORT, wait_for_page  # noqa: E402
from test_latent_browser import slider_drag_runs  # noqa: E402
from test_latent_map_browser import big_map_metrics  # noqa: E402


def _wait_healthy(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.25)  # the server is still starting
    raise RuntimeError(f"{url} was not healthy after {seconds} s")


def _summary(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 1), "median": round(statistics.median(values), 1), "max": round(max(values), 1)}


def measure(repeats: int, with_map: bool) -> dict:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(port)
    sliders: dict[str, dict[str, list[float]]] = {}
    maps: dict[str, list[float]] = {}
    try:
        _wait_healthy(url)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            for _ in range(repeats):
                context = browser.new_context(viewport=VIEWPORT, base_url=url)
                context.set_default_timeout(TIMEOUT_MS)
                page = context.new_page()
                page.goto(url)
                wait_for_page(page, "Home")
                for name, run in slider_drag_runs(page).items():
                    for key, value in run.items():
                        if isinstance(value, (int, float)) and not isinstance(value, bool):
                            sliders.setdefault(name, {}).setdefault(key, []).append(float(value))
                context.close()
                if with_map:
                    context = browser.new_context(viewport=VIEWPORT, base_url=url)
                    context.set_default_timeout(TIMEOUT_MS)
                    page = context.new_page()
                    page.goto(url)
                    wait_for_page(page, "Home")
                    with tempfile.TemporaryDirectory() as tmp:
                        for key, value in big_map_metrics(page, Path(tmp)).items():
                            maps.setdefault(key, []).append(float(value))
                    context.close()
            browser.close()
    finally:
        _stop(proc)
    out: dict = {"repeats": repeats}
    out["sliders"] = {name: {k: _summary(v) for k, v in runs.items()} for name, runs in sliders.items()}
    if maps:
        out["map_20k"] = {k: _summary(v) for k, v in maps.items()}
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--no-map", action="store_true", help="sliders only (the map scenario takes minutes)")
    args = ap.parse_args()
    result = measure(args.repeats, with_map=not args.no_map)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
