"""A task (a restoration, ...) run in a background thread, in a server-wide slot, with progress a page can poll.

A page's script thread must not block for the tens of seconds a VAE restoration can take on
a CPU, and a server shared by many people must not run more of them at once than it has
cores for. :func:`start_task` runs a function in a daemon thread that first waits in line for
one of the server's task slots (a :class:`vae_core.training.slots.JobSlots` of its own,
separate from training's, so a restoration never waits behind a ten-minute training run),
then reports its progress on the :class:`TaskRun`, which the page reads.

CPU threads: like a training job (``vae_core.training.threads``), a task uses one core less
than the machine has, pinned to its own thread, so the pages keep torch's default.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vae_core.training.slots import JobSlots, next_ticket
from vae_core.training.threads import pin_torch_threads

log = logging.getLogger(__name__)

ENV_MAX_TASKS = "TEXTURE_VAE_MAX_TASKS"  # concurrent task runs per server (default 1)


@dataclass
class TaskRun:
    """One task in the background; poll its fields (written only by its own thread)."""

    key: Any  # what the caller ran it for (e.g. the model version and settings)
    fraction: float = 0.0  # progress in [0, 1]
    message: str = "Waiting for a free slot"  # the current stage, in words
    result: Any = None  # what the function returned
    error: str | None = None  # why it failed, in plain words
    started_at: float = field(default_factory=time.monotonic)  # when it was started
    seconds: float | None = None  # how long it took, once done
    ticket: int = field(default_factory=next_ticket)  # its place-in-line number
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        """True until a result or an error is there."""
        return self.result is None and self.error is None

    def stop(self) -> None:
        """Ask the task to end early (it keeps what it has) or, if still waiting, not to start."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def queue_position(self) -> int | None:
        """1-based place in the line of waiting tasks (1 = next), or None when not waiting."""
        return task_slots().position(self.ticket)


def _max_tasks() -> int:
    raw = os.environ.get(ENV_MAX_TASKS, "").strip()
    try:
        return max(1, int(raw)) if raw else 1
    except ValueError:
        log.warning("%s=%r is not a whole number >= 1; using 1", ENV_MAX_TASKS, raw)
        return 1


_SLOTS: JobSlots | None = None
_SLOTS_LOCK = threading.Lock()


def task_slots() -> JobSlots:
    """The server-wide limiter for task runs (``$TEXTURE_VAE_MAX_TASKS``, default 1 at a time)."""
    global _SLOTS
    with _SLOTS_LOCK:
        if _SLOTS is None:
            _SLOTS = JobSlots(_max_tasks())
        return _SLOTS


def start_task(work: Callable[..., Any], key: Any, name: str = "task") -> TaskRun:
    """Run ``work(on_progress=..., should_stop=...)`` in a daemon thread named ``task-<name>`` once a slot is free.

    ``work`` reports with ``on_progress(fraction, words)`` and should poll ``should_stop()``; a task
    function with those two keyword arguments (``restore``) fits as ``functools.partial(restore, ...)``.
    A ``ValueError`` it raises becomes ``run.error`` as it is (its message is meant for people);
    anything else is logged and reported in general words.
    """
    run = TaskRun(key=key)

    def report(fraction: float, message: str) -> None:
        run.fraction, run.message = float(fraction), message

    def body() -> None:
        slots = task_slots()
        if slots.acquire(run.ticket, cancelled=lambda: run.stopping) is None:
            run.error = "Cancelled before it started."
            return
        t = time.monotonic()
        report(0.0, "Starting")
        try:
            pin_torch_threads(max(1, (os.cpu_count() or 2) - 1))
            run.result = work(on_progress=report, should_stop=lambda: run.stopping)
        except ValueError as exc:
            run.error = str(exc)
        except Exception:
            log.exception("task %s failed", name)
            run.error = "The task failed unexpectedly. Try again, or with a smaller image."
        finally:
            run.seconds = time.monotonic() - t
            slots.release(run.ticket)

    run.thread = threading.Thread(target=body, name=f"task-{name}", daemon=True)
    run.thread.start()
    return run
