"""What a rate-distortion measurement says: its plot (a plotly dict) and its verdict in plain words.

Separate from ``tasks.compress`` (which measures) so that both read short. Like
``explore.figures``, the figure is a plain dict in Plotly's schema: nothing here imports
plotly, and a notebook draws it with ``plotly.graph_objects.Figure(rd_figure(rd)).show()``.
"""

from __future__ import annotations

from typing import Any

from vae_core.tasks.compress import CLASSIC, LABELS, VAE, RateDistortion

COLOURS = {VAE: "#d62728", "JPEG": "#1f77b4", "WebP": "#2ca02c", "JPEG per patch": "#9467bd"}


def rd_figure(rd: RateDistortion, selected: int | None = None, count_weights: bool = False) -> dict[str, Any]:
    """Two panels, bits per pixel (log scale) against PSNR and against SSIM, one curve per method.

    Each line joins a method's best settings for their size; settings that a smaller file of
    the same method beats are open circles off the line (float16 and int8 codes, for the VAE).
    ``selected`` (a VAE rate index) is ringed; ``count_weights`` moves the VAE's points right by
    its decoder's weights.
    """
    shift = 8.0 * rd.decoder_bytes / rd.n_pixels if count_weights else 0.0
    traces: list[dict[str, Any]] = []
    for method in (VAE, *CLASSIC):
        points = rd.curve(method)
        x = [p.bpp + (shift if method == VAE else 0.0) for p in points]
        for axis, metric in (("", "psnr"), ("2", "ssim")):
            y = [getattr(p, metric) for p in points]
            on_front = [i for i in range(len(y)) if all(y[i] > y[j] for j in range(i))]  # best for its size
            style = {"color": COLOURS[method], "dash": "dot" if method == "JPEG per patch" else "solid"}
            traces.append({
                "type": "scatter", "mode": "lines+markers", "name": LABELS[method], "legendgroup": method,
                "showlegend": axis == "", "x": [x[i] for i in on_front], "y": [y[i] for i in on_front],
                "text": [points[i].setting for i in on_front], "line": style,
                "hovertemplate": "%{text}<br>%{x:.3f} bpp<br>%{y:.3f}<extra>" + method + "</extra>",
                "xaxis": f"x{axis}", "yaxis": f"y{axis}",
            })  # fmt: skip
            rest = [i for i in range(len(y)) if i not in on_front]
            if rest:  # settings that a smaller file beats: drawn, but off the line
                traces.append({
                    "type": "scatter", "mode": "markers", "legendgroup": method, "showlegend": False,
                    "x": [x[i] for i in rest], "y": [y[i] for i in rest], "text": [points[i].setting for i in rest],
                    "marker": {"color": COLOURS[method], "symbol": "circle-open", "size": 8},
                    "hovertemplate": "%{text}<br>%{x:.3f} bpp<br>%{y:.3f}<extra>" + method + "</extra>",
                    "xaxis": f"x{axis}", "yaxis": f"y{axis}",
                })  # fmt: skip
    if selected is not None and 0 <= selected < len(rd.rates):
        p = rd.points[selected]
        for axis, value in (("", p.psnr), ("2", p.ssim)):
            traces.append({
                "type": "scatter", "mode": "markers", "x": [p.bpp + shift], "y": [value], "showlegend": False,
                "marker": {"size": 16, "color": "rgba(0,0,0,0)", "line": {"width": 2, "color": "black"}},
                "hoverinfo": "skip", "xaxis": f"x{axis}", "yaxis": f"y{axis}",
            })  # fmt: skip
    ticks = [0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500]
    axis = {
        "type": "log", "title": {"text": "bits per pixel (log scale) →"}, "tickvals": ticks,
        "ticktext": [f"{t:g}" for t in ticks],
    }  # fmt: skip
    layout = {
        "height": 380,
        "margin": {"l": 50, "r": 10, "t": 30, "b": 40},
        "legend": {"orientation": "h", "y": -0.22},
        "xaxis": {**axis, "domain": [0, 0.47]},
        "yaxis": {"title": {"text": "PSNR, dB ↑"}},
        "xaxis2": {**axis, "domain": [0.53, 1], "anchor": "y2"},
        "yaxis2": {"title": {"text": "SSIM ↑"}, "anchor": "x2"},
    }
    return {"data": traces, "layout": layout}


def _range_words(lead: list[tuple[float, float]], other: str) -> str:
    ahead = [b for b, d in lead if d > 0]
    if not ahead:
        return f"{other} beats the VAE at every size measured"
    if len(ahead) == len(lead):
        return f"the VAE beats {other} at every size both can make"
    if all(b <= min(b2 for b2, d in lead if d <= 0) for b in ahead):
        return f"the VAE beats {other} below {max(ahead):.2f} bits per pixel and loses above"
    if all(b >= max(b2 for b2, d in lead if d <= 0) for b in ahead):
        return f"the VAE loses to {other} below {min(ahead):.2f} bits per pixel and beats it above"
    return f"the VAE and {other} take turns (the VAE is ahead on {len(ahead) / len(lead):.0%} of the range)"


def summary_words(rd: RateDistortion) -> str:
    """A few plain sentences: where the VAE stands against whole-image JPEG and WebP on this image."""
    vae = rd.curve(VAE)
    best = max(vae, key=lambda p: p.psnr)
    knee = min((p for p in vae if p.psnr >= best.psnr - 0.1), key=lambda p: p.bpp)
    words = [
        f"The VAE's best on this image is {best.psnr:.1f} dB, reached at about {knee.bpp:.2f} bits per pixel; "
        "more bytes do not help it, because the model itself cannot draw the image any closer."
    ]
    for other in ("JPEG", "WebP"):
        text = _range_words(rd.lead(other), other)
        floor = rd.curve(other)[0].bpp
        if floor > vae[0].bpp:
            text += f" ({other} cannot make a file smaller than {floor:.2f} bits per pixel here)"
        words.append(text[0].upper() + text[1:] + ".")
    return " ".join(words)


def weights_words(rd: RateDistortion) -> str:
    """What counting the decoder's weights does to the VAE's size on this one image."""
    mb = rd.decoder_bytes / 1e6
    bpp = 8.0 * rd.decoder_bytes / rd.n_pixels
    jpeg_best = max(rd.curve("JPEG"), key=lambda p: p.bpp)
    return (
        f"The decoder's weights are {mb:.2f} MB: {bpp:.1f} bits per pixel of this image on their own, more than "
        f"JPEG's largest file here ({jpeg_best.bpp:.2f} bits per pixel at {jpeg_best.setting}). Like a codec's "
        "tables, they pay off only when one copy serves many images."
    )


def equal_bytes_table(rd: RateDistortion, budgets: tuple[float, ...] = (0.25, 0.5, 1.0)) -> dict[str, dict[str, float]]:
    """PSNR (dB) of each method at each budget in bits per pixel (NaN where it cannot be that small)."""
    return {method: {f"{b:g}": round(rd.at(method, b), 2) for b in budgets} for method in (VAE, *CLASSIC)}
