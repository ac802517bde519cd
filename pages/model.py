"""Model: load a checkpoint or the starter model, download the current model, and read its model card."""

from dataclasses import asdict

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages.shared import jobs, session
from pages.shared.cached import checkpoint_bytes, kl_per_dimension
from pages.shared.guards import require_model
from vae_core.explore.figures import kl_bar_figure, loss_figure
from vae_core.model.vae import count_parameters

st.title("Model")
st.caption("Load a saved model, download the current one, and see what it is and how it was trained.")

if jobs.job_active():
    st.info("A training run is in progress. When it ends, its model becomes the current model.")
c1, c2 = st.columns([3, 2])
with c1:
    upload = st.file_uploader(
        "Load a checkpoint (.safetensors saved by Texture VAE Explorer)", key="model_upload", type=None
    )
    if upload is not None and st.session_state.get(session.MODEL_UPLOAD_SEEN) != upload.file_id:
        st.session_state[session.MODEL_UPLOAD_SEEN] = upload.file_id
        with st.spinner("Checking the file..."):
            error = session.load_uploaded_checkpoint(upload.name, upload.getvalue())
        st.session_state[session.MODEL_NOTICE] = (
            ("error", f"Could not load this file. {error.rstrip('.')}. Your current model is unchanged.")
            if error
            else ("success", f"Loaded '{upload.name}'.")
        )
        st.rerun()  # so the sidebar shows the current model
with c2:
    st.write("Or start from the model that comes with the app, trained on the sample textures.")
    if st.button("Load the starter model", key="model_load_starter", icon=":material/download_for_offline:"):
        with st.spinner("Loading the starter model..."):
            error = session.load_starter()
        st.session_state[session.MODEL_NOTICE] = ("error", error) if error else ("success", "Loaded the starter model.")
        st.rerun()
notice = st.session_state.get(session.MODEL_NOTICE)
if notice:
    (st.error if notice[0] == "error" else st.success)(notice[1])

require_model()
model = st.session_state[session.MODEL]
version = st.session_state[session.MODEL_VERSION]
state = st.session_state[session.TRAIN_STATE]
train_config = st.session_state[session.TRAIN_CONFIG]
trained_on = st.session_state[session.MODEL_DATASET]

st.header("Model card")
st.text(f"Source: {st.session_state[session.MODEL_SOURCE]}")  # names and labels from a file: plain text only
for note in st.session_state[session.MODEL_WARNINGS]:
    st.warning(note)
mc = model.config
n_params = count_parameters(model)
summary = state.history.summary() if state is not None else {}
m = st.columns(4)
m[0].metric("Latent dimensions", mc.latent_dim, help="How many numbers describe one patch.")
kind = "colour (RGB)" if mc.channels == 3 else "greyscale"
m[1].metric(
    "Patch size",
    f"{mc.image_size} px",
    help=f"The model reads and redraws square {kind} patches of {mc.image_size}×{mc.image_size} pixels. "
    "Textures are cut into patches of this size to train it or to be reconstructed.",
)
m[2].metric("Steps trained", f"{summary.get('steps', 0):,}" if state is not None else "unknown")
psnr = summary.get("final_val_psnr")
m[3].metric("Validation PSNR", f"{psnr:.1f} dB" if psnr else "n/a", help="Higher is better; 30 dB looks close.")
seconds, device = summary.get("train_seconds", 0), st.session_state[session.MODEL_DEVICE]
st.caption(f"{n_params:,} parameters · trained for {seconds:.0f} s on {device}")
with st.spinner("Preparing the model file..."):
    file_bytes = checkpoint_bytes(model, version, train_config, state, trained_on)
st.download_button(
    "Download the model (.safetensors)",
    data=file_bytes,
    file_name="texture-vae.safetensors",
    mime="application/octet-stream",
    key="model_download",
    icon=":material/download:",
    help="Includes the training state, so you can load it later and resume training.",
)

left, right = st.columns(2)
with left:
    st.subheader("Architecture")
    st.dataframe(pd.DataFrame({"value": {k: str(v) for k, v in asdict(mc).items()}}), width="stretch")
with right:
    st.subheader("Training settings")
    if train_config is None:
        st.write("Not recorded in this checkpoint.")
    else:
        keys = ("seconds", "batch_size", "lr", "beta", "free_bits", "kl_warmup_steps", "augment", "seed", "device")
        st.dataframe(pd.DataFrame({"value": {k: str(asdict(train_config)[k]) for k in keys}}), width="stretch")

st.subheader("Training curve")
if state is not None and state.history.step:
    st.plotly_chart(go.Figure(loss_figure(state.history)), key="model_curves", config={"displayModeBar": False})
else:
    st.write("This model has no recorded training history.")

st.subheader("Data it was trained on")
if trained_on:
    d = st.columns(4)
    d[0].metric("Images", trained_on.get("n_images", "?"))
    d[1].metric("Training patches", f"{trained_on.get('n_train', 0):,}")
    d[2].metric("Validation patches", f"{trained_on.get('n_val', 0):,}")
    d[3].metric("Labels", len(trained_on.get("labels", {})))
    if trained_on.get("labels"):
        st.text("Images per label: " + ", ".join(f"{k} ({v})" for k, v in trained_on["labels"].items()))
else:
    st.write("Not recorded.")

st.subheader("Active dimensions")
if session.compatible():
    from vae_core.explore.latent import ACTIVE_KL_NATS, collapse_warning

    with st.spinner("Measuring how much each dimension is used..."):
        kl = kl_per_dimension(
            model, version, st.session_state[session.DATASET], st.session_state[session.DATASET_VERSION]
        )
    active = int((kl > ACTIVE_KL_NATS).sum())
    st.write(
        f"**{active} of {mc.latent_dim}** dimensions carry information about your patches "
        f"(average KL above {ACTIVE_KL_NATS} nats; grey bars are unused)."
    )
    st.plotly_chart(go.Figure(kl_bar_figure(kl, ACTIVE_KL_NATS)), key="model_kl", config={"displayModeBar": False})
    warning = collapse_warning(active, mc.latent_dim, train_config.beta if train_config else 0.005)
    if warning:
        st.warning(warning)
else:
    st.info("Add textures cut to this model's patch size on the Data page to measure which dimensions it uses.")
    st.page_link("pages/data.py", label="Go to Data", icon=":material/photo_library:")
