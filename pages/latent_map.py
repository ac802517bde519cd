"""Latent map: every patch's code laid out in 2-D (or 3-D), so that similar textures sit together."""

import io
import threading
import zipfile

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from pages.shared import latent_views as L
from pages.shared import state as S
from pages.shared.guards import require_compatible
from pages.shared.views import png
from vae_core.fullimage import tile
from vae_core.latent import decode, to_uint8_hwc
from vae_core.projection import UMAP_MIN_POINTS, project_umap

st.title("Latent map")
st.caption("Each dot is one patch, placed by its code. Nearby dots are patches the model finds alike.")
require_compatible()
model, data = st.session_state[S.MODEL], st.session_state[S.DATASET]
mv, dv = st.session_state[S.MODEL_VERSION], st.session_state[S.DATASET_VERSION]
with st.spinner("Encoding your patches..."):
    codes = L.map_codes(model, mv, data, dv)
n = len(codes["mu"])
if n < 3:
    st.info(f"A map needs at least 3 patches; you have {n}. Add more or larger images on the Data page.")
    st.page_link("pages/data.py", label="Go to Data", icon=":material/photo_library:")
    st.stop()
if n < codes["n_total"]:
    st.caption(f"Showing {n:,} of your {codes['n_total']:,} patches, evenly spread, to keep the map quick.")

c1, c2, c3 = st.columns(3)
method = c1.radio("Layout", ["PCA", "UMAP"], horizontal=True, key="map_method", help="PCA is instant and linear.")
view = c2.radio("View", ["2D", "3D"], horizontal=True, key="map_view")
colour = c3.selectbox("Colour by", ["Label", "Source image", "Reconstruction error"], key="map_colour")
k = 3 if view == "3D" else 2

proj = L.pca_map(model, mv, data, dv, k)
if method == "UMAP":
    run = st.session_state.get(L.MAP_UMAP)
    want = (mv, dv, k)
    if n < UMAP_MIN_POINTS:
        st.info(f"UMAP needs at least {UMAP_MIN_POINTS} patches (you have {n}); showing PCA instead.")
    elif run is None or run["key"] != want:
        st.info("UMAP finds curved structure PCA misses. It takes a few seconds to a minute; PCA is shown meanwhile.")
        if st.button("Compute the UMAP map", key="map_umap_run", type="primary"):
            run = {"key": want, "fraction": 0.0, "message": "starting", "result": None, "error": None}

            def work(run=run, mu=codes["mu"]) -> None:  # a plain thread: it touches only this dict
                try:
                    progress = lambda f, msg: run.update(fraction=f, message=msg)  # noqa: E731
                    run["result"] = project_umap(mu, k, seed=0, on_progress=progress)
                except Exception as exc:
                    run["error"] = str(exc)

            threading.Thread(target=work, name="latent-map-umap", daemon=True).start()
            st.session_state[L.MAP_UMAP] = run
            st.rerun()
    elif run["result"] is not None:
        proj = run["result"]
    elif run["error"]:
        st.error(f"UMAP failed: {run['error']}. PCA is shown instead.")
    else:

        @st.fragment(run_every=1.0)
        def umap_progress() -> None:
            if run["result"] is not None or run["error"]:
                st.rerun()
            st.progress(run["fraction"], text=f"UMAP: {run['message']} (PCA is shown meanwhile)")

        umap_progress()

xy = proj.coords
if colour == "Reconstruction error":
    with st.spinner("Measuring reconstruction errors..."):
        err = L.map_recon_error(model, mv, data, dv)
    groups = [("all", np.arange(n))]
else:
    names = codes["label"] if colour == "Label" else codes["source"]
    groups = [(g, np.flatnonzero(names == g)) for g in sorted(set(names))]
fig = go.Figure()
for g, idx in groups:
    hover = [f"#{i + 1} · {codes['label'][i]} · {codes['source'][i]}" for i in idx]
    marker = {"size": 5 if k == 2 else 3}
    if colour == "Reconstruction error":
        marker |= {"color": err[idx], "colorscale": "Viridis", "showscale": True, "colorbar": {"title": "MSE"}}
    common = {"mode": "markers", "name": str(g), "text": hover, "hoverinfo": "text", "marker": marker}
    if k == 2:
        fig.add_trace(go.Scattergl(x=xy[idx, 0], y=xy[idx, 1], customdata=idx, **common))
    else:
        fig.add_trace(go.Scatter3d(x=xy[idx, 0], y=xy[idx, 1], z=xy[idx, 2], customdata=idx, **common))
