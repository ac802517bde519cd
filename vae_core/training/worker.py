"""Training in its own process: one long-lived worker per job slot, fed a model, patches and settings.

Why a process and not a thread of the app's server: a thread shares the server's GIL with
every page that renders, with UMAP's numba compiler and with the other visitors' work, and
measured 0.35-0.7x the command line's speed (README, "Reliability"). A worker process has
its own interpreter and cores, and the server only relays what it reports.

A ``TrainingWorker`` is started lazily as ``python -m vae_core.training.worker`` (a fresh
interpreter, like multiprocessing's ``spawn``, so no lock or thread of the server is
inherited; but unlike ``spawn`` it never re-imports the caller's main script, which a
notebook or an unguarded script could not survive). It imports torch once and then waits for
runs, so the second run starts at once. One run at a time, over one socket pair
(a ``multiprocessing`` connection whose other end the child inherits):

- parent -> worker: ``("train", TrainRequest)`` followed by the training and validation
  pixels as two raw byte messages; then ``("stop",)`` to end the run early; ``("exit",)``.
- worker -> parent: ``("ready", pid)`` once; per run ``("started", device)``, ``("steps",
  [StepInfo, ...])``, ``("preview", Preview)``, then ``("done", bytes)`` or ``("error", text)``.

The training loop never waits for the server: reports go into an outbox that a sender
thread empties (a busy server reading late cannot slow training down). Pixels are sent raw
and received straight into the worker's arrays (no pickling of hundreds of megabytes; the
worker's copy is freed after the run); the model and the results travel as ``torch.save``
bytes made by our own processes. A worker that dies (killed for memory, a crash in native
code) is noticed by the parent as a closed connection or an exit code: the run fails with a
plain message and ``WorkerPool`` starts a fresh worker for the next run. POSIX only (the
child inherits its end by file descriptor); elsewhere use ``TrainingJob(runner="thread")``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from vae_core.config import TrainConfig

log = logging.getLogger(__name__)

START_TIMEOUT_S = 180.0  # a fresh worker imports torch: seconds on a busy 2-core machine
SEND_EVERY_S = 0.1  # the worker batches its step reports at most this often
GRACE_S = 900.0  # a run that reports nothing this long after its budget is declared hung


class WorkerCrashed(RuntimeError):
    """The worker process died or hung; the message says so in plain words."""


@dataclass
class TrainRequest:
    """One run for the worker. The pixels follow as two raw messages: ``train_shape``, then ``val_shape`` uint8."""

    model: bytes  # torch.save of the ConvVAE to train
    state: bytes | None  # torch.save of the TrainState to resume from, or None
    data: Any  # the PatchDataset with empty train/val arrays (labels and names only)
    train_shape: tuple[int, ...]
    val_shape: tuple[int, ...]
    config: TrainConfig  # threads and device already chosen for the slot
    preview_patches: np.ndarray  # (n, C, P, P) uint8
    preview_every_s: float
    describe: Callable | None  # picklable by reference, or None (the job then describes in its own process)


def dumps(obj: Any) -> bytes:
    """``torch.save`` to bytes (tensors included); only ever read by ``loads`` in our own processes."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def loads(data: bytes) -> Any:
    """Inverse of ``dumps``. Never call it on bytes a user supplied (it unpickles)."""
    import torch

    return torch.load(io.BytesIO(data), weights_only=False)


def without_pixels(data: Any) -> Any:
    """``data`` (a PatchDataset) with empty train/val arrays: what pickles with a request."""
    return replace(data, train=data.train[:0], val=data.val[:0])


def _receive_array(conn: Connection, shape: tuple[int, ...]) -> np.ndarray:
    out = np.empty(shape, np.uint8)
    if out.nbytes:
        conn.recv_bytes_into(memoryview(out).cast("B"))
    else:
        conn.recv_bytes()
    return out


# --- the worker process --------------------------------------------------------------------------


