"""Browser tests: a real Chromium (Debian's, via Playwright) against `streamlit run app.py`.

One server per test session, started on a free port from the repository root; one fresh
browser context (its own cookies and therefore its own Streamlit session) per test. The
helpers wait on conditions the way Streamlit's own ``e2e_playwright`` suite does: the
health endpoint for the server, ``[data-testid=stApp][data-test-script-state=notRunning]``
for a finished script run. No fixed sleeps.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import SCREENSHOTS, VIEWPORT, screenshot, wait_for_page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("TEXTURE_VAE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
SERVER_START_S = 120  # first start imports torch and Streamlit on a busy 2-core machine
TIMEOUT_MS = 120_000  # default for every Playwright wait: generous, because the unit and app tiers run meanwhile


# --- server ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
            return response.status == 200 and response.read().decode().strip() == "ok"
    except (urllib.error.URLError, OSError):
        return False


def _log_tail(path: Path, n: int = 60) -> str:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return "\n".join(lines[-n:])


@pytest.fixture(scope="session")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the Streamlit server writes stdout and stderr (shown when something fails)."""
    return tmp_path_factory.mktemp("streamlit") / "server.log"


@pytest.fixture(scope="session")
def app_url(server_log: Path) -> Iterator[str]:
    """Start `streamlit run app.py` on a free port, wait until healthy, yield its URL, stop it."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
    ]
    env = {**os.environ, "TEXTURE_VAE_MAX_JOBS": os.environ.get("TEXTURE_VAE_MAX_JOBS", "1")}
    # No UMAP warm-up: no browser test computes a UMAP map (the AppTest tier does, in the background,
    # with its progress), and the warm-up's compiler would take a core from every test for minutes.
    env.setdefault("TEXTURE_VAE_WARM_UP_UMAP", "0")
    # Pages wait for their validation scores rather than poll for them, so that a test reads the
    # numbers as soon as the page is idle (the polling path: tests/app, and bench_training.py's servers).
    env.setdefault("TEXTURE_VAE_SCORE_WAIT_S", "60")
    with server_log.open("wb") as log:
        # A new session (process group), so that teardown also ends anything the server started.
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while not _healthy(url):
            if process.poll() is not None:
                pytest.fail(
                    f"streamlit exited with code {process.returncode} before it was healthy:\n{_log_tail(server_log)}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit was not healthy at {url} after {SERVER_START_S} s:\n{_log_tail(server_log)}")
            # A bounded wait on the process itself doubles as the polling interval.
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.5)
        yield url
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session", autouse=True)
def _forget_old_failure_screenshots() -> None:
    """FAILED_*.png belong to the run that made them: clear those of earlier runs."""
    for old in SCREENSHOTS.glob("FAILED_*.png"):
        old.unlink(missing_ok=True)


# --- browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright. Missing Chromium is a failure, not a skip: CI installs it."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}; the browser tests need it. "
            "Install it with `apt-get install -y chromium` (or set TEXTURE_VAE_CHROMIUM to its path).",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser, app_url: str, server_log: Path, request: pytest.FixtureRequest):
    """Factory: a fresh browser context (a separate Streamlit session) opened on the app's Home page.

    Every context and its page are closed at the end of the test. When the test fails, the
    server log's tail is attached to the report.
    """
    contexts = []
    pages = []

    def make():
        context = browser.new_context(viewport=VIEWPORT, base_url=app_url)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        pages.append(page)
        page.goto(app_url)
        wait_for_page(page, "Home")
        return page

    yield make
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        request.node.add_report_section("call", "streamlit server log (tail)", _log_tail(server_log))
        for k, failed_page in enumerate(pages):  # what each browser showed when the test failed
            with contextlib.suppress(Exception):
                screenshot(failed_page, f"FAILED_{request.node.name}_{k}")
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context):
    """One fresh Streamlit session on the Home page."""
    return new_context()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
