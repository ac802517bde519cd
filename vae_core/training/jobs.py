"""Background training: ``TrainingJob`` runs ``fit`` in a daemon thread, in a server-wide slot (``training.slots``).

Kept apart from ``fit`` because this is about *where* training runs, not how: an app's
script thread must never block on a minutes-long ``fit``, and a server shared by many
people must not start more jobs than it has devices. Nothing here knows about any UI:
a page polls ``TrainingJob.snapshot()`` and renders it.

Threading rules, in one place:

- The job trains its **own copy** of the model (``copy.deepcopy`` at construction and on
  ``resume``), so the caller's model is never written by the training thread. The trained
  copy is ``job.model``; read it only once ``snapshot().done`` is True.
- Everything the caller reads while training runs (latest step, loss history, a preview of
  reconstructions) is copied under a lock in ``fit``'s ``on_step`` callback, which runs in
  the training thread between optimisation steps, when the weights are not being written.
- ``stop()`` only sets an event that ``fit`` checks before each step; the weights trained
  so far are kept and ``fit`` returns normally.

CPU threads: a CPU job gets ``threads.cpu_threads(config, max_jobs)`` intra-op threads (one
core less than the machine has, shared between concurrent jobs, unless ``TrainConfig.threads``
says otherwise), pinned to its own thread by ``threads.pin_torch_threads`` so the pages keep
torch's default. ``vae_core.training.threads`` explains why.

torch is imported inside the functions that need it, so importing this module is cheap.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from vae_core.config import TrainConfig
from vae_core.imaging import spread_indices
from vae_core.training.slots import JobSlots, get_slots, next_ticket
from vae_core.training.threads import cpu_threads, pin_torch_threads

log = logging.getLogger(__name__)

QUEUED, RUNNING, FINISHED, STOPPED, FAILED = "queued", "running", "finished", "stopped", "failed"
DONE_STATUSES = (FINISHED, STOPPED, FAILED)


@dataclass
class Preview:
    """A few patches and the model's reconstructions of them at one step."""

    step: int
    originals: np.ndarray  # (n, P, P, C) uint8
    recons: np.ndarray  # (n, P, P, C) uint8

    def grid(self, scale: int = 3) -> np.ndarray:
        """Originals on the top row, their reconstructions below: ``(H', W', C) uint8``, ``scale`` x larger."""
        from vae_core.imaging import tile

        return tile(np.concatenate([self.originals, self.recons]), cols=len(self.originals), scale=scale)


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

    @property
    def done(self) -> bool:
        return self.status in DONE_STATUSES

    @property
    def active(self) -> bool:
        return not self.done


def plain_error(exc: BaseException) -> str:
    """One sentence for a person; the traceback goes to the server log instead."""
    text = str(exc).strip()
    if "out of memory" in text.lower():
        return "The device ran out of memory. Try a smaller batch size or patch size."
    if isinstance(exc, ValueError) and text:
        return text[0].upper() + text[1:] if text[0].islower() else text
    detail = f"{type(exc).__name__}: {text or 'no details'}"
    return f"Training failed unexpectedly ({detail}). Try again or change the settings."


