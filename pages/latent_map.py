"""Latent map: every patch's code laid out in 2-D (or 3-D), so that similar textures sit together."""

from functools import partial

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from pages.shared import cached, jobs, session
from pages.shared.guards import require_compatible
from pages.shared.map_click import last_click
from vae_core.explore import latent_map, umap_runs
from vae_core.explore.projection import UMAP_MIN_POINTS

st.title("Latent map")
st.caption("Each dot is one patch, placed by its code. Nearby dots are patches the model finds alike.")
require_compatible()
model, data = st.session_state[session.MODEL], st.session_state[session.DATASET]
mv, dv = st.session_state[session.MODEL_VERSION], st.session_state[session.DATASET_VERSION]
with st.spinner(f"Encoding {min(data.n_train + data.n_val, latent_map.max_map_points(data.patch_size)):,} patches..."):
    points = cached.map_codes(model, mv, data, dv)
n = len(points)
if n < 3:
    st.info(f"A map needs at least 3 patches; you have {n}. Add more or larger images on the Data page.")
    st.page_link("pages/data.py", label="Go to Data", icon=":material/photo_library:")
    st.stop()
if n < points.n_total:
    st.caption(f"Showing {n:,} of your {points.n_total:,} patches, evenly spread, to keep the map quick.")

session.keep_widgets("map_method", "map_view", "map_colour")  # a visit to another page keeps UMAP, 3D...
c1, c2, c3 = st.columns(3)
method = c1.radio("Layout", ["PCA", "UMAP"], horizontal=True, key="map_method", help="PCA is instant and linear.")
view = c2.radio("View", ["2D", "3D"], horizontal=True, key="map_view")
names = {"label": "Label", "source": "Source image", "error": "Reconstruction error"}
by = c3.selectbox("Colour by", latent_map.COLOUR_BY, format_func=names.get, key="map_colour")
k = 3 if view == "3D" else 2

# One container for whatever UMAP needs to say, so that the elements below keep their places
# (otherwise a faded copy of the page's lower half shows while it reruns).
proj, run, status = cached.pca_map(model, mv, data, dv, k), st.session_state.get(session.MAP_UMAP), st.container()
if method == "UMAP" and n < UMAP_MIN_POINTS:
    status.info(f"UMAP needs at least {UMAP_MIN_POINTS} patches (you have {n}); showing PCA instead.")
elif method == "UMAP" and (run is None or run.key != (mv, dv, k)):
    status.info("UMAP finds curved structure PCA misses. It takes a few seconds to a minute; PCA is shown meanwhile.")
    if status.button("Compute the UMAP map", key="map_umap_run", type="primary"):
        try:  # one map per visitor: this replaces (or cancels) the one asked for before
            run = umap_runs.start_umap(points.mu, k, key=(mv, dv, k), owner=session.session_id())
        except ValueError as exc:  # the server's line of maps is full
            status.warning(str(exc))
        else:
            st.session_state[session.MAP_UMAP] = run
            jobs.reaper().track(session.session_id(), run)
            st.rerun()
elif method == "UMAP" and run.result is not None:
    proj = run.result
elif method == "UMAP" and run.error:
    status.error(f"UMAP failed: {run.error}. PCA is shown instead.")
elif method == "UMAP":

    @st.fragment(run_every=1.0)
    def umap_progress() -> None:
        if not run.running:
            st.rerun()
        where = run.position
        text = f"waiting for {where} other map{'s' if where > 1 else ''} to finish" if where else run.message
        st.progress(run.fraction, text=f"UMAP: {text} (PCA is shown meanwhile)")

    with status:
        umap_progress()

error = None
if by == "error":
    with status, st.spinner(f"Measuring the reconstruction error of {n:,} patches..."):
        error = cached.map_recon_error(model, mv, data, dv)
groups, grid = latent_map.colour_groups(points, by), latent_map.click_grid(proj.coords) if k == 2 else None
title = f"{proj.method.upper()} of {n:,} codes"
fig = go.Figure(latent_map.map_figure(proj.coords, groups, latent_map.hover_text(points), error, grid, title))
if k == 3:
    st.plotly_chart(fig, key="map_chart3d")
    st.caption("Drag to turn the map. Selecting and decoding a spot work in the 2D view.")
    st.stop()
left, right = st.columns([3, 1])
event = left.plotly_chart(
    fig, key="map_chart", on_select="rerun", selection_mode=("points", "box", "lasso"), config={"editSelection": False}
)
sel = event.selection if event else None
dragged = bool(sel and (sel.box or sel.lasso))
picked = latent_map.read_selection(sel.points if sel else [], groups, grid, dragged)
with right:  # a click while a drag selects reaches us through this relay (pages/shared/map_click.py)
    click = last_click("map_chart", f"{mv}{dv}{proj.method}{by}")
