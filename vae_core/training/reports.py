"""What a training job reports while it runs: a ``Preview`` of reconstructions, and errors in plain words.

Kept apart from ``jobs`` (where a run is queued and watched) and ``worker`` (the process that
trains) because both make and read these: the worker builds previews next to the model, the
job hands them to the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


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


def make_preview(model: Any, patches: np.ndarray, step: int) -> Preview | None:
    """Reconstruct ``patches`` (n, C, P, P) uint8 with ``model`` (on its own device) -> ``Preview``; None if n == 0.

    Call it between optimisation steps, from the thread that trains: it switches the model to
    eval mode for the forward pass and back.
    """
    import torch

    if len(patches) == 0:
        return None
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    try:
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(patches)).to(device).float().div_(255)
            mu, _ = model.encode(x)
            rec = model.decode(mu).float().cpu().numpy()
    finally:
        model.train(was_training)
    recons = np.clip(rec * 255.0 + 0.5, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    return Preview(step=step, originals=patches.transpose(0, 2, 3, 1).copy(), recons=recons)


def plain_error(exc: BaseException) -> str:
    """One sentence for a person; the traceback goes to the server log instead."""
    text = str(exc).strip()
    if "out of memory" in text.lower():
        return "The device ran out of memory. Try a smaller batch size or patch size."
    if isinstance(exc, ValueError) and text:
        return text[0].upper() + text[1:] if text[0].islower() else text
    detail = f"{type(exc).__name__}: {text or 'no details'}"
    return f"Training failed unexpectedly ({detail}). Try again or change the settings."


def free_device(model: Any) -> None:
    """Move ``model`` back to the CPU and return cached GPU memory, so a failed run leaves the GPU free."""
    import torch

    try:
        on_gpu = any(p.device.type == "cuda" for p in model.parameters())
        model.to("cpu")
    except Exception:  # a model in a broken state must not hide the error that broke it
        return
    if on_gpu and torch.cuda.is_available():
        torch.cuda.empty_cache()
