"""Train: pick a preset, train in the background while watching it learn, stop or resume any time."""

import plotly.graph_objects as go
import streamlit as st

from pages.shared import jobs, session
from pages.shared.guards import require_dataset
from vae_core.config import PATCH_SIZES, PRESETS
from vae_core.explore.figures import loss_figure
from vae_core.training.progress import device_words, duration, progress_text, queue_text

st.title("Train")
require_dataset()

data = st.session_state[session.DATASET]
model = st.session_state[session.MODEL]
active = jobs.job_active()
device = jobs.training_device()
jobs.prewarm_worker()
CHOICES = ("quick", "balanced", "quality")


preset_key = st.session_state.get("train_preset", "quick")
base = PRESETS[preset_key]
with st.form("train_form", border=True):
    preset_key = st.radio(
        "How long should it train?",
        CHOICES,
        format_func=lambda k: f"{PRESETS[k].name} (~{duration(PRESETS[k].train.seconds)})",
        captions=[PRESETS[k].description for k in CHOICES],  # one below the other: side by side, "Quality" wrapped
        key="train_preset",
    )
    with st.expander("Advanced settings (leave empty to use the preset's values)"):
        a1, a2, a3, a4, a5 = st.columns(5)
        latent = a1.number_input(
            "Latent dimensions", 2, 256, None, placeholder=str(base.model.latent_dim), key="train_latent_dim"
        )
        beta = a2.number_input(
            "β (KL weight)", 0.0, 10.0, None, format="%.4f", placeholder=f"{base.train.beta:g}", key="train_beta"
        )
        lr = a3.number_input(
            "Learning rate", 1e-6, 0.5, None, format="%.5f", placeholder=f"{base.train.lr:g}", key="train_lr"
        )
        batch = a4.number_input("Batch size", 1, 4096, None, placeholder=str(base.train.batch_size), key="train_batch")
        patch = a5.selectbox(
            "Patch size (px)", PATCH_SIZES, index=PATCH_SIZES.index(data.patch_size), key="train_patch"
        )
        st.caption(
            "A higher β packs less detail into the code (smoother, blurrier); a lower β keeps more detail. "
            "Latent dimensions, the code's length, and patch size only apply to a new model."
        )
    b1, b2 = st.columns(2)
    start = b1.form_submit_button(
        "Start training", key="train_start", type="primary", disabled=active, icon=":material/play_arrow:"
    )
    resume = b2.form_submit_button(
        "Resume training",
        key="train_resume",
        disabled=active or model is None,
        icon=":material/resume:",
        help="Continue the current model.",
    )

st.caption(jobs.time_estimate(device, [PRESETS[k] for k in CHOICES], batch))

if start or resume:
    try:
        jobs.start_from_form(
            PRESETS[preset_key],
            new_model=start,
            latent_dim=latent,
            beta=beta,
            lr=lr,
            batch_size=batch,
            patch_size=patch,
        )
    except ValueError as exc:
        st.error(str(exc))
    else:
        st.rerun()


def live_view(drawn_active: bool) -> None:
    """Progress of this session's job; polled every 2 s while it runs (``drawn_active``: see jobs.rerun_when_done)."""
    job = st.session_state[session.JOB]
    snap = job.snapshot()
    jobs.rerun_when_done(snap, drawn_active)  # then the page is redrawn with its Start button enabled
    if snap.status == "queued":
        st.info(
            f"Waiting for a free training slot: you are {queue_text(snap.queue_position, snap.wait_s)}. "
            "It starts by itself; you can leave this page."
        )
    elif snap.status == "running":
        info = snap.info
        if info is None:
            st.progress(0.0, text=f"Preparing the data and the model on {device_words(snap.device)}...")
        else:
            st.progress(min(1.0, info.progress), text=progress_text(info, snap.device))
            m, n_val = st.columns(4), min(job.data.n_val, job.config.val_max_patches)
            m[0].metric(
                "Redrawing error", f"{info.recon:.3g}", help="Lower is better (reconstruction error, per patch)."
            )
            m[1].metric("Information in the code", f"{info.kl:.3g}", help="KL divergence in nats, per patch.")
            m[2].metric(
                "Validation PSNR",
                f"{snap.history.val_psnr[-1]:.1f} dB" if snap.history.val_psnr else "n/a",
                help=f"How close its redrawings are, on {n_val:,} validation patches it never trains on. "
                "Higher is better; 30 dB looks close.",
            )
            m[3].metric("Speed", f"{info.patches_per_s:,.0f} patches/s", help=f"On {device_words(snap.device)}")
    elif snap.status == "failed":
        st.error(snap.error)
    elif snap.status == "finished":
        st.success(snap.message)
    else:
        st.info(f"Stopped. {snap.message}")
    if snap.done and snap.active_dims is not None:
        st.caption(f"{snap.active_dims} of {snap.latent_dim} latent dimensions carry information.")
    if snap.warning:
        st.warning(snap.warning)
    label = "Leave the queue" if snap.status == "queued" else "Stop (keeps what it learned)"
    if snap.active and st.button(label, key="train_stop", icon=":material/stop:"):
        job.stop()
        st.toast("Stopping after the current step. The weights trained so far are kept.")

    st.plotly_chart(go.Figure(loss_figure(snap.history)), key="train_curves", config={"displayModeBar": False})
    if snap.status == "running" and not snap.history.val_step:
        st.caption("Validation runs every few seconds; its PSNR curve appears after the first check.")
    if snap.preview is not None:
        step = snap.preview.step
        caption = f"Top: patches the model never trained on. Bottom: its redrawing at step {step:,}."
        st.image(snap.preview.grid(scale=3), caption=caption)


if st.session_state[session.JOB] is not None:
    st.subheader("Progress")
    st.fragment(run_every=2.0 if active else None)(live_view)(active)
elif model is not None and st.session_state[session.TRAIN_STATE] is not None:
    st.subheader("Training curves of the current model")
    st.plotly_chart(go.Figure(loss_figure(st.session_state[session.TRAIN_STATE].history)), key="train_model_curves")
if not active and model is not None and st.session_state[session.MODEL_VERSION]:
    st.page_link("pages/reconstructions.py", label="See the reconstructions", icon=":material/compare:")
