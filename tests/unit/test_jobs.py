"""Background training jobs and the server-wide job limit."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from testkit import in_new_thread, wait_for, weights

from vae_core.config import ModelConfig
from vae_core.explore.latent import collapse_check
from vae_core.model.vae import ConvVAE
from vae_core.training.jobs import FAILED, FINISHED, QUEUED, RUNNING, STOPPED, TrainingJob
from vae_core.training.slots import JobSlots, default_max_jobs

WAIT = 60  # seconds; generous because CI machines may be busy


@pytest.fixture
def model(tiny_config):
    torch.manual_seed(0)
    return ConvVAE(tiny_config)


def test_job_runs_reports_progress_and_leaves_the_callers_model_alone(model, tiny_data, tiny_train):
    before = weights(model).clone()
    job = TrainingJob(
        model, tiny_data, tiny_train, slots=JobSlots(1), preview_every_s=0.0, describe=collapse_check
    ).start()
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == FINISHED and snap.done and not snap.active
    assert snap.step == 5 and snap.history.step[-1] == 5 and len(snap.history.loss) == 5
    assert snap.info.step == 5 and snap.device == "cpu"
    assert snap.preview is not None and snap.preview.recons.shape == snap.preview.originals.shape
    assert snap.preview.originals.shape[1:] == (32, 32, 3)
    n = len(snap.preview.originals)
    grid = snap.preview.grid(scale=2)  # originals over reconstructions, for the Train page
    assert grid.shape == (2 * 64 + 2, n * 64 + (n - 1) * 2, 3)
    assert (grid[:64, :64] == snap.preview.originals[0].repeat(2, 0).repeat(2, 1)).all()
    assert (grid[66:, :64] == snap.preview.recons[0].repeat(2, 0).repeat(2, 1)).all()
    assert snap.active_dims is not None and 0 <= snap.active_dims <= snap.latent_dim == 4
    assert "Trained 5 steps" in snap.message
    assert torch.equal(weights(model), before)  # the job trained its own copy
    assert not torch.equal(weights(job.model), before)


def test_stop_keeps_the_weights_trained_so_far(model, tiny_data, tiny_train):
    cfg = replace(tiny_train, max_steps=None, seconds=120.0)
    job = TrainingJob(model, tiny_data, cfg, slots=JobSlots(1)).start()
    wait_for(lambda: job.snapshot().step >= 3, WAIT)
    job.stop()
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == STOPPED and snap.step >= 3
    assert job.result.stop_reason == "stopped" and job.result.state.step == snap.step
    assert not torch.equal(weights(job.model), weights(model))


def test_resume_continues_the_step_count_and_history(model, tiny_data, tiny_train):
    job = TrainingJob(model, tiny_data, tiny_train, slots=JobSlots(1)).start()
    assert job.wait(WAIT)
    first = job.model
    job.resume(replace(tiny_train, max_steps=3))
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == FINISHED and snap.run == 2
    assert snap.step == 8 and snap.history.step == list(range(1, 9))
    assert job.result.state.optimizer is not None
    assert job.model is not first  # resume trains a fresh copy; the first run's model is untouched


def test_resume_from_a_given_state(model, tiny_data, tiny_train):
    job = TrainingJob(model, tiny_data, tiny_train, slots=JobSlots(1)).start()
    assert job.wait(WAIT)
    again = TrainingJob(job.model, tiny_data, tiny_train, state=job.result.state, slots=JobSlots(1)).start()
    assert again.wait(WAIT)
    assert again.snapshot().step == 10 and job.result.state.step == 5  # caller's state was copied, not mutated


def test_queue_with_one_slot(model, tiny_data, tiny_train):
    slots = JobSlots(1)
    long_cfg = replace(tiny_train, max_steps=None, seconds=120.0)
    first = TrainingJob(model, tiny_data, long_cfg, slots=slots).start()
    wait_for(lambda: first.snapshot().status == RUNNING, WAIT)
    second = TrainingJob(model, tiny_data, tiny_train, slots=slots).start()
    third = TrainingJob(model, tiny_data, tiny_train, slots=slots).start()
    wait_for(lambda: third.snapshot().queue_position == 2, WAIT)
    snap = second.snapshot()
    assert snap.status == QUEUED and snap.queue_position == 1 and "Waiting" in snap.message
    third.stop()  # leaving the queue moves nobody else back
    wait_for(lambda: third.snapshot().done, WAIT)
    assert third.snapshot().status == STOPPED and third.result is None
    assert second.snapshot().status == QUEUED and slots.waiting == 1
    first.stop()
    assert first.wait(WAIT) and second.wait(WAIT)
    assert second.snapshot().status == FINISHED and second.snapshot().queue_position is None
    assert slots.running == 0 and slots.waiting == 0


def test_two_slots_run_two_jobs_at_once(model, tiny_data, tiny_train):
    slots = JobSlots(2)
    cfg = replace(tiny_train, max_steps=None, seconds=120.0)
    jobs = [TrainingJob(model, tiny_data, cfg, slots=slots).start() for _ in range(2)]
    wait_for(lambda: all(j.snapshot().status == RUNNING for j in jobs), WAIT)
    assert slots.running == 2
    for j in jobs:
        j.stop()
    assert all(j.wait(WAIT) for j in jobs)


def test_a_failing_job_reports_a_plain_error(tiny_data, tiny_train):
    wrong = ConvVAE(ModelConfig(image_size=64, channels=3, latent_dim=4, width=8, res_blocks=1))
    job = TrainingJob(wrong, tiny_data, tiny_train, slots=JobSlots(1)).start()
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == FAILED
    assert "patch_size=64" in snap.error and "Traceback" not in snap.error
    assert snap.message == snap.error
    with pytest.raises(RuntimeError, match="nothing to resume"):
        job.resume()


def test_unexpected_errors_are_reported_not_raised(model, tiny_data, tiny_train, monkeypatch):
    import vae_core.training.fit

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(vae_core.training.fit, "fit", boom)
    job = TrainingJob(model, tiny_data, tiny_train, slots=JobSlots(1)).start()
    assert job.wait(WAIT)
    snap = job.snapshot()
    assert snap.status == FAILED and "RuntimeError: disk on fire" in snap.error


def test_collapse_is_flagged_with_a_lower_beta(model, tiny_data):

    with torch.no_grad():  # a model whose posterior equals the prior for every input
        for p in model.parameters():
            p.zero_()
    n, warning = collapse_check(model, tiny_data.val, beta=0.02)
    assert n == 0 and "Lower β" in warning and "0.005" in warning


def test_max_jobs_from_the_environment(monkeypatch):
    monkeypatch.setenv("TEXTURE_VAE_MAX_JOBS", "3")
    assert default_max_jobs() == 3
    monkeypatch.setenv("TEXTURE_VAE_MAX_JOBS", "zero")
    assert default_max_jobs() == (max(1, torch.cuda.device_count()) if torch.cuda.is_available() else 1)
    with pytest.raises(ValueError, match="at least 1"):
        JobSlots().set_max_jobs(0)


def test_build_model_is_seeded_without_touching_the_global_rng(tiny_config):
    from vae_core.model.vae import build_model

    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a, b, c = build_model(tiny_config, 1), build_model(tiny_config, 1), build_model(tiny_config, 2)
    assert torch.equal(weights(a), weights(b)) and not torch.equal(weights(a), weights(c))
    assert torch.equal(torch.rand(1), expected_next)


@pytest.mark.parametrize(
    ("seconds", "max_steps", "steps", "elapsed", "progress", "eta"),
    [
        (10.0, None, 3, 6.9, 0.69, 3.1),  # measured together: 69 % done leaves 31 % of the time
        (10.0, None, 3, 10.4, 1.0, 0.0),  # past the budget: full bar, nothing left (the page says "finishing…")
        (None, 8, 2, 1.0, 0.25, 3.0),  # a step budget: time left from the measured pace
        (None, 8, 0, 0.0, 0.0, None),  # no step done yet: no pace to go by
        (10.0, 4, 2, 1.0, 0.5, 1.0),  # both budgets: progress of the further one, time left of the nearer
    ],
)
def test_run_progress_and_time_left_agree(tiny_train, seconds, max_steps, steps, elapsed, progress, eta):
    from vae_core.training.fit import run_progress

    got_progress, got_eta = run_progress(replace(tiny_train, seconds=seconds, max_steps=max_steps), steps, elapsed)
    assert got_progress == pytest.approx(progress)
    assert (got_eta is None) if eta is None else got_eta == pytest.approx(eta)


def test_a_running_jobs_progress_and_time_left_add_up_to_its_budget(model, tiny_data, tiny_train):
    """fit measures progress before a step and its ETA after; the job reports both after the step."""
    cfg = replace(tiny_train, max_steps=None, seconds=120.0)
    job = TrainingJob(model, tiny_data, cfg, state=None, slots=JobSlots(1)).start()
    wait_for(lambda: job.snapshot().step >= 2, WAIT)
    info = job.snapshot().info
    job.stop()
    assert job.wait(WAIT)
    assert info.progress > 0  # the first report already counts the time the first step took
    assert info.progress * cfg.seconds + info.eta_s == pytest.approx(cfg.seconds)
    assert info.progress == pytest.approx(info.elapsed_s / cfg.seconds)


def test_cpu_threads_leave_a_core_for_the_server(tiny_train, monkeypatch):
    """One rule (vae_core.training.threads.cpu_threads) for jobs and fit."""
    from vae_core.training.threads import cpu_threads

    assert cpu_threads(replace(tiny_train, threads=3), max_jobs=2) == 3  # an explicit count always wins
    assert cpu_threads(replace(tiny_train, threads=3)) == 3
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert cpu_threads(tiny_train, max_jobs=1) == 1
    assert cpu_threads(tiny_train) is None  # a standalone run (fit, CLI) keeps torch's default
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert cpu_threads(tiny_train, max_jobs=1) == 15 and cpu_threads(tiny_train, max_jobs=4) == 3
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert cpu_threads(tiny_train, max_jobs=2) == 1
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert cpu_threads(tiny_train, max_jobs=1) == 1


def test_a_cpu_job_sets_its_own_thread_count_and_no_one_elses(model, tiny_data, tiny_train, monkeypatch):
    """Pages run in threads Streamlit starts later: they must keep torch's default, not the job's count."""
    import vae_core.training.fit

    main_before, new_before = torch.get_num_threads(), in_new_thread(torch.get_num_threads)
    n = 2 if new_before == 1 else 1
    real_fit, seen = vae_core.training.fit.fit, []

    def fit(*args, **kwargs):
        seen.append((torch.get_num_threads(), args[2].threads))
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(vae_core.training.fit, "fit", fit)
    job = TrainingJob(model, tiny_data, replace(tiny_train, threads=n), slots=JobSlots(1)).start()
    assert job.wait(WAIT) and job.snapshot().status == FINISHED
    assert job.threads == n and seen == [(n, None)]  # fit is not asked to set the process-wide value
    assert torch.get_num_threads() == main_before
    assert in_new_thread(torch.get_num_threads) == new_before


def test_while_training_runs_a_page_gets_the_cores_it_leaves_and_later_pages_the_default(monkeypatch):
    from vae_core.training import slots as slots_module
    from vae_core.training.slots import share_cores_with_training
    from vae_core.training.threads import page_threads

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert page_threads(0, 1) is None and page_threads(1, 1) == 1
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert page_threads(1, 1) == 1 and page_threads(1, 4) == 13 and page_threads(4, 4) == 4
    monkeypatch.setattr("os.cpu_count", lambda: 2)

    server = JobSlots(1)  # the real limiter, so the test reads it as the app does
    monkeypatch.setattr(slots_module, "_SLOTS", server)
    default = in_new_thread(torch.get_num_threads)
    server.enter(9)
    assert server.wait_turn(9) == 0  # one run training
    assert in_new_thread(lambda: (share_cores_with_training(), torch.get_num_threads())) == (1, 1)
    assert in_new_thread(torch.get_num_threads) == default  # the next page run starts at torch's default
    server.release(9)
    assert in_new_thread(lambda: (share_cores_with_training(), torch.get_num_threads())) == (None, default)


def test_device_words_say_cpu_or_gpu():
    from vae_core.training.progress import device_words

    assert device_words("cpu") == "CPU" and device_words(None) == "CPU" and device_words("mps") == "GPU (Apple)"
    expected = f"GPU ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "GPU"
    assert device_words("cuda:0") == expected
