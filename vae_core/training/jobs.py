"""Background training: ``TrainingJob`` runs ``fit`` off the caller's thread, in a server-wide slot.

Kept apart from ``fit`` because this is about *where* training runs, not how: an app's
script thread must never block on a minutes-long ``fit``, and a server shared by many
people must not start more jobs than it has devices. Nothing here knows about any UI:
a page polls ``TrainingJob.snapshot()`` and renders it.

Where ``fit`` runs (``runner``): ``"process"`` in a warm worker process of the slot
(``training.worker``: what the app uses, so training neither fights the pages for the GIL
nor they for it), or ``"thread"`` in a daemon thread of this process (the library's default:
a notebook or a test needs no second process). A small thread of this process watches the
run either way; the job's API is the same.

Threading rules, in one place:

- The job trains its **own copy** of the model (``copy.deepcopy`` at construction and on
  ``resume``), so the caller's model is never written by the training thread. The trained
  copy is ``job.model``; read it only once ``snapshot().done`` is True.
- Everything the caller reads while training runs (latest step, loss history, a preview of
  reconstructions) is copied under a lock as the run reports it (``fit``'s ``on_step`` in the
  thread, or the worker's messages), between optimisation steps.
- ``stop()`` only sets an event that ``fit`` checks before each step (the worker is told at
  once); the weights trained so far are kept and ``fit`` returns normally.
- A run that fails, or whose worker process dies, is reported as ``failed`` with plain words;
  its slot is always given back (the wait for a slot is inside the same ``try``), and a model
  it had moved to a GPU is moved back.

CPU threads: a CPU job gets ``threads.cpu_threads(config, max_jobs)`` intra-op threads (one
core less than the machine has, shared between concurrent jobs, unless ``TrainConfig.threads``
says otherwise): set process-wide in the worker, or pinned to the training thread by
``threads.pin_torch_threads`` so the pages keep torch's default. ``vae_core.training.threads``
explains why.

torch is imported inside the functions that need it, so importing this module is cheap.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from vae_core.config import TrainConfig
from vae_core.imaging import spread_indices
from vae_core.training.reports import Preview, free_device, make_preview, plain_error
from vae_core.training.slots import JobSlots, get_slots, next_ticket
from vae_core.training.threads import cpu_threads, pin_torch_threads

log = logging.getLogger(__name__)

QUEUED, RUNNING, FINISHED, STOPPED, FAILED = "queued", "running", "finished", "stopped", "failed"
DONE_STATUSES = (FINISHED, STOPPED, FAILED)
RUNNERS = ("thread", "process")
ENV_RUNNER = "TEXTURE_VAE_TRAIN_RUNNER"


def default_runner() -> str:
    """Where an app's runs train: ``$TEXTURE_VAE_TRAIN_RUNNER`` if set, else a worker process (POSIX) or a thread."""
    wanted = os.environ.get(ENV_RUNNER, "").strip()
    if wanted in RUNNERS:
        return wanted
    return "process" if os.name == "posix" else "thread"


@dataclass
class JobSnapshot:
    """A consistent copy of a job's progress, safe to read from any thread."""

    status: str  # queued, running, finished, stopped, failed
    queue_position: int | None  # 1 = next to start; None unless queued
    step: int  # total steps of the model (earlier runs included)
    info: Any  # the latest train.StepInfo of this run (progress and eta_s measured together after the step), or None
    history: Any  # train.History copy: all runs so far
    message: str  # plain words for a person
    error: str | None  # set when status == "failed"
    device: str | None
    preview: Preview | None
    config: TrainConfig
    run: int  # 1 for the first run, 2 after one resume, ...
    active_dims: int | None = None  # latent dimensions in use after the run (None until done)
    latent_dim: int = 0
    warning: str | None = None  # e.g. posterior collapse, with what to try
    wait_s: float | None = None  # while queued: seconds until it probably starts (None: unknown)

    @property
    def done(self) -> bool:
        return self.status in DONE_STATUSES

    @property
    def active(self) -> bool:
        return not self.done


