"""Frames for the live latent sliders: slider ranges, strips of decodes along each slider, sprites.

The sliders page pre-decodes a short strip of frames along every slider's range (the other
dimensions fixed) so that the browser can show a picture while a thumb moves, with no
server round trip. Decoding is the slow part (about 10-15 ms per 32 px patch on one CPU
core for the starter model), so ``StripJob`` decodes the strips one dimension at a time in a
background thread, most-used dimension first, and can be cancelled when the user moves on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from vae_core.explore.latent import Codes, active_dimensions, kl_per_dim, rank_dimensions, traverse
from vae_core.imaging import data_url, to_png, to_uint8_hwc

STRIP_FRAMES = 13  # frames pre-decoded along each slider (the browser cross-fades between them)


def slider_ranges(mu: np.ndarray, n_sigma: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension slider range from a set of latent means: mu (N, D) -> (lo, hi), each (D,).

    mean +- ``n_sigma`` standard deviations of the dataset's codes, widened to at least
    +-1 around the mean so that a collapsed dimension still gets a usable slider.
    """
    mu = np.asarray(mu, dtype=np.float64)
    if mu.ndim != 2 or len(mu) == 0:
        raise ValueError(f"mu must be a non-empty (N, D) array; got shape {mu.shape}. Encode some patches first")
    if n_sigma <= 0:
        raise ValueError(f"n_sigma={n_sigma} must be positive; 3 is typical")
    mean, half = mu.mean(0), np.maximum(n_sigma * mu.std(0), 1.0)
    return (mean - half).astype(np.float32), (mean + half).astype(np.float32)


@dataclass
class SliderSetup:
    """What the Latent sliders need to lay out one slider per dimension, measured on one set of codes."""

    kl: np.ndarray  # (D,) mean KL per dimension, in nats: how much the model uses it
    order: np.ndarray  # (D,) dimension indices, most used first
    active: np.ndarray  # (D,) bool: dimensions that carry information (KL above ACTIVE_KL_NATS)
    lo: np.ndarray  # (D,) float32 slider minimum: mean - 3 std of the codes (at least 1 below)
    hi: np.ndarray  # (D,) float32 slider maximum


def slider_setup(codes: Codes) -> SliderSetup:
    """Rank, activity and ranges of every dimension from ``codes`` (e.g. ``encode(model, summary_patches(data))``)."""
    lo, hi = slider_ranges(codes.mu)
    return SliderSetup(
        kl=kl_per_dim(codes), order=rank_dimensions(codes), active=active_dimensions(codes), lo=lo, hi=hi
    )


def rank_label(rank: int, active: bool = True) -> str:
    """A slider's name for people: ``"#1 · most used"``, ``"#2"``...; ``"unused"`` for an inactive one.

    ``rank`` is 0-based, in the order of ``SliderSetup.order`` (most used first).
    """
    if not active:
        return "unused"
    return f"#{rank + 1}" + (" · most used" if rank == 0 else "")


def strip_frames(model: Any, z0: np.ndarray, dims: list[int], values: np.ndarray) -> np.ndarray:
    """Decode z0 with dims[i] set to each of values[i]: values (len(dims), S) -> (len(dims), S, H, W, C) uint8."""
    frames = traverse(model, z0, dims, np.asarray(values, np.float32).reshape(len(dims), -1))
    return to_uint8_hwc(frames.reshape(-1, *frames.shape[2:])).reshape(*frames.shape[:2], *frames.shape[3:], -1)


def sprite_png(frames: np.ndarray) -> bytes:
    """Frames (S, H, W, C) uint8 side by side -> one PNG (H, S*W)."""
    frames = np.asarray(frames)
    return to_png(np.concatenate(list(frames), axis=1))


class StripJob:
    """Decode one sprite per dimension in a background thread, in the given order; cancellable.

    ``sprites`` maps dimension -> PNG data URL and fills up as the thread goes; read it at any
    time (a dict assignment is atomic). ``done`` is set when every strip is ready or the job
    was cancelled. The model must not be trained while the job runs (the app trains copies).
    """

    def __init__(
        self, model: Any, z0: np.ndarray, dims: list[int], values: np.ndarray, token: str, start_delay_s: float = 0.0
    ) -> None:
        self.token = token  # what the strips belong to (model version + code), chosen by the caller
        self.start_delay_s = start_delay_s  # wait this long first, e.g. to let the caller's reply go out
        self.sprites: dict[int, str] = {}
        self.error: str | None = None
        self.done = threading.Event()
        self._cancel = threading.Event()
        self._args = (model, np.asarray(z0, np.float32).copy(), [int(d) for d in dims], np.asarray(values, np.float32))
        self._thread = threading.Thread(target=self._run, name=f"strips-{token[:8]}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from vae_core.training.threads import background_priority

        background_priority()  # previews are a nicety: the page someone is clicking goes first
        model, z0, dims, values = self._args
        if self._cancel.wait(self.start_delay_s):
            self.done.set()
            return
        try:
            for i, d in enumerate(dims):
                if self._cancel.is_set():
                    return
                frames = strip_frames(model, z0, [d], values[i : i + 1])[0]
                self.sprites[d] = data_url(sprite_png(frames))
        except Exception as exc:  # reported by the page; the sliders still work without previews
            self.error = str(exc)
        finally:
            self.done.set()

    def cancel(self) -> None:
        self._cancel.set()