one = None if dragged else picked  # the one dot or spot to show: a click (in any drag mode), else none
if click:
    one = latent_map.read_selection(
        [{"curve_number": click["curve"], "point_index": click["index"]}], groups, grid, False
    )


def to_sliders(where, text: str, key: str, z: np.ndarray, label: str, kind: str = "primary") -> None:
    if where.button(text, key=key, type=kind, help="Start the Latent sliders page from this code"):
        session.set_slider_start(z, label)
        st.switch_page("pages/latent_sliders.py")


if one is not None and len(one.points) == 1:
    i = int(one.points[0])
    j, label, source = int(points.index[i]) + 1, points.labels[i], points.sources[i]
    right.image(latent_map.dataset_patches(data, points.index[i : i + 1])[0].transpose(1, 2, 0), width=128)
    right.markdown(f"Patch **#{j}** from **{source}** (label **{label}**).")
    to_sliders(right, "Open in sliders", "map_open_sliders", points.mu[i], f"Point #{j} of the latent map ({source})")
elif one is not None and one.spot is not None:
    (x, y), z = one.spot, proj.inverse(one.spot[None], approx=True)[0]
    right.image(latent_map.decode_images(model, z)[0], width=128)
    right.caption(
        f"What a patch here would look like: an **estimate** at {latent_map.position_text(x, y)}, "
        "through the map's inverse."
    )
    to_sliders(right, "Open in sliders", "map_open_spot", z, f"Map position ({x:.2f}, {y:.2f})")
else:
    right.caption(
        "**Drag** across the map to select a group of dots (the toolbar above the map, on hover, has the lasso "
        "and pan). **Click a dot** to see its patch, or **click empty space** to see what the model would draw there."
    )

chosen, selection = picked.points, st.container()  # one container: the page below keeps its place
if dragged and len(chosen) > 1:
    selection.subheader(f"{len(chosen):,} patches selected")
    shown = latent_map.sample_shown(chosen)
    thumbs = latent_map.dataset_patches(data, points.index[shown]).transpose(0, 2, 3, 1)
    selection.image(list(thumbs), width=64, caption=[f"#{points.index[i] + 1}" for i in shown])
    if len(chosen) > len(shown):
        selection.caption(
            f"{len(shown)} of the {len(chosen):,}, evenly spread, are shown; the downloads hold them all."
        )
    mean = points.mu[chosen].mean(0)
    a, b = selection.columns([1, 3])
    a.image(latent_map.decode_images(model, mean)[0], width=128, caption="Decode of their mean code")
    to_sliders(b, "Open the mean code in Latent sliders", "map_open_mean", mean, f"Mean of {len(chosen)} map points")
    csv, zipped = (
        partial(latent_map.selection_csv, points, chosen),
        partial(latent_map.selection_zip, data, points, chosen),
    )
    b.download_button("Selection latents (CSV)", csv, "selection.csv", "text/csv", key="map_csv", on_click="ignore")
    b.download_button("Selection patches (zip of PNGs)", zipped, "selection.zip", key="map_zip", on_click="ignore")
elif dragged and len(chosen) == 0:
    selection.info("No patches inside that selection. Double-click the map to clear it.")

st.subheader("Decode anywhere")
how = {"pca": "PCA's inverse keeps only what the map axes explain.", "umap": "UMAP's inverse is approximate."}
st.caption(f"Click empty space on the map, or type a position. Every decode is an **estimate**: {how[proj.method]}")
a, b = st.columns([2, 1])
a.image(cached.map_overview_png(model, mv, proj), caption="A 6×6 grid across the map")
lo, hi, mid = proj.coords.min(0), proj.coords.max(0), proj.coords.mean(0).round(2) + 0.0  # no '-0.00'
suffix = f"{proj.method}_{mv[:6]}{dv[:6]}"
x = b.number_input("Map x", float(lo[0]) - 1, float(hi[0]) + 1, float(mid[0]), key=f"map_x_{suffix}")
y = b.number_input("Map y", float(lo[1]) - 1, float(hi[1]) + 1, float(mid[1]), key=f"map_y_{suffix}")
z = proj.inverse(np.array([[x, y]]), approx=True)[0]
b.image(latent_map.decode_images(model, z)[0], width=128)
b.caption(f"Estimate at {latent_map.position_text(x, y)}")
xy_label = f"Map position {latent_map.position_text(x, y)}"
to_sliders(b, "Open this estimate in Latent sliders", "map_open_xy", z, xy_label, "secondary")
