"""The Latent map's data: which patches to map, their codes, colours, hover text, figure, selection exports.

The Latent map page lays every patch's code (``mu``) out in 2-D or 3-D with
:mod:`vae_core.explore.projection` and lets the user colour, select, export and decode any spot of
the map. Everything here is computation on numpy arrays (plus batched encode/decode through
:mod:`vae_core.explore.latent`), so the page stays a storyboard and a notebook can draw the same map:
``plotly.graph_objects.Figure(map_figure(...))``.

Scale. The map is meant to stay interactive at 20,000 points in a browser (Plotly's WebGL
``scattergl``). So per-point work is vectorised (hover text with ``np.char``, CSV rows with
one ``%`` format per row), patches are never copied into the map (``MapPoints.index`` points
into the dataset), and big batches go through the model in chunks.

torch is imported inside the functions that run the model, so importing this module is light.
"""

from __future__ import annotations

import copy
import io
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vae_core.imaging import spread_indices

if TYPE_CHECKING:
    from vae_core.data.patches import PatchDataset

MAP_POINT_BUDGET = 20_000  # codes mapped at 32 px; bigger patches get fewer (same pixels to encode)
BUDGET_PATCH_SIZE = 32  # the patch size MAP_POINT_BUDGET is counted at
COLOUR_BY = ("label", "source", "error")  # what ``colour_groups`` can colour by
CLICK_GRID = (72, 48)  # columns x rows of invisible clickable points under the dots (decode anywhere)
# Twenty colours that each stand out on white (WCAG contrast >= 3:1, so no pale grey, green or
# blue dots vanishing into the page), ten distinct hues and then ten darker ones: distinct colours
# for up to 20 groups. Plotly's default colorway has ten, so an 11th label would share the 1st's.
PALETTE = (
    "#1f77b4", "#e6550d", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#d6338a", "#5f6b73", "#7a7a00", "#0f8a9d",
    "#1a237e", "#a66300", "#1a5e3a", "#8b0000", "#6a3d9a", "#795548", "#c51b7d", "#00695c", "#3949ab", "#b8860b",
)  # fmt: skip
GRID_MARGIN = 0.04  # the click grid reaches this share of the map's extent beyond the outermost dots


@dataclass
class MapPoints:
    """The patches on the map and their codes; patch pixels stay in the dataset (``index``)."""

    index: np.ndarray  # (N,) int64: position in the dataset's train-then-val order (see ``dataset_patches``)
    mu: np.ndarray  # (N, D) float32: each patch's posterior mean, the map's input
    label_ids: np.ndarray  # (N,) int64 into ``label_names``
    image_ids: np.ndarray  # (N,) int64 into ``image_names``
    label_names: list[str]  # the dataset's labels
    image_names: list[str]  # the dataset's source image names
    n_total: int  # patches in the dataset (N <= n_total when the map shows a spread subset)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def labels(self) -> np.ndarray:
        """(N,) str: each point's label."""
        return np.asarray(self.label_names, dtype=str)[self.label_ids]

    @property
    def sources(self) -> np.ndarray:
        """(N,) str: each point's source image name."""
        return np.asarray(self.image_names, dtype=str)[self.image_ids]


def max_map_points(patch_size: int, budget: int = MAP_POINT_BUDGET) -> int:
    """How many patches the map encodes at ``patch_size``: ``budget`` at 32 px, a quarter of it at 64 px...

    Encoding time grows with the pixels per patch; a fixed pixel budget keeps the first map
    about as quick for every patch size (measured: 20,000 32-px patches encode in ~7-10 s
    on 2 busy CPU cores).
    """
    if patch_size < 1:
        raise ValueError(f"patch_size={patch_size} must be positive")
    return max(1, int(budget * (BUDGET_PATCH_SIZE / patch_size) ** 2))