class TrainingJob:
    """Train a copy of ``model`` on ``data`` in the background, one run at a time.

    ``start()`` queues the job on ``slots`` (server-wide by default) and returns at once; it
    raises ``slots.QueueFull`` when the queue is full or ``owner`` already has a run there.
    ``snapshot()`` reports progress; ``stop()`` ends the run keeping the weights;
    ``resume()`` continues from where the last run ended (same step count, optimiser state
    and history). ``model``, ``state`` and ``result`` are the job's own objects: read them
    only when the run is done. ``runner``: ``"thread"`` or ``"process"`` (module docstring).
    """

    def __init__(
        self,
        model: Any,
        data: Any,
        config: TrainConfig,
        *,
        state: Any = None,
        slots: JobSlots | None = None,
        preview_patches: np.ndarray | None = None,
        preview_every_s: float = 3.0,
        describe: Callable[[Any, np.ndarray, float], tuple[int, str | None]] | None = None,
        runner: str = "thread",
        owner: str | None = None,
    ) -> None:
        if runner not in RUNNERS:
            raise ValueError(f"runner={runner!r} is not supported; choose one of {RUNNERS}")
        self.model = copy.deepcopy(model)
        self.data = data
        self.config = config.validate()
        self.state = copy.deepcopy(state)
        self.slots = slots
        self.runner = runner
        self.owner = owner  # who started it (a session id): one run per owner in the queue
        self.preview_every_s = preview_every_s
        # After a run: (model, patches, beta) -> (active dimensions, warning or None), e.g.
        # ``explore.latent.collapse_check``. Passed in, because describing a model is not training's job.
        self.describe = describe
        if preview_patches is None:
            source = data.val if len(data.val) else data.train
            preview_patches = source[spread_indices(len(source), 8)]
        self.preview_patches = np.ascontiguousarray(preview_patches)
        self.id = uuid.uuid4().hex  # stable name for callers that track which runs they have seen
        self.result: Any = None  # train.TrainResult of the last run that trained
        self.result_run = 0  # the run (1, 2, ...) that produced ``result`` and ``model``
        self.run = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ticket: int | None = None
        self._status = QUEUED
        self._message = "Waiting to start."
        self._error: str | None = None
        self._warning: str | None = None
        self._active_dims: int | None = None
        self._info: Any = None
        self._device: str | None = None
        self._preview: Preview | None = None
        self._last_preview = 0.0
        self._history = self._copy_history(state.history if state is not None else None)
        self._base_seconds = 0.0
        self.threads: int | None = None  # torch threads of the last CPU run (None: torch's default, or a GPU)

    # -- control ---------------------------------------------------------------------

    def start(self) -> TrainingJob:
        """Queue the run and return immediately. Raises ``QueueFull`` (plain words) if it cannot queue."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("this job is already running; stop it or wait for it to end")
        slots = self.slots or get_slots()
        ticket = next_ticket()
        slots.enter(ticket, self.owner, self.config.seconds)
        self.run += 1
        self._stop.clear()
        with self._lock:
            self._ticket = ticket
            self._status, self._message, self._error, self._warning = (
                QUEUED,
                "Waiting for a free training slot.",
                None,
                None,
            )
            self._info, self._active_dims = None, None
        self._thread = threading.Thread(
            target=self._main, args=(slots, ticket), name=f"texture-vae-train-{id(self):x}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to end after the current step (or leave the queue). Weights so far are kept."""
        self._stop.set()

    def resume(self, config: TrainConfig | None = None) -> TrainingJob:
        """Continue training from the last run's state (its step count, optimiser and history).

        The model is copied again first, so a caller that took ``job.model`` after the last
        run keeps an unchanging object. ``config`` replaces the settings (e.g. a new budget).
        """
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("this job is still running; stop it before resuming")
        if self.result is None:
            raise RuntimeError("there is nothing to resume: the last run ended before its first step")
        if config is not None:
            self.config = config.validate()
        self.model = copy.deepcopy(self.model)
        self.state = copy.deepcopy(self.result.state)
        return self.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run ends (tests, scripts). Returns True if it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()

    # -- reading -----------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """True while the run is queued or training (cheap: no copy of the history)."""
        with self._lock:
            return self._status not in DONE_STATUSES

    def snapshot(self) -> JobSnapshot:
        slots = self.slots or get_slots()
        with self._lock:
            queued = self._status == QUEUED and self._ticket is not None
            return JobSnapshot(
                status=self._status,
                queue_position=slots.position(self._ticket) if queued else None,
                step=self._info.step if self._info is not None else (self.state.step if self.state else 0),
                info=self._info,
                history=self._copy_history(self._history),
                message=self._message,
                error=self._error,
                device=self._device,
                preview=self._preview,
                config=self.config,
                run=self.run,
                active_dims=self._active_dims,
                latent_dim=int(self.model.config.latent_dim),
                warning=self._warning,
                wait_s=slots.wait_estimate(self._ticket) if queued else None,
            )

    # -- the run -------------------------------------------------------------------------

    def _main(self, slots: JobSlots, ticket: int) -> None:
        try:
            slot = slots.wait_turn(ticket, cancelled=self._stop.is_set)
            if slot is None:
                with self._lock:
                    self._status, self._message = STOPPED, "Cancelled before it started; nothing was trained."
                return
            wanted = cpu_threads(self.config, slots.max_jobs)
            with self._lock:
                self._status, self._message = RUNNING, "Starting."
                self._base_seconds = self.state.train_seconds if self.state is not None else 0.0
                self._last_preview = 0.0
            if self.runner == "process":
                result, described = self._run_in_worker(slots, slot, wanted)
            else:
                result, described = self._run_in_thread(slot, slots.max_jobs, wanted)
            self._finish(result, described)
        except Exception as exc:  # a job must report, never crash the server
            log.exception("training job failed")
            if self.runner == "thread":
                free_device(self.model)  # a failed GPU run must not keep its model on the GPU
            with self._lock:
                self._status, self._error = FAILED, plain_error(exc) if not _is_crash(exc) else str(exc)
                self._message = self._error
        finally:
            slots.release(ticket)

    def _run_in_thread(self, slot: int, max_jobs: int, wanted: int) -> tuple[Any, Any]:
        from vae_core.training.fit import fit, select_device

        config = _config_for_slot(self.config, slot)
        device = str(select_device(config.device))
        self.threads = None
        if device == "cpu":
            self.threads = wanted if pin_torch_threads(wanted) else None
            # fit would apply config.threads with set_num_threads, which reaches every thread.
        config = replace(config, threads=None)
        with self._lock:
            self._device, self._message = device, f"Training on {device}."
        stop = self._stop.is_set
        result = fit(self.model, self.data, config, state=self.state, on_step=self._on_step, should_stop=stop)
        self.model.to("cpu").eval()  # free the GPU for the next job; pages read the model on CPU
        self._set_preview(make_preview(self.model, self.preview_patches, result.state.step))
        described = self.describe(self.model, self.preview_source(), config.beta) if self.describe else None
        return result, described

    def _run_in_worker(self, slots: JobSlots, slot: int, wanted: int) -> tuple[Any, Any]:
        import pickle

        from vae_core.training.worker import TrainRequest, WorkerCrashed, dumps, loads, without_pixels

        try:
            worker = slots.workers.get(slot)
        except WorkerCrashed:
            slots.workers.discard(slot)
            raise
        describe = self.describe
        try:
            pickle.dumps(describe)
        except Exception:  # e.g. a lambda: describe here, after the run
            describe = None
        config = replace(_config_for_slot(self.config, slot), threads=wanted)
        request = TrainRequest(
            model=dumps(self.model),
            state=dumps(self.state) if self.state is not None else None,
            data=without_pixels(self.data),
            train_shape=tuple(self.data.train.shape),
            val_shape=tuple(self.data.val.shape),
            config=config,
            preview_patches=self.preview_patches,
            preview_every_s=self.preview_every_s,
            describe=describe,
        )
        pixels = (self.data.train, self.data.val)
        try:
            kind, payload = worker.train(request, pixels, self._on_message, self._stop.is_set, self.config.seconds)
        except WorkerCrashed:
            slots.workers.discard(slot)
            raise
        if kind == "error":
            raise _RunFailed(payload)
        done = loads(payload)
        self.model.load_state_dict(done["model"])
        self.model.eval()
        self.threads = wanted if self._device == "cpu" else None
        described = done["described"]
        if described is None and self.describe is not None:
            described = self.describe(self.model, self.preview_source(), config.beta)
        return done["result"], described

    def _finish(self, result: Any, described: Any) -> None:
        """Make the run's result the job's, and say how it ended."""
        self.result, self.state, self.result_run = result, result.state, self.run
        n_active, warning = described if described is not None else (None, None)
        status = FINISHED if result.stop_reason in ("time", "steps") else STOPPED
        if result.stop_reason == "non-finite":
            warning = result.message if warning is None else f"{result.message} {warning}"
        with self._lock:
            self._status, self._message, self._warning = status, result.message, warning
            self._active_dims = n_active
            self._history = self._copy_history(result.state.history)

    def preview_source(self) -> np.ndarray:
        """Patches used to judge the model after a run: validation, else training patches."""
        return self.data.val if len(self.data.val) else self.data.train

    def _on_message(self, kind: str, payload: Any) -> None:
        """A report from the worker process (``training.worker``)."""
        if kind == "steps":
            for info in payload:
                self._record(info)
        elif kind == "preview":
            self._set_preview(payload)
        elif kind == "started":
            with self._lock:
                self._device, self._message = payload, f"Training on {payload}."

    def _on_step(self, info: Any) -> None:
        """``fit``'s callback in the training thread."""
        self._record(info)
        now = time.monotonic()
        if now - self._last_preview >= self.preview_every_s:
            self._last_preview = now
            self._set_preview(make_preview(self.model, self.preview_patches, info.step))

    def _record(self, info: Any) -> None:
        with self._lock:
            self._info = info
            self._history.record_step(info.step, self._base_seconds + info.elapsed_s, info.loss, info.recon, info.kl)
            if info.val is not None:
                self._history.record_val(info.step, info.val)

    def _set_preview(self, preview: Preview | None) -> None:
        if preview is not None:
            with self._lock:
                self._preview = preview

    @staticmethod
    def _copy_history(history: Any) -> Any:
        from vae_core.model.history import History

        return History() if history is None else History.from_dict(history.to_dict())


class _RunFailed(RuntimeError):
    """The worker reported a failed run; the message is already in plain words."""


def _is_crash(exc: BaseException) -> bool:
    """An error whose message is already for a person (a failed run in the worker, or the worker's death)."""
    from vae_core.training.worker import WorkerCrashed

    return isinstance(exc, (_RunFailed, WorkerCrashed))


def _config_for_slot(config: TrainConfig, slot: int) -> TrainConfig:
    """Spread jobs over GPUs (slot k -> cuda:k). CPU jobs share the cores through ``cpu_threads``."""
    if config.device != "auto":
        return config
    import torch

    if torch.cuda.is_available() and torch.cuda.device_count() > 1:
        return replace(config, device=f"cuda:{slot % torch.cuda.device_count()}")
    return config
