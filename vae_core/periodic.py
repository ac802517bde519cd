"""A daemon thread that calls ``tick()`` every few seconds until it is closed.

The server's housekeepers share it: ``training.reaper.Reaper`` (stops the work of visitors
who are gone) and ``data.budget.GarbageCollector`` (one full garbage collection a minute).
Standard library only, so any layer may use it.
"""

from __future__ import annotations

import logging
import threading
from typing import Self

log = logging.getLogger(__name__)


class Periodic:
    """Subclasses define ``tick()``; ``start()`` runs it every ``every_s`` seconds in a daemon thread.

    An exception in one tick is logged and the thread goes on: a housekeeper must outlive any
    one bad round.
    """

    thread_name = "texture-vae-periodic"

    def __init__(self, every_s: float) -> None:
        if every_s <= 0:
            raise ValueError("every_s must be positive")
        self.every_s = every_s
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> object:  # pragma: no cover - abstract
        raise NotImplementedError

    def start(self) -> Self:
        """Tick every ``every_s`` seconds in a daemon thread (once; later calls do nothing). Returns self."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._halt.set()

    def _loop(self) -> None:
        while not self._halt.wait(self.every_s):
            try:
                self.tick()
            except Exception:
                log.exception("%s failed", self.thread_name)
