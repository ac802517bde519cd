"""Training in a worker process (``TrainingJob(runner="process")``): same API as a thread, crashes reported.

One worker serves the module (it imports torch once, as in the app); the crash test replaces it.
"""

from __future__ import annotations

import os
import signal
from dataclasses import replace

import pytest
import torch
from testkit import wait_for, weights

from vae_core.config import ModelConfig
from vae_core.explore.latent import collapse_check
from vae_core.model.vae import ConvVAE
from vae_core.training.jobs import FAILED, FINISHED, RUNNING, STOPPED, TrainingJob
from vae_core.training.slots import JobSlots

WAIT = 240  # seconds: a fresh worker imports torch, slow on a busy CI machine

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the worker process is POSIX-only")


@pytest.fixture(scope="module")
def slots():
    slots = JobSlots(1)
    yield slots
    slots.workers.close()


@pytest.fixture
def model(tiny_config):
    torch.manual_seed(0)
    return ConvVAE(tiny_config)


def test_a_run_in_the_worker_reports_like_a_thread_and_resumes(slots, model, tiny_data, tiny_train):
    before = weights(model).clone()
    job = TrainingJob(
        model, tiny_data, tiny_train, slots=slots, runner="process", preview_every_s=0.0, describe=collapse_check
    ).start()
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == FINISHED, snap.error
    assert snap.step == 5 and snap.history.step == [1, 2, 3, 4, 5] and snap.device == "cpu"
    assert snap.preview is not None and snap.preview.step == 5 and snap.preview.originals.shape[1:] == (32, 32, 3)
    assert snap.active_dims is not None and 0 <= snap.active_dims <= 4  # described in the worker
    assert "Trained 5 steps" in snap.message and job.threads is not None
    assert torch.equal(weights(model), before)  # the caller's model is untouched...
    assert not torch.equal(weights(job.model), before)  # ...and the job's copy came back trained
    assert next(job.model.parameters()).device.type == "cpu" and not job.model.training

    # The same run in a thread from the same start gives the same weights: nothing is lost in transit.
    same = TrainingJob(model, tiny_data, tiny_train, slots=JobSlots(1), runner="thread").start()
    assert same.wait(WAIT) and torch.allclose(weights(same.model), weights(job.model), atol=1e-5)

    job.resume(replace(tiny_train, max_steps=3))
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == FINISHED and snap.run == 2 and snap.step == 8
    assert snap.history.step == list(range(1, 9)) and job.result.state.optimizer is not None


def test_stop_reaches_the_worker_and_keeps_the_weights(slots, model, tiny_data, tiny_train):
    long = replace(tiny_train, max_steps=None, seconds=300.0)
    job = TrainingJob(model, tiny_data, long, slots=slots, runner="process").start()
    wait_for(lambda: job.snapshot().step >= 3, WAIT)
    job.stop()
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == STOPPED and snap.step >= 3 and job.result.stop_reason == "stopped"
    assert slots.running == 0


def test_a_failed_run_is_reported_in_plain_words_and_the_worker_lives_on(slots, tiny_data, tiny_train):
    wrong = ConvVAE(ModelConfig(image_size=64, channels=3, latent_dim=4, width=8, res_blocks=1))
    pid = slots.workers.get(0).pid
    job = TrainingJob(wrong, tiny_data, tiny_train, slots=slots, runner="process").start()
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == FAILED and "patch_size=64" in snap.error and "Traceback" not in snap.error
    assert slots.workers.get(0).pid == pid and slots.running == 0


def test_a_killed_worker_fails_the_job_frees_the_slot_and_is_replaced(slots, model, tiny_data, tiny_train):
    long = replace(tiny_train, max_steps=None, seconds=300.0)
    job = TrainingJob(model, tiny_data, long, slots=slots, runner="process").start()
    wait_for(lambda: job.snapshot().status == RUNNING and job.snapshot().step >= 1, WAIT)
    pid = slots.workers.get(0).pid
    os.kill(pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == FAILED and "stopped unexpectedly" in snap.error and "killed" in snap.error
    assert slots.running == 0 and slots.waiting == 0  # the queue moves on
    again = TrainingJob(model, tiny_data, tiny_train, slots=slots, runner="process").start()
    assert again.wait(WAIT) and again.snapshot().status == FINISHED
    assert slots.workers.get(0).pid != pid  # a fresh worker


def test_a_worker_whose_server_exits_mid_conversation_ends_quietly():
    """A server that exits without reading the worker's last message resets the connection
    (ECONNRESET, not EOF); the worker ends without printing a traceback."""
    import socket
    import threading
    from multiprocessing.connection import Connection

    from vae_core.training.worker import worker_main

    ours, theirs = socket.socketpair()
    errors = []

    def run() -> None:
        try:
            worker_main(Connection(theirs.detach()))
        except BaseException as exc:  # what would reach the worker's stderr
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    ours.settimeout(60)
    ours.recv(1)  # the worker's "ready" has started to arrive: leave the rest of it unread
    ours.close()  # closing with unread data resets the connection
    thread.join(60)
    assert not thread.is_alive() and errors == []