class TrainingJob:
    """Train a copy of ``model`` on ``data`` in a background thread, one run at a time.

    ``start()`` queues the job on ``slots`` (server-wide by default) and returns at once.
    ``snapshot()`` reports progress; ``stop()`` ends the run keeping the weights;
    ``resume()`` continues from where the last run ended (same step count, optimiser state
    and history). ``model``, ``state`` and ``result`` are the job's own objects: read them
    only when the run is done.
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
    ) -> None:
        self.model = copy.deepcopy(model)
        self.data = data
        self.config = config.validate()
        self.state = copy.deepcopy(state)
        self.slots = slots
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
        """Queue the run and return immediately."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("this job is already running; stop it or wait for it to end")
        self.run += 1
        self._stop.clear()
        with self._lock:
            self._status, self._message, self._error, self._warning = (
                QUEUED,
                "Waiting for a free training slot.",
                None,
                None,
            )
            self._info, self._active_dims = None, None
        self._thread = threading.Thread(target=self._main, name=f"texture-vae-train-{id(self):x}", daemon=True)
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

    def snapshot(self) -> JobSnapshot:
        slots = self.slots or get_slots()
        with self._lock:
            position = slots.position(self._ticket) if self._status == QUEUED and self._ticket else None
            return JobSnapshot(
                status=self._status,
                queue_position=position,
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
            )

    # -- the training thread -----------------------------------------------------------

    def _main(self) -> None:
        from vae_core.training.fit import fit, select_device

        slots = self.slots or get_slots()
        ticket = next_ticket()
        with self._lock:
            self._ticket = ticket
        slot = slots.acquire(ticket, cancelled=self._stop.is_set)
        if slot is None:
            with self._lock:
                self._status, self._message = STOPPED, "Cancelled before it started; nothing was trained."
            return
        try:
            config = self._config_for_slot(slot, slots.max_jobs)
            device = str(select_device(config.device))
            self.threads = None
            if device == "cpu":
                wanted = cpu_threads(config, slots.max_jobs)
                self.threads = wanted if pin_torch_threads(wanted) else None
                # fit would apply config.threads with set_num_threads, which reaches every thread.
                config = replace(config, threads=None)
            with self._lock:
                self._status, self._device = RUNNING, device
                self._message = f"Training on {device}."
                self._base_seconds = self.state.train_seconds if self.state is not None else 0.0
                self._last_preview = 0.0
            result = fit(
                self.model, self.data, config, state=self.state, on_step=self._on_step, should_stop=self._stop.is_set
            )
            self.model.to("cpu").eval()  # free the GPU for the next job; pages read the model on CPU
            self.result, self.state, self.result_run = result, result.state, self.run
            self._make_preview(result.state.step)
            n_active, warning = (
                self.describe(self.model, self.preview_source(), config.beta) if self.describe else (None, None)
            )
            status = FINISHED if result.stop_reason in ("time", "steps") else STOPPED
            if result.stop_reason == "non-finite":
                warning = result.message if warning is None else f"{result.message} {warning}"
            with self._lock:
                self._status, self._message, self._warning = status, result.message, warning
                self._active_dims = n_active
                self._history = self._copy_history(result.state.history)
        except Exception as exc:  # a job must report, never crash the server
            log.exception("training job failed")
            with self._lock:
                self._status, self._error = FAILED, plain_error(exc)
                self._message = self._error
        finally:
            slots.release(ticket)

    def preview_source(self) -> np.ndarray:
        """Patches used to judge the model after a run: validation, else training patches."""
        return self.data.val if len(self.data.val) else self.data.train

    def _config_for_slot(self, slot: int, max_jobs: int) -> TrainConfig:
        """Spread jobs over GPUs (slot k -> cuda:k). CPU jobs share the cores through ``cpu_threads``."""
        import torch

        config = self.config
        if config.device == "auto" and torch.cuda.is_available() and torch.cuda.device_count() > 1:
            return replace(config, device=f"cuda:{slot % torch.cuda.device_count()}")
        return config

    def _on_step(self, info: Any) -> None:
        with self._lock:
            self._info = info
            self._history.record_step(info.step, self._base_seconds + info.elapsed_s, info.loss, info.recon, info.kl)
            if info.val is not None:
                self._history.record_val(info.step, info.val)
        now = time.monotonic()
        if now - self._last_preview >= self.preview_every_s:
            self._last_preview = now
            self._make_preview(info.step)

    def _make_preview(self, step: int) -> None:
        """Reconstruct the preview patches. Runs in the training thread, between steps."""
        import torch

        if len(self.preview_patches) == 0:
            return
        model = self.model
        was_training = model.training
        device = next(model.parameters()).device
        model.eval()
        try:
            with torch.no_grad():
                x = torch.from_numpy(self.preview_patches).to(device).float().div_(255)
                mu, _ = model.encode(x)
                rec = model.decode(mu).float().cpu().numpy()
        finally:
            model.train(was_training)
        recons = np.clip(rec * 255.0 + 0.5, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
        preview = Preview(step=step, originals=self.preview_patches.transpose(0, 2, 3, 1).copy(), recons=recons)
        with self._lock:
            self._preview = preview

    @staticmethod
    def _copy_history(history: Any) -> Any:
        from vae_core.model.history import History

        return History() if history is None else History.from_dict(history.to_dict())
