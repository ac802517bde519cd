"""Background task runs in a worker process: progress, results, errors in plain words, one at a time per server."""

from __future__ import annotations

import functools
import os
import threading
import time
from pathlib import Path

from vae_core.tasks import runs

# The work is pickled to a worker process, so it is made of top-level functions.


def halfway(on_progress, should_stop):
    on_progress(0.5, "half way")
    return ("answer", os.getpid(), should_stop())


def bad_input(on_progress, should_stop):
    raise ValueError("the image is too small; use one at least 32 pixels on each side")


def bug(on_progress, should_stop):
    raise KeyError("internal")


def crash(on_progress, should_stop):
    os._exit(3)  # the worker process dies without a word


def wait_for_file(path, on_progress, should_stop):
    on_progress(0.1, "waiting")
    deadline = time.monotonic() + 60
    while not Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return "first done"


def until_stopped(on_progress, should_stop):
    on_progress(0.2, "working")
    deadline = time.monotonic() + 60
    while not should_stop() and time.monotonic() < deadline:
        time.sleep(0.02)
    return "stopped" if should_stop() else "ran out"


def _wait(run: runs.TaskRun) -> runs.TaskRun:
    run.thread.join(timeout=120)
    assert not run.thread.is_alive()
    return run


def test_a_run_reports_progress_and_its_result_from_another_process():
    run = _wait(runs.start_task(halfway, key="k"))
    assert run.error is None and not run.running
    answer, pid, stopping = run.result
    assert answer == "answer" and pid != os.getpid() and stopping is False
    assert run.message == "half way" and run.fraction == 0.5 and run.seconds >= 0


def test_errors_are_plain_words_and_a_dead_worker_is_replaced():
    assert _wait(runs.start_task(bad_input, key=1)).error.startswith("the image is too small")
    assert "failed unexpectedly" in _wait(runs.start_task(bug, key=2)).error
    assert "failed unexpectedly" in _wait(runs.start_task(crash, key=3)).error
    assert _wait(runs.start_task(halfway, key=4)).result[0] == "answer"  # a new worker took over
    assert "failed unexpectedly" in _wait(runs.start_task(lambda **_: 1, key=5)).error  # cannot be pickled


def test_runs_wait_in_line_for_the_servers_slot_and_can_be_stopped(tmp_path):
    gate = tmp_path / "go"
    first = runs.start_task(functools.partial(wait_for_file, str(gate)), key="first")
    second = runs.start_task(until_stopped, key="second")
    third = runs.start_task(halfway, key="third")
    deadline = time.monotonic() + 60
    while (second.queue_position(), third.queue_position()) != (1, 2) and time.monotonic() < deadline:
        threading.Event().wait(0.01)  # until both wait behind the first
    assert runs.task_slots().max_jobs == 1
    assert second.queue_position() == 1 and third.queue_position() == 2 and second.running
    third.stop()
    gate.touch()
    assert _wait(first).result == "first done"
    while second.message != "working" and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    second.stop()  # reaches the worker, which returns what it has
    assert _wait(second).result == "stopped"
    assert _wait(third).error == "Cancelled before it started." and third.result is None
