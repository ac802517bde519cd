"""What an analysis shows and exports: figures (plain Plotly dicts), the class x dimension table, and CSV files.

* :func:`accuracy_figure`: every feature set's image-level balanced accuracy with its spread
  across folds, and the chance level.
* :func:`confusion_figure`: a confusion matrix as a heatmap (rows: true class; shares of each row).
* :func:`class_dimensions` and :func:`dimension_figure`: how far each class's mean code sits from
  the overall mean, per latent dimension, in standard deviations; the figure carries one
  invisible marker per cell so that a click on a cell is a Plotly point selection
  (:func:`read_dimension_click`), which the page turns into a start for the Latent sliders.
* :func:`features_csv` / :func:`read_features_csv`, :func:`scores_csv`, :func:`confusion_csv`.

Figures are plain dicts in Plotly's schema (as in :mod:`vae_core.explore.figures`): a page passes
them to ``st.plotly_chart``, a notebook to ``plotly.graph_objects.Figure``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

from vae_core.tasks import analyze_features as af
from vae_core.tasks.analyze import Analysis


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def summary_sentences(analysis: Analysis) -> list[str]:
    """The analysis in a few plain sentences, whichever side wins (for people, not experts)."""
    acc = {name: analysis.score(name).balanced_accuracy for name in af.FEATURE_SETS}
    extra = analysis.result.extra
    best_classic = max((af.LBP, af.GLCM, af.LBP_GLCM, af.PCA), key=acc.get)
    out = [
        f"On your {extra['images']:,} images of {extra['classes']} labels, each image was classified by a "
        f"classifier that never saw it. Guessing would be right {_pct(analysis.chance)} of the time."
    ]
    desc, codes, both = acc[af.DESCRIPTOR], acc[af.CODES], acc[af.LATENT_LBP]
    compare = "better than" if desc > acc[best_classic] else "level with" if desc == acc[best_classic] else "worse than"
    out.append(
        f"The VAE texture descriptor got {_pct(desc)} right: {compare} {best_classic}, the best classic method "
        f"here, at {_pct(acc[best_classic])}."
    )
    if codes < acc[af.LBP]:
        out.append(
            f"The model's own codes (the numbers behind the Latent sliders) got only {_pct(codes)}, less than LBP's "
            f"{_pct(acc[af.LBP])}: a code describes one small patch and misses the larger pattern."
        )
    else:
        out.append(f"The model's own codes got {_pct(codes)}, against LBP's {_pct(acc[af.LBP])}.")
    top = max(desc, acc[af.LBP])
    out.append(
        f"The VAE descriptor and LBP together got {_pct(both)}: "
        + ("better than either alone." if both > top else "no better than the better of the two alone.")
    )
    out.append(f"Raw-pixel PCA, with as many numbers as the model's code, got {_pct(acc[af.PCA])}.")
    if max(acc.values()) <= 1.25 * analysis.chance:
        out.append(
            "No method did clearly better than guessing. Check the labels on the Data page: the same kind of "
            "texture under two labels, or too few images per label, makes them impossible to tell apart."
        )
    return out


def accuracy_figure(analysis: Analysis, height: int = 340) -> dict[str, Any]:
    """Horizontal bars: each feature set's image-level balanced accuracy (logistic) with its spread; chance dashed."""
    names = list(af.FEATURE_SETS)[::-1]
    scores = [analysis.score(n) for n in names]
    colours = ["#d62728" if n in af.VAE_SETS else "#1f77b4" for n in names]
    return {
        "data": [{
            "type": "bar", "orientation": "h", "y": names, "x": [s.balanced_accuracy for s in scores],
            "error_x": {  # the spread across folds, cut at 0 and 1 (accuracy cannot leave them)
                "type": "data",
                "array": [min(s.spread, 1 - s.balanced_accuracy) for s in scores],
                "arrayminus": [min(s.spread, s.balanced_accuracy) for s in scores],
                "visible": True,
            },
            "marker": {"color": colours}, "hovertemplate": "%{y}: %{x:.2f}<extra></extra>",
        }],
        "layout": {
            "height": height, "margin": {"l": 10, "r": 10, "t": 30, "b": 40},
            "xaxis": {"range": [0, 1.02], "title": {"text": "balanced accuracy on images it did not learn from"}},
            "yaxis": {"automargin": True},
            "shapes": [{
                "type": "line", "x0": analysis.chance, "x1": analysis.chance, "y0": -0.5, "y1": len(names) - 0.5,
                "line": {"dash": "dash", "color": "#888"},
            }],
            "annotations": [{
                "x": analysis.chance, "y": len(names) - 0.5, "text": "guessing", "showarrow": False,
                "yanchor": "bottom", "font": {"color": "#888"},
            }],
            "title": {"text": "Red: the VAE's features. Blue: classic methods.", "font": {"size": 13}},
        },
    }  # fmt: skip