def dataset_patches(data: PatchDataset, index: np.ndarray) -> np.ndarray:
    """Patches at ``index`` in train-then-val order -> (M, C, P, P) uint8, without concatenating the sets."""
    index = np.asarray(index, dtype=np.int64)
    out = np.empty((len(index), data.channels, data.patch_size, data.patch_size), np.uint8)
    val = index >= data.n_train
    out[~val] = data.train[index[~val]]
    out[val] = data.val[index[val] - data.n_train]
    return out


def inference_copy(model: Any) -> Any:
    """A copy of ``model`` in eval mode and ``channels_last`` memory format, for big batches on the CPU.

    oneDNN's NHWC convolutions encode and decode 20-60% faster here (2 CPU cores, batches of
    128). A copy, so that the caller's model (shared by the app's pages) is never changed.
    """
    import torch

    return copy.deepcopy(model).eval().to(memory_format=torch.channels_last)


def encode_map(model: Any, data: PatchDataset, max_points: int | None = None, batch_size: int = 128) -> MapPoints:
    """Encode up to ``max_points`` patches of ``data`` (default ``max_map_points``), evenly spread.

    ``model`` is a ``ConvVAE``; batches of ``batch_size`` keep memory flat for 20,000 patches.
    """
    from vae_core.explore.latent import encode

    model = inference_copy(model)
    n_total = data.n_train + data.n_val
    index = spread_indices(n_total, max_map_points(data.patch_size) if max_points is None else max_points)
    chunks = (dataset_patches(data, index[i : i + batch_size]) for i in range(0, len(index), batch_size))
    mus = [encode(model, chunk, batch_size).mu for chunk in chunks]
    mu = np.concatenate(mus) if mus else np.zeros((0, model.latent_dim), np.float32)
    labels = np.concatenate([data.train_labels, data.val_labels])[index]
    images = np.concatenate([data.train_image_ids, data.val_image_ids])[index]
    return MapPoints(
        index=index,
        mu=mu,
        label_ids=labels.astype(np.int64),
        image_ids=images.astype(np.int64),
        label_names=list(data.label_names),
        image_names=list(data.image_names),
        n_total=n_total,
    )


def reconstruction_error(model: Any, data: PatchDataset, points: MapPoints, batch_size: int = 128) -> np.ndarray:
    """Mean squared error (0-255 scale) of each point's decode of ``mu`` against its patch: (N,) float32.

    Decoding costs about twice encoding (the refiner works at full resolution): ~10 s for
    20,000 32-px patches on 2 CPU cores.
    """
    from vae_core.explore.latent import decode

    model = inference_copy(model)
    out = np.empty(len(points), np.float32)
    for i in range(0, len(points), batch_size):
        recon = decode(model, points.mu[i : i + batch_size], batch_size) * 255.0
        orig = dataset_patches(data, points.index[i : i + batch_size]).astype(np.float32)
        out[i : i + batch_size] = ((np.clip(recon, 0, 255) - orig) ** 2).mean(axis=(1, 2, 3))
    return out


def decode_images(model: Any, z: np.ndarray) -> np.ndarray:
    """Codes (M, D) -> decoded patches (M, P, P, C) uint8, ready for ``st.image``."""
    from vae_core.explore.latent import decode
    from vae_core.imaging import to_uint8_hwc

    return to_uint8_hwc(decode(model, np.asarray(z, np.float32).reshape(-1, model.latent_dim)))


def hover_text(points: MapPoints) -> np.ndarray:
    """(N,) str ``"#12 · brick · brick_01.png"`` (1-based dataset position), built without a Python loop."""
    number = np.char.add("#", (points.index + 1).astype(str))
    return np.char.add(np.char.add(np.char.add(number, " · "), points.labels), np.char.add(" · ", points.sources))


def colour_groups(points: MapPoints, by: str) -> list[tuple[str, np.ndarray]]:
    """One (name, point indices) group per trace: by ``"label"``, ``"source"`` image, or ``"error"`` (one group).

    Biggest group first, so that small groups are drawn last, on top, instead of hiding under a big one.
    """
    if by not in COLOUR_BY:
        raise ValueError(f"by={by!r} is not supported; choose one of {COLOUR_BY}")
    if by == "error":
        return [("all", np.arange(len(points)))]
    ids, names = (points.label_ids, points.label_names) if by == "label" else (points.image_ids, points.image_names)
    order = np.argsort(ids, kind="stable")
    bounds = np.searchsorted(ids[order], np.arange(len(names) + 1))
    groups = [(names[g], order[bounds[g] : bounds[g + 1]]) for g in range(len(names))]
    return sorted([g for g in groups if len(g[1])], key=lambda g: (-len(g[1]), g[0]))


