"""A task (a restoration, ...) run in a worker process, in a server-wide slot, with progress a page can poll.

A page's script thread must not block for the tens of seconds a VAE restoration can take on a
CPU, and a server shared by many people must not run more of them at once than it has cores
for. :func:`start_task` gives the work to a **worker process** once one of the server's task
slots is free (a :class:`vae_core.training.slots.JobSlots` of its own, separate from training's,
so a restoration never waits behind a ten-minute training run), and a thread of the server
relays the worker's progress onto the :class:`TaskRun` that the page reads.

Why a process and not a thread: a restoration makes hundreds of small torch calls per step,
and each one has to take Python's GIL back from the server's other threads (script reruns,
progress polling). On a busy machine the thread holding the GIL is often descheduled, and a
restoration in a thread of the server measured 7-20 s per optimisation step where the same
work alone took 0.6 s (load average ~15 on 2 cores). A process has its own GIL. Each slot keeps
one worker process (started on first use with ``spawn``, so the first task pays for importing
torch there, a few seconds); a worker that dies is reported and replaced.

The work and its arguments are pickled to the worker: pass a top-level function or a
``functools.partial`` of one (e.g. ``partial(restore, model, clean, damaged)``), which is called
as ``work(on_progress=..., should_stop=...)``. A worker uses one core less than the machine has
(``OMP_NUM_THREADS``, set before it imports torch), like a training job.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import pickle
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vae_core.training.slots import JobSlots, next_ticket

log = logging.getLogger(__name__)

ENV_MAX_TASKS = "TEXTURE_VAE_MAX_TASKS"  # concurrent task runs per server (default 1)
UNEXPECTED = "The task failed unexpectedly. Try again, or with a smaller image."
PROGRESS_EVERY_S = 0.1  # the worker sends progress at most this often (and always the last report)


@dataclass
class TaskRun:
    """One task in the background; poll its fields (written only by its relay thread)."""

    key: Any  # what the caller ran it for (e.g. the model version and settings)
    fraction: float = 0.0  # progress in [0, 1]
    message: str = "Waiting for a free slot"  # the current stage, in words
    result: Any = None  # what the function returned
    error: str | None = None  # why it failed, in plain words
    started_at: float = field(default_factory=time.monotonic)  # when it was started
    seconds: float | None = None  # how long it took from leaving the line, once done
    ticket: int = field(default_factory=next_ticket)  # its place-in-line number
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    thread: threading.Thread | None = field(default=None, repr=False)  # waits in line, then relays the worker

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
_WORKERS: dict[int, _Worker] = {}
_LOCK = threading.Lock()


def task_slots() -> JobSlots:
    """The server-wide limiter for task runs (``$TEXTURE_VAE_MAX_TASKS``, default 1 at a time)."""
    global _SLOTS
    with _LOCK:
        if _SLOTS is None:
            _SLOTS = JobSlots(_max_tasks())
        return _SLOTS


def _worker_main(tasks: Any, events: Any, stop: Any, threads: int) -> None:
    """The worker process: run each task it is given, send progress and the outcome back."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))  # before anything imports torch
    while True:
        try:
            item = tasks.get()
        except Exception:  # the queue itself broke: end the worker; the server notices and replaces it
            traceback.print_exc()
            return
        if item is None:
            return
        ticket, payload = item
        last = [0.0]

        def progress(fraction: float, message: str, ticket: int = ticket, last: list = last) -> None:
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S or fraction >= 1.0:
                last[0] = now
                events.put(("progress", ticket, float(fraction), str(message)))

        try:
            work = pickle.loads(payload)
            events.put(("done", ticket, work(on_progress=progress, should_stop=stop.is_set)))
        except ValueError as exc:
            events.put(("error", ticket, str(exc)))
        except Exception:
            traceback.print_exc()
            events.put(("error", ticket, UNEXPECTED))


class _Worker:
    """One worker process and the queues to it; used by one task at a time (its slot's)."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.tasks, self.events, self.stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        threads = max(1, (os.cpu_count() or 2) - 1)
        self.process = ctx.Process(
            target=_worker_main,
            args=(self.tasks, self.events, self.stop, threads),
            name="texture-vae-task-worker",
            daemon=True,
        )
        self.process.start()

    def run(self, run: TaskRun, work: Callable[..., Any]) -> None:
        """Give ``work`` to the process and relay its reports onto ``run`` until it ends (blocking)."""
        payload = pickle.dumps(work)  # here, so that work that cannot be pickled fails in this thread
        self.stop.clear()
        self.tasks.put((run.ticket, payload))
        while True:
            if run.stopping:
                self.stop.set()
            try:
                kind, ticket, *payload = self.events.get(timeout=0.25)
            except queue.Empty:
                if not self.process.is_alive():
                    log.error("task worker %s ended with code %s", self.process.pid, self.process.exitcode)
                    run.error = UNEXPECTED
                    return
                continue
            if ticket != run.ticket:  # a late report of an earlier task on this worker
                continue
            if kind == "progress":
                run.fraction, run.message = payload
            elif kind == "done":
                run.result = payload[0]
                return
            else:
                run.error = payload[0]
                return


def _worker(slot: int) -> _Worker:
    """The live worker process of ``slot``, started (or replaced, if it died) as needed."""
    with _LOCK:
        worker = _WORKERS.get(slot)
        if worker is None or not worker.process.is_alive():
            worker = _WORKERS[slot] = _Worker()
        return worker


def start_task(work: Callable[..., Any], key: Any, name: str = "task") -> TaskRun:
    """Run ``work(on_progress=..., should_stop=...)`` in a worker process once a slot is free.

    ``work`` (picklable: a top-level function or a ``functools.partial`` of one) reports with
    ``on_progress(fraction, words)`` and should poll ``should_stop()``. A ``ValueError`` it raises
    becomes ``run.error`` as it is (its message is meant for people); anything else is printed
    to the server's log and reported in general words. A thread named ``task-<name>`` waits in
    line and relays the worker's reports.
    """
    run = TaskRun(key=key)

    def body() -> None:
        slots = task_slots()
        slot = slots.acquire(run.ticket, cancelled=lambda: run.stopping)
        if slot is None:
            run.error = "Cancelled before it started."
            return
        t = time.monotonic()
        run.fraction, run.message = 0.0, "Starting"
        try:
            _worker(slot).run(run, work)
        except Exception:  # e.g. the work cannot be pickled: a programming error, logged in full
            log.exception("task %s could not run", name)
            run.error = UNEXPECTED
        finally:
            run.seconds = time.monotonic() - t
            slots.release(run.ticket)

    run.thread = threading.Thread(target=body, name=f"task-{name}", daemon=True)
    run.thread.start()
    return run
