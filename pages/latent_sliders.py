"""Latent sliders: move through the model's latent space one dimension at a time, live."""

import json
import time

import numpy as np
import streamlit as st

from pages.shared import latent_views as L
from pages.shared import state as S
from pages.shared.guards import require_compatible
from pages.shared.slider_component import latent_slider_panel, release_value
from pages.shared.views import png
from vae_core.data import ImageRejected, decode_image, to_channels
from vae_core.fullimage import tile
from vae_core.latent import decode, encode, to_uint8_hwc
from vae_core.slider_frames import StripJob, center_patch, data_url

st.title("Latent sliders")
st.caption(
    "Each slider is one of the numbers the model uses to describe a patch. Drag one and watch the texture change."
)
require_compatible()
model, data = st.session_state[S.MODEL], st.session_state[S.DATASET]
mv, dv = st.session_state[S.MODEL_VERSION], st.session_state[S.DATASET_VERSION]
size, dim = model.config.image_size, model.latent_dim
with st.spinner("Measuring how much the model uses each dimension..."):
    setup = L.slider_setup(model, mv, data, dv)
start = st.session_state.get(L.LAT_START)
if start is None or start["model_version"] != mv or len(start["z"]) != dim:
    L.set_start(encode(model, data.train[:1]).mu[0], "Patch 1 of the training set")

with st.expander(f"Starting point: {st.session_state[L.LAT_START]['label']}"):
    kind = st.radio(
        "Start from",
        ["A patch from my dataset", "An image I upload", "A random sample", "The origin (all zeros)"],
        horizontal=True,
        key="lat_start_kind",
    )
    new_z, label = None, None
    if kind == "A patch from my dataset":
        a, b = st.columns([3, 1])
        i = a.number_input("Patch number", 1, len(data.train), 1, key="lat_patch") - 1
        b.image(data.train[i].transpose(1, 2, 0), width=64)
        if a.button("Start from this patch", key="lat_use_patch"):
            new_z, label = encode(model, data.train[i : i + 1]).mu[0], f"Patch {i + 1} of the training set"
    elif kind == "An image I upload":
        upload = st.file_uploader(f"An image: its centre is cropped and resized to {size} px", key="lat_upload")
        if upload is not None:
            try:
                pixels = to_channels(decode_image(upload.getvalue(), upload.name).pixels, model.config.channels)
            except ImageRejected as exc:
                st.error(str(exc))
            else:
                patch = center_patch(pixels, size)
                if st.session_state.get("lat_upload_seen") != upload.file_id:  # encode each new upload once
                    st.session_state["lat_upload_seen"] = upload.file_id
                    new_z, label = encode(model, patch[None]).mu[0], f"Uploaded image {upload.name}"
                st.image(patch.transpose(1, 2, 0), width=64, caption="What the model sees")
    elif kind == "A random sample":
        seed = st.number_input("Seed", 0, 10**6, 0, key="lat_seed")
        if st.button("Draw a random code", key="lat_use_random"):
            new_z, label = np.random.default_rng(seed).standard_normal(dim), f"Random sample (seed {seed})"
    elif st.button("Start from the origin", key="lat_use_origin"):
        new_z, label = np.zeros(dim), "The origin"
    if new_z is not None:
        L.set_start(new_z, label)
        st.rerun()  # so that the expander's title names the new starting point
    st.caption(f"Current starting point: **{st.session_state[L.LAT_START]['label']}**")


def on_release() -> None:
    z = release_value(L.LAT_PANEL)
    if z is not None and len(z) == dim:
        st.session_state[L.LAT_Z] = np.asarray(z, np.float32)


