"""Latent sliders: move through the model's latent space one dimension at a time, live."""

import json
import time

import numpy as np
import streamlit as st

from pages.shared import cached, session
from pages.shared.guards import require_compatible
from pages.shared.latent_start import starting_point_picker
from pages.shared.recipe_io import sliders_recipe_download, sliders_recipe_expander
from pages.shared.slider_component import latent_slider_panel, release_value
from vae_core.explore.latent import encode, traverse
from vae_core.explore.sliders import STRIP_FRAMES, StripJob, rank_label
from vae_core.imaging import data_url, tile, to_png, to_uint8_hwc
from vae_core.model.browser_decoder import fits_browser

st.title("Latent sliders")
st.caption(
    "Each slider is one of the numbers the model uses to describe a patch. Drag one and watch the texture change."
)
require_compatible()
model, data = st.session_state[session.MODEL], st.session_state[session.DATASET]
mv, dv = st.session_state[session.MODEL_VERSION], st.session_state[session.DATASET_VERSION]
size, dim = model.config.image_size, model.latent_dim
with st.spinner("Measuring how much the model uses each dimension..."):
    setup = cached.slider_setup(model, mv, data, dv)
start = st.session_state.get(session.LAT_START)
if start is None or start["model_version"] != mv or len(start["z"]) != dim:
    session.set_slider_start(encode(model, data.train[:1]).mu[0], "Patch 1 of the training set")

starting_point_picker(model, data)
sliders_recipe_expander()


def on_release() -> None:
    z = release_value(session.LAT_PANEL)
    if z is not None and len(z) == dim:
        st.session_state[session.LAT_Z] = np.asarray(z, np.float32)


@st.fragment
def panel() -> None:
    z = np.asarray(st.session_state[session.LAT_Z], np.float32)
    b1, b2, _ = st.columns([1, 1, 4])
    if b1.button("Reset", key="lat_reset", icon=":material/restart_alt:", help="Back to the starting point"):
        z = st.session_state[session.LAT_Z] = st.session_state[session.LAT_START]["z"].copy()
    if b2.button("Randomize", key="lat_randomize", icon=":material/casino:", help="A random code from the prior"):
        z = st.session_state[session.LAT_Z] = np.random.default_rng().standard_normal(dim).astype(np.float32)
    exact = cached.exact_png(model, mv, tuple(float(v) for v in z))
    token = f"{mv}:{z.tobytes().hex()}"
    order = [int(d) for d in setup.order]
    margin = 0.05 * (setup.hi - setup.lo)  # a code beyond ±3σ widens its track a little past itself
    lo, hi = np.minimum(setup.lo, z - margin), np.maximum(setup.hi, z + margin)
    job = st.session_state.get(session.LAT_JOB)
    current = job is not None and job.token == token
    sprites = dict(job.sprites) if current else {}  # a new code: the browser keeps its older previews meanwhile
    sent = st.session_state[session.LAT_SPRITES_SENT]  # strips the mounted panel already holds (they are ~40 KB each)
    if sent["token"] != token:
        sent.update(token=token, dims=set())
    dims = [
        {
            "dim": d,
            "lo": float(lo[d]),
            "hi": float(hi[d]),
            "active": bool(setup.active[d]),
            "src": sprites.get(d) if d not in sent["dims"] else None,
            "label": rank_label(rank, bool(setup.active[d])),
            "hint": f"Dimension z[{d}] of the code: it carries {setup.kl[d]:.2f} nats (mean KL) about your patches",
        }
        for rank, d in enumerate(order)
    ]
    sent["dims"].update(sprites)
    payload = {"model": mv, "size": size, "frames": STRIP_FRAMES, "z": [float(v) for v in z], "dims": dims}
    fits = fits_browser(model)  # else no token: the browser shows the server's pictures and asks for nothing
    payload["decoder"] = {"token": mv if fits else None, "spec": None}
    if fits and st.session_state.get(session.LAT_DECODER_SENT) != mv:  # once per model: the browser keeps it
        payload["decoder"]["spec"] = cached.browser_decoder(model, mv)
        st.session_state[session.LAT_DECODER_SENT] = mv
    if not current or not job.done.is_set():  # new data on every poll, so that the browser polls again
        payload["poll"] = time.monotonic()
    latent_slider_panel(
        payload | {"exact": data_url(exact), "exact_token": token},
        key=session.LAT_PANEL,
        on_release=on_release,
        on_need_decoder=lambda: st.session_state.pop(session.LAT_DECODER_SENT, None),
    )
    if not current:  # started after the exact image is on its way, so as not to slow it down
        if job is not None:
            job.cancel()
        live = [d for d in order if setup.active[d]]
        values = np.linspace(lo[live], hi[live], STRIP_FRAMES, axis=1)
        job = st.session_state[session.LAT_JOB] = StripJob(model, z, live, values, token, start_delay_s=0.3)
    if job.error:
        st.warning(f"Live previews are unavailable ({job.error}); the exact image still updates when you let go.")
    left, right = st.columns([3, 1])
    left.code(json.dumps([round(float(v), 4) for v in z]), language="json")
    right.download_button("Download the image (PNG)", exact, "latent_texture.png", "image/png", key="lat_download")
    sliders_recipe_download(z, right)


st.subheader("Sliders")
st.caption(
    "One slider per number in the code, the ones the model uses most first (#1 changes the picture most). "
    "Each slider spans what your own patches use; the small pictures at its ends show the texture there. "
    "Copy the current code from the box below the sliders."
)
with st.expander("Details for experts"):
    st.markdown(
        "Sliders are sorted by mean KL per dimension (nats) over up to 512 of your patches; a slider's range is "
        "the mean ± 3 standard deviations of the patches' codes (at least ± 1). While you drag, the picture is "
        "cross-faded from 13 frames decoded ahead of time along that slider, or decoded in your browser; the "
        "moment you let go, it shows the exact decode. Hover a slider's name to see which dimension it is."
    )
st.session_state[session.LAT_SPRITES_SENT] = {"token": None, "dims": set()}  # a full run may remount the panel: resend
panel()

st.subheader("Traversal grid")
st.caption("Each row: one slider moved from its left end to its right end, all the others kept where they are.")
c1, c2 = st.columns([3, 1])
ranks = {int(d): r for r, d in enumerate(setup.order)}
top = [int(d) for d in setup.order[: min(4, dim)]]
rows = c1.multiselect(
    "Sliders", list(range(dim)), default=top, key="lat_grid_dims", format_func=lambda d: f"#{ranks[d] + 1} (z[{d}])"
)
steps = c2.slider("Steps", 3, 15, 9, key="lat_grid_steps")
if rows and st.button("Decode the grid", key="lat_grid_run", type="primary"):
    z = np.asarray(st.session_state[session.LAT_Z], np.float32)
    sweeps = np.linspace(setup.lo[rows], setup.hi[rows], steps, axis=1)  # (len(rows), steps): each row's own range
    frames = to_uint8_hwc(traverse(model, z, rows, sweeps).reshape(len(rows) * steps, -1, size, size))
    scale = max(1, 64 // size)
    for d, row in zip(rows, np.split(frames, len(rows)), strict=True):
        label, picture = st.columns([1, 12], vertical_alignment="center")
        label.markdown(f"**#{ranks[d] + 1}**")
        picture.image(tile(row, cols=steps, scale=scale), width="content")
    grid = tile(frames, cols=steps, scale=scale)
    st.download_button("Download the grid (PNG)", to_png(grid), "traversal.png", "image/png", key="lat_grid_download")