def confusion_figure(confusion: np.ndarray, label_names: list[str], title: str = "", height: int | None = None) -> dict:
    """Heatmap of ``confusion`` (K, K), rows = true class, columns = predicted, coloured by the share of the row."""
    counts = np.asarray(confusion, np.float64)
    shares = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    text = [[f"{int(c)}" if c else "" for c in row] for row in counts]
    k = len(label_names)
    return {
        "data": [{
            "type": "heatmap", "z": shares.tolist(), "x": label_names, "y": label_names, "text": text,
            "texttemplate": "%{text}", "colorscale": "Blues", "zmin": 0, "zmax": 1,
            "colorbar": {"title": {"text": "share"}},
            "hovertemplate": "true %{y}, predicted %{x}: %{text} (%{z:.0%} of the row)<extra></extra>",
        }],
        "layout": {
            "height": height or max(320, 60 + 26 * k), "margin": {"l": 10, "r": 10, "t": 40, "b": 10},
            "title": {"text": title, "font": {"size": 13}},
            "xaxis": {"title": {"text": "predicted"}, "side": "top", "automargin": True},
            "yaxis": {"title": {"text": "true"}, "autorange": "reversed", "automargin": True},
        },
    }  # fmt: skip


@dataclass
class ClassDimensions:
    """How each class's codes differ from all codes, per latent dimension."""

    label_names: list[str]  # (K,)
    offsets: np.ndarray  # (K, D): (class mean - overall mean) / overall standard deviation
    class_means: np.ndarray  # (K, D): each class's mean code
    order: np.ndarray  # (D,) dimensions, the one that separates classes most first

    def top(self, label: int, n: int = 3) -> list[int]:
        """The ``n`` dimensions in which class ``label`` stands out most (largest |offset|)."""
        return [int(d) for d in np.argsort(-np.abs(self.offsets[label]), kind="stable")[:n]]


def class_dimensions(features: af.Features) -> ClassDimensions:
    """Per-class mean codes of all patches, and their offsets from the overall mean in standard deviations."""
    mu, labels = features.patch_mu.astype(np.float64), features.unit_labels[features.patch_unit]
    k = len(features.label_names)
    means = np.stack([mu[labels == c].mean(0) if np.any(labels == c) else mu.mean(0) for c in range(k)])
    offsets = (means - mu.mean(0)) / np.maximum(mu.std(0), 1e-6)
    order = np.argsort(-offsets.std(0), kind="stable")
    return ClassDimensions(features.label_names, offsets.astype(np.float32), means.astype(np.float32), order)


