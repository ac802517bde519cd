"""Side-by-side views of "VAE vs classic" results, and the metric with a signed difference that every page uses.

``show_task_result`` renders any ``vae_core.tasks.results.TaskResult``: the pictures side by
side, every method's scores in a table, the verdict in plain words (whichever side wins),
and downloads. Pages call it instead of laying out their own comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from vae_core.imaging import center_crop, to_png


def metric_vs(
    label: str, value: str, diff: float, digits: int, suffix: str = "", *, where: Any = st, **kwargs: Any
) -> None:
    """``st.metric`` (in ``where``, e.g. a column) with a signed difference, shown neutral when it rounds to zero.

    Without this, -0.0003 shown to 3 digits reads "↓ -0.000" in red: a loss that is not there.
    """
    if round(diff, digits) == 0:
        where.metric(label, value, f"±{0:.{digits}f}{suffix}", delta_color="off", delta_arrow="off", **kwargs)
    else:
        where.metric(label, value, f"{diff:+.{digits}f}{suffix}", **kwargs)


def show_task_result(
    result: Any,
    key: str,
    file_stem: str = "result",
    *,
    every_method: bool = False,
    preview: Callable[[Any], Any] | None = None,
    reference_title: str = "Original",
    every_verdict: bool = False,
    zoom: int = 1,
) -> None:
    """Pictures, table, verdict and downloads of a ``TaskResult``; widget keys start with ``key``.

    every_method: show every method's picture, each captioned with its scores, not only the VAE
    and the best classic method. preview: what to show of each method's output (e.g. the texture
    tiled 2x2); downloads stay the full output. every_verdict: one verdict per metric, not only the
    headline's. zoom > 1: show the pictures' centres enlarged that many times, so that artefacts
    are visible.
    """
    best = result.best_classic()
    shown = [(reference_title, result.reference), ("Input", result.damaged), ("VAE", result.vae.output)]
    if every_method:
        shown = shown[:2] + [(result.caption(m), m.output) for m in result.methods]
    elif best is not None:
        shown.append((f"Best classic: {best.name}", best.output))
    shown = [(title, image) for title, image in shown if image is not None]
    if zoom > 1:
        side = max(8, min(shown[0][1].shape[:2]) // zoom)
        shown = [(t, center_crop(im, side).repeat(zoom, axis=0).repeat(zoom, axis=1)) for t, im in shown]
    for column, (title, image) in zip(st.columns(len(shown)), shown, strict=True):
        is_output = title != reference_title and preview is not None
        column.image(preview(image) if is_output else image, caption=title, width="stretch")
    for metric in result.metrics if every_verdict else result.metrics[:1]:
        margin = result.vae_margin(metric.name)
        (st.success if margin is not None and margin >= 0 else st.warning)(result.verdict(metric.name))
    table = pd.DataFrame(result.rows()).set_index("method")
    formats = {m.name: f"{{:.{m.digits}f}}" for m in result.metrics} | {"seconds": "{:.2f}"}
    st.dataframe(table.style.format(formats), width="stretch")
    st.caption(" · ".join(f"**{m.name}**: {m.help}" for m in result.metrics if m.help))
    notes = [f"**{m.name}**: {m.note}" for m in result.methods if m.note]
    if notes:
        st.caption("  \n".join(notes))
    cols = st.columns(len(result.methods) + 1)
    cols[0].download_button(
        "Scores (CSV)", result.to_csv(), f"{file_stem}_scores.csv", "text/csv", key=f"{key}_csv", on_click="ignore"
    )
    for column, method in zip(cols[1:], result.methods, strict=True):
        if method.output is not None:
            name = method.name.lower().replace(" ", "_")
            column.download_button(
                f"{method.name} (PNG)",
                to_png(method.output),
                f"{file_stem}_{name}.png",
                "image/png",
                key=f"{key}_png_{name}",
                on_click="ignore",
            )
