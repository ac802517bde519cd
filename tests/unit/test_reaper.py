"""The reaper stops a session's background work only once the session has been gone longer than the grace time."""

from __future__ import annotations

import gc
from dataclasses import replace

import torch

from vae_core.model.vae import ConvVAE
from vae_core.training.jobs import STOPPED, TrainingJob
from vae_core.training.reaper import Reaper
from vae_core.training.slots import JobSlots


class Work:
    def __init__(self) -> None:
        self.active, self.stops = True, 0

    def stop(self) -> None:
        self.stops += 1
        self.active = False


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_short_disconnect_stops_nothing_and_a_long_one_stops_only_that_owners_work():
    connected = {"a": True, "b": True}
    clock = Clock()
    reaper = Reaper(alive=lambda owner: connected[owner], grace_s=120.0, clock=clock)
    a, b = Work(), Work()
    reaper.track("a", a)
    reaper.track("b", b)

    connected["a"] = False  # a's Wi-Fi drops...
    reaper.sweep()
    clock.now += 100.0
    assert reaper.sweep() == [] and a.stops == 0  # ...for 100 s: still within the grace time
    connected["a"] = True  # ...and comes back
    reaper.sweep()
    clock.now += 100.0
    connected["a"] = False  # a new drop starts the count again
    reaper.sweep()
    clock.now += 119.0
    assert reaper.sweep() == [] and a.stops == 0
    clock.now += 2.0
    assert reaper.sweep() == ["a"] and a.stops == 1  # gone for good: its work stops
    assert b.stops == 0 and reaper.owners() == ["b"]


def test_the_reaper_keeps_nothing_alive_and_forgets_finished_work():
    reaper = Reaper(alive=lambda owner: False, grace_s=0.0)
    done, dropped = Work(), Work()
    done.active = False
    reaper.track("x", done)
    reaper.track("y", dropped)
    del dropped
    gc.collect()
    assert reaper.sweep() == [] and reaper.owners() == []  # nothing active left to stop
    assert done.stops == 0


def test_a_reaped_training_job_stops_keeping_its_weights(tiny_config, tiny_data, tiny_train):
    torch.manual_seed(0)
    job = TrainingJob(
        ConvVAE(tiny_config), tiny_data, replace(tiny_train, max_steps=None, seconds=300.0), slots=JobSlots(1)
    ).start()
    reaper = Reaper(alive=lambda owner: False, grace_s=0.0)
    reaper.track("gone", job)
    assert job.active
    for _ in range(2000):
        if job.snapshot().step >= 1:
            break
        job.wait(0.02)
    assert reaper.sweep() == ["gone"]
    assert job.wait(60) and job.snapshot().status == STOPPED and not job.active