class _Outbox:
    """Messages to the parent, sent by a thread of their own so that training never blocks on the pipe."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.items, self.steps = conn, deque(), []
        self.cond = threading.Condition()
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="texture-vae-outbox", daemon=True)
        self.thread.start()

    def step(self, info: Any) -> None:
        with self.cond:
            self.steps.append(info)

    def put(self, message: tuple) -> None:
        with self.cond:
            self._flush_steps()
            self.items.append(message)
            self.cond.notify()

    def close(self) -> None:
        with self.cond:
            self._flush_steps()
            self.closed = True
            self.cond.notify()
        self.thread.join()

    def _flush_steps(self) -> None:
        if self.steps:
            self.items.append(("steps", self.steps))
            self.steps = []

    def _run(self) -> None:
        while True:
            with self.cond:
                if not self.items and not self.closed:
                    self.cond.wait(SEND_EVERY_S)
                self._flush_steps()
                batch, closed = list(self.items), self.closed
                self.items.clear()
            for message in batch:
                try:
                    self.conn.send(message)
                except OSError:  # the parent has gone; the run stops at its next step
                    return
            if closed and not batch:
                return


def worker_main(conn: Connection) -> None:
    """The worker process: import torch once, then train one request after another until told to exit."""
    try:
        import torch  # noqa: F401  (warm: later runs start at once)

        import vae_core.training.fit  # noqa: F401

        conn.send(("ready", os.getpid()))
        while True:
            try:
                message = conn.recv()
            except (EOFError, ConnectionResetError):  # the server has gone (a reset when it exited mid-send)
                return
            if message[0] == "train":
                train = _receive_array(conn, message[1].train_shape)
                val = _receive_array(conn, message[1].val_shape)
                _train(conn, message[1], train, val)
                del train, val
            elif message[0] == "exit":
                return
    except KeyboardInterrupt:  # Ctrl-C on the server reaches its whole process group
        return


def _train(conn: Connection, req: TrainRequest, train: np.ndarray, val: np.ndarray) -> None:
    from vae_core.data.patches import PatchDataset  # noqa: F401  (unpickling req.data needs it)
    from vae_core.training.fit import fit, select_device
    from vae_core.training.reports import free_device, make_preview, plain_error

    outbox, stopped, model = _Outbox(conn), [False], None

    def should_stop() -> bool:
        try:
            while conn.poll():
                if conn.recv()[0] in ("stop", "exit"):
                    stopped[0] = True
        except (EOFError, OSError):
            stopped[0] = True
        return stopped[0]

    try:
        data = replace(req.data, train=train, val=val)
        model = loads(req.model)
        state = loads(req.state) if req.state is not None else None
        outbox.put(("started", str(select_device(req.config.device))))
        last = [0.0]

        def on_step(info: Any) -> None:
            outbox.step(info)
            now = time.monotonic()
            if now - last[0] >= req.preview_every_s:
                last[0] = now
                outbox.put(("preview", make_preview(model, req.preview_patches, info.step)))

        result = fit(model, data, req.config, state=state, on_step=on_step, should_stop=should_stop)
        model.to("cpu").eval()
        outbox.put(("preview", make_preview(model, req.preview_patches, result.state.step)))
        source = val if len(val) else train  # what the job judges a model by (TrainingJob.preview_source)
        described = req.describe(model, source, req.config.beta) if req.describe else None
        del data, source
        outbox.put(("done", dumps({"model": model.state_dict(), "result": result, "described": described})))
    except Exception as exc:  # reported to the job; the worker lives on for the next run
        log.exception("training run failed in the worker")
        if model is not None:
            free_device(model)
        outbox.put(("error", plain_error(exc)))
    finally:
        outbox.close()


# --- the server's side ---------------------------------------------------------------------------


class TrainingWorker:
    """The server's handle on one worker process (see the module docstring)."""

    def __init__(self, name: str = "texture-vae-trainer") -> None:
        self.name = name
        self.pid: int | None = None
        self._proc: Any = None
        self._conn: Any = None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout_s: float = START_TIMEOUT_S) -> TrainingWorker:
        """Start the process and wait until it has imported torch. Raises ``WorkerCrashed`` on failure."""
        self._conn, child = multiprocessing.Pipe(duplex=True)
        root = str(Path(__file__).resolve().parents[2])  # so the child imports this very vae_core
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        command = [sys.executable, "-m", "vae_core.training.worker", str(child.fileno()), self.name]
        try:
            self._proc = subprocess.Popen(command, pass_fds=(child.fileno(),), env=env, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise WorkerCrashed("The training process could not be started. Try again in a minute.") from exc
        finally:
            child.close()
        deadline = time.monotonic() + timeout_s
        try:
            while not self._conn.poll(0.2):
                if not self.alive or time.monotonic() > deadline:
                    raise EOFError
            _ready, self.pid = self._conn.recv()
        except (EOFError, OSError) as exc:
            self.close()
            raise WorkerCrashed("The training process could not be started. Try again in a minute.") from exc
        return self

    def train(
        self,
        request: TrainRequest,
        pixel_arrays: tuple[np.ndarray, np.ndarray],
        on_message: Callable[[str, Any], None],
        should_stop: Callable[[], bool],
        budget_s: float | None,
    ) -> tuple[str, Any]:
        """Run ``request`` on ``pixel_arrays`` (train, val) and relay its reports to ``on_message(kind, payload)``.

        Returns ``("done", payload bytes)`` or ``("error", plain text)``. Asks the worker to
        stop once ``should_stop()`` turns True. Raises ``WorkerCrashed`` if the process dies,
        or reports nothing for ``GRACE_S`` past ``budget_s`` (it is then killed).
        """
        try:
            self._conn.send(("train", request))
            for pixels in pixel_arrays:
                self._conn.send_bytes(memoryview(np.ascontiguousarray(pixels)).cast("B"))
        except OSError as exc:
            raise WorkerCrashed(self._death("before the run started")) from exc
        asked_to_stop, last_heard = False, time.monotonic()
        while True:
            if not asked_to_stop and should_stop():
                asked_to_stop = True
                with contextlib.suppress(OSError):
                    self._conn.send(("stop",))
            try:
                if self._conn.poll(0.1):
                    kind, payload = self._conn.recv()
                    last_heard = time.monotonic()
                    if kind in ("done", "error"):
                        return kind, payload
                    on_message(kind, payload)
                    continue
            except (EOFError, OSError) as exc:
                raise WorkerCrashed(self._death("during the run")) from exc
            if not self.alive:
                raise WorkerCrashed(self._death("during the run"))
            if time.monotonic() - last_heard > (budget_s or 0.0) + GRACE_S:
                self.close()
                raise WorkerCrashed("The training process stopped responding and was ended. Try again.")

    def _death(self, when: str) -> str:
        code = None
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self._proc.wait(timeout=2.0)
        why = " (it was killed, often because the server ran out of memory)" if code is not None and code < 0 else ""
        return (
            f"The training process stopped unexpectedly {when}{why}. The model from before this run is kept; "
            "try again, perhaps with fewer patches or a smaller batch."
        )

    def close(self, timeout_s: float = 5.0) -> None:
        """Ask the process to exit, then end it if it does not."""
        if self._proc is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self._conn.send(("exit",))
        try:
            self._proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout_s)
        self._conn.close()
        self._proc = None


