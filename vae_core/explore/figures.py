"""Plotly figures as plain dicts: training curves, per-dimension usage, counts, VAE-vs-PCA scatter.

One home for figures. Like ``explore.latent_map.map_figure``, each function returns a plain
dict in Plotly's figure schema, so nothing here imports plotly: a page passes the dict to
``st.plotly_chart`` (Streamlit accepts ``plotly.graph_objects.Figure(dict)``), and a
notebook does ``plotly.graph_objects.Figure(loss_figure(history)).show()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_POINTS = 600  # per curve: enough to see the shape, small enough to redraw every 2 s


def _bucket(x: list, y: list) -> tuple[np.ndarray, np.ndarray]:
    """Average long curves into at most MAX_POINTS buckets (also smooths per-batch noise)."""
    xs, ys = np.asarray(x, float), np.asarray(y, float)
    if len(xs) <= MAX_POINTS:
        return xs, ys
    edges = np.linspace(0, len(xs), MAX_POINTS + 1).astype(int)[:-1]
    counts = np.diff(np.append(edges, len(xs)))
    return np.add.reduceat(xs, edges) / counts, np.add.reduceat(ys, edges) / counts


def _padded_range(y: list, min_span: float) -> list[float] | None:
    """A y range at least ``min_span`` wide around the data, so a flat curve gets round tick labels
    (plotly would otherwise zoom into a 1e-5 wiggle and label it 20.00001, 20.00002, ...)."""
    ys = np.asarray(y, float)
    ys = ys[np.isfinite(ys)]
    if len(ys) == 0 or ys.max() - ys.min() >= min_span:
        return None  # plotly's own autorange
    mid = (ys.max() + ys.min()) / 2
    return [mid - min_span / 2, mid + min_span / 2]


def _cut_spike(y: list, always: bool = False) -> list[float] | None:
    """A y range [0, 1.15 x the 98th percentile], so that one early spike does not flatten the rest.

    A linear axis (plotly's log ticks ignore tickformat and print 4999.999999999999). The
    starter's KL starts at ~1,100 nats at step 1, then runs at tens: without the cut, the curve
    is a flat line at the bottom. Only when the top is a spike (above 1.5x the cut), unless ``always``.
    """
    ys = np.asarray(y, dtype=float)
    ys = ys[np.isfinite(ys)]
    if not ys.size:
        return None
    top = float(np.percentile(ys, 98)) * 1.15
    return [0.0, top] if top > 0 and (always or ys.max() > 1.5 * top) else None


def _panels(titles: list[str], spacing: float = 0.07) -> dict[str, Any]:
    """Layout of ``len(titles)`` side-by-side panels (what ``make_subplots(rows=1, cols=n)`` builds)."""
    n = len(titles)
    width = (1 - spacing * (n - 1)) / n
    layout: dict[str, Any] = {"annotations": []}
    for i, title in enumerate(titles):
        x0 = i * (width + spacing)
        suffix = "" if i == 0 else str(i + 1)
        layout[f"xaxis{suffix}"] = {"domain": [x0, x0 + width], "anchor": f"y{suffix}", "title": {"text": "step"}}
        layout[f"yaxis{suffix}"] = {"domain": [0, 1], "anchor": f"x{suffix}"}
        layout["annotations"].append({
            "text": title, "x": x0 + width / 2, "y": 1.0, "xref": "paper", "yref": "paper",
            "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": {"size": 13},
        })  # fmt: skip
    return layout


def loss_figure(history: Any, height: int = 320) -> dict[str, Any]:
    """Reconstruction error and KL per training step, and validation PSNR once there is some.

    ``history`` is a ``model.history.History``. Before the first validation pass there are
    two panels, not an empty third frame.
    """
    titles = ["Redrawing error ↓", "Information in the code"]
    if history.val_step:
        titles.append("Validation PSNR, dB ↑")
    layout = _panels(titles)
    traces: list[dict[str, Any]] = []
    if history.step:
        x, y = _bucket(history.step, history.recon)
        traces.append({"type": "scatter", "x": x, "y": y, "name": "reconstruction", "line": {"color": "#1f77b4"}})
        x, y = _bucket(history.step, history.kl)
        traces.append(
            {
                "type": "scatter",
                "x": x,
                "y": y,
                "name": "KL",
                "line": {"color": "#ff7f0e"},
                "xaxis": "x2",
                "yaxis": "y2",
            }
        )
        kl_span = max(1e-3, 0.1 * float(np.nanmax(np.abs(y)))) if np.isfinite(y).any() else 1e-3
        layout["yaxis2"] |= {"tickformat": "~.3g", "range": _padded_range(y, kl_span) or _cut_spike(history.kl)}
    if history.val_step:
        traces.append({
            "type": "scatter", "x": list(history.val_step), "y": list(history.val_psnr), "name": "validation PSNR",
            "mode": "lines+markers", "line": {"color": "#2ca02c"}, "xaxis": "x3", "yaxis": "y3",
        })  # fmt: skip
        layout["yaxis3"] |= {"tickformat": ".1f", "range": _padded_range(history.val_psnr, 1.0)}
    layout["yaxis"] |= {"tickformat": "~.3g", "range": _cut_spike(history.recon, always=True)}
    layout |= {"height": height, "showlegend": False, "margin": {"l": 10, "r": 10, "t": 40, "b": 10}}
    return {"data": traces, "layout": layout}


def kl_bar_figure(kl: np.ndarray, threshold: float, height: int = 260) -> dict[str, Any]:
    """Bar per latent dimension, most used first; dimensions under ``threshold`` nats greyed out."""
    order = np.argsort(-kl, kind="stable")
    colours = ["#1f77b4" if kl[i] > threshold else "#bbbbbb" for i in order]
    bar = {"type": "bar", "x": [f"z{i}" for i in order], "y": kl[order], "marker": {"color": colours}}
    layout = {
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "yaxis": {"title": {"text": "nats"}, "tickformat": "~.3g"},
        "xaxis": {"type": "category"},
    }
    return {"data": [bar], "layout": layout}


def count_bars(values: dict[str, float], title: str, height: int = 320, percent: bool = False) -> dict[str, Any]:
    """Horizontal bars, one per key in the given order (top to bottom): patches per label, class probabilities.

    A Plotly dict rather than ``st.bar_chart``: that one imports and validates Altair/Vega-Lite,
    about a second on a page's first run (the Data page's first visit during training).
    """
    names = [str(k) for k in values]
    xs = [float(v) for v in values.values()]
    bar = {
        "type": "bar",
        "orientation": "h",
        "y": names,
        "x": xs,
        "marker": {"color": "#1f77b4"},
        "hovertemplate": "%{y}: %{x" + (":.0%" if percent else ":,") + "}<extra></extra>",
    }
    layout = {
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "xaxis": {"title": {"text": title}, "tickformat": ".0%" if percent else ",~"},
        "yaxis": {"type": "category", "autorange": "reversed", "automargin": True},
    }
    return {"data": [bar], "layout": layout}


def psnr_scatter(vae_psnr: np.ndarray, pca_psnr: np.ndarray, k: int, height: int = 320) -> dict[str, Any]:
    """One dot per patch: PCA PSNR (x) against VAE PSNR (y); dots above the diagonal favour the VAE."""
    lo = float(min(vae_psnr.min(), pca_psnr.min())) - 1
    hi = float(max(vae_psnr.max(), pca_psnr.max())) + 1
    diagonal = {
        "type": "scatter",
        "x": [lo, hi],
        "y": [lo, hi],
        "mode": "lines",
        "line": {"color": "#999", "dash": "dash"},
    }
    dots = {
        "type": "scatter",
        "x": pca_psnr,
        "y": vae_psnr,
        "mode": "markers",
        "marker": {"size": 7, "color": "#1f77b4"},
        "hovertemplate": "PCA %{x:.1f} dB<br>VAE %{y:.1f} dB<extra></extra>",
    }
    layout = {
        "height": height,
        "showlegend": False,
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
        "title": {"text": "Each dot is a patch: above the line, the VAE did better", "font": {"size": 13}},
        "xaxis": {"title": {"text": f"PCA with {k} numbers (dB)"}},
        "yaxis": {"title": {"text": "VAE (dB)"}},
    }
    return {"data": [diagonal, dots], "layout": layout}
