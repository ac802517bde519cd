"""The server-wide job slots: at most ``max_jobs`` training runs at once, the rest wait in line.

Kept apart from the job (``training.jobs``) because it is the one piece of training that
every session of a server shares, and it holds no user data, only ticket numbers.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

ENV_MAX_JOBS = "TEXTURE_VAE_MAX_JOBS"


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


class JobSlots:
    """A first-come-first-served limit on concurrent jobs (a fair semaphore with queue positions).

    Server-wide by design (see ``get_slots``): it holds only ticket numbers, no user data.
    """

    def __init__(self, max_jobs: int | None = None) -> None:
        self._cond = threading.Condition()
        self._max = max_jobs  # None: resolved by default_max_jobs() on first use
        self._waiting: list[int] = []  # tickets in arrival order
        self._running: dict[int, int] = {}  # ticket -> slot index (0..max_jobs-1)

    @property
    def max_jobs(self) -> int:
        with self._cond:
            if self._max is None:
                self._max = default_max_jobs()
            return self._max

    def set_max_jobs(self, n: int) -> None:
        """Change the limit; waiting jobs start at once if the new limit allows."""
        if n < 1:
            raise ValueError(f"max_jobs={n} must be at least 1")
        with self._cond:
            self._max = n
            self._cond.notify_all()

    def acquire(self, ticket: int, cancelled: Callable[[], bool] | None = None, poll_s: float = 0.1) -> int | None:
        """Wait in line for a slot. Returns the slot index, or None if ``cancelled()`` became True first."""
        limit = self.max_jobs
        with self._cond:
            self._waiting.append(ticket)
            try:
                while True:
                    if cancelled is not None and cancelled():
                        return None
                    limit = self._max or limit
                    if self._waiting[0] == ticket and len(self._running) < limit:
                        self._waiting.pop(0)
                        used = set(self._running.values())
                        slot = next(i for i in itertools.count() if i not in used)
                        self._running[ticket] = slot
                        return slot
                    self._cond.wait(poll_s)
            finally:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._cond.notify_all()

    def release(self, ticket: int) -> None:
        with self._cond:
            self._running.pop(ticket, None)
            self._cond.notify_all()

    def position(self, ticket: int) -> int | None:
        """1-based place in the queue (1 = next to start), or None when not waiting."""
        with self._cond:
            return self._waiting.index(ticket) + 1 if ticket in self._waiting else None

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
