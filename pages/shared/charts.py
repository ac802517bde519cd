"""Plotly figures shared by the Train and Model pages (plotly is imported only when a chart is drawn)."""

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


def loss_figure(history: Any, height: int = 320) -> Any:
    """Reconstruction error and KL per training step, and validation PSNR once there is some.

    Before the first validation pass there are two panels, not an empty third frame.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    titles = ["Reconstruction error ↓", "KL, nats (information in the code)"]
    if history.val_step:
        titles.append("Validation PSNR, dB ↑")
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=0.07)
    if history.step:
        x, y = _bucket(history.step, history.recon)
        fig.add_trace(go.Scatter(x=x, y=y, name="reconstruction", line={"color": "#1f77b4"}), row=1, col=1)
        x, y = _bucket(history.step, history.kl)
        fig.add_trace(go.Scatter(x=x, y=y, name="KL", line={"color": "#ff7f0e"}), row=1, col=2)
        kl_span = max(1e-3, 0.1 * float(np.nanmax(np.abs(y)))) if np.isfinite(y).any() else 1e-3
        fig.update_yaxes(tickformat="~.3g", range=_padded_range(y, kl_span), row=1, col=2)
    if history.val_step:
        fig.add_trace(
            go.Scatter(
                x=history.val_step, y=history.val_psnr, name="validation PSNR", mode="lines+markers",
                line={"color": "#2ca02c"},
            ),
            row=1,
            col=3,
        )  # fmt: skip
        fig.update_yaxes(tickformat=".1f", range=_padded_range(history.val_psnr, 1.0), row=1, col=3)
    # Linear axis (plotly's log ticks ignore tickformat and print 4999.999999999999), cut at
    # the 98th percentile so that one early spike does not flatten the rest of the curve.
    recon = np.asarray(history.recon, dtype=float)
    recon = recon[np.isfinite(recon)]
    top = float(np.percentile(recon, 98)) * 1.15 if recon.size else None
    fig.update_yaxes(tickformat="~.3g", range=[0, top] if top else None, row=1, col=1)
    fig.update_xaxes(title_text="step")
    fig.update_layout(height=height, showlegend=False, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    fig.update_annotations(font_size=13)
    return fig


def kl_bar_figure(kl: np.ndarray, threshold: float, height: int = 260) -> Any:
    """Bar per latent dimension, most used first; dimensions under ``threshold`` nats greyed out."""
    import plotly.graph_objects as go

    order = np.argsort(-kl, kind="stable")
    colours = ["#1f77b4" if kl[i] > threshold else "#bbbbbb" for i in order]
    fig = go.Figure(go.Bar(x=[f"z{i}" for i in order], y=kl[order], marker_color=colours))
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        yaxis={"title": "nats", "tickformat": "~.3g"},
        xaxis={"type": "category"},
    )
    return fig


def psnr_scatter(vae_psnr: np.ndarray, pca_psnr: np.ndarray, k: int, height: int = 320) -> Any:
    """One dot per patch: PCA PSNR (x) against VAE PSNR (y); dots above the diagonal favour the VAE."""
    import plotly.graph_objects as go

    lo = float(min(vae_psnr.min(), pca_psnr.min())) - 1
    hi = float(max(vae_psnr.max(), pca_psnr.max())) + 1
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"color": "#999", "dash": "dash"}))
    fig.add_trace(
        go.Scatter(
            x=pca_psnr,
            y=vae_psnr,
            mode="markers",
            marker={"size": 7, "color": "#1f77b4"},
            hovertemplate="PCA %{x:.1f} dB<br>VAE %{y:.1f} dB<extra></extra>",
        )
    )
    fig.update_layout(
        height=height,
        showlegend=False,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title={"text": "Each dot is a patch: above the line, the VAE did better", "font": {"size": 13}},
        xaxis_title=f"PCA with {k} numbers (dB)",
        yaxis_title="VAE (dB)",
    )
    return fig
