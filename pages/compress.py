"""Compress: store a texture as the model's codes for its patches, next to JPEG and WebP at the same size."""

import uuid

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages.shared import cached, session
from pages.shared.compare_view import show_task_result
from pages.shared.guards import require_model
from vae_core.config import CompressConfig
from vae_core.data.decode import decode_image
from vae_core.data.images import ImageRejected, as_typed
from vae_core.imaging import downscale, to_png
from vae_core.tasks.codec import FILE_SUFFIX, CompressedFileError, decompress
from vae_core.tasks.compress import fair_start, rate_distortion
from vae_core.tasks.compress_report import rd_figure, summary_words, weights_words

CONFIG = CompressConfig()

st.title("Compress")
st.caption(
    "Store a texture as the few numbers the model keeps for each patch, and compare the file's size and "
    "quality with JPEG and WebP on the same image."
)
require_model()
model, mv = st.session_state[session.MODEL], st.session_state[session.MODEL_VERSION]
st.info(
    "What to expect: a small VAE trained for minutes usually loses to JPEG and WebP at moderate sizes. It can "
    "win only among the smallest files, where JPEG falls apart into blocks. Every number here is measured on "
    "your image, whichever side wins.",
    icon=":material/lightbulb:",
)

st.subheader("1. Choose an image")
images = st.session_state[session.IMAGES]
choices = ["A photograph the model has not seen", "One of my textures", "Upload an image"]
source = st.radio("Image", choices if images else choices[::2], horizontal=True, key="compress_source")
pixels, name = None, None
if source != "Upload an image":
    pool = cached.photographs() if source == choices[0] else images
    names = [im.name for im in pool]
    name = st.selectbox("Image", names, key=f"compress_pick_{choices.index(source)}", label_visibility="collapsed")
    pixels = pool[names.index(name)].pixels
else:
    upload = st.file_uploader("An image (PNG, JPEG, ...)", key="compress_upload")
    if upload is not None:
        try:
            pixels, name = decode_image(upload.getvalue(), upload.name).pixels, upload.name
        except ImageRejected as exc:
            st.error(str(exc))
if source != choices[0] and name in st.session_state[session.MODEL_DATASET].get("image_names", []):
    st.warning(
        f"The model trained on '{as_typed(name)}' (all but its bottom fifth), so it has an unfair head start here. "
        "A codec is judged on images it has not seen: upload another photo or texture for a fair test."
    )
count_weights = st.toggle(
    "Count the model's weights in the VAE's file size",
    key="compress_count_weights",
    help="Off: the decoder's weights are shared by every file, like JPEG's built-in tables, and are not in the "
    "file. That is fair on images the model did not train on. On: they are counted, as if you sent them along.",
)
if pixels is not None and st.button(
    f"Compress at every size (images over {CONFIG.max_side} px are shrunk first)", key="compress_run", type="primary"
):
    bar = st.progress(0.0, text="Compressing...")
    try:
        rd = rate_distortion(
            model, downscale(pixels, CONFIG.max_side), name, CONFIG,
            on_progress=lambda d, t, what: bar.progress(d / t, text=f"Compressing: {what} ({d} of {t})"),
        )  # fmt: skip
    except ValueError as exc:
        st.error(str(exc))
    else:
        st.session_state[session.COMPRESS_RD] = {"model_version": mv, "token": uuid.uuid4().hex, "rd": rd}
        st.session_state.pop("compress_rate", None)  # a new image starts at its fair size again
    bar.empty()

saved = st.session_state.get(session.COMPRESS_RD)
if saved and saved["model_version"] == mv:
    rd = saved["rd"]
    st.subheader(f"2. Size against quality: {rd.name}")
    index = st.select_slider(
        "VAE file size (left: smaller file, right: better picture)",
        options=sorted(range(len(rd.files)), key=lambda i: len(rd.files[i].data)),
        value=fair_start(rd),
        format_func=lambda i: f"{len(rd.files[i].data):,} bytes ({rd.points[i].bpp:.3f} bits per pixel)",
        key="compress_rate",
    )
    st.plotly_chart(go.Figure(rd_figure(rd, index, count_weights)), key="compress_plot")
    st.markdown(summary_words(rd))
    if count_weights:
        st.warning(weights_words(rd))

    st.subheader("3. The VAE next to JPEG and WebP at the same size")
    with st.spinner("Finding JPEG and WebP files of the same size..."):
        result = cached.compress_comparison(rd, saved["token"], index, count_weights)
    small = [m.name for m in result.classic if "smallest file is bigger" in m.note]
    if small:
        st.warning(
            f"{' and '.join(small)} cannot make a file this small: shown at their smallest, which is bigger than "
            "the VAE's. Move the slider right for a comparison at equal size."
        )
    zoom = st.toggle("Zoom into the centre (4x)", key="compress_zoom")
    stem = str(rd.name).rsplit(".", 1)[0]
    show_task_result(result, key="compress_view", file_stem=stem, every_method=True, zoom=4 if zoom else 1)
    file = rd.files[index]
    st.download_button(
        f"Download the compressed file ({len(file.data):,} bytes)",
        file.data,
        f"{stem}{FILE_SUFFIX}",
        "application/octet-stream",
        key="compress_file_download",
        icon=":material/download:",
        on_click="ignore",
    )
    with st.expander("Details for experts"):
        st.markdown(
            f"**What the file holds**: a 34-byte header (format, image size, patch grid, the model's fingerprint, "
            f"a checksum), the rate's parameters, and the codes: {file.rate.label}. Its size is the whole file. "
            f"The decoder's {rd.decoder_bytes / 1e6:.2f} MB of weights are not in it. "
            f"**JPEG per patch** counts only each patch's compressed data; full JPEG files per patch would add "
            f"{8 * rd.patch_header_bytes / rd.n_pixels:.1f} bits per pixel of headers, which is why the whole-image "
            f"codecs are the fair comparison. Compressing at this size took {rd.seconds[index][0]:.2f} s and opening "
            f"{rd.seconds[index][1]:.2f} s on this server."
        )
        st.dataframe(pd.DataFrame([vars(p) for p in rd.points]), hide_index=True, width="stretch")

st.subheader("Open a compressed file")
st.caption(f"A {FILE_SUFFIX} file made on this page opens again with the same model, to exactly the same pixels.")
opened = st.file_uploader(f"A compressed texture ({FILE_SUFFIX})", key="compress_open")
if opened is not None:
    try:
        image = decompress(model, opened.getvalue(), opened.name, max_pixels=CONFIG.max_open_pixels)
    except CompressedFileError as exc:
        st.error(str(exc))
    else:
        h = image.header
        st.image(image.pixels, caption=f"{opened.name}: {h.width}x{h.height} pixels from {image.n_bytes:,} bytes")
        st.download_button(
            "Download as PNG",
            to_png(image.pixels),
            f"{opened.name.rsplit('.', 1)[0]}.png",
            "image/png",
            key="compress_open_png",
            icon=":material/download:",
            on_click="ignore",
        )