def dimension_figure(dims: ClassDimensions, max_dims: int = 32, height: int | None = None) -> dict[str, Any]:
    """Heatmap classes x dimensions (at most ``max_dims``, most separating first), clickable cell by cell.

    Trace 1 holds one nearly invisible marker per cell: a click selects it, and
    :func:`read_dimension_click` turns the selection back into (class, dimension).
    """
    shown = dims.order[:max_dims]
    z = dims.offsets[:, shown]
    xs = [f"z[{d}]" for d in shown]
    k, n = z.shape
    limit = float(max(1.0, np.abs(z).max()))
    cx, cy = np.meshgrid(np.arange(n), np.arange(k))
    return {
        "data": [
            {
                "type": "heatmap", "z": z.tolist(), "x": xs, "y": dims.label_names, "colorscale": "RdBu",
                "reversescale": True, "zmin": -limit, "zmax": limit, "hoverinfo": "skip",
                "colorbar": {"title": {"text": "σ from<br>average"}},
            },
            {
                "type": "scatter", "mode": "markers", "x": [xs[i] for i in cx.ravel()],
                "y": [dims.label_names[j] for j in cy.ravel()], "showlegend": False,
                "marker": {"symbol": "square", "size": 14, "color": "rgba(0,0,0,0.01)"},
                "customdata": z.ravel().tolist(),
                "hovertemplate": "%{y}, %{x}: %{customdata:+.2f} σ from the average<br>click: open in the sliders"
                "<extra></extra>",
            },
        ],
        "layout": {
            "height": height or max(300, 80 + 24 * k), "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
            "xaxis": {"title": {"text": "latent dimension (most telling first)"}, "automargin": True, "side": "top"},
            "yaxis": {"autorange": "reversed", "automargin": True}, "clickmode": "event+select",
            "hovermode": "closest", "dragmode": False,
        },
    }  # fmt: skip


def read_dimension_click(points: list[dict], dims: ClassDimensions, max_dims: int = 32) -> tuple[int, int] | None:
    """(class index, dimension) of a click on :func:`dimension_figure`'s markers, or None."""
    shown = dims.order[:max_dims]
    for p in points:
        if int(p.get("curve_number", -1)) == 1:
            row, col = divmod(int(p["point_index"]), len(shown))
            return row, int(shown[col])
    return None


# --- CSV ---------------------------------------------------------------------------------------


def features_csv(features: af.Features, feature_set: str, level: str = "image") -> str:
    """One row per image (or patch) with its label and the numbers of ``feature_set``, as CSV text (exact float32)."""
    table = features.image if level == "image" else features.patch
    if feature_set not in table:
        raise ValueError(f"{feature_set!r} has no {level}-level features; choose one of {sorted(table)}")
    values = table[feature_set]
    units = np.arange(len(values)) if level == "image" else features.patch_unit
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["image", "label", *[f"{feature_set} {i}" for i in range(values.shape[1])]])
    for u, row in zip(units, values, strict=True):
        label = features.label_names[features.unit_labels[u]]
        writer.writerow([features.unit_names[u], label, *[f"{v:.9g}" for v in row]])
    return buf.getvalue()


def read_features_csv(text: str) -> tuple[list[str], list[str], np.ndarray]:
    """Read :func:`features_csv` back: image names, labels, values ``(N, F)`` float32."""
    rows = list(csv.reader(io.StringIO(text)))
    body = rows[1:]
    values = np.array([[float(v) for v in r[2:]] for r in body], np.float32).reshape(len(body), len(rows[0]) - 2)
    return [r[0] for r in body], [r[1] for r in body], values


def scores_csv(analysis: Analysis) -> str:
    """Every (feature set, level, probe): balanced accuracy, spread, fold scores and each class's recall, as CSV."""
    names = analysis.features.label_names
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        ["feature set", "level", "probe", "balanced accuracy", "spread", "folds", *[f"recall {n}" for n in names]]
    )
    for (name, level, probe), s in analysis.scores.items():
        folds = " ".join(f"{v:.4f}" for v in s.fold_scores)
        writer.writerow([name, level, probe, f"{s.balanced_accuracy:.4f}", f"{s.spread:.4f}", folds,
                         *[f"{r:.4f}" if np.isfinite(r) else "" for r in s.recall]])  # fmt: skip
    return buf.getvalue()


def confusion_csv(confusion: np.ndarray, label_names: list[str]) -> str:
    """A confusion matrix as CSV: one row per true class, one column per predicted class (counts)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["true \\ predicted", *label_names])
    for name, row in zip(label_names, np.asarray(confusion), strict=True):
        writer.writerow([name, *[int(v) for v in row]])
    return buf.getvalue()
