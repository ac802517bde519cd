"""Validation scores computed off the page's thread: one run per model and data *content*, in one server-wide line.

(The same line measures the Model page's per-dimension KL: ``kl_work``.)

Scoring every validation patch (the VAE and the PCA baseline, PSNR and SSIM: ``metrics.evaluate``)
takes one to two seconds for the samples with the convolutional starter on one core, and tens
of seconds for tens of thousands of photo patches. The Model and Reconstructions pages used to
compute it inside their script run, so the first visit stalled for that long; during a training
run, which holds the other core of a 2-core server, the Model page's first visit took 4.6-6.4 s.

Here the work goes to one daemon thread (named ``THREAD_NAME``). A page asks for a run with
``ScoreLine.request`` and waits a moment for it (``ScoreRun.wait``); if it is not done by
then, the page shows its progress and polls (``pages/shared/scores.py``).

- Runs are keyed by content (the model's fingerprint and the patches' digest, computed by the
  page): a class that loaded the same samples and model asks for one run and all read its
  result. Nothing is shared that the asker does not hold already.
- Finished runs are kept, least recently asked-for dropped first, at most ``max_kept``; a run
  that failed is kept too (its error is shown, and asking again does not loop on it).
- The line is capped (``max_waiting``): a full line raises ``QueueFull`` in plain words.
- Before each run the thread takes only the cores a training run leaves
  (``training.slots.share_cores_with_training``), as a page's own torch work does.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from vae_core.training.slots import QueueFull

log = logging.getLogger(__name__)

ENV_WAIT_S = "TEXTURE_VAE_SCORE_WAIT_S"  # see wait_s
THREAD_NAME = "validation-scores"  # the AppTest conftest waits for threads by name
MAX_WAITING = 8  # runs waiting at once, server-wide (each one to tens of seconds)
MAX_KEPT = 16  # finished runs kept (an Evaluation holds four numbers per validation patch)
UNEXPECTED = "Scoring the model failed unexpectedly. Reload the page to try again."

Work = Callable[[Callable[[int, int], None]], Any]  # work(on_progress(done, total)) -> result


@dataclass(eq=False)
class ScoreRun:
    """One requested scoring; poll its fields (written only by the line's thread)."""

    key: Hashable
    done: int = 0  # patches scored so far
    total: int = 0  # patches to score (0 until the run has started)
    result: Any = None  # what the work returned (``metrics.Evaluation``)
    error: str | None = None  # why it failed, in plain words
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def running(self) -> bool:
        """Waiting or computing (neither a result nor an error yet)."""
        return not self.finished.is_set()

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run has a result or an error; True if it has."""
        return self.finished.wait(timeout)


class ScoreLine:
    """First come, first served; one run per key; capped; finished runs kept (module docstring)."""

    def __init__(self, max_waiting: int = MAX_WAITING, max_kept: int = MAX_KEPT) -> None:
        self.max_waiting, self.max_kept = max_waiting, max_kept
        self._lock = threading.Lock()
        self._runs: OrderedDict[Hashable, ScoreRun] = OrderedDict()  # every run not dropped, oldest first
        self._waiting: list[tuple[ScoreRun, Work]] = []
        self._thread: threading.Thread | None = None

    def request(self, key: Hashable, work: Work) -> ScoreRun:
        """The run for ``key``: the one already asked for, or a new one doing ``work``. Raises ``QueueFull``."""
        with self._lock:
            run = self._runs.get(key)
            if run is not None:
                self._runs.move_to_end(key)
                return run
            if len(self._waiting) >= self.max_waiting:
                raise QueueFull(
                    f"The server is scoring {len(self._waiting)} other models right now. "
                    "Reload this page in a minute to see the scores."
                )
            run = ScoreRun(key)
            self._runs[key] = run
            self._waiting.append((run, work))
            self._drop_old()
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name=THREAD_NAME, daemon=True)
                self._thread.start()
        return run

    def _drop_old(self) -> None:
        """Forget the least recently asked-for *finished* runs beyond ``max_kept`` (under the lock)."""
        finished = [k for k, r in self._runs.items() if not r.running]
        for key in finished[: max(0, len(finished) - self.max_kept)]:
            del self._runs[key]

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._thread = None
                    return
                run, work = self._waiting.pop(0)
            self._compute(run, work)
            with self._lock:
                self._drop_old()

    @staticmethod
    def _compute(run: ScoreRun, work: Work) -> None:
        from vae_core.training.slots import share_cores_with_training

        def report(done: int, total: int) -> None:
            run.done, run.total = done, total

        try:
            share_cores_with_training()
            run.result = work(report)
        except ValueError as exc:  # the data cannot be scored (no validation patches, ...): said plainly
            run.error = str(exc)
        except Exception:
            log.exception("scoring failed")
            run.error = UNEXPECTED
        finally:
            run.finished.set()


def evaluation_work(model: Any, data: Any, pca_for: Callable[[int], Any] | None = None) -> Work:
    """The work of scoring ``model`` on every validation patch of ``data`` (``metrics.evaluate``).

    ``pca_for(k)``: the PCA baseline with ``k`` components fitted on ``data.train``, from a cache
    that other views share (the app's Reconstructions grid uses the same one); None fits it here.
    """
    from functools import partial

    return partial(_evaluate, model, data, pca_for)


def _evaluate(model: Any, data: Any, pca_for: Callable[[int], Any] | None, on_progress: Callable) -> Any:
    from vae_core.explore.metrics import evaluate

    pca = pca_for(model.config.latent_dim) if pca_for is not None and len(data.val) else None
    return evaluate(model, data, on_progress=on_progress, pca=pca)


def kl_work(model: Any, data: Any, codes_for: Callable[[], Any] | None = None) -> Work:
    """The work of measuring each latent dimension's mean KL (nats) over ``latent.summary_patches(data)``.

    ``codes_for()``: those patches' ``latent.Codes`` from a cache other views share (the app's
    sliders use the same codes); None encodes them here.
    """
    from functools import partial

    return partial(_kl, model, data, codes_for)


def _kl(model: Any, data: Any, codes_for: Callable[[], Any] | None, on_progress: Callable) -> Any:
    from vae_core.explore.latent import encode, kl_per_dim, summary_patches

    return kl_per_dim(codes_for() if codes_for is not None else encode(model, summary_patches(data)))


def wait_s(default: float) -> float:
    """How long a page waits for its scores before it shows progress: ``$TEXTURE_VAE_SCORE_WAIT_S``, else
    ``default`` (the tests set it high, so that every page run shows the numbers)."""
    try:
        return max(0.0, float(os.environ.get(ENV_WAIT_S, default)))
    except ValueError:
        return default


_LINE: ScoreLine | None = None
_LINE_LOCK = threading.Lock()


def get_score_line() -> ScoreLine:
    """The server-wide line (its runs are keyed by content digests; each holds scores, not anyone's data)."""
    global _LINE
    with _LINE_LOCK:
        if _LINE is None:
            _LINE = ScoreLine()
        return _LINE
