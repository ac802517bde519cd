"""Training speed in the app against the command line, side by side in one run (a benchmark, not a test).

    python tests/e2e/bench_training.py [--repeats 2] [--threads N] [--runner process|thread] [--json out.json]

Each repeat runs, one after the other on the same machine and at the same torch thread count:

- **the command line**: ``python -m vae_core train --data samples --preset quick`` (30 s)
  with ``OMP_NUM_THREADS=N`` (its own process, nothing else running);
- **the app**: a *freshly started* ``streamlit run app.py`` (so UMAP's background warm-up
  compiles while it trains, as the first visitor of a server gets it), one Chromium tab:
  Home -> "Try it with sample textures" -> Train -> Quick -> Start, then the tab watches the
  Train page (its live view polls every 2 s) until the run ends. A third of the way in, the
  tab switches to Model, Data, Reconstructions and back to Train, timing each switch from the
  click to the page's script run finishing (``page_switch_during_training_s``: browser wall
  time, an upper bound on the server's time).

Both report "Trained K steps in T s"; the figure is ``app_vs_cli`` = the app's steps per
second over the command line's (same batch size, same preset). ``N`` defaults to what the
app gives a job (``vae_core.training.threads.cpu_threads``: one core less than the machine).
``--runner thread`` measures training in a thread of the server (the design before the
worker process) for comparison. The machine's load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from conftest import CHROMIUM, CHROMIUM_ARGS, _free_port, _stop  # noqa: E402
from e2e_helpers import VIEWPORT, goto_page, main, wait_for_app_idle  # noqa: E402
from load_bench import start_server, wait_healthy  # noqa: E402

TRAINED = re.compile(r"Trained ([\d,]+) steps? in ([\d.]+) s")
SWITCHES = ("Model", "Data", "Reconstructions", "Train")
# The app's root element says whether a script run is going (data-test-script-state); the
# browser records each change, and a switch's "script running" time is the sum of the running
# spans after the click: the server's time for the page, as near as the browser can see it.
WATCH_SCRIPT_STATE = """() => {
  const app = document.querySelector('[data-testid=stApp]');
  window.__scriptStates = [];
  new MutationObserver(() => window.__scriptStates.push([app.dataset.testScriptState, performance.now()]))
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
RUNNING_SECONDS = """() => {
  let total = 0, since = null;
  for (const [state, t] of window.__scriptStates) {
    if (state === 'running' && since === null) since = t;
    if (state !== 'running' && since !== null) { total += t - since; since = null; }
  }
  return total / 1000;
}"""
SCORES_SHOWN = {"Model": "On your current patches", "Reconstructions": "VAE PSNR"}  # text once the scores are in


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cli_run(seconds: float, threads: int) -> dict:
    """One command-line run: steps, seconds, steps per second."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "vae_core", "train", "--data", "samples", "--preset", "quick"]
        cmd += ["--seconds", str(seconds), "--out", str(Path(tmp) / "m.safetensors"), "--quiet"]
        out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + 600, check=True)
    found = TRAINED.search(out.stderr)
    if found is None:
        raise RuntimeError(f"no 'Trained ... steps' line in the command line's output:\n{out.stderr[-2000:]}")
    steps, secs = int(found.group(1).replace(",", "")), float(found.group(2))
    return {"steps": steps, "seconds": secs, "steps_per_s": steps / secs}


def app_run(browser, seconds: float, runner: str) -> dict:
    """One run in a fresh server, watched from the Train page. ``seconds`` must match the Quick preset."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        proc = start_server(port, Path(tmp) / "server.log", {"TEXTURE_VAE_TRAIN_RUNNER": runner})
        try:
            wait_healthy(url, proc)
            context = browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(180_000)
            page = context.new_page()
            page.goto(url)
            main(page).get_by_role("button", name="Try it with sample textures").click()
            main(page).get_by_test_id("stAlert").filter(has_text="loaded").wait_for()
            wait_for_app_idle(page)
            goto_page(page, "Train")
            form = main(page).get_by_test_id("stForm")
            form.get_by_text(re.compile(r"^Quick \(")).click()
            form.get_by_role("button", name="Start training").click()
            t_start = time.monotonic()
            main(page).get_by_test_id("stProgress").wait_for()
            page.wait_for_timeout(seconds / 3 * 1000)  # watch the Train page, as a user does
            switches, shown, script = {}, {}, {}
            page.evaluate(WATCH_SCRIPT_STATE)
            for name in SWITCHES:
                t = time.perf_counter()
                page.evaluate("window.__scriptStates = []")
                goto_page(page, name)
                switches[name] = round(time.perf_counter() - t, 3)
                script[name] = round(page.evaluate(RUNNING_SECONDS), 3)
                if name in SCORES_SHOWN:  # the page is drawn; its validation scores may still be on their way
                    main(page).get_by_text(SCORES_SHOWN[name]).first.wait_for()
                    shown[name] = round(time.perf_counter() - t, 3)
            done = main(page).get_by_test_id("stAlert").filter(has_text=TRAINED)
            done.wait_for(timeout=(seconds + 300) * 1000)
            text = done.inner_text()
            total_s = time.monotonic() - t_start
            context.close()
        finally:
            _stop(proc)
    found = TRAINED.search(text)
    steps, secs = int(found.group(1).replace(",", "")), float(found.group(2))
    return {
        "steps": steps,
        "seconds": secs,
        "steps_per_s": steps / secs,
        "start_to_done_s": round(total_s, 1),
        "page_switch_during_training_s": switches,
        "script_running_during_training_s": script,
        "scores_shown_during_training_s": shown,
    }


def main_bench(repeats: int, seconds: float, threads: int, runner: str) -> dict:
    from playwright.sync_api import sync_playwright

    cli, app = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for i in range(repeats):  # alternate the order, so neither side always runs on a warmer machine
            order = ("cli", "app") if i % 2 == 0 else ("app", "cli")
            for side in order:
                load = _load()
                result = cli_run(seconds, threads) if side == "cli" else app_run(browser, seconds, runner)
                result["load_before"] = load
                (cli if side == "cli" else app).append(result)
                print(side, json.dumps(result), file=sys.stderr)
        browser.close()
    ratios = [a["steps_per_s"] / c["steps_per_s"] for a, c in zip(app, cli, strict=True)]
    switch_max = max(max(a["page_switch_during_training_s"].values()) for a in app)
    script_max = max(max(a["script_running_during_training_s"].values()) for a in app)
    return {
        "runner": runner,
        "threads": threads,
        "seconds": seconds,
        "cli_steps": [c["steps"] for c in cli],
        "app_steps": [a["steps"] for a in app],
        "app_vs_cli": [round(r, 2) for r in ratios],
        "app_vs_cli_median": round(statistics.median(ratios), 2),
        "page_switch_during_training_max_s": switch_max,
        "script_running_during_training_max_s": script_max,
        "load_after": _load(),
        "runs": {"cli": cli, "app": app},
    }


if __name__ == "__main__":
    from vae_core.config import PRESETS, TrainConfig
    from vae_core.training.threads import cpu_threads

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=cpu_threads(TrainConfig(), max_jobs=1))
    ap.add_argument("--runner", choices=("process", "thread"), default="process")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out = main_bench(args.repeats, PRESETS["quick"].train.seconds, args.threads, args.runner)
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
