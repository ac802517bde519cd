"""The Analyze page's parts that need more than a line: the confusion matrix, the class x dimension map, a new image.

Streamlit glue only; what is computed comes from ``vae_core.tasks.analyze`` and
``vae_core.tasks.analyze_report``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages.shared import session
from pages.shared.compare_view import number_table
from vae_core.data.decode import decode_image
from vae_core.data.images import ImageRejected
from vae_core.explore.figures import count_bars
from vae_core.imaging import tile
from vae_core.tasks import analyze_features as af
from vae_core.tasks import analyze_report as report
from vae_core.tasks.analyze import classify_image


def confusion_section(analysis: Any) -> None:
    """A feature set and level to inspect: its confusion matrix, per-class recall, and their CSV."""
    c1, c2 = st.columns([3, 2])
    chosen = c1.selectbox("Feature set", af.FEATURE_SETS, key="an_confusion_set")
    levels = ["images", "patches"] if chosen in analysis.features.patch else ["images"]
    level = c2.radio("Classify", levels, horizontal=True, key="an_confusion_level")
    score = analysis.score(chosen, "image" if level == "images" else "patch")
    names = analysis.features.label_names
    title = f"{chosen}, {level}: {score.balanced_accuracy:.2f} balanced accuracy (logistic probe)"
    st.plotly_chart(go.Figure(report.confusion_figure(score.confusion, names, title)), key="an_confusion")
    st.caption(
        "Each row is a true label; the numbers count where its examples were put. A perfect result is a diagonal."
    )
    st.download_button(
        "Confusion matrix (CSV)",
        report.confusion_csv(score.confusion, names),
        f"confusion_{chosen.lower().replace(' ', '_')}_{level}.csv",
        "text/csv",
        key="an_confusion_csv",
        on_click="ignore",
    )
    with st.expander("Per-label recall (share of each label's images recognised), every feature set"):
        recall = pd.DataFrame({name: analysis.score(name).recall for name in af.FEATURE_SETS}, index=names)
        number_table(recall, dict.fromkeys(recall.columns, "{:.2f}"))


def dimensions_section(analysis: Any, can_open: bool) -> None:
    """The class x dimension heatmap; a click on a cell (or a button) opens that class's code in the sliders."""
    dims = report.class_dimensions(analysis.features)
    st.caption(
        "Each cell: how far a label's average code sits from the average of all patches, in standard deviations, "
        "for one latent dimension (red: higher, blue: lower). The dimensions that separate labels most come first."
        + (" Click a cell to open that label's average code in the Latent sliders." if can_open else "")
    )
    event = st.plotly_chart(
        go.Figure(report.dimension_figure(dims)), key="an_dims", on_select="rerun", selection_mode="points"
    )
    clicked = report.read_dimension_click(event.selection.points if event else [], dims)
    c1, c2 = st.columns([2, 3])
    label = c1.selectbox(
        "Label", range(len(dims.label_names)), format_func=dims.label_names.__getitem__, key="an_dim_label"
    )
    top = dims.top(label)
    c2.write(f"Stands out most in: {', '.join(f'z[{d}] ({dims.offsets[label, d]:+.1f} σ)' for d in top)}")
    if can_open:
        for column, d in zip(st.columns(len(top)), top, strict=True):
            if column.button(f"Open z[{d}] in the sliders", key=f"an_open_{d}", icon=":material/tune:"):
                clicked = (label, d)
    else:
        st.caption("The Latent sliders need patches cut for this model (same patch size and colours) to open.")
    if clicked is not None and can_open:
        c, d = clicked
        name = dims.label_names[c]
        session.set_slider_start(
            dims.class_means[c], f"Average code of '{name}' (try z[{d}], {dims.offsets[c, d]:+.1f} σ)"
        )
        st.switch_page("pages/latent_sliders.py")


def classify_section(analysis: Any, run_id: int) -> None:
    """Upload an image: its predicted label and probability, and the training patches whose codes are nearest."""
    upload = st.file_uploader("An image to classify (PNG, JPEG, ...)", key="an_classify_upload")
    if upload is None:
        return
    seen = st.session_state.get(session.AN_PREDICTION)
    if seen is None or seen[:2] != (upload.file_id, run_id):
        try:
            pixels = decode_image(upload.getvalue(), upload.name).pixels
            with st.spinner("Describing the image..."):
                prediction = classify_image(analysis, pixels)
        except (ImageRejected, ValueError) as exc:
            st.error(str(exc))
            return
        seen = st.session_state[session.AN_PREDICTION] = (upload.file_id, run_id, prediction, pixels)
    prediction, pixels = seen[2], seen[3]
    left, right = st.columns([1, 2])
    left.image(pixels, caption=upload.name, width="stretch")
    right.metric(
        "Looks most like",
        prediction.label,
        f"{100 * prediction.probability:.0f}% sure",
        delta_color="off",
        delta_arrow="off",
    )
    ranked = dict(list(prediction.probabilities.items())[:5])
    right.plotly_chart(
        go.Figure(count_bars(ranked, "probability", height=200, percent=True)),
        key="analyze_probabilities",
        config={"displayModeBar": False},
    )
    right.caption(f"Classifier: a logistic probe on {prediction.feature_set}, the best set on your labels.")
    size = prediction.nearest.shape[-1]
    st.write("The training patches whose codes are nearest to this image's patches:")
    st.image(
        [tile(p.transpose(1, 2, 0)[None], cols=1, scale=max(1, 96 // size)) for p in prediction.nearest],
        caption=[f"{lb} · {im}" for lb, im in zip(prediction.nearest_labels, prediction.nearest_images, strict=True)],
        width=96,
    )


def downloads_section(analysis: Any) -> None:
    """Features per image or patch (one feature set at a time) and every score, as CSV."""
    c1, c2, c3 = st.columns([2, 1, 2])
    chosen = c1.selectbox("Features to download", af.FEATURE_SETS, key="an_download_set")
    levels = ["images", "patches"] if chosen in analysis.features.patch else ["images"]
    level = c2.radio("Per", levels, key="an_download_level")
    level_key = "image" if level == "images" else "patch"
    stem = chosen.lower().replace(" ", "_").replace("+", "and")
    c3.download_button(
        f"{chosen} per {level[:-1]} (CSV)",
        lambda: report.features_csv(analysis.features, chosen, level_key),  # made when clicked: it can be megabytes
        f"features_{stem}_{level}.csv",
        "text/csv",
        key="an_features_csv",
        on_click="ignore",
        icon=":material/download:",
    )
    c3.download_button(
        "Every score and per-label recall (CSV)",
        lambda: report.scores_csv(analysis),
        "analysis_scores.csv",
        "text/csv",
        key="an_scores_csv",
        on_click="ignore",
        icon=":material/download:",
    )
    shares = np.round(analysis.result.extra["chance"], 3)
    st.caption(f"Guessing scores {shares} balanced accuracy on these labels.")
