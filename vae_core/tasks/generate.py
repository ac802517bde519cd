"""New textures from a trained model: samples from the prior, interpolations, style mixing and latent arithmetic.

Each function is a pure function of the model and its inputs (codes, settings, a seed), so
that a texture recipe (:mod:`vae_core.tasks.recipe`) that stores those inputs opens exactly
the same pixels again. Large canvases live in :mod:`vae_core.tasks.synthesis`.

Interpolation is shown next to a *pixel cross-fade* of the same two ends: blending in
latent space changes what the texture is (stripes turn, dots grow), while a cross-fade
only superimposes two pictures; seeing both side by side is the honest way to show what
the latent space buys.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from vae_core.explore.latent import decode, lerp, slerp
from vae_core.imaging import tile, to_uint8_hwc

MAX_SAMPLES = 64  # prior samples per grid
TEMPERATURES = (0.3, 1.5)  # allowed range of the prior's temperature
MAX_STEPS = 32  # interpolation frames
METHODS = ("slerp", "lerp")


@dataclass
class Decoded:
    """Codes and their decodes."""

    codes: np.ndarray  # (N, D) float32
    images: np.ndarray  # (N, H, W, C) uint8


def decode_codes(model, codes: np.ndarray) -> Decoded:
    """Decode ``codes`` (N, D) (or one code (D,)) -> :class:`Decoded`."""
    z = np.asarray(codes, np.float32).reshape(-1, int(model.latent_dim))
    return Decoded(z, to_uint8_hwc(decode(model, z)))


def prior_codes(latent_dim: int, n: int, temperature: float = 1.0, seed: int = 0) -> np.ndarray:
    """``n`` draws from the prior N(0, temperature^2 I): (n, latent_dim) float32; the same seed gives the same codes."""
    if not 1 <= n <= MAX_SAMPLES:
        raise ValueError(f"n={n} is out of range; choose 1..{MAX_SAMPLES} samples")
    lo, hi = TEMPERATURES
    if not lo <= temperature <= hi:
        raise ValueError(f"temperature={temperature} is out of range; choose {lo}..{hi}")
    rng = np.random.default_rng(seed)
    return (temperature * rng.standard_normal((n, latent_dim))).astype(np.float32)


def prior_samples(model, n: int, temperature: float = 1.0, seed: int = 0) -> Decoded:
    """Decode ``n`` prior draws (see :func:`prior_codes`): new textures the model invents."""
    return decode_codes(model, prior_codes(int(model.latent_dim), n, temperature, seed))


@dataclass
class Interpolation:
    """A path between two codes, decoded, beside a pixel cross-fade of the same two ends."""

    codes: np.ndarray  # (S, D) the path, ends included
    frames: np.ndarray  # (S, H, W, C) uint8: each code decoded
    crossfade: np.ndarray  # (S, H, W, C) uint8: (1 - t) * first frame + t * last frame, in pixels
    method: str  # "slerp" or "lerp"


def interpolate_ends(model, z0: np.ndarray, z1: np.ndarray, steps: int = 8, method: str = "slerp") -> Interpolation:
    """Interpolate from ``z0`` to ``z1`` (each (D,)) in ``steps`` frames, ends included, by ``method``."""
    if not 2 <= steps <= MAX_STEPS:
        raise ValueError(f"steps={steps} is out of range; choose 2..{MAX_STEPS}")
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not supported; choose one of {METHODS}")
    path = (slerp if method == "slerp" else lerp)(np.ravel(z0), np.ravel(z1), steps)
    decoded = decode(model, path)  # (S, C, H, W) in [0, 1]
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None, None, None]
    fade = (1 - t) * decoded[:1] + t * decoded[-1:]
    return Interpolation(path.astype(np.float32), to_uint8_hwc(decoded), to_uint8_hwc(fade), method)


def _scale(patch: int) -> int:
    return max(1, 96 // patch)  # small patches are enlarged (by pixel repetition) to ~96 px for viewing


def interpolation_strip(interp: Interpolation) -> np.ndarray:
    """Two rows: the latent path (top) and the pixel cross-fade (bottom): (H', W', C) uint8."""
    both = np.concatenate([interp.frames, interp.crossfade])
    return tile(both, cols=len(interp.frames), scale=_scale(interp.frames.shape[1]))


def interpolation_gif(interp: Interpolation, ms_per_frame: int = 150) -> bytes:
    """A looping GIF with one frame per step: the latent frame (left) beside the cross-fade (right)."""
    from PIL import Image

    s = _scale(interp.frames.shape[1])
    frames = []
    for a, b in zip(interp.frames, interp.crossfade, strict=True):
        pair = tile(np.stack([a, b]), cols=2, pad=4, scale=s)
        frames.append(Image.fromarray(pair[:, :, 0] if pair.shape[2] == 1 else pair))
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=ms_per_frame, loop=0)
    return buf.getvalue()


def mix_dimensions(a: np.ndarray, b: np.ndarray, dims: list[int] | np.ndarray) -> np.ndarray:
    """Style mixing: ``dims`` of code ``a`` and every other dimension of ``b``: (D,) float32."""
    a, b = np.asarray(a, np.float32).ravel(), np.asarray(b, np.float32).ravel()
    if a.shape != b.shape:
        raise ValueError(f"codes a and b differ in length ({a.size} vs {b.size}); use codes of the same model")
    idx = np.asarray(dims, dtype=np.int64).ravel()
    if idx.size and (idx.min() < 0 or idx.max() >= a.size):
        raise ValueError(f"dims must be between 0 and {a.size - 1}, got {idx.tolist()}")
    out = b.copy()
    out[idx] = a[idx]
    return out


def latent_arithmetic(a: np.ndarray, b: np.ndarray, c: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """``a + strength * (c - b)``: give ``a`` the change that turns ``b`` into ``c``: (D,) float32."""
    if not -3 <= strength <= 3:
        raise ValueError(f"strength={strength} is out of range; choose -3..3")
    a, b, c = (np.asarray(v, np.float32).ravel() for v in (a, b, c))
    return a + np.float32(strength) * (c - b)


def grid_image(images: np.ndarray, cols: int = 8) -> np.ndarray:
    """A grid of ``(N, H, W, C) uint8`` images, enlarged for viewing: (H', W', C) uint8."""
    return tile(images, cols=cols, scale=_scale(images.shape[1]))
