"""Memory budgets: what one upload and one session may hold, and whether the whole server is full.

* :class:`PixelBudget` counts an upload's decoded pixels against ``ImageLimits``' per-upload and
  per-session budgets. The decoder asks it *from each image's header*, before any pixel is
  decoded, so a 359 KB zip that would decode to gigabytes costs nothing: the images that fit
  are kept, the others are skipped by name with the limit in plain words.
* :func:`server_full_message` is the server-wide guard: ``None`` while the process is below its
  memory ceiling, else "the server is full, try again in a minute". Call it before any new
  work a visitor starts that needs a lot of memory (an upload, a checkpoint, a training job).
* :func:`session_memory` adds up what one session holds (images, patches, model), for the
  sidebar.
* :class:`GarbageCollector` runs Python's full collection once a minute for the whole server,
  in place of Streamlit's collection after *every* script run (``runner.postScriptGC``, turned
  off in ``.streamlit/config.toml``): with torch and UMAP's compiled code loaded, one full
  collection takes about 0.25 s of the one GIL, and a class of 20 makes several script runs a
  second, so collecting after each one was most of the server's time (README, Reliability).

Kept in ``data`` (the lowest layer that knows images) so that the loaders, the checkpoint reader
and the training jobs can all use it. Standard library only: the process's memory comes from
``/proc`` on Linux (``psutil`` would be a dependency for two numbers), and torch objects are
measured by duck typing (``.nbytes``), so nothing here imports torch.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vae_core.config import ImageLimits, ServerBudgets
from vae_core.data.images import ImageRejected, LoadReport, Rejection, format_bytes
from vae_core.periodic import Periodic

# Modes Pillow opens that the decoder keeps as one grey channel (everything else becomes RGB).
_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "F"})
# Share of the machine's (or container's) memory the process may use before it counts as full
# when TEXTURE_VAE_MEMORY_CEILING_MB is not set; the rest is headroom for the work already running.
DEFAULT_CEILING_FRACTION = 0.85


def decoded_channels(mode: str, channels: int | None) -> int:
    """Channels the decoder will keep for a Pillow ``mode``: 1 for grey modes, else 3; ``channels`` wins when set."""
    if channels is not None:
        return channels
    return 1 if mode in _GREY_MODES or mode.startswith("I;16") else 3


@dataclass
class PixelBudget:
    """The decoded-pixel budget of one upload: what the session held before it, and what it added.

    Create one per upload, pass it to the loader (``load_files(..., budget=...)``), then read
    :meth:`summary`. Sizes are bytes of decoded ``uint8`` pixels, H * W * C.
    """

    limits: ImageLimits
    held: int = 0  # bytes of images the session already held before this upload
    added: int = 0  # bytes this upload has added so far
    kept: int = 0  # images this upload kept
    skipped: int = 0  # images skipped because they did not fit
    hit: str | None = None  # which budget skipped the last one: "session" or "upload"

    def room(self) -> tuple[int | None, str | None]:
        """(bytes left under the tighter budget, "session" or "upload"); (None, None) when there is no budget."""
        options = []
        if self.limits.max_session_pixel_bytes is not None:
            options.append((self.limits.max_session_pixel_bytes - self.held - self.added, "session"))
        if self.limits.max_upload_pixel_bytes is not None:
            options.append((self.limits.max_upload_pixel_bytes - self.added, "upload"))
        if not options:
            return None, None
        left, which = min(options)
        return max(0, left), which

    def is_full(self, smallest: int) -> bool:
        """True when not even an image of ``smallest`` bytes fits any more (so it need not be read at all)."""
        left, _ = self.room()
        return left is not None and left < smallest

    def check(self, name: str, width: int, height: int, channels: int) -> int:
        """Return the image's decoded size in bytes, or raise ``ImageRejected`` when it does not fit.

        Called with the header's size, before decoding; nothing is counted until :meth:`add`.
        """
        need = width * height * channels
        left, which = self.room()
        if left is None or need <= left:
            return need
        self.skipped += 1
        self.hit = which
        kind = "grey" if channels == 1 else "colour"
        raise ImageRejected(
            name,
            f"'{name}' was skipped: opened, it would take {format_bytes(need)} of memory "
            f"({width}x{height} {kind}), more than the {format_bytes(left)} left in {self._which(which)}. "
            + self._fix(which),
        )

    def refuse_unread(self, name: str) -> ImageRejected:
        """The rejection for a file skipped without reading it, because the budget is already full."""
        self.skipped += 1
        _, self.hit = self.room()
        return ImageRejected(name, f"'{name}' was skipped: {self._which(self.hit)} is full. " + self._fix(self.hit))

    def add(self, nbytes: int) -> None:
        """Count one decoded image of ``nbytes`` that was kept."""
        self.added += nbytes
        self.kept += 1

    def release(self, nbytes: int) -> None:
        """Undo one :meth:`add`: an image whose room was reserved from its header failed to decode."""
        self.added -= nbytes
        self.kept -= 1

    def summary(self) -> str | None:
        """One plain sentence when images were skipped for the budget, e.g. "Kept 40 images (590.0 MB);
        skipped 12: this session's image budget of 600.0 MB is full."; None when nothing was."""
        if not self.skipped:
            return None
        kept = f"Kept {self.kept} image{'s' if self.kept != 1 else ''} ({format_bytes(self.added)})"
        return f"{kept}; skipped {self.skipped}: {self._which(self.hit)} is full. {self._fix(self.hit)}"

    def _which(self, which: str | None) -> str:
        if which == "upload":
            return f"the budget of {format_bytes(self.limits.max_upload_pixel_bytes or 0)} per upload"
        return f"this session's image budget of {format_bytes(self.limits.max_session_pixel_bytes or 0)}"

    @staticmethod
    def _fix(which: str | None) -> str:
        if which == "upload":
            return "Upload the rest separately, or use smaller images."
        return "Remove some images on the Data page, or use smaller ones."


