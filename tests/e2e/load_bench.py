"""A classroom on one server: N visitors explore the demo while one trains (a load benchmark, not a test).

    python tests/e2e/load_bench.py [--sessions 20] [--minutes 15] [--json out.json]

Starts its own ``streamlit run app.py`` on 127.0.0.1 (loopback only; nothing else is
contacted), then:

1. **The trainer** (one headless Chromium tab, as a person would watch): Home -> "Try it with
   sample textures" -> Train -> Quick -> Start, watching the Train page until the run ends.
   It trains once alone first (``solo_steps``), then again and again while the class
   explores (``loaded_steps``; ``trainer_vs_solo`` = median loaded / solo).
2. **The visitors** (``--sessions`` websocket clients speaking Streamlit's own protocol, each
   its own session): they arrive over ``--ramp`` seconds, press "Try it with sample
   textures", then keep opening Reconstructions, Latent sliders and Latent map in a random
   order with 2-6 s of "reading" in between, for ``--minutes``. A click's time runs from
   sending it to the page's script run finishing, plus fetching every image the page shows
   (what a browser needs before the content is on screen). A websocket client does not draw
   the page, so the browser's own drawing time (tens of ms) is not included.

Reported: p50/p95/max time from a click to a page's content (all pages and per page), errors
(a Python exception or the app's "Something went wrong" on a page, a failed run, a dropped
connection, a click not answered in 120 s), the server's memory (RSS of the Streamlit process
and of its training worker; PSS of both together, which counts shared libraries once) at the
start and end of the exploring phase and at its peak, whether every
training run finished, and the machine's load average (run it on a quiet machine).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

MAX_SESSIONS, MAX_MINUTES = 60, 60  # bounds: this is a benchmark on one machine, not a load generator
PAGES = ("Reconstructions", "Latent sliders", "Latent map")
CLICK_TIMEOUT_S = 120.0
TRAINED = re.compile(r"Trained ([\d,]+) steps? in ([\d.]+) s")
UNEXPECTED = "Something went wrong on this page"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, round(q * (len(v) - 1)))], 3)


# --- a visitor: Streamlit's websocket protocol -------------------------------------------------


class Visitor:
    """One browser session without the browser: reruns over the websocket, images over HTTP."""

    def __init__(self, url: str, name: str, media: ThreadPoolExecutor) -> None:
        self.url, self.name, self.media = url, name, media
        self.ws = None
        self.pages: dict[str, str] = {}  # page name -> page_script_hash
        self.buttons: dict[str, str] = {}  # button label -> widget id, from the pages seen so far
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.reader: asyncio.Task | None = None

    async def connect(self) -> None:
        import websockets

        ws_url = self.url.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None)
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        try:
            async for data in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                await self.inbox.put(msg)
        except Exception as exc:  # a dropped connection is an error of the run in progress
            await self.inbox.put(exc)
        await self.inbox.put(ConnectionError("the server closed the connection"))

    async def rerun(self, page: str | None = None, trigger: str | None = None) -> dict:
        """Run ``page`` (or the current one), pressing button ``trigger`` (its label); wait for the content."""
        from streamlit.proto.BackMsg_pb2 import BackMsg

        back = BackMsg()
        state = back.rerun_script
        state.query_string = ""
        if page is not None:
            state.page_script_hash = self.pages[page]
        if trigger is not None:
            widget = state.widget_states.widgets.add()
            widget.id, widget.trigger_value = self.buttons[trigger], True
        t0 = time.perf_counter()
        await self.ws.send(back.SerializeToString())
        seen = await asyncio.wait_for(self._until_finished(), CLICK_TIMEOUT_S)
        loop = asyncio.get_running_loop()
        fetched = await asyncio.gather(*(loop.run_in_executor(self.media, _fetch, self.url + u) for u in seen["media"]))
        seen["seconds"] = time.perf_counter() - t0
        seen["media_ok"] = all(fetched)
        return seen

    async def _until_finished(self) -> dict:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        seen: dict = {"media": [], "errors": [], "elements": 0, "texts": []}
        while True:
            msg = await self.inbox.get()
            if isinstance(msg, Exception):
                raise msg
            kind = msg.WhichOneof("type")
            if kind == "navigation":
                self.pages = {p.page_name: p.page_script_hash for p in msg.navigation.app_pages}
            elif kind == "new_session":
                self.pages = self.pages or {p.page_name: p.page_script_hash for p in msg.new_session.app_pages}
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                _element(msg.delta.new_element, seen, self.buttons)
            elif kind == "script_finished":
                status = msg.script_finished
                if status == ForwardMsg.FINISHED_SUCCESSFULLY:
                    return seen
                if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    seen["errors"].append("compile error")
                    return seen
                if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:  # st.rerun(): the next run's content counts
                    seen["media"].clear()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()


def _element(el, seen: dict, buttons: dict) -> None:
    seen["elements"] += 1
    kind = el.WhichOneof("type")
    if kind == "button":
        buttons[el.button.label] = el.button.id
    elif kind == "imgs":
        seen["media"] += [i.url for i in el.imgs.imgs if i.url.startswith("/media/")]
    elif kind == "exception":
        seen["errors"].append(f"exception: {el.exception.message[:200]}")
    elif kind == "alert":
        seen["texts"].append(el.alert.body)
        if UNEXPECTED in el.alert.body:
            seen["errors"].append("the app's last-resort error")


def _fetch(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=CLICK_TIMEOUT_S) as r:
            r.read()
            return r.status == 200
    except OSError:
        return False


async def visitor_main(v: Visitor, start_delay: float, deadline: float, rng: random.Random, out: dict) -> None:
    await asyncio.sleep(start_delay)
    try:
        await v.connect()
        first = await v.rerun()  # the first page load
        out["times"].setdefault("Home", []).append(first["seconds"])
        loaded = await v.rerun(trigger="Try it with sample textures")
        out["times"].setdefault("Try samples", []).append(loaded["seconds"])
        _check(loaded, "Try samples", out)
        if not any("loaded" in t for t in loaded["texts"]):
            out["errors"].append(f"{v.name}: the samples did not load: {loaded['texts'][:2]}")
            return
        out["ready"] += 1
        while time.monotonic() < deadline:
            for page in rng.sample(PAGES, len(PAGES)):
                await asyncio.sleep(rng.uniform(2.0, 6.0))
                if time.monotonic() >= deadline:
                    break
                seen = await v.rerun(page=page)
                out["times"].setdefault(page, []).append(seen["seconds"])
                _check(seen, page, out)
    except TimeoutError:
        out["errors"].append(f"{v.name}: a click was not answered in {CLICK_TIMEOUT_S:.0f} s")
    except Exception as exc:
        out["errors"].append(f"{v.name}: {type(exc).__name__}: {exc}")
    finally:
        await v.close()


def _check(seen: dict, page: str, out: dict) -> None:
    out["errors"] += [f"{page}: {e}" for e in seen["errors"]]
    if not seen["media_ok"]:
        out["errors"].append(f"{page}: an image could not be fetched")


# --- the trainer: a real Chromium tab ---------------------------------------------------------


def trainer_main(url: str, solo_done: threading.Event, start_loaded: threading.Event, stop: threading.Event, out: dict):
    """Train once alone, then run after run while the class explores. Runs in its own thread (sync Playwright)."""
    from conftest import CHROMIUM, CHROMIUM_ARGS
    from e2e_helpers import VIEWPORT, goto_page, main, wait_for_app_idle
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.set_default_timeout(300_000)
            page.goto(url)
            main(page).get_by_role("button", name="Try it with sample textures").click()
            main(page).get_by_test_id("stAlert").filter(has_text="loaded").wait_for()
            wait_for_app_idle(page)
            goto_page(page, "Train")
            runs = 0
            while not stop.is_set():
                if runs == 1:
                    solo_done.set()
                    start_loaded.wait()
                form = main(page).get_by_test_id("stForm")
                form.get_by_text(re.compile(r"^Quick \(")).click()
                form.get_by_role("button", name="Start training").click()
                done = main(page).get_by_test_id("stAlert").filter(has_text=TRAINED)
                # The last run's "Trained N steps" stays on the page until the new run shows its progress:
                # wait for that first, or the loop would read the old message and press Start again at once.
                main(page).get_by_test_id("stProgress").first.wait_for(timeout=600_000)
                done.wait_for(timeout=600_000)
                found = TRAINED.search(done.inner_text())
                steps = int(found.group(1).replace(",", ""))
                (out["solo_steps"] if runs == 0 else out["loaded_steps"]).append(steps)
                out["runs_finished"] += 1
                runs += 1
                wait_for_app_idle(page)
            browser.close()
    except Exception as exc:
        out["errors"].append(f"trainer: {type(exc).__name__}: {exc}")
    finally:
        solo_done.set()


# --- the server and its memory ------------------------------------------------------------------


def _rss_mb(pid: int) -> float:
    """Resident memory in MB (``VmRSS``: shared libraries count in each process that maps them)."""
    return _proc_kb(f"/proc/{pid}/status", "VmRSS:") / 1024


def _pss_mb(pid: int) -> float:
    """Proportional memory in MB (shared pages split between the processes sharing them)."""
    return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:") / 1024


def _proc_kb(path: str, field: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    return [int(p) for p in out.split()]


async def sample_memory(pid: int, stop: asyncio.Event, out: dict) -> None:
    while not stop.is_set():
        children = _children(pid)
        server, workers = _rss_mb(pid), sum(_rss_mb(c) for c in children)
        total_pss = _pss_mb(pid) + sum(_pss_mb(c) for c in children)
        out["rss_samples"].append((time.monotonic(), server, workers, total_pss))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)


def start_server(port: int, log: Path, env_extra: dict[str, str] | None = None) -> subprocess.Popen:
    """``streamlit run app.py`` on 127.0.0.1:``port``, one training slot (plus ``env_extra``), as a real server runs."""
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    cmd += ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    env = {**os.environ, "TEXTURE_VAE_MAX_JOBS": "1", **(env_extra or {})}
    env.pop("TEXTURE_VAE_BACKGROUND_NICE", None)
    with log.open("wb") as f:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)


def wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited before it was healthy")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as r:
            if r.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError("the server was not healthy in time")


async def explore(url: str, pid: int, sessions: int, minutes: float, ramp_s: float, seed: int, out: dict) -> None:
    stop_mem = asyncio.Event()
    mem = asyncio.create_task(sample_memory(pid, stop_mem, out))
    deadline = time.monotonic() + ramp_s + minutes * 60
    media = ThreadPoolExecutor(max_workers=8)
    visitors = [Visitor(url, f"visitor {i + 1}", media) for i in range(sessions)]
    rng = random.Random(seed)
    tasks = [
        visitor_main(v, i * ramp_s / max(1, sessions), deadline, random.Random(rng.random()), out)
        for i, v in enumerate(visitors)
    ]
    out["explore_started"] = time.monotonic()
    await asyncio.gather(*tasks)
    out["explore_ended"] = time.monotonic()
    stop_mem.set()
    await mem
    media.shutdown()


def summarise(out: dict, args: argparse.Namespace) -> dict:
    clicks = [t for page in PAGES for t in out["times"].get(page, [])]
    samples = [s for s in out["rss_samples"] if s[0] >= out["explore_started"]]
    ready = [s for s in samples if s[0] >= out["explore_started"] + args.ramp]
    solo = out["solo_steps"][0] if out["solo_steps"] else None
    loaded = out["loaded_steps"]
    return {
        "sessions": args.sessions,
        "minutes": args.minutes,
        "visitors_ready": out["ready"],
        "clicks": len(clicks),
        "click_to_content_p50_s": _pct(clicks, 0.5),
        "click_to_content_p95_s": _pct(clicks, 0.95),
        "click_to_content_max_s": round(max(clicks), 3) if clicks else None,
        "per_page": {
            page: {"n": len(v), "p50_s": _pct(v, 0.5), "p95_s": _pct(v, 0.95), "max_s": round(max(v), 3)}
            for page, v in out["times"].items()
            if v
        },
        "errors": len(out["errors"]),
        "error_examples": out["errors"][:10],
        "server_rss_mb": {
            "start": round(ready[0][1]) if ready else None,
            "end": round(samples[-1][1]) if samples else None,
            "peak": round(max(s[1] for s in samples)) if samples else None,
        },
        "worker_rss_peak_mb": round(max(s[2] for s in samples)) if samples else None,
        "server_and_worker_pss_mb": {
            "start": round(ready[0][3]) if ready else None,
            "end": round(samples[-1][3]) if samples else None,
            "peak": round(max(s[3] for s in samples)) if samples else None,
        },
        "trainer": {
            "solo_steps": solo,
            "loaded_steps": loaded,
            "trainer_vs_solo": round(statistics.median(loaded) / solo, 2) if solo and loaded else None,
            "runs_finished": out["runs_finished"],
            "all_runs_finished": out["runs_finished"] == len(out["solo_steps"]) + len(loaded) and bool(loaded),
        },
        "load_average_start": out["load_start"],
        "load_average_end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=20, help=f"visitors exploring (at most {MAX_SESSIONS})")
    ap.add_argument("--minutes", type=float, default=15.0, help=f"minutes of exploring (at most {MAX_MINUTES})")
    ap.add_argument("--ramp", type=float, default=30.0, help="seconds over which the visitors arrive")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if not 1 <= args.sessions <= MAX_SESSIONS or not 0 < args.minutes <= MAX_MINUTES:
        ap.error(f"--sessions must be 1..{MAX_SESSIONS} and --minutes 0..{MAX_MINUTES}")

    out: dict = {"times": {}, "errors": [], "ready": 0, "rss_samples": [], "solo_steps": [], "loaded_steps": []}
    out |= {"runs_finished": 0, "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_server(port, Path(tmp) / "server.log")
        try:
            wait_healthy(url, proc)
            solo_done, start_loaded, stop = threading.Event(), threading.Event(), threading.Event()
            trainer = threading.Thread(target=trainer_main, args=(url, solo_done, start_loaded, stop, out), daemon=True)
            trainer.start()
            solo_done.wait()
            print(f"trainer alone: {out['solo_steps']} steps; {args.sessions} visitors arriving", file=sys.stderr)
            start_loaded.set()
            asyncio.run(explore(url, proc.pid, args.sessions, args.minutes, args.ramp, args.seed, out))
            stop.set()
            trainer.join(timeout=300)  # the run in progress ends by itself
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
            log_tail = (Path(tmp) / "server.log").read_text(errors="replace").splitlines()[-20:]
    result = summarise(out, args)
    if result["errors"]:
        result["server_log_tail"] = log_tail
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
