"""The sidebar's session status: dataset, model and training in progress (no torch needed)."""

from __future__ import annotations

import streamlit as st

from pages.shared import jobs, session, work
from vae_core.data.images import plural
from vae_core.training.progress import device_words, queue_text, time_left


def render_sidebar() -> None:
    jobs.sync_job()
    with st.sidebar:
        st.subheader("Your session", divider="gray")
        _dataset_status()
        _model_status()
        _memory_status()
        job = st.session_state[session.JOB]
        if job is not None:
            active = job.active
            # Poll only while something is happening, so an idle app makes no reruns.
            st.fragment(run_every=2.0 if active else None)(_job_status)(active)
        work.work_controls()
        work.leave_guard()


def _dataset_status() -> None:
    data = st.session_state[session.DATASET]
    images = st.session_state[session.IMAGES]
    if data is None:
        text = f"{plural(len(images), 'image')}, no patches yet" if images else "No textures yet"
        st.markdown(f":material/photo_library: **Data**: {text}")
        return
    st.markdown(
        f":material/photo_library: **Data**: {plural(data.n_images, 'image')} · {data.n_train:,} training / "
        f"{plural(data.n_val, 'validation patch', 'validation patches')} of {data.patch_size} px · "
        f"{plural(len(data.label_names), 'label')}"
    )


def _model_status() -> None:
    model = st.session_state[session.MODEL]
    if model is None:
        st.markdown(":material/neurology: **Model**: none yet")
        return
    state = st.session_state[session.TRAIN_STATE]
    steps = f"{plural(state.step, 'step')} trained" if state is not None else "steps unknown"
    source = st.session_state[session.MODEL_SOURCE]
    where = f" on {device_words(st.session_state[session.MODEL_DEVICE])}" if source.startswith("Trained here") else ""
    st.markdown(
        f":material/neurology: **Model**: {plural(model.config.latent_dim, 'number')} per patch · {steps}{where}"
    )
    st.text(source)  # a file name someone chose: plain text, never markdown


def _memory_status() -> None:
    from vae_core.config import ServerBudgets
    from vae_core.data.images import format_bytes

    used, budgets = session.memory(), ServerBudgets.from_env()
    st.caption(
        f":material/memory: Memory held for you: {used.describe()}",
        help=f"What this server keeps for your session. Limits per session: images "
        f"{format_bytes(budgets.session_image_bytes)}, patches {format_bytes(budgets.session_patch_bytes)}, "
        f"model files {format_bytes(budgets.session_model_bytes)}.",
    )


def _job_status(drawn_active: bool) -> None:
    """The sidebar's line on training (``drawn_active``: see jobs.rerun_when_done)."""
    job = st.session_state[session.JOB]
    snap = job.snapshot()
    jobs.rerun_when_done(snap, drawn_active)  # the whole app, so every page sees the new model
    if snap.status == "queued":
        st.markdown(f":material/hourglass_top: **Training**: waiting, {queue_text(snap.queue_position, snap.wait_s)}")
    elif snap.status == "running":
        info = snap.info
        left = time_left(info)
        st.markdown(":material/model_training: **Training** in progress")
        st.progress(info.progress if info is not None else 0.0, text=f"step {snap.step:,}{', ' + left if left else ''}")
    else:
        icon = {"finished": ":material/check_circle:", "stopped": ":material/stop_circle:"}.get(
            snap.status, ":material/error:"
        )
        st.markdown(f"{icon} **Last training**: {snap.status}")
    st.page_link("pages/train.py", label="Open training", icon=":material/monitoring:")
