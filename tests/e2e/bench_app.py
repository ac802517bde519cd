"""App timings in a real Chromium, for the README's Performance section (a benchmark, not a test).

    python tests/e2e/bench_app.py [--repeats 5] [--json out.json]

Measures, against a fresh `streamlit run app.py`:

- ``home_interactive_s``: from launching the server process to Home's "Try it with sample
  textures" button being visible and the script run finished (median of ``--repeats`` cold
  starts; each start is a new server process).
- ``page_switch_s``: with the samples and starter model loaded, from clicking a page in the
  sidebar to that page's script run finishing (``data-test-script-state=notRunning``), per
  page, median of ``--repeats`` visits. This is wall time seen by the browser, so it bounds
  the server time from above.
- ``server_switch_s``: the same switches' script run time on the server alone, measured with
  Streamlit's AppTest in this process (median of 3 rounds after one warm-up round).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from e2e_helpers import goto_page, main, wait_for_app_idle  # noqa: E402

PAGES = ("Data", "Train", "Model", "Reconstructions", "Home")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    cmd += ["--server.address", "127.0.0.1", "--server.headless", "true"]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def measure(repeats: int) -> dict:
    home, switches = [], {p: [] for p in PAGES}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for i in range(repeats):
            port = _free_port()
            t0 = time.perf_counter()
            proc = _start(port)
            try:
                page = browser.new_page()
                deadline = time.perf_counter() + 120
                while True:  # the server socket is not open yet: retry the first load
                    try:
                        page.goto(f"http://127.0.0.1:{port}/", timeout=5_000)
                        break
                    except Exception:
                        if time.perf_counter() > deadline:
                            raise
                        page.wait_for_timeout(50)
                button = main(page).get_by_role("button", name="Try it with sample textures")
                button.wait_for(state="visible", timeout=120_000)
                wait_for_app_idle(page)
                home.append(time.perf_counter() - t0)
                if i == 0:  # page switches, in the first server only, with a model loaded
                    button.click()
                    main(page).get_by_test_id("stAlert").wait_for(timeout=120_000)
                    wait_for_app_idle(page)
                    for _ in range(repeats):
                        for name in PAGES:
                            t = time.perf_counter()
                            goto_page(page, name)
                            switches[name].append(time.perf_counter() - t)
                page.close()
            finally:
                _stop(proc)
        browser.close()
    return {
        "home_interactive_s": round(statistics.median(home), 2),
        "home_interactive_all_s": [round(x, 2) for x in home],
        "page_switch_s": {k: round(statistics.median(v), 3) for k, v in switches.items()},
        "page_switch_max_s": round(max(max(v) for v in switches.values()), 3),
        "page_switch_all_s": {k: [round(x, 3) for x in v] for k, v in switches.items()},  # in visit order
    }


def server_switch_times(rounds: int = 3) -> dict[str, float]:
    """Median script-run seconds per page with the samples and starter loaded (AppTest, no browser)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    next(b for b in at.button if b.label == "Try it with sample textures").click().run()
    files = sorted(p.name for p in (ROOT / "pages").glob("*.py"))
    times: dict[str, list[float]] = {f: [] for f in files}
    for r in range(rounds + 1):
        for f in files:
            t = time.perf_counter()
            at.switch_page(f"pages/{f}").run()
            if r:  # the first round warms caches
                times[f].append(time.perf_counter() - t)
            if at.exception:
                raise RuntimeError(f"pages/{f} failed: {at.exception}")
    return {f.removesuffix(".py"): round(statistics.median(v), 3) for f, v in times.items()}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out = measure(args.repeats)
    out["server_switch_s"] = server_switch_times()
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