@st.fragment
def panel() -> None:
    z = np.asarray(st.session_state[L.LAT_Z], np.float32)
    b1, b2, _ = st.columns([1, 1, 4])
    if b1.button("Reset", key="lat_reset", icon=":material/restart_alt:", help="Back to the starting point"):
        z = st.session_state[L.LAT_Z] = st.session_state[L.LAT_START]["z"].copy()
    if b2.button("Randomize", key="lat_randomize", icon=":material/casino:", help="A random code from the prior"):
        z = st.session_state[L.LAT_Z] = np.random.default_rng().standard_normal(dim).astype(np.float32)
    exact = L.exact_png(model, mv, tuple(float(v) for v in z))
    token = f"{mv}:{z.tobytes().hex()}"
    order = [int(d) for d in setup["order"]]
    job = st.session_state.get(L.LAT_JOB)
    current = job is not None and job.token == token
    sprites = dict(job.sprites) if current else {}  # a new code: the browser keeps its older previews meanwhile
    sent = st.session_state[L.LAT_SPRITES_SENT]  # strips the mounted panel already holds (they are ~40 KB each)
    if sent["token"] != token:
        sent.update(token=token, dims=set())
    dims = [
        {
            "dim": d,
            "lo": float(setup["lo"][d]),
            "hi": float(setup["hi"][d]),
            "active": bool(setup["active"][d]),
            "fresh": d in sprites or not setup["active"][d],
            "src": sprites.get(d) if d not in sent["dims"] else None,
            "hint": f"uses {setup['kl'][d]:.2f} nats on average",
        }
        for d in order
    ]
    sent["dims"].update(sprites)
    payload = {"model": mv, "size": size, "frames": L.STRIP_FRAMES, "z": [float(v) for v in z], "dims": dims}
    payload["decoder"] = {"token": mv, "spec": None}
    if st.session_state.get(L.LAT_DECODER_SENT) != mv:  # once per model: the browser keeps it
        payload["decoder"]["spec"] = L.browser_decoder(model, mv)
        st.session_state[L.LAT_DECODER_SENT] = mv
    if not current or not job.done.is_set():  # new data on every poll, so that the browser polls again
        payload["poll"] = time.monotonic()
    latent_slider_panel(
        payload | {"exact": data_url(exact), "exact_token": token},
        key=L.LAT_PANEL,
        on_release=on_release,
        on_need_decoder=lambda: st.session_state.pop(L.LAT_DECODER_SENT, None),
    )
    if not current:  # started after the exact image is on its way, so as not to slow it down
        if job is not None:
            job.cancel()
        live = [d for d in order if setup["active"][d]]
        values = np.linspace(setup["lo"][live], setup["hi"][live], L.STRIP_FRAMES, axis=1)
        job = st.session_state[L.LAT_JOB] = StripJob(model, z, live, values, token, start_delay_s=0.3)
    if job.error:
        st.warning(f"Live previews are unavailable ({job.error}); the exact image still updates when you let go.")
    left, right = st.columns([3, 1])
    left.code(json.dumps([round(float(v), 4) for v in z]), language="json")
    right.download_button("Download the image (PNG)", exact, "latent_texture.png", "image/png", key="lat_download")


st.subheader("Sliders")
st.caption(
    "Sorted by how much the model uses each dimension (most first); range: ±3 standard deviations of your "
    "patches' codes. While you drag, the picture comes from frames decoded ahead of time, or is decoded in your "
    "browser; the moment you let go, it shows the exact decode. Copy the current code from the box below the sliders."
)
st.session_state[L.LAT_SPRITES_SENT] = {"token": None, "dims": set()}  # a full run may remount the panel: resend
panel()

st.subheader("Traversal grid")
st.caption("Rows: the chosen dimensions. Columns: that dimension swept across its range, all others fixed.")
c1, c2 = st.columns([3, 1])
top = [int(d) for d in setup["order"][: min(4, dim)]]
rows = c1.multiselect("Dimensions", list(range(dim)), default=top, key="lat_grid_dims", format_func=lambda d: f"z[{d}]")
steps = c2.slider("Steps", 3, 15, 9, key="lat_grid_steps")
if rows and st.button("Decode the grid", key="lat_grid_run", type="primary"):
    z = np.asarray(st.session_state[L.LAT_Z], np.float32)
    zs = np.repeat(z[None], len(rows) * steps, 0).reshape(len(rows), steps, dim)
    for r, d in enumerate(rows):
        zs[r, :, d] = np.linspace(setup["lo"][d], setup["hi"][d], steps)
    frames = to_uint8_hwc(decode(model, zs.reshape(-1, dim)))
    grid = tile(frames, cols=steps, scale=max(1, 64 // size))
    st.image(grid, caption="Traversal grid", width="content")
    st.download_button("Download the grid (PNG)", png(grid), "traversal.png", "image/png", key="lat_grid_download")