class WorkerPool:
    """One warm ``TrainingWorker`` per job slot, started on first use and replaced when it dies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers: dict[int, TrainingWorker] = {}

    def get(self, slot: int) -> TrainingWorker:
        """The live worker of ``slot``, started now if there is none. Raises ``WorkerCrashed``."""
        with self._lock:
            worker = self._workers.get(slot)
            if worker is None or not worker.alive:
                if worker is not None:
                    worker.close()
                worker = self._workers[slot] = TrainingWorker(f"texture-vae-trainer-{slot}").start()
            return worker

    def discard(self, slot: int) -> None:
        """End ``slot``'s worker (after a crash); the next ``get`` starts a fresh one."""
        with self._lock:
            worker = self._workers.pop(slot, None)
        if worker is not None:
            worker.close()

    def prewarm(self, slot: int = 0) -> None:
        """Start ``slot``'s worker in the background, so the first run does not wait for torch to import."""
        threading.Thread(target=self._quiet_get, args=(slot,), name="texture-vae-prewarm", daemon=True).start()

    def _quiet_get(self, slot: int) -> None:
        try:
            self.get(slot)
        except WorkerCrashed:
            log.warning("could not pre-start the training worker of slot %d", slot)

    def close(self) -> None:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.close()


if __name__ == "__main__":  # python -m vae_core.training.worker FD NAME (started by TrainingWorker.start)
    from vae_core.training.worker import worker_main as _main  # the importable module's classes, not __main__'s

    _main(Connection(int(sys.argv[1])))
