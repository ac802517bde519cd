"""The server-wide job slots: at most ``max_jobs`` training runs at once, the rest wait in line.

Kept apart from the job (``training.jobs``) because it is the one piece of training that
every session of a server shares, and it holds no user data, only ticket numbers.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

ENV_MAX_JOBS = "TEXTURE_VAE_MAX_JOBS"
ENV_MAX_WAITING = "TEXTURE_VAE_MAX_QUEUE"
MAX_WAITING = 10  # default queue length: ten Quick runs ahead is a wait of about six minutes
JOB_OVERHEAD_S = 10.0  # a run's set-up and final check on top of its time budget (for wait estimates)


def default_max_jobs() -> int:
    """Concurrent training jobs for this server: ``$TEXTURE_VAE_MAX_JOBS``, else one per GPU, else 1 (CPU).

    On a CPU-only server two jobs would each get half the cores and both finish late, so the
    default runs one at a time and queues the rest.
    """
    raw = os.environ.get(ENV_MAX_JOBS, "").strip()
    if raw:
        try:
            n = int(raw)
            if n >= 1:
                return n
        except ValueError:
            pass
        log.warning("%s=%r is not a whole number >= 1; using the hardware default", ENV_MAX_JOBS, raw)
    import torch

    return max(1, torch.cuda.device_count()) if torch.cuda.is_available() else 1


def default_max_waiting() -> int:
    """How many runs may wait for a slot: ``$TEXTURE_VAE_MAX_QUEUE``, else ``MAX_WAITING``."""
    raw = os.environ.get(ENV_MAX_WAITING, "").strip()
    if raw:
        try:
            n = int(raw)
            if n >= 0:
                return n
        except ValueError:
            pass
        log.warning("%s=%r is not a whole number >= 0; using %d", ENV_MAX_WAITING, raw, MAX_WAITING)
    return MAX_WAITING


class QueueFull(ValueError):
    """The training queue is full, or this visitor already has a run queued or running (plain words)."""


class JobSlots:
    """A first-come-first-served limit on concurrent jobs (a fair semaphore with queue positions).

    Server-wide by design (see ``get_slots``): it holds only ticket numbers, owner ids and
    time budgets, no user data. ``max_waiting`` caps the queue, and each owner (a browser
    session) may hold one ticket at a time, waiting or running, so one visitor cannot fill
    the queue. ``workers`` holds one training process per slot (``training.worker``).
    """

    def __init__(self, max_jobs: int | None = None, max_waiting: int | None = None) -> None:
        self._cond = threading.Condition()
        self._max = max_jobs  # None: resolved by default_max_jobs() on first use
        self.max_waiting = default_max_waiting() if max_waiting is None else max_waiting
        self._waiting: list[int] = []  # tickets in arrival order
        self._running: dict[int, int] = {}  # ticket -> slot index (0..max_jobs-1)
        self._owner: dict[int, str] = {}  # ticket -> owner, for tickets waiting or running
        self._expected: dict[int, float | None] = {}  # ticket -> expected seconds of its run (None: unknown)
        self._started: dict[int, float] = {}  # ticket -> time.monotonic() when it got its slot
        self._workers: Any = None

    @property
    def max_jobs(self) -> int:
        with self._cond:
            if self._max is None:
                self._max = default_max_jobs()
            return self._max

    @property
    def workers(self) -> Any:
        """The ``training.worker.WorkerPool`` of these slots (created on first use)."""
        from vae_core.training.worker import WorkerPool

        with self._cond:
            if self._workers is None:
                self._workers = WorkerPool()
            return self._workers

    def set_max_jobs(self, n: int) -> None:
        """Change the limit; waiting jobs start at once if the new limit allows."""
        if n < 1:
            raise ValueError(f"max_jobs={n} must be at least 1")
        with self._cond:
            self._max = n
            self._cond.notify_all()

    def enter(self, ticket: int, owner: str | None = None, expected_s: float | None = None) -> None:
        """Join the queue. Raises ``QueueFull`` (plain words) when it is full or ``owner`` already has a ticket."""
        limit = self.max_jobs
        with self._cond:
            if owner is not None and owner in self._owner.values():
                raise QueueFull("You already have a training run waiting or running; stop it first.")
            free_now = not self._waiting and len(self._running) < limit
            if not free_now and len(self._waiting) >= self.max_waiting:
                raise QueueFull(
                    f"The training queue is full ({len(self._waiting)} runs are waiting for "
                    f"{limit} slot{'s' if limit > 1 else ''}). Try again in a few minutes."
                )
            self._waiting.append(ticket)
            if owner is not None:
                self._owner[ticket] = owner
            self._expected[ticket] = expected_s

    def wait_turn(self, ticket: int, cancelled: Callable[[], bool] | None = None, poll_s: float = 0.1) -> int | None:
        """Wait in line for a slot (after ``enter``). Returns the slot index, or None if ``cancelled()`` became True."""
        limit = self.max_jobs
        with self._cond:
            try:
                while True:
                    if cancelled is not None and cancelled():
                        return None
                    if ticket not in self._waiting:
                        raise RuntimeError(f"ticket {ticket} is not in the queue; call enter() first")
                    limit = self._max or limit
                    if self._waiting[0] == ticket and len(self._running) < limit:
                        self._waiting.pop(0)
                        used = set(self._running.values())
                        slot = next(i for i in itertools.count() if i not in used)
                        self._running[ticket] = slot
                        self._started[ticket] = time.monotonic()
                        return slot
                    self._cond.wait(poll_s)
            finally:
                if ticket in self._waiting:
                    self._forget(ticket)
                self._cond.notify_all()

    def acquire(
        self,
        ticket: int,
        cancelled: Callable[[], bool] | None = None,
        poll_s: float = 0.1,
        owner: str | None = None,
        expected_s: float | None = None,
    ) -> int | None:
        """``enter`` then ``wait_turn``: the slot index, or None if cancelled first."""
        self.enter(ticket, owner, expected_s)
        return self.wait_turn(ticket, cancelled, poll_s)

    def release(self, ticket: int) -> None:
        """Give back ``ticket``'s slot (or its place in line). Safe to call more than once."""
        with self._cond:
            self._running.pop(ticket, None)
            self._forget(ticket)
            self._cond.notify_all()

    def _forget(self, ticket: int) -> None:
        if ticket in self._waiting:
            self._waiting.remove(ticket)
        self._owner.pop(ticket, None)
        self._expected.pop(ticket, None)
        self._started.pop(ticket, None)

    def position(self, ticket: int) -> int | None:
        """1-based place in the queue (1 = next to start), or None when not waiting."""
        with self._cond:
            return self._waiting.index(ticket) + 1 if ticket in self._waiting else None

    def wait_estimate(self, ticket: int, now: float | None = None) -> float | None:
        """Seconds until ``ticket`` probably starts, from the budgets of the runs ahead; None if unknown.

        Each run ahead is assumed to take its time budget plus ``JOB_OVERHEAD_S`` (set-up and
        the final check); slots free up in order of their runs' expected ends.
        """
        now = time.monotonic() if now is None else now
        with self._cond:
            if ticket not in self._waiting:
                return None
            ahead = self._waiting[: self._waiting.index(ticket)]
            budgets = [self._expected.get(t) for t in (*self._running, *ahead)]
            if any(b is None for b in budgets):
                return None
            limit = self._max or 1
            free_at = [max(0.0, self._started[t] + self._expected[t] + JOB_OVERHEAD_S - now) for t in self._running]
            free_at += [0.0] * max(0, limit - len(free_at))
            heapq.heapify(free_at)
            for t in ahead:
                heapq.heappush(free_at, heapq.heappop(free_at) + self._expected[t] + JOB_OVERHEAD_S)
            return heapq.heappop(free_at)

    @property
    def running(self) -> int:
        with self._cond:
            return len(self._running)

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)


_SLOTS: JobSlots | None = None
_SLOTS_LOCK = threading.Lock()
_TICKETS = itertools.count(1)


def next_ticket() -> int:
    """A new place-in-line number, unique in this process."""
    return next(_TICKETS)


def get_slots() -> JobSlots:
    """The server-wide limiter shared by every session of this process."""
    global _SLOTS
    with _SLOTS_LOCK:
        if _SLOTS is None:
            _SLOTS = JobSlots()
        return _SLOTS


def training_is_running() -> bool:
    """True while any training run of this server holds a slot (the UMAP warm-up waits on it)."""
    return get_slots().running > 0


def share_cores_with_training() -> int | None:
    """At the start of a page run: while training runs, pin the calling thread (the page's) to the
    cores training leaves (``threads.page_threads``, ``threads.pin_torch_threads``); returns that
    count, or ``None`` when it changed nothing. Before torch is imported there is nothing to pin
    (Home does not import it); Streamlit draws every run in a new thread, which starts at torch's
    default."""
    if "torch" not in sys.modules:
        return None
    from vae_core.training.threads import page_threads, pin_torch_threads

    slots = get_slots()
    n = page_threads(slots.running, slots.max_jobs)
    return n if n is not None and pin_torch_threads(n) else None
