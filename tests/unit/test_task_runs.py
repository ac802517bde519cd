"""Background task runs: progress, results and errors in plain words, and one at a time per server by default."""

from __future__ import annotations

import threading
import time

from vae_core.tasks import runs


def _wait(run: runs.TaskRun) -> runs.TaskRun:
    run.thread.join(timeout=60)
    assert not run.thread.is_alive()
    return run


def test_a_run_reports_progress_and_its_result():
    seen = []

    def work(on_progress, should_stop):
        on_progress(0.5, "half way")
        seen.append(should_stop())
        return 42

    run = _wait(runs.start_task(work, key="k"))
    assert run.result == 42 and run.error is None and not run.running
    assert run.message == "half way" and seen == [False] and run.seconds >= 0


def test_errors_are_plain_words_and_never_a_traceback():
    def bad_input(**_):
        raise ValueError("the image is too small; use one at least 32 pixels on each side")

    def bug(**_):
        raise KeyError("internal")

    assert _wait(runs.start_task(bad_input, key=1)).error.startswith("the image is too small")
    assert "failed unexpectedly" in _wait(runs.start_task(bug, key=2)).error


def test_runs_wait_in_line_for_the_servers_slot_and_can_be_stopped():
    release = threading.Event()
    first = runs.start_task(lambda **_: release.wait(60), key="first")
    second = runs.start_task(lambda **_: "second done", key="second")
    third = runs.start_task(lambda **_: "never", key="third")
    deadline = time.monotonic() + 60
    while (second.queue_position(), third.queue_position()) != (1, 2) and time.monotonic() < deadline:
        threading.Event().wait(0.01)  # until both have started waiting behind the first
    assert runs.task_slots().max_jobs == 1
    assert first.message != "Waiting for a free slot"  # the first has the only slot
    assert second.queue_position() == 1 and third.queue_position() == 2 and second.running
    third.stop()
    release.set()
    assert _wait(first).result is True and _wait(second).result == "second done"
    assert _wait(third).error == "Cancelled before it started." and third.result is None
