"""Decode the images of one upload on a few threads, in order, with every check made from headers first.

The loaders (:mod:`vae_core.data.loaders`) hand each file to one :class:`DecodePool`. For every
file, in the caller's thread and in upload order, :func:`~vae_core.data.decode.open_image`
parses the header and runs the size limits and the memory budget; a file that passes has its
decoded size *reserved* in the budget at once, so later files are checked against it before any
of them is decoded. Only then does :func:`~vae_core.data.decode.finish_image` decode the pixels,
on a worker thread (Pillow releases the GIL while it decodes, so threads run in parallel). A
decode that fails gives its reservation back.

Results are taken back in upload order: ``LoadReport.images`` and ``LoadReport.rejected`` come
out exactly as a one-thread load would order them, and at most ``window`` files (compressed
bytes plus an open header each) wait in memory at a time. The optional progress callback is
called in the caller's thread (so a Streamlit page may update a widget from it) with (files
done, files in all).

When the budget refuses a file while decodes are still in flight, the pool waits for them (a
failed one gives its room back) and asks again, so what is kept and what is refused is exactly
what a one-thread load gives; that wait only happens once the budget is full.
"""

from __future__ import annotations

import os
import warnings
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from PIL import Image

from vae_core.config import ImageLimits
from vae_core.data.budget import PixelBudget
from vae_core.data.decode import OpenedImage, finish_image, open_image
from vae_core.data.images import LABEL_FROM_NAME, ImageRejected, LoadReport, Rejection, TextureImage

MAX_DECODE_THREADS = 8  # more threads than this only add memory: decoding is bound by memory bandwidth
WINDOW_PER_THREAD = 4  # files opened ahead of the oldest undecoded one, per thread

# (files done, files in all): called in the loading thread after each file is decoded or refused.
ProgressFn = Callable[[int, int], None]


def decode_threads(in_server: bool = False) -> int:
    """Threads for decoding one upload: the CPU-thread rule of ``training.threads.cpu_threads``.

    A standalone load (the command line, a notebook) uses every core it may run on; inside the
    app's server one core is left for the server and the other visitors, as for training. At most
    :data:`MAX_DECODE_THREADS`, at least 1 (1 decodes in the calling thread, with no pool).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_DECODE_THREADS, cores - 1 if in_server else cores))


class Progress:
    """Counts the files of one upload and reports (done, total) to an optional callback."""

    def __init__(self, total: int, callback: ProgressFn | None = None) -> None:
        self.total = total
        self.done = 0
        self.callback = callback

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more files as done (decoded or refused) and tell the callback."""
        self.done += n
        self.total = max(self.total, self.done)  # a file found late never makes the bar run past 100%
        if self.callback is not None:
            self.callback(self.done, self.total)


class DecodePool:
    """Decode files into ``report`` in submission order; use as a context manager (``with``), then read ``report``."""

    def __init__(
        self,
        report: LoadReport,
        *,
        limits: ImageLimits,
        budget: PixelBudget,
        channels: int | None,
        threads: int = 1,
        progress: Progress | None = None,
    ) -> None:
        self.report = report
        self.limits = limits
        self.budget = budget
        self.channels = channels
        self.progress = progress
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="texture-vae-decode") if threads > 1 else None
        self._window = max(1, threads * WINDOW_PER_THREAD)
        # Oldest first: a finished Rejection, or (future, name, reserved bytes) for a decode in flight.
        self._pending: deque[Rejection | tuple[Future, str, int]] = deque()

    def __enter__(self) -> DecodePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.drain()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True, cancel_futures=True)

    def submit(self, data: bytes, name: str, label: str | None, label_from: str = LABEL_FROM_NAME) -> None:
        """Check ``data``'s header now (limits and budget) and decode it, on a worker thread when there are any.

        ``label`` and the rule that made it (``label_from``), as ``decode_image``'s."""
        try:
            opened = self._open(data, name, label, label_from)
        except ImageRejected as exc:
            self.reject(name, str(exc))
            return
        self.budget.add(opened.nbytes)  # reserved now, so the next header is checked against it
        if self._executor is None:  # one thread: decode here, under the same bomb guard as decode_image
            future: Future = Future()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", Image.DecompressionBombWarning)
                    future.set_result(finish_image(opened))
            except Exception as exc:
                future.set_exception(exc)
        else:
            future = self._executor.submit(finish_image, opened)
        self._pending.append((future, name, opened.nbytes))
        self._settle(block_over=self._window)

    def budget_full(self, smallest: int) -> bool:
        """True when not even an image of ``smallest`` bytes fits the budget, once every decode in flight has
        settled (a failed one gives its room back), so the answer is the one a one-thread load would give."""
        if not self.budget.is_full(smallest):
            return False
        if self._in_flight():
            self.drain()
        return self.budget.is_full(smallest)

    def _open(self, data: bytes, name: str, label: str | None, label_from: str) -> OpenedImage:
        """:func:`open_image`; when the budget refuses the file while decodes are in flight, wait for them
        (one that fails gives its room back) and ask again, so the answer is a one-thread load's."""
        skipped = self.budget.skipped
        try:
            return self._open_once(data, name, label, label_from)
        except ImageRejected:
            if self.budget.skipped == skipped or not self._in_flight():
                raise
        self.budget.skipped = skipped  # the first answer does not count: ask again with every room settled
        self.drain()
        return self._open_once(data, name, label, label_from)

    def _open_once(self, data: bytes, name: str, label: str | None, label_from: str) -> OpenedImage:
        kwargs = {"channels": self.channels, "limits": self.limits, "budget": self.budget}
        return open_image(data, name, label=label, label_from=label_from, **kwargs)

    def _in_flight(self) -> bool:
        return any(not isinstance(entry, Rejection) for entry in self._pending)

    def reject(self, name: str, reason: str) -> None:
        """Record a file refused before decoding, in its place in the upload order."""
        self._pending.append(Rejection(name, reason))
        self._settle(block_over=self._window)

    def drain(self) -> None:
        """Wait for every decode in flight and move all results into ``report``."""
        self._settle(block_over=0)

    def _settle(self, block_over: int) -> None:
        """Move finished results at the head of the queue into the report; wait while more than ``block_over`` wait."""
        while self._pending:
            head = self._pending[0]
            if isinstance(head, Rejection):
                self._pending.popleft()
                self.report.rejected.append(head)
            else:
                future, name, reserved = head
                if not future.done() and len(self._pending) <= block_over:
                    return
                self._pending.popleft()
                self._take(future, name, reserved)
            if self.progress is not None:
                self.progress.advance()

    def _take(self, future: Future, name: str, reserved: int) -> None:
        try:
            image: TextureImage = future.result()
        except ImageRejected as exc:
            self.budget.release(reserved)
            self.report.rejected.append(Rejection(name, str(exc)))
            return
        except Exception:  # a decoder bug must cost one file, not the upload
            self.budget.release(reserved)
            self.report.rejected.append(Rejection(name, f"'{name}' could not be decoded and was skipped."))
            return
        if image.pixels.nbytes != reserved:  # cannot happen for the modes we know; keep the count exact anyway
            self.budget.added += image.pixels.nbytes - reserved
        self.report.images.append(image)
