"""Reconstructions: how well the model redraws patches and whole images, next to PCA with as many numbers."""

import numpy as np
import streamlit as st

from pages.shared import state as S
from pages.shared import training as T
from pages.shared.charts import psnr_scatter
from pages.shared.guards import require_compatible
from pages.shared.views import delta, png, recon_set
from vae_core.data import ImageRejected, decode_image, to_channels
from vae_core.fullimage import downscale, psnr, reconstruct_image, tile

MAX_SIDE = 768  # whole-image rebuilds of bigger images are shrunk first, to keep them to seconds

st.title("Reconstructions")
st.caption("The model squeezes each patch into a few numbers and redraws it. How close does it get?")
require_compatible()
model, data = st.session_state[S.MODEL], st.session_state[S.DATASET]
model_version, dataset_version = st.session_state[S.MODEL_VERSION], st.session_state[S.DATASET_VERSION]
if T.job_active():
    st.info("Training is running. This page shows the current model; the new one appears when training ends.")

st.subheader("Patch by patch")
c1, c2, c3 = st.columns(3)
split = c1.radio(
    "Patches",
    ["Validation", "Training"],
    horizontal=True,
    key="recon_split",
    help="The model never trained on validation patches.",
)
count = c2.select_slider("How many", [16, 32, 64, 128], value=32, key="recon_count")
order = c3.radio("Order", ["Worst first", "Best first", "As cut"], horizontal=True, key="recon_order")
try:
    with st.spinner("Reconstructing patches..."):
        r = recon_set(model, model_version, data, dataset_version, "val" if split == "Validation" else "train", count)
except ValueError as exc:  # e.g. too few patches for the PCA baseline
    st.error(f"{exc}. Add more or larger images on the Data page.")
    st.stop()

k = r["pca_k"]
m = st.columns(4)
vae_psnr, pca_psnr, vae_ssim, pca_ssim = (r[name].mean() for name in ("vae_psnr", "pca_psnr", "vae_ssim", "pca_ssim"))
m[0].metric("VAE PSNR", f"{vae_psnr:.2f} dB", **delta(vae_psnr - pca_psnr, 2, " dB vs PCA"))
m[1].metric(f"PCA PSNR ({k} numbers)", f"{pca_psnr:.2f} dB")
m[2].metric("VAE SSIM", f"{vae_ssim:.3f}", **delta(vae_ssim - pca_ssim, 3, " vs PCA"))
m[3].metric("PCA SSIM", f"{pca_ssim:.3f}")
st.caption(
    f"PSNR: higher is better (30 dB looks close). SSIM: 1 means identical structure. PCA is the best *linear* "
    f"method that also keeps {k} numbers per patch; a VAE has to beat it to be worth its extra complexity."
)

idx = np.arange(len(r["originals"]))
if order != "As cut":
    idx = np.argsort(r["vae_psnr"], kind="stable")
    idx = idx if order == "Worst first" else idx[::-1]
stacks = [tile(np.stack([r["originals"][i], r["vae"][i], r["pca"][i]]), cols=1, scale=2) for i in idx]
captions = [f"{r['vae_psnr'][i]:.1f} dB · {r['vae_ssim'][i]:.2f}" for i in idx]
st.markdown("Each column: **original** (top), **VAE** (middle), **PCA** (bottom); caption: VAE PSNR · SSIM.")
st.image(stacks, caption=captions, width=86)

left, right = st.columns([2, 3])
with left:
    st.download_button(
        "Download this grid (PNG)",
        png(tile(np.stack(stacks), cols=16)),
        "reconstructions.png",
        "image/png",
        key="recon_grid_download",
        icon=":material/download:",
    )
with right:
    st.plotly_chart(
        psnr_scatter(r["vae_psnr"], r["pca_psnr"], k), key="recon_scatter", config={"displayModeBar": False}
    )

st.subheader("Whole image")
st.caption(
    "A whole texture rebuilt from overlapping patches, blended so the seams do not show. "
    f"Images larger than {MAX_SIDE} px are shrunk first."
)
images = st.session_state[S.IMAGES]
source = st.radio("Image", ["One of my textures", "Upload an image"], horizontal=True, key="recon_full_source")
pixels, name = None, None
if source == "One of my textures" and images:
    names = [im.name for im in images]
    name = st.selectbox("Texture", names, key="recon_full_name")
    pixels = images[names.index(name)].pixels
elif source == "Upload an image":
    upload = st.file_uploader("An image (PNG, JPEG, ...)", key="recon_full_upload")
    if upload is not None:
        try:
            pixels, name = decode_image(upload.getvalue(), upload.name).pixels, upload.name
        except ImageRejected as exc:
            st.error(str(exc))
overlap = st.select_slider(
    "Overlap between patches",
    ["50%", "75%"],
    value="50%",
    key="recon_full_overlap",
    help="More overlap blends more and takes about 4 times longer.",
)
stride = model.config.image_size // (2 if overlap == "50%" else 4)

if pixels is not None and st.button("Rebuild the whole image", key="recon_full_run", type="primary"):
    pixels = to_channels(downscale(pixels, MAX_SIDE), model.config.channels)
    bar = st.progress(0.0, text="Rebuilding...")
    try:
        out = reconstruct_image(
            model,
            pixels,
            stride,
            on_progress=lambda d, t: bar.progress(d / t, text=f"Rebuilding: {d:,} of {t:,} patches"),
        )
    except ValueError as exc:
        st.error(str(exc))
    else:
        st.session_state["recon_full"] = {
            "model_version": model_version,
            "name": name,
            "original": pixels,
            "recon": out,
        }
    bar.empty()

result = st.session_state.get("recon_full")
if result and result["model_version"] == model_version:
    a, b = st.columns(2)
    a.image(result["original"], caption=f"Original: {result['name']}", width="stretch")
    score = psnr(result["original"], result["recon"])
    b.image(result["recon"], caption=f"Rebuilt by the VAE · PSNR {score:.1f} dB", width="stretch")
    stem = str(result["name"]).rsplit(".", 1)[0]
    st.download_button(
        "Download the rebuilt image (PNG)",
        png(result["recon"]),
        f"{stem}_reconstruction.png",
        "image/png",
        key="recon_full_download",
        icon=":material/download:",
    )
