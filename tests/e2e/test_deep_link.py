"""A page opened by its own URL on a freshly started server (a tab reconnecting after a restart) works.

Streamlit runs a deep link's page on its own, without app.py, until the first ``st.navigation``
call in the process (pages/shared/__init__.py mends it). This needs a server that has served
nothing yet, so the test starts its own instead of the shared one.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from conftest import ROOT, _free_port, _healthy, _stop
from e2e_helpers import VIEWPORT, screenshot, wait_for_page

pytestmark = pytest.mark.e2e


def test_a_deep_link_on_a_fresh_server_opens_its_page_through_the_router(browser, tmp_path):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("wb")
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.headless", "true"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not _healthy(url):
            assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)  # polling the health endpoint of a server that is still starting
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.goto(f"{url}/train")  # the very first request this server sees
        wait_for_page(page, "Train")  # no exception, no last-resort error
        nav = page.get_by_test_id("stSidebarNav")
        assert nav.get_by_text("Build", exact=True).count() == 1  # app.py's sections: its router ran
        screenshot(page, "00_deep_link_fresh_server")
        context.close()
    finally:
        _stop(process)
        log.close()
    assert "Traceback" not in (tmp_path / "server.log").read_text(errors="replace")