def click_grid(coords: np.ndarray, shape: tuple[int, int] = CLICK_GRID, margin: float = GRID_MARGIN) -> np.ndarray:
    """A regular grid of map positions covering the dots' extent (plus ``margin``): (cols * rows, 2) float32."""
    xy = np.asarray(coords, np.float64)[:, :2]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    pad = np.maximum((hi - lo) * margin, 1e-6)
    gx, gy = np.meshgrid(
        np.linspace(lo[0] - pad[0], hi[0] + pad[0], shape[0]), np.linspace(lo[1] - pad[1], hi[1] + pad[1], shape[1])
    )
    return np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)


def overview_grid(coords: np.ndarray, n: int = 6) -> np.ndarray:
    """n x n map positions across where most dots lie (2nd-98th percentile), top row first: (n * n, 2)."""
    xy = np.asarray(coords, np.float64)[:, :2]
    lo, hi = np.percentile(xy, 2, axis=0), np.percentile(xy, 98, axis=0)
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(hi[1], lo[1], n))
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def map_figure(
    coords: np.ndarray,
    groups: list[tuple[str, np.ndarray]],
    hover: np.ndarray,
    error: np.ndarray | None = None,
    grid: np.ndarray | None = None,
    title: str = "",
) -> dict[str, Any]:
    """A Plotly figure as a plain dict: one WebGL trace per group (3-D when ``coords`` has 3 columns).

    Each group gets its colour by its name's alphabetical place (``group_colours``), so a label
    keeps its colour in 2-D and 3-D whatever else is drawn; traces follow ``groups``' order
    (biggest first, small groups on top) and the legend is alphabetical. ``error`` (N,) colours
    the points on a Viridis scale instead (no legend then: it would sit on the colour bar).

    ``grid`` (M, 2), 2-D only, adds an invisible clickable trace *first* (under the dots): a
    click on empty space then picks the nearest grid position (``layout.hoverdistance = -1``
    makes the nearest point of any trace the clicked one, at any zoom). It stays invisible when
    selected, so a box or lasso never paints it. ``point_index`` in a Plotly selection indexes
    the trace's group; trace 0 is the grid when there is one. Dragging selects (box) by default.
    """
    k = coords.shape[1]
    traces: list[dict[str, Any]] = []
    if grid is not None and k == 2:
        faint = {"size": 4, "color": "#888", "opacity": 0.05}
        traces.append({
            "type": "scattergl", "mode": "markers", "name": "empty space", "showlegend": False,
            "x": grid[:, 0], "y": grid[:, 1], "marker": faint,
            "hovertemplate": "Decode this spot (%{x:.2f}, %{y:.2f})<extra></extra>",
            "selected": {"marker": {"opacity": faint["opacity"]}},
            "unselected": {"marker": {"opacity": faint["opacity"]}},
        })  # fmt: skip
    colours, ranks = (
        group_colours([name for name, _ in groups]),
        {n: r for r, n in enumerate(sorted(g[0] for g in groups))},
    )
    for name, idx in groups:
        marker: dict[str, Any] = {"size": 5 if k == 2 else 3, "color": colours[name]}
        if error is not None:
            bar = {"title": {"text": "Error"}, "thickness": 14}
            marker |= {"color": error[idx], "colorscale": "Viridis", "showscale": True, "colorbar": bar}
        trace = {"type": "scattergl" if k == 2 else "scatter3d", "mode": "markers", "name": str(name)}
        trace |= {"x": coords[idx, 0], "y": coords[idx, 1], "text": hover[idx], "hoverinfo": "text", "marker": marker}
        trace |= {"legendrank": 1000 + ranks[name], "showlegend": error is None}
        if k == 3:
            trace["z"] = coords[idx, 2]
        traces.append(trace)
    layout = {
        "height": 560,
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
        "title": {"text": title},
        "legend": {"itemsizing": "constant"},
        "hovermode": "closest",
        "dragmode": "select" if k == 2 else "orbit",
        "hoverdistance": -1 if grid is not None else 20,
    }
    return {"data": traces, "layout": layout}


