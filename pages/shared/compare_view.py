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
    input_label: str = "Input",
    slider: bool = False,
    magnifier: bool = False,
) -> None:
    """Pictures, verdicts, table and downloads of a ``TaskResult``; widget keys start with ``key``.

    every_method: show every method's picture, each captioned with its scores, not only the VAE
    and the best classic method. preview: what to show of each method's output (e.g. the texture
    tiled 2x2); downloads stay the full output. every_verdict: one verdict per metric, not only the
    headline's. zoom > 1: show the pictures' centres enlarged that many times, so that artefacts
    are visible. input_label: the caption of ``result.damaged``. slider: a before/after slider
    between any two of the pictures. magnifier: the same spot of each picture enlarged, placed by
    sliders (starting at ``result.extra["mask"]``'s corner when there is one).
    """
    best = result.best_classic()
    shown = [(reference_title, result.reference), (input_label, result.damaged), ("VAE", result.vae.output)]
    if every_method:
        shown = shown[:2] + [(result.caption(m), m.output) for m in result.methods]
    elif best is not None:
        shown.append((f"Best classic: {best.name}", best.output))
    shown = [(title, image) for title, image in shown if image is not None]
    if zoom > 1 and shown:
        side = max(8, min(shown[0][1].shape[:2]) // zoom)
        shown = [(t, center_crop(im, side).repeat(zoom, axis=0).repeat(zoom, axis=1)) for t, im in shown]
    for column, (title, image) in zip(st.columns(len(shown)) if shown else [], shown, strict=True):
        is_output = title != reference_title and preview is not None
        column.image(preview(image) if is_output else image, caption=title, width="stretch")
    for metric in result.metrics if every_verdict else result.metrics[:1]:
        margin = result.vae_margin(metric.name)
        (st.success if margin is not None and margin >= 0 else st.warning)(result.verdict(metric.name))
    pictures = [(reference_title, result.reference), (input_label, result.damaged)]
    pictures += [(m.name, m.output) for m in result.methods if m.output is not None]
    pictures = [(title, image) for title, image in pictures if image is not None]
    if slider and len(pictures) >= 2:
        _comparison_slider(pictures, key, input_label)
    if magnifier and pictures:
        _magnifier(pictures, result.extra.get("mask"), key)
    table = pd.DataFrame(result.rows()).set_index("method")
    number_table(table, {m.name: f"{{:.{m.digits}f}}" for m in result.metrics} | {"seconds": "{:.2f}"})
    st.caption(" · ".join(f"**{m.name}**: {m.help}" for m in result.metrics if m.help))
    notes = [f"**{m.name}**: {m.note}" for m in result.methods if m.note]
    if notes:
        st.caption("  \n".join(notes))
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


def number_table(table: pd.DataFrame, formats: dict[str, str]) -> None:
    """``st.dataframe`` of ``table`` with each column in ``formats`` written so ("{:.2f}"); a missing number is "—".

    st.dataframe draws a missing number as "None" whatever the Styler's ``na_rep`` says, so a
    column with one becomes text: "—" there, the other values with the same format.
    """
    table, formats = table.copy(), dict(formats)
    for column, fmt in list(formats.items()):
        if column in table and table[column].isna().any():
            table[column] = ["—" if pd.isna(v) else fmt.format(v) for v in table[column]]
            del formats[column]
    st.dataframe(table.style.format(formats), width="stretch")


def _comparison_slider(pictures: list[tuple[str, Any]], key: str, input_label: str) -> None:
    """Two pickers and a before/after slider between the chosen pictures (all of one size)."""
    from pages.shared.image_widgets import before_after

    titles = [title for title, _ in pictures]
    images = dict(pictures)
    st.markdown("**Compare two pictures**: drag the handle across the picture.")
    a, b = st.columns(2)
    first = titles.index(input_label) if input_label in titles else 0
    left = a.selectbox("Left", titles, index=first, key=f"{key}_left")
    right = b.selectbox("Right", titles, index=titles.index("VAE") if "VAE" in titles else 1, key=f"{key}_right")
    before_after(images[left], images[right], left, right, key=f"{key}_slider")


def _magnifier(pictures: list[tuple[str, Any]], mask: Any, key: str) -> None:
    """The same small square of every picture, enlarged, with its centre and magnification chosen by sliders."""
    import numpy as np

    from vae_core.imaging import zoom_crop

    height, width = pictures[0][1].shape[:2]
    if isinstance(mask, np.ndarray) and mask.any():
        ys, xs = np.nonzero(mask)
        cy, cx = int(ys.min()), int(xs.min())  # the hole's corner: its seam and its fill in one view
    else:
        cy, cx = height // 2, width // 2
    st.markdown("**Zoom in**: the same spot of every picture, enlarged.")
    a, b, c = st.columns(3)
    x = a.slider("Across (x)", 0, width - 1, cx, key=f"{key}_zoom_x")
    y = b.slider("Down (y)", 0, height - 1, cy, key=f"{key}_zoom_y")
    scale = c.select_slider("Magnification", [2, 4, 8], value=4, key=f"{key}_zoom_scale")
    side = max(8, 192 // scale)
    crops = [zoom_crop(image, y, x, side, scale) for _, image in pictures]
    st.image(crops, caption=[title for title, _ in pictures], width=min(192, side * scale))
