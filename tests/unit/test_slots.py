"""The server-wide queue: its length cap, one run per visitor, wait estimates; a failed wait; the thread-count lock."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
import torch
from testkit import in_new_thread

from vae_core.model.vae import ConvVAE
from vae_core.training import threads
from vae_core.training.jobs import FAILED, QUEUED, STOPPED, TrainingJob
from vae_core.training.slots import JOB_OVERHEAD_S, JobSlots, QueueFull

WAIT = 60


def test_the_queue_is_capped_and_a_full_queue_says_so():
    slots = JobSlots(1, max_waiting=2)
    slots.enter(1)  # a free slot: it would start at once
    assert slots.wait_turn(1) == 0
    slots.enter(2)
    slots.enter(3)
    with pytest.raises(QueueFull, match=r"queue is full \(2 runs are waiting for 1 slot\)"):
        slots.enter(4)
    assert slots.waiting == 2 and slots.position(3) == 2
    slots.release(2)  # someone leaves the line: there is room again
    slots.enter(4)
    assert slots.position(4) == 2


def test_one_run_per_owner_waiting_or_running():
    slots = JobSlots(1)
    slots.enter(1, owner="alice")
    assert slots.wait_turn(1) == 0
    with pytest.raises(QueueFull, match="already have a training run"):
        slots.enter(2, owner="alice")  # while her run trains
    slots.enter(3, owner="bob")
    with pytest.raises(QueueFull, match="already have"):
        slots.enter(4, owner="bob")  # while his waits
    slots.release(1)
    slots.enter(5, owner="alice")  # hers has ended: she may queue again
    assert slots.position(5) == 2


def test_wait_estimate_adds_the_budgets_ahead():
    slots = JobSlots(1)
    slots.enter(1, expected_s=30.0)
    assert slots.wait_turn(1) == 0
    slots.enter(2, expected_s=60.0)
    slots.enter(3, expected_s=30.0)
    now = time.monotonic()
    first = slots.wait_estimate(2, now=now)
    assert first == pytest.approx(30.0 + JOB_OVERHEAD_S, abs=1.0)  # the running run's remaining time
    assert slots.wait_estimate(3, now=now) == pytest.approx(first + 60.0 + JOB_OVERHEAD_S, abs=1e-6)
    slots.enter(4, expected_s=None)  # a step budget: unknown length
    slots.enter(5, expected_s=30.0)
    assert slots.wait_estimate(5, now=now) is None and slots.wait_estimate(1) is None  # 1 runs: no wait


def test_wait_estimate_with_two_slots_uses_the_first_to_free_up():
    slots = JobSlots(2)
    for ticket, seconds in ((1, 100.0), (2, 20.0)):
        slots.enter(ticket, expected_s=seconds)
        slots.wait_turn(ticket)
    slots.enter(3, expected_s=50.0)
    slots.enter(4, expected_s=50.0)
    now = time.monotonic()
    assert slots.wait_estimate(3, now=now) == pytest.approx(20.0 + JOB_OVERHEAD_S, abs=1.0)
    assert slots.wait_estimate(4, now=now) == pytest.approx(20.0 + 50.0 + 2 * JOB_OVERHEAD_S, abs=1.0)


def test_a_job_refused_by_a_full_queue_raises_a_plain_error_and_holds_nothing(tiny_config, tiny_data, tiny_train):
    slots = JobSlots(1, max_waiting=0)
    slots.enter(-1)
    slots.wait_turn(-1)  # someone else's run holds the only slot
    job = TrainingJob(ConvVAE(tiny_config), tiny_data, tiny_train, slots=slots)
    with pytest.raises(QueueFull, match="Try again in a few minutes"):
        job.start()
    assert job.run == 0 and slots.waiting == 0 and job.snapshot().status == QUEUED and job.wait(0)


def test_a_queued_job_reports_its_wait(tiny_config, tiny_data, tiny_train):
    slots = JobSlots(1)
    slots.enter(-1, expected_s=40.0)
    slots.wait_turn(-1)
    job = TrainingJob(ConvVAE(tiny_config), tiny_data, replace(tiny_train, seconds=30.0), slots=slots).start()
    snap = job.snapshot()
    assert snap.status == QUEUED and snap.queue_position == 1
    assert snap.wait_s == pytest.approx(40.0 + JOB_OVERHEAD_S, abs=2.0)
    job.stop()
    assert job.wait(WAIT) and job.snapshot().status == STOPPED and job.snapshot().wait_s is None
    slots.release(-1)


def test_an_error_while_waiting_for_a_slot_fails_the_job_and_frees_its_place(
    tiny_config, tiny_data, tiny_train, monkeypatch
):
    slots = JobSlots(1)

    def broken(*args, **kwargs):
        raise RuntimeError("the queue broke")

    monkeypatch.setattr(slots, "wait_turn", broken)
    job = TrainingJob(ConvVAE(tiny_config), tiny_data, tiny_train, slots=slots).start()
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == FAILED and "the queue broke" in snap.error  # not "queued" forever
    assert slots.waiting == 0 and slots.running == 0


def test_a_failed_run_moves_its_model_off_the_device(tiny_config, tiny_data, tiny_train, monkeypatch):
    """A run that fails on a GPU must not keep its model there (checked here through the clean-up call)."""
    import vae_core.training.fit
    import vae_core.training.jobs

    freed = []
    monkeypatch.setattr(vae_core.training.jobs, "free_device", lambda model: freed.append(model))

    def boom(*args, **kwargs):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(vae_core.training.fit, "fit", boom)
    job = TrainingJob(ConvVAE(tiny_config), tiny_data, tiny_train, slots=JobSlots(1)).start()
    assert job.wait(WAIT) and job.snapshot().status == FAILED
    assert freed == [job.model]


def test_free_device_moves_a_model_to_the_cpu(tiny_config):
    from vae_core.training.reports import free_device

    model = ConvVAE(tiny_config).to(torch.float64)
    free_device(model)
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_pinning_thread_counts_is_serialised(monkeypatch):
    """Two jobs pinning at once must not interleave their read-set-restore of the process value."""
    calls: list[str] = []
    real = threads._in_new_thread

    def slow(fn):
        calls.append(threading.current_thread().name)
        time.sleep(0.05)  # widen the window in which another pin could slip in
        real(fn)

    monkeypatch.setattr(threads, "_in_new_thread", slow)
    process_before = in_new_thread(torch.get_num_threads)
    a_n, b_n = process_before + 1, process_before + 2  # neither is a new thread's default
    got: dict[str, int] = {}

    def pin(n: int) -> None:
        threads.pin_torch_threads(n)
        got[threading.current_thread().name] = torch.get_num_threads()

    workers = [threading.Thread(target=pin, args=(n,), name=f"job-{n}") for n in (a_n, b_n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert calls[0] == calls[1] and calls[2] == calls[3]  # each pin's two steps ran together
    assert got == {f"job-{a_n}": a_n, f"job-{b_n}": b_n}
    assert in_new_thread(torch.get_num_threads) == process_before  # the pages' default is back


def test_queue_text_says_the_place_and_the_wait():
    from vae_core.training.progress import queue_text

    assert queue_text(2, 185.0) == "number 2 in the queue, about 3 min"
    assert queue_text(1, 40.0) == "number 1 in the queue, about 40 s"
    assert queue_text(None, None) == "number 1 in the queue"
    assert queue_text(1, 0.0) == "number 1 in the queue, starting any moment"  # a run ahead overran its budget


def test_training_is_running_follows_the_server_slots(monkeypatch):
    """The app's UMAP warm-up waits on this (its first version called the ``running`` property and died)."""
    from vae_core.training import slots as slots_module

    server = JobSlots(1)
    monkeypatch.setattr(slots_module, "_SLOTS", server)
    assert slots_module.training_is_running() is False
    server.enter(7)
    assert server.wait_turn(7) == 0 and slots_module.training_is_running() is True
    server.release(7)
    assert slots_module.training_is_running() is False
