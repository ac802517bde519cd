"""The server-wide line of UMAP maps: one run per visitor, replacement, a cap, cancelling superseded runs."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import vae_core.explore.projection
from vae_core.explore.umap_runs import THREAD_NAME, UmapQueue, start_umap
from vae_core.training.slots import QueueFull

WAIT = 60


class FakeUmap:
    """Stands in for project_umap: reports progress until released, and records which runs computed."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.computed: list[tuple] = []

    def __call__(self, codes, n_components, seed=0, on_progress=None):
        self.started.set()
        self.computed.append((len(codes), n_components))
        while not self.release.wait(0.01):
            on_progress(0.5, "optimising layout")  # where a real layout reports each epoch
        return ("map", len(codes), n_components)


@pytest.fixture
def queues():
    """Factory of queues; every run left in them is cancelled at the end (before the fake is removed)."""
    made: list[UmapQueue] = []

    def make(**kwargs) -> UmapQueue:
        made.append(UmapQueue(**kwargs))
        return made[-1]

    yield make
    for q in made:
        q.cancel_all(timeout=WAIT)


@pytest.fixture
def fake(monkeypatch):
    fake = FakeUmap()
    monkeypatch.setattr(vae_core.explore.projection, "project_umap", fake)
    yield fake
    fake.release.set()


def codes(n: int) -> np.ndarray:
    return np.zeros((n, 4), np.float32)


def test_a_new_request_replaces_the_owners_waiting_run_in_its_place(fake, queues):
    q = queues(max_waiting=5)
    first = q.submit(codes(10), 2, "a", owner="someone else")
    assert fake.started.wait(WAIT)
    old = q.submit(codes(11), 2, "b2d", owner="me")
    other = q.submit(codes(12), 2, "c", owner="you")
    new = q.submit(codes(13), 3, "b3d", owner="me")
    assert old.error == "replaced by a newer request" and old.wait(0) and not old.active
    assert new.position == 1 and other.position == 2 and q.waiting == 2  # mine kept its place
    fake.release.set()
    assert first.wait(WAIT) and new.wait(WAIT) and other.wait(WAIT)
    assert new.result == ("map", 13, 3) and other.result == ("map", 12, 2)
    assert fake.computed == [(10, 2), (13, 3), (12, 2)]  # the replaced run never computed


def test_the_line_is_capped_with_a_plain_message(fake, queues):
    q = queues(max_waiting=2)
    q.submit(codes(10), 2, 1, owner="a")
    assert fake.started.wait(WAIT)
    q.submit(codes(10), 2, 2, owner="b")
    q.submit(codes(10), 2, 3, owner="c")
    with pytest.raises(QueueFull, match="Too many maps"):
        q.submit(codes(10), 2, 4, owner="d")
    q.submit(codes(10), 2, 5, owner="b")  # replacing needs no extra room


def test_a_superseded_running_map_is_cancelled(fake, queues):
    q = queues()
    old = q.submit(codes(10), 2, "2d", owner="me")
    assert fake.started.wait(WAIT)
    new = q.submit(codes(10), 3, "3d", owner="me")
    assert old.wait(WAIT) and old.error == "replaced by a newer request" and old.result is None
    fake.release.set()
    assert new.wait(WAIT) and new.result == ("map", 10, 3)


def test_stop_cancels_a_waiting_or_running_map_and_the_thread_ends(fake, queues):
    q = queues()
    running = q.submit(codes(10), 2, 1, owner="a")
    assert fake.started.wait(WAIT)
    worker = next(t for t in threading.enumerate() if t.name == THREAD_NAME and t is q._thread)
    waiting = q.submit(codes(10), 2, 2, owner="b")
    waiting.stop()
    assert waiting.error == "cancelled" and q.waiting == 0
    running.stop()  # e.g. the reaper, for a session that is gone
    assert running.wait(WAIT) and running.result is None and not running.active
    worker.join(WAIT)  # with nothing left in line, the worker thread ends
    assert not worker.is_alive()


def test_an_error_is_reported_on_the_run():
    run = UmapQueue().submit(codes(3), 2, "k")
    assert run.wait(30)
    assert not run.running and run.result is None and "at least" in run.error and run.key == "k"


def test_start_umap_computes_the_map_in_the_background():
    data = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    run = start_umap(data, 2, key=("m", "d", 2), owner="me")
    assert run.wait(300)
    assert run.error is None and run.result.coords.shape == (40, 2) and run.fraction == 1.0