def group_colours(names: list[str]) -> dict[str, str]:
    """A colour from ``PALETTE`` for each group name, by its alphabetical place (repeating after 20)."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(names))}


@dataclass
class MapSelection:
    """What a Plotly selection event picked on a ``map_figure``."""

    points: np.ndarray  # (S,) int64 sorted map point numbers (rows of MapPoints), grid positions excluded
    spot: np.ndarray | None = None  # (2,) map position when the user clicked empty space (a lone grid point)


def read_selection(
    event_points: list[dict], groups: list[tuple[str, np.ndarray]], grid: np.ndarray | None, dragged: bool
) -> MapSelection:
    """Turn Plotly's selected points (``curve_number``, ``point_index``) into map point numbers.

    Grid positions are dropped from box and lasso selections (``dragged``); a click that
    picked one grid position alone becomes ``spot``.
    """
    offset = 1 if grid is not None else 0
    chosen, spots = set(), []
    for p in event_points:
        curve, i = int(p["curve_number"]), int(p["point_index"])
        if curve < offset:
            spots.append(i)
        elif curve - offset < len(groups):
            chosen.add(int(groups[curve - offset][1][i]))
    spot = (
        grid[spots[0]].astype(np.float64)
        if grid is not None and len(spots) == 1 and not chosen and not dragged
        else None
    )
    return MapSelection(points=np.array(sorted(chosen), dtype=np.int64), spot=spot)


def sample_shown(chosen: np.ndarray, limit: int = 60) -> np.ndarray:
    """At most ``limit`` of ``chosen``, evenly spread: what a thumbnail grid shows of a big selection."""
    chosen = np.asarray(chosen)
    return chosen[spread_indices(len(chosen), limit)] if len(chosen) else chosen


def selection_csv(points: MapPoints, chosen: np.ndarray) -> str:
    """CSV text: ``index,label,source,z0..z{D-1}``, one row per chosen point (index is 1-based, as in hover text)."""
    chosen = np.asarray(chosen, dtype=np.int64)
    d = points.mu.shape[1]
    header = "index,label,source," + ",".join(f"z{j}" for j in range(d))
    row = "%d,%s,%s," + ",".join(["%.6f"] * d)
    labels, sources = points.labels, points.sources
    rows = [
        row % (points.index[i] + 1, _csv_field(labels[i]), _csv_field(sources[i]), *points.mu[i].tolist())
        for i in chosen
    ]
    return "\n".join([header, *rows]) + "\n"


def _csv_field(text: str) -> str:
    """Quote a CSV field that holds a comma, quote or newline (RFC 4180)."""
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def selection_zip(data: PatchDataset, points: MapPoints, chosen: np.ndarray) -> bytes:
    """A zip of the chosen patches as PNGs named ``patch_00012_brick.png`` (stored, PNG is already compressed)."""
    from vae_core.imaging import to_png

    chosen = np.asarray(chosen, dtype=np.int64)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i, patch in zip(chosen, dataset_patches(data, points.index[chosen]), strict=True):
            label = "".join(c if c.isalnum() or c in "-_" else "_" for c in points.label_names[points.label_ids[i]])
            zf.writestr(f"patch_{points.index[i] + 1:05d}_{label}.png", to_png(patch.transpose(1, 2, 0)))
    return buf.getvalue()


def position_text(x: float, y: float) -> str:
    """A map position for people: ``(0.12, -3.40)``, with no ``-0.00``."""
    return "({:.2f}, {:.2f})".format(*(round(float(v), 2) + 0.0 for v in (x, y)))
