"""Stop the background work of visitors who are really gone, and nobody else's.

A browser's connection to the server drops for many reasons that are not leaving: Wi-Fi
blips, a laptop lid, a phone switching networks. Streamlit keeps a disconnected session for
``server.disconnectedSessionTTL`` seconds so the browser can reconnect to it, but it releases
the session's ``cache_resource(scope="session")`` entries on *every* disconnect, so clean-up
hung on those would stop a student's training at the first blip.

``Reaper`` instead asks, every few seconds, whether each owner (a session id) is still
connected, and stops that owner's work only once it has been disconnected for longer than
``grace_s`` (the TTL plus a margin): by then the session cannot come back, and its run would
only hold a training slot that others wait for. The question "is it connected?" is passed in
(``alive``), so nothing here knows about Streamlit.

The reaper holds **weak** references: it never keeps a job, its model or its data alive,
and it forgets work that has ended. Work is anything with ``stop()`` and an ``active``
property (``training.jobs.TrainingJob``, ``explore.umap_runs.UmapRun``).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from vae_core.periodic import Periodic

log = logging.getLogger(__name__)


class Work(Protocol):
    """Background work a reaper can stop."""

    @property
    def active(self) -> bool: ...

    def stop(self) -> None: ...


class Reaper(Periodic):
    """Stops an owner's work once ``alive(owner)`` has been False for ``grace_s`` seconds in a row.

    ``start()`` sweeps every ``every_s`` seconds in a daemon thread (``vae_core.periodic``).
    """

    thread_name = "texture-vae-reaper"

    def __init__(
        self,
        alive: Callable[[str], bool],
        grace_s: float,
        every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(every_s)
        self.alive, self.grace_s, self.clock = alive, grace_s, clock
        self._lock = threading.Lock()
        self._work: dict[str, list[weakref.ref]] = {}
        self._gone_since: dict[str, float] = {}  # owner -> when it was first seen disconnected

    def track(self, owner: str, work: Any) -> None:
        """Stop ``work`` (``stop()``, ``active``) if ``owner`` goes away for good."""
        with self._lock:
            self._work.setdefault(owner, []).append(weakref.ref(work))

    def owners(self) -> list[str]:
        """Owners with work that is still active."""
        with self._lock:
            return [o for o, refs in self._work.items() if _live(refs)]

    def sweep(self) -> list[str]:
        """Check every owner once; stop the work of those gone longer than ``grace_s``. Returns them."""
        now, reaped = self.clock(), []
        with self._lock:
            items = list(self._work.items())
        for owner, refs in items:
            live = _live(refs)
            if not live:
                self._forget(owner)
                continue
            if self.alive(owner):
                self._gone_since.pop(owner, None)
                continue
            since = self._gone_since.setdefault(owner, now)
            if now - since >= self.grace_s:
                for work in live:
                    work.stop()
                self._forget(owner)
                reaped.append(owner)
                log.info("stopped the background work of session %s: disconnected for %.0f s", owner, now - since)
        return reaped

    def _forget(self, owner: str) -> None:
        with self._lock:
            self._work.pop(owner, None)
            self._gone_since.pop(owner, None)

    def tick(self) -> list[str]:
        return self.sweep()


def _live(refs: list[weakref.ref]) -> list[Any]:
    """The referenced work that still exists and is active."""
    return [w for w in (r() for r in refs) if w is not None and w.active]