def keep_within_budget(report: LoadReport, limits: ImageLimits, held: int = 0) -> LoadReport:
    """``report`` with the images that do not fit the budget moved to its rejections, in order.

    For images decoded elsewhere (the built-in samples, a webcam shot) and as the last check
    before a session adopts images; uploads are checked earlier, from their headers, by the
    loaders. ``held``: decoded pixel bytes the session already holds.
    """
    budget = PixelBudget(limits, held=held)
    out = LoadReport(rejected=list(report.rejected))
    for image in report.images:
        height, width, channels = image.pixels.shape
        try:
            budget.check(image.name, width, height, channels)
        except ImageRejected as exc:
            out.rejected.append(Rejection(image.name, str(exc)))
            continue
        budget.add(int(image.pixels.nbytes))
        out.images.append(image)
    out.note = budget.summary() or report.note
    return out


# --- the server-wide guard --------------------------------------------------------------------


def process_memory_bytes() -> int | None:
    """This process's resident memory now, in bytes (Linux: ``/proc/self/statm``).

    Elsewhere the peak so far (``resource.getrusage``), which can only overstate; None if unknown.
    """
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (OSError, ValueError):  # pragma: no cover - getrusage exists on every POSIX system
        return None
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # macOS says bytes, Linux KiB


def machine_memory_bytes() -> int | None:
    """Memory this process may use in all: the machine's RAM, or a container's lower limit; None if unknown."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:  # "max" or a huge number means no limit
            found.append(int(text))
    return min(found) if found else None


def memory_ceiling_bytes(budgets: ServerBudgets | None = None) -> int | None:
    """Process memory above which the server counts as full: ``TEXTURE_VAE_MEMORY_CEILING_MB`` when set,
    else 85% of :func:`machine_memory_bytes`; None (no guard) when neither is known."""
    budgets = budgets if budgets is not None else ServerBudgets.from_env()
    if budgets.memory_ceiling_bytes is not None:
        return budgets.memory_ceiling_bytes
    total = machine_memory_bytes()
    return int(total * DEFAULT_CEILING_FRACTION) if total else None


def server_full_message(
    budgets: ServerBudgets | None = None, *, used: int | None = None, ceiling: int | None = None
) -> str | None:
    """None while the server has room for new work; else a plain sentence to show instead of starting it.

    The server-wide memory guard. Call it before anything a visitor starts that needs a lot of
    memory: decoding an upload, opening a checkpoint, starting a training job. It compares this
    process's resident memory (:func:`process_memory_bytes`, or ``used``) with the ceiling
    (:func:`memory_ceiling_bytes`, or ``ceiling``). Work already running is never stopped; the
    message asks the visitor to try again once others' work has finished and freed memory.
    """
    limit = ceiling if ceiling is not None else memory_ceiling_bytes(budgets)
    now = used if used is not None else process_memory_bytes()
    if limit is None or now is None or now < limit:
        return None
    return (
        f"The server is full right now (it is using {format_bytes(now)} of its {format_bytes(limit)} limit), "
        "so it cannot take on more work. Please try again in a minute."
    )


class GarbageCollector(Periodic):
    """Runs ``gc.collect()`` (all generations) every ``every_s`` seconds once started (``vae_core.periodic``).

    Python's own collector still runs as usual between these (it collects the young generations
    often and the oldest when it has grown by a quarter); this only bounds how long cyclic
    garbage, such as a closed session's objects, can stay in memory. ``runs`` counts the
    collections.
    """

    thread_name = "texture-vae-gc"

    def __init__(self, every_s: float = 60.0) -> None:
        super().__init__(every_s)
        self.runs = 0

    def tick(self) -> int:
        """One full collection now; returns the number of unreachable objects found."""
        found = gc.collect()
        self.runs += 1
        return found


# --- what one session holds -----------------------------------------------------------------


@dataclass
class SessionMemory:
    """Bytes one session holds, by kind."""

    images: int  # decoded source images
    patches: int  # training + validation patches and their labels
    model: int  # model weights, plus the optimiser state kept for resuming

    @property
    def total(self) -> int:
        return self.images + self.patches + self.model

    def describe(self) -> str:
        """E.g. "45.2 MB (images 30.0 MB, patches 0.5 MB, model 5.2 MB)": one unit, one decimal, for a glance."""
        mb = [f"{n / 1e6:,.1f} MB" for n in (self.total, self.images, self.patches, self.model)]
        return f"{mb[0]} (images {mb[1]}, patches {mb[2]}, model {mb[3]})"


def session_memory(
    images: Iterable[Any] = (), dataset: Any = None, model: Any = None, train_state: Any = None
) -> SessionMemory:
    """Add up the ``nbytes`` of a session's images (``TextureImage``), patches (``PatchDataset``),
    model (a torch module: parameters and buffers) and ``TrainState`` (optimiser tensors, RNG)."""
    image_bytes = sum(int(im.pixels.nbytes) for im in images)
    patch_bytes = 0
    if dataset is not None:
        arrays = ("train", "val", "train_labels", "val_labels", "train_image_ids", "val_image_ids")
        patch_bytes = sum(int(getattr(dataset, a).nbytes) for a in arrays)
    model_bytes = 0
    if model is not None:
        model_bytes += sum(int(t.nbytes) for t in model.parameters()) + sum(int(t.nbytes) for t in model.buffers())
    if train_state is not None:
        model_bytes += _tensor_bytes(getattr(train_state, "optimizer", None)) + _tensor_bytes(
            getattr(train_state, "rng_state", None)
        )
    return SessionMemory(images=image_bytes, patches=patch_bytes, model=model_bytes)


def _tensor_bytes(obj: Any, depth: int = 0) -> int:
    """``nbytes`` of every tensor or array inside nested dicts/lists (an optimiser's state_dict)."""
    if obj is None or depth > 6:
        return 0
    if isinstance(obj, dict):
        return sum(_tensor_bytes(v, depth + 1) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(v, depth + 1) for v in obj)
    nbytes = getattr(obj, "nbytes", None)
    return int(nbytes) if isinstance(nbytes, int) else 0
