"""How a training run's progress is said to a person: durations, time left, the progress bar's caption.

Plain functions of a ``training.fit.StepInfo``, kept beside the job so that the app, the
command line and a notebook word progress the same way.
"""

from __future__ import annotations

from typing import Any


def duration(seconds: float) -> str:
    """'45 s', '2 min': how the app says a length of time."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def time_left(info: Any) -> str:
    """'about 12 s left' while time remains; 'finishing…' once the budget is spent (final check, saving)."""
    if info is None or info.eta_s is None:
        return ""
    return f"about {duration(info.eta_s)} left" if info.eta_s >= 0.5 else "finishing…"


def device_words(device: str | None) -> str:
    """'CPU', 'GPU (NVIDIA H200)', 'GPU (Apple)': a torch device string as the app says it.

    torch is imported only for a CUDA device (whose name it knows); a session that has one has
    already imported it.
    """
    kind = str(device or "cpu").split(":")[0]
    if kind == "cuda":
        try:
            import torch

            return f"GPU ({torch.cuda.get_device_name(torch.device(str(device)))})"
        except Exception:  # no driver here (a checkpoint trained elsewhere): the kind is still right
            return "GPU"
    return {"cpu": "CPU", "mps": "GPU (Apple)"}.get(kind, str(device))


def progress_text(info: Any, device: str | None) -> str:
    """'Step 1,234 · 40% · about 12 s left · on CPU': the progress bar's caption while a run trains."""
    left = time_left(info)
    return f"Step {info.step:,} · {info.progress:.0%}{' · ' + left if left else ''} · on {device_words(device)}"


def steps_estimate(patches_per_s: float, presets: list, batch_size: int | None = None) -> str:
    """'Quick ≈ 190, Balanced ≈ 760, ...': steps each preset would train at a measured speed.

    Steps = patches per second x seconds / patches per step, at the batch size the next run
    would use (``batch_size``, else each preset's own).
    """
    return ", ".join(
        f"{p.name} ≈ {patches_per_s * p.train.seconds / (batch_size or p.train.batch_size):,.0f}" for p in presets
    )


def queue_text(position: int | None, wait_s: float | None) -> str:
    """'number 2 in the queue, about 3 min': where a waiting run stands, and how long it may wait."""
    wait = "" if wait_s is None else f", about {duration(wait_s)}" if wait_s >= 5 else ", starting any moment"
    return f"number {position or 1} in the queue{wait}"
