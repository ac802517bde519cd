"""Data: add textures (upload, webcam, samples), check and relabel them, and choose how patches are cut."""

from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages.shared import session
from pages.shared.cached import thumbnails
from vae_core.config import PATCH_SIZES
from vae_core.data.images import LABEL_FROM_USER, LoadReport, as_typed, plural
from vae_core.explore.figures import count_bars
from vae_core.imaging import tile, to_png

st.title("Data")
st.caption("Add texture images. Each one is cut into small square patches, and the model learns from those patches.")

# Streamlit scrolls the uploader's file chips in a box two rows high, cutting the third row in half:
# let it show five rows before it scrolls (a style only, on this page's uploader).
st.html("<style>.st-key-data_upload [data-testid=stFileChips] { max-height: 16rem; }</style>")
tab_upload, tab_camera, tab_samples = st.tabs(["Upload files", "Webcam", "Built-in samples"])
with tab_upload:
    files = st.file_uploader(
        "Images (PNG, JPEG, BMP, GIF, TIFF, WebP) or zip archives of images",
        accept_multiple_files=True,
        key="data_upload",
        help="Labels come from a zip's folder names (brick/01.png → brick) "
        "or from the file name without its number (D103_01.bmp → D103). You can edit them below.",
    )
    new = [f for f in files or [] if f.file_id not in st.session_state[session.SEEN_UPLOADS]]
    if new:
        bar = st.progress(0.0, text=f"Reading {len(new)} file(s)...")

        def show(done: int, total: int) -> None:  # about a hundred updates, however many images
            if done == total or done % max(1, total // 100) == 0:
                bar.progress(done / total, text=f"Reading {done:,} of {total:,} images")

        full = session.read_uploads([(f.name, f.getvalue()) for f in new], progress=show)
        bar.empty()
        if full:  # nothing was read: the same files are tried again on the next run
            st.error(full)
        else:
            st.session_state[session.SEEN_UPLOADS] = st.session_state[session.SEEN_UPLOADS] | {f.file_id for f in new}
            session.release_uploads(f.file_id for f in new)  # read: the server keeps no second copy
            st.rerun()  # so the sidebar and the table show the new images
with tab_camera:
    if st.toggle("Use the webcam", key="data_camera_on", help="Your browser will ask for permission."):
        shot = st.camera_input("Take a close-up photo of a texture", key="data_camera")
        label = st.text_input("Label for this photo", value="webcam", key="data_camera_label").strip() or "webcam"
        if shot is not None and st.button("Add this photo", key="data_camera_add", icon=":material/add_a_photo:"):
            if full := session.read_uploads([(f"{label}_photo.jpg", shot.getvalue())], label=label):
                st.error(full)
            else:
                st.rerun()
with tab_samples:
    st.write(
        "15 built-in textures: stripes, checks, dots, cells, marble and wood (two of each), "
        "plus brick, grass and gravel."
    )
    if st.button("Add the built-in samples", key="data_add_samples", icon=":material/texture:"):
        session.add_images(LoadReport(images=session.sample_images()))
        st.rerun()

if st.session_state[session.LOAD_NOTE]:
    st.warning(st.session_state[session.LOAD_NOTE], icon=":material/memory:")
rejected, notes = st.session_state[session.REJECTED], st.session_state.get(session.LOAD_NOTES, [])
if rejected:
    st.warning(
        f"{plural(len(rejected), 'file')} could not be used (the others were added):\n\n"
        + "\n".join(f"- **{as_typed(r.name)}**: {as_typed(r.reason)}" for r in rejected)
    )
if notes:
    st.info("Loaded, with a note:\n\n" + "\n".join(f"- {as_typed(note)}" for note in notes))
if (rejected or notes or st.session_state[session.LOAD_NOTE]) and st.button(
    "Clear these messages", key="data_clear_rejected"
):
    st.session_state[session.REJECTED], st.session_state[session.LOAD_NOTES] = [], []
    st.session_state[session.LOAD_NOTE] = None
    st.rerun()

images = st.session_state[session.IMAGES]
if not images:
    st.info("No textures yet. Upload some images above, take a webcam photo, or add the built-in samples.")
    st.stop()

st.subheader(f"Your textures ({len(images)})")
st.caption(
    "Edit a label by double-clicking it. Untick **Keep** to remove an image. **Label from** says where each "
    "label came from: the image's folder, its file name without the number, you, or the built-in set."
)
version = st.session_state[session.IMAGES_VERSION]
table = pd.DataFrame(
    {
        "Image": thumbnails(images, version),
        "Name": [im.name for im in images],
        "Label": [im.label for im in images],
        "Label from": [im.label_from for im in images],
        "Size": [
            f"{im.pixels.shape[1]}×{im.pixels.shape[0]} {'grey' if im.channels == 1 else 'colour'}" for im in images
        ],
        "Keep": [True] * len(images),
    }
)
edited = st.data_editor(
    table,
    key=f"data_table_{version}",
    hide_index=True,
    row_height=64,
    disabled=["Image", "Name", "Label from", "Size"],
    column_config={
        "Image": st.column_config.ImageColumn("Image", width="small"),
        "Label": st.column_config.TextColumn("Label", required=True, max_chars=40),
        "Keep": st.column_config.CheckboxColumn("Keep", help="Untick to remove this image"),
    },
)
# A cleared cell arrives as None/NaN: it keeps the old label (str() would make it "None" or "nan").
cells = zip(edited["Label"], images, strict=True)
labels = [v.strip() if isinstance(v, str) and v.strip() else im.label for v, im in cells]
keep = [bool(v) for v in edited["Keep"]]
if labels != [im.label for im in images] or not all(keep):
    # New records, not edits in place: whoever else holds the old ones (a test fixture) sees no change.
    relabelled = [
        replace(im, label=lb, label_from=im.label_from if lb == im.label else LABEL_FROM_USER)
        for im, lb in zip(images, labels, strict=True)
    ]
    session.set_images([im for im, k in zip(relabelled, keep, strict=True) if k])
    st.rerun()  # new images version: patches, dataset version and this table are rebuilt
with st.popover("Remove all images", icon=":material/delete:"):
    st.write(f"Remove all {plural(len(images), 'image')} and their patches? Your model stays.")
    if st.button(f"Yes, remove {plural(len(images), 'image')}", key="data_remove_all", type="primary"):
        session.set_images([])
        st.session_state[session.REJECTED] = []
        st.rerun()

st.subheader("Patches")
cfg = st.session_state[session.PATCH_CONFIG]
widgets = ("data_patch_size", "data_per_image", "data_colour")
in_use = (cfg.patch_size, cfg.patches_per_image, "Colour" if cfg.channels == 3 else "Greyscale")
for key, value in zip(widgets, in_use, strict=True):
    st.session_state.setdefault(key, value)  # the settings in use (the callback may set them back)
recut = {"on_change": session.apply_patch_widgets, "args": widgets}  # re-cut before the sidebar is drawn
c1, c2, c3 = st.columns(3)
c1.select_slider("Patch size (pixels)", options=PATCH_SIZES, key=widgets[0], **recut)
c2.slider("Training patches per image", 16, 1024, step=16, key=widgets[1], **recut)
c3.radio("Colour", ["Colour", "Greyscale"], horizontal=True, key=widgets[2], **recut)
if error := st.session_state.pop(session.PATCH_ERROR, None):
    st.error(error)
st.caption("Bigger patches see more of the pattern but need bigger images and more training time.")

data = st.session_state[session.DATASET]
if data is None:
    st.error(st.session_state[session.DATASET_ERROR] or "No patches could be cut from these images.")
    st.stop()
for s in data.skipped:
    st.warning(s.reason)
if data.note:  # the session's patch budget made every image give fewer patches
    st.info(data.note, icon=":material/memory:")

m1, m2, m3, m4 = st.columns(4)
m1.metric("Images used", data.n_images)
m2.metric("Training patches", f"{data.n_train:,}")
m3.metric("Validation patches", f"{data.n_val:,}", help="Kept aside from the bottom of each image to test the model.")
m4.metric("Labels", len(data.label_names))

left, right = st.columns([3, 2])
with left:
    rng = np.random.default_rng(0)
    pick = rng.choice(data.n_train, size=min(64, data.n_train), replace=False)
    grid = tile(data.train[np.sort(pick)].transpose(0, 2, 3, 1), cols=8)
    st.image(grid, caption="A random sample of training patches (with random flips and turns)", width="stretch")
    st.download_button("Download this grid (PNG)", to_png(grid), "patches.png", "image/png", key="data_grid_download")
with right:
    counts = data.summary()["train_patches_per_label"]
    st.plotly_chart(
        go.Figure(count_bars(counts, "Training patches")), key="data_label_counts", config={"displayModeBar": False}
    )

st.page_link("pages/train.py", label="Next: train a model", icon=":material/arrow_forward:")
