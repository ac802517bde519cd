"""Side-by-side views of "VAE vs classic" results, and the metric with a signed difference that every page uses.

``show_task_result`` renders any ``vae_core.tasks.results.TaskResult``: the pictures side by
side, every method's scores in a table, the verdict in plain words (whichever side wins),
and downloads. Pages call it instead of laying out their own comparison.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from vae_core.imaging import to_png


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


def show_task_result(result: Any, key: str, file_stem: str = "result") -> None:
    """Pictures, table, verdict and downloads of a ``TaskResult``; widget keys start with ``key``."""
    best = result.best_classic()
    shown = [("Original", result.reference), ("Input", result.damaged), ("VAE", result.vae.output)]
    if best is not None:
        shown.append((f"Best classic: {best.name}", best.output))
    shown = [(title, image) for title, image in shown if image is not None]
    for column, (title, image) in zip(st.columns(len(shown)) if shown else [], shown, strict=True):
        column.image(image, caption=title, width="stretch")
    margin = result.vae_margin()
    (st.success if margin is not None and margin >= 0 else st.warning)(result.verdict())
    table = pd.DataFrame(result.rows()).set_index("method")
    formats = {m.name: f"{{:.{m.digits}f}}" for m in result.metrics} | {"seconds": "{:.2f}"}
    st.dataframe(table.style.format(formats, na_rep="—"), width="stretch")
    st.caption(" · ".join(f"**{m.name}**: {m.help}" for m in result.metrics if m.help))
    pictured = [m for m in result.methods if m.output is not None]
    cols = st.columns(len(pictured) + 1)
    cols[0].download_button(
        "Scores (CSV)", result.to_csv(), f"{file_stem}_scores.csv", "text/csv", key=f"{key}_csv", on_click="ignore"
    )
    for column, method in zip(cols[1:], pictured, strict=True):
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
