"""UMAP maps computed in the background, in one server-wide line: each visitor holds at most one place.

A UMAP layout takes seconds to a minute of one core, and umap-learn runs one call at a time
per process (``projection``'s lock). Before this module, every request started a thread that
queued on that lock without limit, and a map nobody wanted any more (the visitor switched
2D to 3D, or left) still ran to the end, ahead of everyone else. Here:

- ``UmapQueue.submit`` gives each owner (a browser session) **one** run at a time: a new
  request *replaces* that owner's waiting run (keeping its place in line), or *cancels* its
  running one (which stops at the next progress report: between layout epochs).
- The line is capped (``max_waiting``); a full line raises ``QueueFull`` with plain words,
  and the page keeps showing PCA.
- One daemon thread (named ``latent-map-umap``) works through the line and ends when it is
  empty, at a lower CPU priority than the pages and training (``threads.background_priority``).

``UmapRun`` is what the page polls: ``position`` while waiting, ``fraction``/``message``
while computing, then ``result`` or ``error``. It has ``stop()`` and ``active`` so that
``training.reaper`` can cancel the runs of a session that is gone.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vae_core.training.slots import QueueFull
from vae_core.training.threads import background_priority

log = logging.getLogger(__name__)

ENV_MAX_WAITING = "TEXTURE_VAE_MAX_UMAP_QUEUE"
MAX_WAITING = 8  # maps waiting at once, server-wide: at ~5-40 s each, about two minutes of work
THREAD_NAME = "latent-map-umap"  # the AppTest conftest waits for threads by this name


class _Cancelled(Exception):
    """Raised from the progress report of a run that was replaced or stopped."""


@dataclass(eq=False)
class UmapRun:
    """One requested map; poll its fields. Written only by the queue's thread."""

    key: Any  # what the caller computed it for (e.g. model/dataset versions and k)
    codes: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 1), np.float32))  # (N, D)
    n_components: int = 2
    seed: int = 0
    owner: str | None = None
    fraction: float = 0.0  # progress in [0, 1]
    message: str = "waiting for its turn"  # the current stage, in words
    result: Any = None  # the finished ``projection.Projection``
    error: str | None = None  # why it failed or was cancelled
    cancelled: bool = False
    queue: UmapQueue | None = field(default=None, repr=False)
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def running(self) -> bool:
        """Waiting or computing (neither a result nor an error yet)."""
        return self.result is None and self.error is None

    @property
    def active(self) -> bool:
        return self.running

    @property
    def position(self) -> int | None:
        """1 = next to start; None once computing or done."""
        return self.queue.position(self) if self.queue is not None else None

    def stop(self) -> None:
        """Cancel: leave the line, or stop computing at the next progress report."""
        if self.queue is not None:
            self.queue.cancel(self, "cancelled")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run has a result or an error (tests, scripts). True if it has."""
        return self.finished.wait(timeout)


def default_max_waiting() -> int:
    """``$TEXTURE_VAE_MAX_UMAP_QUEUE``, else ``MAX_WAITING``."""
    try:
        return max(0, int(os.environ.get(ENV_MAX_WAITING, MAX_WAITING)))
    except ValueError:
        return MAX_WAITING


class UmapQueue:
    """First come, first served; one run per owner; capped; cancellable (module docstring)."""

    def __init__(self, max_waiting: int | None = None) -> None:
        self.max_waiting = default_max_waiting() if max_waiting is None else max_waiting
        self._lock = threading.Lock()
        self._waiting: list[UmapRun] = []
        self._current: UmapRun | None = None
        self._thread: threading.Thread | None = None

    def submit(
        self, codes: np.ndarray, n_components: int, key: Any, owner: str | None = None, seed: int = 0
    ) -> UmapRun:
        """Queue ``project_umap(codes, n_components, seed=seed)``; returns the run. Raises ``QueueFull``."""
        run = UmapRun(key=key, codes=codes, n_components=n_components, seed=seed, owner=owner, queue=self)
        with self._lock:
            mine = next((i for i, r in enumerate(self._waiting) if owner is not None and r.owner == owner), None)
            if mine is not None:  # replace the owner's waiting run, in its place
                self._end(self._waiting[mine], "replaced by a newer request")
                self._waiting[mine] = run
            else:
                if len(self._waiting) >= self.max_waiting:
                    raise QueueFull(
                        f"Too many maps are being computed right now ({len(self._waiting)} waiting). "
                        "Try again in a minute; PCA is shown meanwhile."
                    )
                self._waiting.append(run)
            current = self._current
            if current is not None and owner is not None and current.owner == owner:
                current.cancelled = True  # superseded: it stops at its next progress report
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=THREAD_NAME, daemon=True)
                self._thread.start()
        return run

    def position(self, run: UmapRun) -> int | None:
        with self._lock:
            return self._waiting.index(run) + 1 if run in self._waiting else None

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def cancel(self, run: UmapRun, why: str) -> None:
        with self._lock:
            if run in self._waiting:
                self._waiting.remove(run)
                self._end(run, why)
            elif run is self._current:
                run.cancelled = True

    def cancel_all(self, timeout: float | None = None) -> None:
        """Cancel every waiting and running map, and wait up to ``timeout`` s for the worker thread to end."""
        with self._lock:
            for run in self._waiting:
                self._end(run, "cancelled")
            self._waiting.clear()
            if self._current is not None:
                self._current.cancelled = True
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    @staticmethod
    def _end(run: UmapRun, why: str) -> None:
        run.cancelled, run.error, run.message = True, why, why
        run.finished.set()

    def _work(self) -> None:
        background_priority()
        while True:
            with self._lock:
                if not self._waiting:
                    self._current = self._thread = None
                    return
                run = self._current = self._waiting.pop(0)
            self._compute(run)

    @staticmethod
    def _compute(run: UmapRun) -> None:
        from vae_core.explore.projection import project_umap

        def report(fraction: float, message: str) -> None:
            if run.cancelled:
                raise _Cancelled
            run.fraction, run.message = fraction, message

        try:
            report(0.0, "starting")
            run.result = project_umap(run.codes, run.n_components, seed=run.seed, on_progress=report)
        except _Cancelled:
            run.error = run.message = "replaced by a newer request"
        except Exception as exc:  # reported on the run: the page shows it and falls back to PCA
            log.info("UMAP failed: %s", exc)
            run.error = str(exc)
        finally:
            run.codes = run.codes[:0]  # the codes are not needed any more
            run.finished.set()


_QUEUE: UmapQueue | None = None
_QUEUE_LOCK = threading.Lock()


def get_umap_queue() -> UmapQueue:
    """The server-wide line (it holds runs, each owned by one session, and no cache of anyone's data)."""
    global _QUEUE
    with _QUEUE_LOCK:
        if _QUEUE is None:
            _QUEUE = UmapQueue()
        return _QUEUE


def start_umap(codes: np.ndarray, n_components: int, key: Any, owner: str | None = None, seed: int = 0) -> UmapRun:
    """Queue a UMAP map of ``codes`` (N, D) on the server-wide line; see ``UmapQueue.submit``."""
    return get_umap_queue().submit(codes, n_components, key, owner=owner, seed=seed)
