"""Reconstructions: how well the model redraws patches and whole images, next to PCA with as many numbers."""

import plotly.graph_objects as go
import streamlit as st

from pages.shared import cached, jobs, scores, session
from pages.shared.compare_view import metric_vs
from pages.shared.guards import require_compatible
from vae_core.data.decode import decode_image
from vae_core.data.images import ImageRejected, plural, to_channels
from vae_core.explore.figures import psnr_scatter
from vae_core.explore.fullimage import reconstruct_image
from vae_core.imaging import downscale, psnr, to_png

MAX_SIDE = 768  # whole-image rebuilds of bigger images are shrunk first, to keep them to seconds
GRID_COLUMNS = 16  # patches per row of the grid

st.title("Reconstructions")
st.caption("The model squeezes each patch into a few numbers and redraws it. How close does it get?")
require_compatible()
model, data = st.session_state[session.MODEL], st.session_state[session.DATASET]
model_version, dataset_version = st.session_state[session.MODEL_VERSION], st.session_state[session.DATASET_VERSION]
if jobs.job_active():
    st.info("Training is running. This page shows the current model; the new one appears when training ends.")

ev, problem = scores.evaluation(model, model_version, data, dataset_version)
if problem:  # no validation patches, or too few for the PCA baseline
    st.error(problem)
    st.stop()
k = min(model.config.latent_dim, len(data.train))
if ev is not None:
    m = st.columns(4)
    metric_vs("VAE PSNR", f"{ev.psnr:.2f} dB", ev.psnr - ev.pca_psnr, 2, " dB vs PCA", where=m[0])
    m[1].metric(f"PCA PSNR ({k} numbers)", f"{ev.pca_psnr:.2f} dB")
    metric_vs("VAE SSIM", f"{ev.ssim:.3f}", ev.ssim - ev.pca_ssim, 3, " vs PCA", where=m[2])
    m[3].metric("PCA SSIM", f"{ev.pca_ssim:.3f}")
    better = "the VAE redraws them better" if ev.psnr >= ev.pca_psnr else "PCA redraws them better than the VAE"
    st.caption(
        f"Averages over all {plural(ev.n_val_patches, 'validation patch', 'validation patches')} of your current "
        f"data (patches the model never trained on): {better}. PSNR: higher is better (30 dB looks close). SSIM: 1 "
        f"means identical structure. PCA is the best *linear* method that also keeps {k} numbers per patch; a VAE "
        "has to beat it to be worth its extra complexity."
    )

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
with st.spinner("Reconstructing patches..."):
    r = cached.comparison(
        model, model_version, data, dataset_version, "val" if split == "Validation" else "train", count
    )
pngs, captions, grid_png = cached.comparison_pngs(
    model, model_version, data, dataset_version, "val" if split == "Validation" else "train", count,
    {"Worst first": "worst", "Best first": "best"}.get(order, "cut"),
)  # fmt: skip
st.markdown(
    "Each column: **original** (top), **VAE** (middle), **PCA** (bottom); caption: the VAE's PSNR. On these "
    f"{len(pngs)} {split.lower()} patches the VAE averages {r.vae_psnr.mean():.2f} dB, PCA {r.pca_psnr.mean():.2f} dB."
)
cells = list(zip(pngs, captions, strict=True))
for row in range(0, len(cells), GRID_COLUMNS):  # full rows: every choice of "How many" is a multiple of 16
    columns = st.columns(GRID_COLUMNS, gap="xxsmall")
    for col, (image, text) in zip(columns, cells[row : row + GRID_COLUMNS], strict=False):
        col.image(image, caption=text, width="stretch")

left, right = st.columns([2, 3])
with left:
    st.download_button(
        "Download this grid (PNG)",
        grid_png,
        "reconstructions.png",
        "image/png",
        key="recon_grid_download",
        icon=":material/download:",
    )
with right:
    st.plotly_chart(
        go.Figure(psnr_scatter(r.vae_psnr, r.pca_psnr, k)), key="recon_scatter", config={"displayModeBar": False}
    )

st.subheader("Whole image")
st.caption(
    "A whole texture rebuilt from overlapping patches, blended so the seams do not show. "
    f"Images larger than {MAX_SIDE} px are shrunk first."
)
images = st.session_state[session.IMAGES]
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
        st.session_state[session.RECON_FULL] = {
            "model_version": model_version,
            "name": name,
            "original": pixels,
            "recon": out,
        }
    bar.empty()

result = st.session_state.get(session.RECON_FULL)
if result and result["model_version"] == model_version:
    a, b = st.columns(2)
    a.image(result["original"], caption=f"Original: {result['name']}", width="stretch")
    score = psnr(result["original"], result["recon"])
    b.image(result["recon"], caption=f"Rebuilt by the VAE · PSNR {score:.1f} dB", width="stretch")
    stem = str(result["name"]).rsplit(".", 1)[0]
    st.download_button(
        "Download the rebuilt image (PNG)",
        to_png(result["recon"]),
        f"{stem}_reconstruction.png",
        "image/png",
        key="recon_full_download",
        icon=":material/download:",
    )
