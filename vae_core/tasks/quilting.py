"""Filling a canvas that wraps around with overlapping decoded patches: the painter, the candidate pool, quilting.

:class:`Painter` holds the weighted sums of the canvas; patches go in with a raised-cosine window
at a stride of half a patch, wrapping round at the edges. :class:`Pool` is a set of decoded
candidate patches and scores how well each agrees with what is already painted under a window.
:func:`quilt` fills the grid with candidates that agree with their neighbours (image quilting,
Efros & Freeman 2001, with the decoder as the source of patches). Kept apart from
:mod:`vae_core.tasks.synthesis`, which decides *which* codes the pool holds (the latent field).
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from vae_core.explore.latent import decode

TOP_K = 3  # the first pass picks at random among this many best-matching candidates


def _pieces(start: int, length: int, total: int) -> list[tuple[slice, slice]]:
    """(patch slice, canvas slice) pairs covering ``start .. start + length`` on a canvas that wraps at ``total``."""
    start %= total
    if start + length <= total:
        return [(slice(0, length), slice(start, start + length))]
    first = total - start
    return [(slice(0, first), slice(start, total)), (slice(first, length), slice(0, length - first))]


def blend_weights(size: int) -> np.ndarray:
    """Raised-cosine window (size, size, 1): with 50% overlap the weights of neighbours sum to exactly 1."""
    w = np.sin(np.pi * (np.arange(size) + 0.5) / size) ** 2
    return np.outer(w, w)[:, :, None].astype(np.float32)


def _shrink(a: np.ndarray, f: int) -> np.ndarray:
    """Block means over f x f pixels of (..., P, P, C) -> (..., P/f, P/f, C)."""
    if f == 1:
        return a
    *lead, p, _, c = a.shape
    return a.reshape(*lead, p // f, f, p // f, f, c).mean(axis=(-4, -2))


class Painter:
    """The canvas being filled: weighted sums and weights on a grid that wraps around."""

    def __init__(self, side: int, patch: int, channels: int) -> None:
        self.side, self.patch = side, patch
        self.acc = np.zeros((side, side, channels), np.float32)
        self.weight = np.zeros((side, side, 1), np.float32)
        self.window = blend_weights(patch)

    def read(self, y: int, x: int) -> tuple[np.ndarray, np.ndarray]:
        """What is already under the patch at (y, x): (weighted sum (P, P, C), weight (P, P, 1))."""
        p = self.patch
        acc = np.empty((p, p, self.acc.shape[2]), np.float32)
        weight = np.empty((p, p, 1), np.float32)
        for py, cy in _pieces(y, p, self.side):
            for px, cx in _pieces(x, p, self.side):
                acc[py, px], weight[py, px] = self.acc[cy, cx], self.weight[cy, cx]
        return acc, weight

    def add(self, y: int, x: int, patch: np.ndarray) -> None:
        """Blend ``patch`` (P, P, C) in at (y, x)."""
        p = self.patch
        for py, cy in _pieces(y, p, self.side):
            for px, cx in _pieces(x, p, self.side):
                self.acc[cy, cx] += patch[py, px] * self.window[py, px]
                self.weight[cy, cx] += self.window[py, px]

    def pixels(self) -> np.ndarray:
        return self.acc / np.maximum(self.weight, 1e-8)

    def _blocks(self, image: np.ndarray, a: int, b: int) -> np.ndarray:
        """The windows of every spot (a + 2j, b + 2i) at once: (n/2, n/2, P, P, C). Spots of one parity class
        do not overlap and together cover the canvas, so this is a roll and a reshape."""
        p, half = self.patch, self.side // self.patch
        rolled = np.roll(image, (-a * p // 2, -b * p // 2), axis=(0, 1))
        return rolled.reshape(half, p, half, p, -1).transpose(0, 2, 1, 3, 4)

    def read_class(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """``read`` for every spot of parity class (a, b): (n/2, n/2, P, P, C) sums and (..., 1) weights."""
        return self._blocks(self.acc, a, b), self._blocks(self.weight, a, b)

    def add_class(self, a: int, b: int, patches: np.ndarray, sign: float = 1.0) -> None:
        """Blend in (sign 1) or take out (sign -1) one patch per spot of parity class (a, b): (n/2, n/2, P, P, C)."""
        p, side = self.patch, self.side
        for target, values in (
            (self.acc, patches * self.window),
            (self.weight, np.broadcast_to(self.window, (*patches.shape[:-1], 1))),
        ):
            image = values.transpose(0, 2, 1, 3, 4).reshape(side, side, -1)
            target += sign * np.roll(image, (a * p // 2, b * p // 2), axis=(0, 1))


def decode_patches(model, z: np.ndarray, done: int, total: int, on_progress) -> np.ndarray:
    """Decode codes (N, D) in batches of 128, reporting progress: -> (N, P, P, C) float32."""
    out = []
    for i in range(0, len(z), 128):
        out.append(decode(model, z[i : i + 128]).transpose(0, 2, 3, 1))
        if on_progress is not None:
            on_progress(done + min(i + 128, len(z)), total)
    return np.concatenate(out)


class Pool:
    """Decoded candidates and how well each agrees with a window of the canvas."""

    def __init__(self, patches: np.ndarray, codes: np.ndarray, origin: np.ndarray, field: np.ndarray, locality: float):
        self.patches, self.codes = patches, codes  # (K, P, P, C) decoded, (K, D) their codes
        self.f = max(1, patches.shape[1] // 16)  # candidates are compared at 16 x 16 (or full size below 16 px)
        small = _shrink(patches, self.f).reshape(len(patches), -1, patches.shape[-1])  # (K, m, C)
        self.sq, self.flat, self.channels = (small**2).sum(-1), small.reshape(len(patches), -1), small.shape[-1]
        self.var = float(patches.var()) + 1e-4
        self.origin, self.field = origin, field  # where in the field each candidate was drawn; the field
        flat = field.reshape(-1, field.shape[-1])
        norm = float(((flat[:, None] - flat[None, :: max(1, len(flat) // 64)]) ** 2).sum(-1).mean())
        self.far = locality / norm if norm > 1e-8 else 0.0  # 0 for one style: every candidate belongs everywhere

    def cost(self, acc: np.ndarray, weight: np.ndarray, spots: np.ndarray) -> np.ndarray:
        """Disagreement of every candidate with windows (B, P, P, C) / (B, P, P, 1) at grid ``spots`` (B, 2): (B, K).

        The mean squared difference over what is already painted (weighted by how much is), in units of the
        pool's variance, plus ``locality`` times how far in the field the candidate was drawn.
        """
        b = len(acc)
        weight = _shrink(weight, self.f)
        w = weight.reshape(b, -1)
        known = (_shrink(acc, self.f) / np.maximum(weight, 1e-6)).reshape(b, -1)
        cost = (w @ self.sq.T - 2 * (np.repeat(w, self.channels, axis=1) * known) @ self.flat.T) / (
            np.maximum(w.sum(1, keepdims=True), 1e-6) * self.var
        )
        if self.far:
            here = self.field[spots[:, 0], spots[:, 1]]
            cost += self.far * ((self.origin[None] - here[:, None]) ** 2).sum(-1)
        return cost


def quilt(painter: Painter, pool: Pool, rng: np.random.Generator, on_progress=None, done: int = 0, total: int = 0):
    """Fill every spot of ``painter``'s grid with a pool candidate that agrees with its neighbours: -> picks (n, n).

    First pass, in reading order: each spot takes one of the ``TOP_K`` candidates that best agree with
    what is painted so far. Spot (gy, gx) overlaps the spots left of it, above-left, above and above-right,
    so the spots of one "wavefront" 2*gy + gx = t overlap none of each other and are matched together.
    Second pass: each spot is taken out and chosen again (the best one) now that all its neighbours are
    painted; on a seamless canvas this mends the last column and row, which met the first ones late.
    ``on_progress(done + spots so far, total)`` after each step.
    """
    p = painter.patch
    stride, n = p // 2, painter.side // (p // 2)
    picks = np.zeros((n, n), np.int64)
    with threadpool_limits(1, user_api="blas"):  # small products: extra threads only contend on a busy CPU
        for t in range(3 * (n - 1) + 1):
            wave = np.array([(gy, t - 2 * gy) for gy in range(n) if 0 <= t - 2 * gy < n])
            reads = [painter.read(gy * stride, gx * stride) for gy, gx in wave]
            cost = pool.cost(np.stack([r[0] for r in reads]), np.stack([r[1] for r in reads]), wave)
            best = np.argpartition(cost, TOP_K - 1, axis=1)[:, :TOP_K]
            for (gy, gx), options in zip(wave, best, strict=True):
                picks[gy, gx] = int(rng.choice(options))
                painter.add(gy * stride, gx * stride, pool.patches[picks[gy, gx]])
            done += len(wave)
            if on_progress is not None:
                on_progress(done, total)
        grid = np.stack(np.meshgrid(np.arange(n), np.arange(n), indexing="ij"), axis=-1)  # (n, n, 2) spots
        for a, b in ((0, 0), (0, 1), (1, 0), (1, 1)):
            painter.add_class(a, b, pool.patches[picks[a::2, b::2]], -1.0)
            acc, weight = painter.read_class(a, b)
            h = acc.shape[0]
            where = grid[a::2, b::2].reshape(-1, 2)
            cost = pool.cost(acc.reshape(h * h, p, p, -1), weight.reshape(h * h, p, p, 1), where)
            picks[a::2, b::2] = cost.argmin(axis=1).reshape(h, h)
            painter.add_class(a, b, pool.patches[picks[a::2, b::2]])
            done += h * h
            if on_progress is not None:
                on_progress(done, total)
    return picks
