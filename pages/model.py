"""Model: load a checkpoint or the starter model, download the current one, and read what it is in plain words."""

from dataclasses import asdict

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages.shared import cached, jobs, scores, session
from pages.shared.guards import require_model
from pages.shared.model_loader import load_model_controls
from vae_core.data.images import plural
from vae_core.explore.figures import kl_bar_figure, loss_figure
from vae_core.model.vae import count_parameters, kind_words
from vae_core.training.progress import device_words, duration

st.title("Model")
st.caption("Load a saved model, download the current one, and see what it is and how it was trained.")

if jobs.job_active():
    st.info("A training run is in progress. When it ends, its model becomes the current model.")
load_model_controls()

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
kind = "colour" if mc.channels == 3 else "greyscale"
summary = state.history.summary() if state is not None else {}
psnr, n_checked = (
    summary.get("final_val_psnr"),
    min(trained_on.get("n_val", 0), getattr(train_config, "val_max_patches", 512)),
)
m = st.columns(4)
m[0].metric(
    "Numbers per patch",
    mc.latent_dim,
    help="The code's length (latent dimensions): how many numbers describe one patch.",
)
m[1].metric(
    "Patch size",
    f"{mc.image_size} px",
    help=f"The model reads and redraws square {kind} patches of {mc.image_size}×{mc.image_size} pixels. "
    "Textures are cut into patches of this size to train it or to be reconstructed.",
)
m[2].metric("Steps trained", f"{summary.get('steps', 0):,}" if state is not None else "unknown")
m[3].metric(
    "PSNR when training ended",
    f"{psnr:.1f} dB" if psnr else "n/a",
    help=f"How close its redrawings were, on {plural(n_checked, 'validation patch', 'validation patches')} of the "
    "data it was trained on (patches it never learned from). Higher is better; 30 dB looks close.",
)
# Where it trained is known only for a model trained here: a checkpoint does not record its device.
here = st.session_state[session.MODEL_SOURCE].startswith("Trained here")
where = f" on {device_words(st.session_state[session.MODEL_DEVICE])}" if here else ""
trained = (
    f"trained for {duration(summary.get('train_seconds', 0))}{where}" if state is not None else "training not recorded"
)
st.caption(
    f"It describes each {mc.image_size}×{mc.image_size} {kind} patch with {mc.latent_dim} numbers and redraws "
    f"the patch from them alone · made of {kind_words(mc)} · {count_parameters(model):,} weights · {trained}"
)
scored = False  # whether the validation scores were ready in this run
if session.compatible():
    ev, problem = scores.evaluation(
        model, version, st.session_state[session.DATASET], st.session_state[session.DATASET_VERSION]
    )
    scored = ev is not None or problem is not None
    if ev is not None:
        st.markdown(
            f"**On your current patches:** {ev.psnr:.1f} dB PSNR over all "
            f"{plural(ev.n_val_patches, 'validation patch', 'validation patches')} (PCA with as many numbers: "
            f"{ev.pca_psnr:.1f} dB). The Reconstructions page shows the same figure."
        )
    elif problem:
        st.caption(f"Not scored on your current patches: {problem}")
with st.spinner("Preparing the model file..."):
    file_bytes = cached.checkpoint_bytes(model, version, train_config, state, trained_on)
st.download_button(
    "Download the model (.safetensors)",
    data=file_bytes,
    file_name="texture-vae.safetensors",
    mime="application/octet-stream",
    key="model_download",
    icon=":material/download:",
    help="Includes the training state, so you can load it later and resume training.",
)

st.subheader("How it learned")
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

st.subheader("How many of its numbers it uses")
kl = None
if session.compatible():
    from vae_core.explore.latent import ACTIVE_KL_NATS, collapse_warning

    kl, why_not = scores.kl_per_dimension(
        model,
        version,
        st.session_state[session.DATASET],
        st.session_state[session.DATASET_VERSION],
        wait=scores.WAIT_S if scored else 0.0,  # the line works one run at a time: no use waiting twice
    )
    if kl is not None:
        active = int((kl > ACTIVE_KL_NATS).sum())
        ignored = mc.latent_dim - active
        st.write(
            f"**{active} of {mc.latent_dim}** numbers change from one of your patches to the next, so they carry "
            "what makes each patch look the way it does"
            + (f"; the model has learned to ignore the other {ignored}." if ignored else ".")
        )
        if warning := collapse_warning(active, mc.latent_dim, train_config.beta if train_config else 0.005):
            st.warning(warning)
    elif why_not:
        st.caption(f"Not measured: {why_not}")
else:
    st.info("Add textures cut to this model's patch size on the Data page to measure which numbers it uses.")
    st.page_link("pages/data.py", label="Go to Data", icon=":material/photo_library:")

with st.expander("Details for experts"):
    if kl is not None:
        st.markdown(f"Mean KL divergence of each latent dimension (nats); active above {ACTIVE_KL_NATS} nats.")
        st.plotly_chart(go.Figure(kl_bar_figure(kl, ACTIVE_KL_NATS)), key="model_kl", config={"displayModeBar": False})
    left, right = st.columns(2)
    left.markdown("**Architecture** (`ModelConfig`)")
    left.dataframe(pd.DataFrame({"value": {k: str(v) for k, v in asdict(mc).items()}}), width="stretch")
    right.markdown("**Training settings** (`TrainConfig`)")
    if train_config is None:
        right.write("Not recorded in this checkpoint.")
    else:
        keys = ("seconds", "max_steps", "batch_size", "lr", "beta", "free_bits", "kl_warmup_steps", "augment", "seed")
        values = {k: "no limit" if asdict(train_config).get(k) is None else str(asdict(train_config)[k]) for k in keys}
        right.dataframe(pd.DataFrame({"value": values}), width="stretch")
