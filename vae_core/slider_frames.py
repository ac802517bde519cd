"""Frames for the live latent sliders: slider ranges, strips of decodes along each slider, sprites.

The sliders page pre-decodes a short strip of frames along every slider's range (the other
dimensions fixed) so that the browser can show a picture while a thumb moves, with no
server round trip. Decoding is the slow part (about 10-15 ms per 32 px patch on one CPU
core for the starter model), so ``StripJob`` decodes the strips one dimension at a time in a
background thread, most-used dimension first, and can be cancelled when the user moves on.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

import numpy as np

from .fullimage import to_png


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


def center_patch(pixels: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop an (H, W, C) uint8 image to a square and resize it to ``size``: -> (C, size, size) uint8."""
    from PIL import Image

    h, w = pixels.shape[:2]
    s = min(h, w)
    crop = pixels[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    if s != size:
        img = Image.fromarray(crop.squeeze(-1) if crop.shape[-1] == 1 else crop)
        crop = np.asarray(img.resize((size, size), Image.Resampling.LANCZOS))
        crop = crop[..., None] if crop.ndim == 2 else crop
    return np.ascontiguousarray(crop.transpose(2, 0, 1))


def decode_strips(model: Any, z0: np.ndarray, dims: list[int], values: np.ndarray) -> np.ndarray:
    """Decode z0 with dims[i] set to each of values[i].

    z0: (D,); values: (len(dims), S) -> frames (len(dims), S, H, W, C) uint8.
    """
    from .latent import decode, to_uint8_hwc

    z0 = np.asarray(z0, dtype=np.float32).reshape(-1)
    values = np.asarray(values, dtype=np.float32).reshape(len(dims), -1)
    z = np.repeat(z0[None, None, :], len(dims), 0).repeat(values.shape[1], 1)
    for i, d in enumerate(dims):
        if not 0 <= d < len(z0):
            raise ValueError(f"dimension {d} does not exist; the code has {len(z0)} dimensions")
        z[i, :, d] = values[i]
    frames = to_uint8_hwc(decode(model, z.reshape(-1, len(z0))))
    return frames.reshape(len(dims), values.shape[1], *frames.shape[1:])


def sprite_png(frames: np.ndarray) -> bytes:
    """Frames (S, H, W, C) uint8 side by side -> one PNG (H, S*W)."""
    frames = np.asarray(frames)
    return to_png(np.concatenate(list(frames), axis=1))


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


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
        model, z0, dims, values = self._args
        if self._cancel.wait(self.start_delay_s):
            self.done.set()
            return
        try:
            for i, d in enumerate(dims):
                if self._cancel.is_set():
                    return
                frames = decode_strips(model, z0, [d], values[i : i + 1])[0]
                self.sprites[d] = data_url(sprite_png(frames))
        except Exception as exc:  # reported by the page; the sliders still work without previews
            self.error = str(exc)
        finally:
            self.done.set()

    def cancel(self) -> None:
        self._cancel.set()