fig.update_layout(height=560, margin={"l": 10, "r": 10, "t": 30, "b": 10})
fig.update_layout(
    title=f"{'UMAP' if proj.method == 'umap' else 'PCA'} of {n:,} codes", legend={"itemsizing": "constant"}
)
if k == 3:
    st.plotly_chart(fig, key="map_chart3d")
    st.caption("Selection works in the 2D view.")
    st.stop()
event = st.plotly_chart(fig, key="map_chart", on_select="rerun", selection_mode=("points", "box", "lasso"))
st.caption("Click a dot to pick it, or drag a box around a group (the lasso is in the chart's toolbar).")

points = event.selection.points if event and event.selection else []
chosen = np.array(sorted({int(groups[p["curve_number"]][1][p["point_index"]]) for p in points}), dtype=int)
if len(chosen) == 1:
    i = int(chosen[0])
    a, b = st.columns([1, 4])
    a.image(codes["patches"][i].transpose(1, 2, 0), width=96, caption=f"#{i + 1} · {codes['label'][i]}")
    b.markdown(f"Patch **#{i + 1}** from **{codes['source'][i]}** (label **{codes['label'][i]}**).")
    if b.button("Open this code in Latent sliders", key="map_open_sliders", type="primary"):
        L.set_start(codes["mu"][i], f"Point #{i + 1} of the latent map ({codes['source'][i]})")
        st.switch_page("pages/latent_sliders.py")
elif len(chosen) > 1:
    st.subheader(f"{len(chosen):,} patches selected")
    shown = chosen[np.linspace(0, len(chosen) - 1, min(60, len(chosen))).round().astype(int)]
    st.image([codes["patches"][i].transpose(1, 2, 0) for i in shown], width=64, caption=[f"#{i + 1}" for i in shown])
    if len(chosen) > 60:
        st.caption(f"60 of the {len(chosen):,}, evenly spread, are shown; the downloads hold them all.")
    mean = codes["mu"][chosen].mean(0)
    a, b = st.columns([1, 3])
    a.image(to_uint8_hwc(decode(model, mean[None]))[0], width=128, caption="Decode of their mean code")
    if b.button("Open the mean code in Latent sliders", key="map_open_mean"):
        L.set_start(mean, f"Mean of {len(chosen)} map points")
        st.switch_page("pages/latent_sliders.py")
    header = "index,label,source," + ",".join(f"z{d}" for d in range(codes["mu"].shape[1]))
    rows = [
        f"{i + 1},{codes['label'][i]},{codes['source'][i]}," + ",".join(f"{v:.6f}" for v in codes["mu"][i])
        for i in chosen
    ]
    b.download_button("Selection latents (CSV)", "\n".join([header, *rows]), "selection.csv", key="map_csv")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in chosen:
            zf.writestr(f"patch_{i + 1:05d}_{codes['label'][i]}.png", png(codes["patches"][i].transpose(1, 2, 0)))
    b.download_button("Selection patches (zip of PNGs)", buf.getvalue(), "selection.zip", key="map_zip")

st.subheader("Decode anywhere")
st.caption(
    "What would a patch at this spot of the map look like? An **estimate**: "
    + (
        "PCA's inverse keeps only what the two map axes explain."
        if proj.method == "pca"
        else "UMAP's inverse is approximate, and meaningless far from the dots."
    )
)
lo, hi = np.percentile(xy[:, :2], 2, axis=0), np.percentile(xy[:, :2], 98, axis=0)  # where most dots are
g = 6
gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], g), np.linspace(hi[1], lo[1], g))
grid = np.stack([gx.ravel(), gy.ravel()], 1)
a, b = st.columns([2, 1])
with st.spinner("Decoding the map grid..."):
    frames = to_uint8_hwc(decode(model, proj.inverse(grid, approx=True)))
a.image(
    tile(frames, cols=g, scale=max(1, 64 // model.config.image_size)),
    caption="A 6×6 grid across where most dots lie (laid out like the map)",
)
x = b.number_input(
    "Map x", float(lo[0]) - 1, float(hi[0]) + 1, float(xy[:, 0].mean()), key=f"map_x_{proj.method}_{mv[:6]}{dv[:6]}"
)
y = b.number_input(
    "Map y", float(lo[1]) - 1, float(hi[1]) + 1, float(xy[:, 1].mean()), key=f"map_y_{proj.method}_{mv[:6]}{dv[:6]}"
)
z = proj.inverse(np.array([[x, y]]), approx=True)[0]
b.image(to_uint8_hwc(decode(model, z[None]))[0], width=128, caption=f"Estimate at ({x:.2f}, {y:.2f})")
if b.button("Open this estimate in Latent sliders", key="map_open_xy"):
    L.set_start(z, f"Map position ({x:.2f}, {y:.2f})")
    st.switch_page("pages/latent_sliders.py")
