"""The one shape of every "VAE vs classic" result: :class:`TaskResult` holds a :class:`MethodResult` per method.

A task (restore, compress, generate, analyze) runs the VAE and the classic baselines on the
same input and measures each the same way. The result says, in plain words and whichever
side wins, how the VAE compares with the best classic method (:meth:`TaskResult.verdict`),
and exports its table as CSV.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Metric:
    """How one measure is named, read and shown."""

    name: str  # "PSNR", "SSIM", "bits per pixel"
    higher_is_better: bool
    digits: int = 2  # decimals shown
    unit: str = ""  # " dB", "" ...: appended to values in words and tables
    help: str = ""  # one plain sentence: what it measures
    best_at: float | None = None  # when set, closest to this value is best (a seam ratio of 1); else higher/lower

    def goodness(self, value: float) -> float:
        """Higher is better: the value itself, its negative, or minus its distance from ``best_at``."""
        if self.best_at is not None:
            return -abs(value - self.best_at)
        return value if self.higher_is_better else -value


@dataclass
class MethodResult:
    """One method's output and scores."""

    name: str  # "VAE", "Non-local means", "JPEG" ...
    is_vae: bool  # True for the model's method, False for a classic baseline
    metrics: dict[str, float]  # Metric.name -> value
    output: np.ndarray | None = None  # (H, W, C) uint8 picture it produced, if any
    seconds: float = 0.0  # wall time it took
    note: str = ""  # plain words: how it was made, or its limits


@dataclass
class TaskResult:
    """Every method's result on the same input, measured the same way."""

    task: str  # "denoise", "inpaint", "compress", ...: what was done, in words
    metrics: list[Metric]  # the measures, the first is the headline
    methods: list[MethodResult]  # the VAE's and every classic baseline's
    reference: np.ndarray | None = None  # (H, W, C) uint8 clean original, when there is one
    damaged: np.ndarray | None = None  # (H, W, C) uint8 the input the methods started from, when not the original
    extra: dict[str, object] = field(default_factory=dict)  # task-specific details (settings, curves)

    def metric(self, name: str | None = None) -> Metric:
        """The metric called ``name`` (default: the headline, the first)."""
        if name is None:
            return self.metrics[0]
        for m in self.metrics:
            if m.name == name:
                return m
        raise ValueError(f"metric {name!r} is not measured here; choose one of {[m.name for m in self.metrics]}")

    @property
    def vae(self) -> MethodResult:
        """The VAE's result (the first method marked ``is_vae``)."""
        for m in self.methods:
            if m.is_vae:
                return m
        raise ValueError(f"this {self.task} result has no VAE method")

    @property
    def classic(self) -> list[MethodResult]:
        """The classic baselines' results."""
        return [m for m in self.methods if not m.is_vae]

    def best_classic(self, metric: str | None = None) -> MethodResult | None:
        """The classic method that scores best on ``metric`` (default: the headline); None if there is none."""
        m = self.metric(metric)
        scored = [r for r in self.classic if np.isfinite(r.metrics.get(m.name, np.nan))]
        if not scored:
            return None
        return max(scored, key=lambda r: m.goodness(r.metrics[m.name]))

    def vae_margin(self, metric: str | None = None) -> float | None:
        """How much better (> 0) or worse (< 0) the VAE is than the best classic method on ``metric``."""
        m, best = self.metric(metric), self.best_classic(metric)
        if best is None or not np.isfinite(self.vae.metrics.get(m.name, np.nan)):
            return None
        return m.goodness(self.vae.metrics[m.name]) - m.goodness(best.metrics[m.name])

    def verdict(self, metric: str | None = None) -> str:
        """One plain sentence, whichever side wins: how the VAE compares with the best classic method."""
        m, best, margin = self.metric(metric), self.best_classic(metric), self.vae_margin(metric)
        if best is None:
            return f"No classic method was measured on {m.name} for this {self.task}."
        if margin is None:
            return f"The VAE's {m.name} could not be measured for this {self.task}."
        amount = f"by {abs(margin):.{m.digits}f}{m.unit} {m.name}"
        if m.best_at is not None:  # "by 0.12 closer to 1" reads badly: give both values instead
            v, b = self.vae.metrics[m.name], best.metrics[m.name]
            amount = f"on {m.name}: {v:.{m.digits}f}{m.unit} against {b:.{m.digits}f}{m.unit} ({m.best_at:g} is best)"
        if round(margin, m.digits) == 0:
            return f"The VAE and {best.name}, the best classic method here, are level on {m.name}."
        if margin > 0:
            return f"The VAE beats {best.name}, the best classic method here, {amount}."
        return f"The VAE loses to {best.name}, the best classic method here, {amount}."

    def caption(self, method: MethodResult) -> str:
        """One line for a picture: "VAE · 23.26 dB · SSIM 0.585 · bits per pixel 0.090" (name, then every score)."""
        scores = [
            f"{method.metrics[m.name]:.{m.digits}f}{m.unit}"
            if m.unit
            else f"{m.name} {method.metrics[m.name]:.{m.digits}f}"
            for m in self.metrics
            if m.name in method.metrics
        ]
        return " · ".join([method.name, *scores])

    def rows(self) -> list[dict[str, object]]:
        """One row per method: name, kind, every metric (NaN where not measured), seconds (for a table)."""
        return [
            {"method": r.name, "kind": "VAE" if r.is_vae else "classic"}
            | {m.name: _or_nan(r.metrics.get(m.name)) for m in self.metrics}
            | {"seconds": r.seconds}
            for r in self.methods
        ]

    def to_csv(self) -> str:
        """The table of :meth:`rows` as CSV text."""
        buf = io.StringIO()
        rows = self.rows()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["method"], lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()} for row in rows)
        return buf.getvalue()


def _or_nan(value: float | None) -> float:
    """A metric's value, NaN when it was not measured (None or missing): tables show NaN as a dash."""
    return float("nan") if value is None else value
