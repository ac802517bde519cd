"""How many CPU threads a training run uses (:func:`cpu_threads`), and how a job gets them (:func:`pin_torch_threads`).

The rule lives here, in one function, for both places that train: ``train.fit`` (a run from a
script, the CLI or a notebook, which owns the machine) and ``jobs.TrainingJob`` (a run inside
the app's server, next to the pages and other people's jobs).

* ``TrainConfig.threads``, when set, always wins.
* A standalone run otherwise keeps torch's default (one thread per physical core).
* A job in a server otherwise uses one core less than the machine has, split between the jobs
  that may run at once. The core left over is for the server and, on a laptop, the browser:
  on a busy 2-core box one training thread measured 4-6x faster per step than two (326-545 ms
  against 1,984-2,033 ms), because OpenMP threads that wait for a descheduled peer spin. On an
  idle machine the cost is one core of training speed.

Why a job cannot simply call ``torch.set_num_threads``: it looks process-wide but, with the
OpenMP backend (the Linux and Windows wheels), each thread keeps its own count once it has used
torch; the process value only seeds threads that start later. Streamlit runs every rerun in a
new thread, so a job that set the process value would change the count of every page drawn
afterwards. :func:`pin_torch_threads` therefore sets the count in the job's own thread and puts
the process value back from a short helper thread: training gets its threads, the pages keep
torch's default. Where the count turns out to be process-wide (a backend other than OpenMP), it
changes nothing rather than slow the pages. The steps of :func:`pin_torch_threads` run under one
lock: two jobs pinning at once would otherwise read and restore each other's process value.

Since training runs in its own process (``training.worker``), the app's jobs set their count
there with ``torch.set_num_threads``; the pinning remains for jobs in a thread (tests, notebooks).

torch is imported inside the functions that need it, so importing this module is cheap.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from vae_core.config import TrainConfig

_PIN_LOCK = threading.Lock()  # one pin_torch_threads at a time (module docstring)


def cpu_threads(config: TrainConfig, max_jobs: int | None = None) -> int | None:
    """Intra-op torch threads for one training run on the CPU; ``None`` means torch's default.

    ``config.threads`` when set. Otherwise, for a job in a server where up to ``max_jobs`` jobs
    run at once: (cores - 1) // ``max_jobs``, at least 1. For a standalone run (``max_jobs`` None):
    ``None``, so torch's default is left alone.
    """
    if config.threads:
        return config.threads
    if max_jobs is None:
        return None
    return max(1, ((os.cpu_count() or 1) - 1) // max(1, max_jobs))


def page_threads(jobs_running: int, max_jobs: int) -> int | None:
    """Torch intra-op threads for a page's own work while ``jobs_running`` training runs (of at most
    ``max_jobs``) use their cores: the cores they leave, at least 1; ``None`` while none runs (torch's
    default stays). On a 2-core server with one run going: 1.

    Why: a page that asks for two threads while training holds one of two cores makes its OpenMP
    threads wait for each other behind the training process. Measured with one training run
    (``tests/e2e/bench_training.py``): the Model page's first visit took 2.3 s with one page thread
    against 3.6-3.7 s with two (README, "Reliability").
    """
    if jobs_running <= 0:
        return None
    per_job = cpu_threads(TrainConfig(), max(1, max_jobs)) or 1
    return max(1, (os.cpu_count() or 1) - jobs_running * per_job)


def pin_torch_threads(n: int) -> bool:
    """Give the *calling* thread ``n`` torch intra-op threads without changing other threads' count.

    Returns False, having changed nothing, where torch's count is process-wide (see the module
    docstring). Call it at the start of a thread that will do the heavy work.
    """
    import torch

    if torch.get_num_threads() == n:
        return True
    with _PIN_LOCK:
        process_value: list[int] = []  # what a thread that starts now gets, whatever this thread did before
        _in_new_thread(lambda: process_value.append(torch.get_num_threads()))
        torch.set_num_threads(n)  # this thread's count, and (as a side effect) the process value
        _in_new_thread(lambda: torch.set_num_threads(process_value[0]))  # with OpenMP this thread keeps n
        return torch.get_num_threads() == n


def _in_new_thread(fn: Callable[[], Any]) -> None:
    thread = threading.Thread(target=fn, name="texture-vae-torch-threads")
    thread.start()
    thread.join()


BACKGROUND_NICE = 10  # how much lower than the pages and training background work runs (Linux nice levels)
ENV_BACKGROUND_NICE = "TEXTURE_VAE_BACKGROUND_NICE"  # "0" keeps background work at normal priority (tests)


def background_priority(nice: int | None = None) -> bool:
    """Lower the *calling* thread's CPU priority, so pages and training go first; True if it could.

    For work nobody waits on this second (UMAP's compile and layouts, slider preview strips):
    on a 2-core server they would otherwise take a core from whoever is clicking. Linux
    schedules threads one by one, so ``setpriority`` on the thread's id touches no other
    thread; elsewhere (or without permission) it changes nothing. ``nice`` defaults to
    ``$TEXTURE_VAE_BACKGROUND_NICE``, else ``BACKGROUND_NICE``.
    """
    if nice is None:
        try:
            nice = int(os.environ.get(ENV_BACKGROUND_NICE, BACKGROUND_NICE))
        except ValueError:
            nice = BACKGROUND_NICE
    if nice <= 0:
        return False
    if not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:
        return False
    return True
