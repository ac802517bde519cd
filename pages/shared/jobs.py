"""This session's background training: start a job (from the Train page's form), adopt its result.

The job itself (a thread running ``fit``, a server-wide queue) is ``vae_core.training.jobs``; this module
only ties it to ``st.session_state``. No torch at import time.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages.shared.session import (
    ADOPTED,
    DATASET,
    JOB,
    MODEL,
    PATCH_CONFIG,
    TRAIN_CONFIG,
    TRAIN_STATE,
    compatible,
    set_model,
    set_patch_config,
)


def sync_job() -> None:
    """When this session's job has ended a run, make its trained model the current one (once)."""
    job = st.session_state[JOB]
    if job is None:
        return
    snap = job.snapshot()
    tag = (job.id, job.run)
    if not snap.done or st.session_state[ADOPTED] == tag:
        return
    st.session_state[ADOPTED] = tag
    if job.result is not None and job.result_run == job.run:
        set_model(
            job.model,
            source=f"Trained here ({job.result.state.step:,} steps)",
            train_config=job.config,
            state=job.state,
            dataset=job.data.summary(),
            device=snap.device or "cpu",
        )


def time_estimate(device: str, presets: list, batch_size: int | None = None) -> str:
    """One sentence on how long training takes here, with step counts once a run has measured the speed.

    ``batch_size``: the one entered under Advanced settings; None means each preset's own.
    """
    from vae_core.training.progress import device_words, steps_estimate

    text = (
        f"Training runs on the **{device_words(device)}** and stops when its time is up "
        "(plus a few seconds to set up and check)."
    )
    job = st.session_state[JOB]
    info = job.snapshot().info if job is not None else None
    if info is not None and info.patches_per_s > 0:
        steps = steps_estimate(info.patches_per_s, presets, batch_size)
        at = f" at batch size {batch_size:,}" if batch_size else ""
        text += f" Measured here: {info.patches_per_s:,.0f} patches/s, so about this many steps{at}: {steps}."
    return text


def job_active() -> bool:
    job = st.session_state[JOB]
    return job is not None and job.snapshot().active


@st.cache_resource(show_spinner=False)
def training_device() -> str:
    """Where new training runs go on this server ("cpu", "cuda", "mps"): read-only, shared."""
    from vae_core.training.fit import select_device

    return str(select_device("auto"))


def start_job(train_config: Any, model_config: Any = None) -> None:
    """Start this session's training job in the background.

    With ``model_config``: a new model of that shape. Without: continue the current model
    from its saved state (Resume). Raises ``ValueError`` with a plain message.
    """
    from vae_core.explore.latent import collapse_check
    from vae_core.model.vae import build_model
    from vae_core.training.jobs import TrainingJob

    if job_active():
        raise ValueError("A training run is already in progress; stop it first.")
    data = st.session_state[DATASET]
    if data is None:
        raise ValueError("There are no patches to train on; add textures on the Data page.")
    if model_config is not None:
        model, state = build_model(model_config, train_config.seed), None
    else:
        model, state = st.session_state[MODEL], st.session_state[TRAIN_STATE]
        if model is None:
            raise ValueError("There is no model to resume; start a new training run instead.")
        if not compatible():
            raise ValueError("The patches do not fit the current model; re-cut them or start a new run.")
    job = TrainingJob(model, data, train_config, state=state, describe=collapse_check)
    jobs = _session_jobs()
    jobs[:] = [j for j in jobs if j.snapshot().active] + [job]  # ended jobs need no stopping
    st.session_state[JOB] = job.start()


def start_from_form(
    preset: Any,
    *,
    new_model: bool,
    latent_dim: int | None = None,
    beta: float | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    patch_size: int | None = None,
) -> None:
    """Start or resume training from the Train page's form. Raises ``ValueError`` with a plain message.

    A new model is cut for ``patch_size``: the patches are re-cut first (and kept as they were if
    that size does not fit). The settings come from ``vae_core.config.configs_for_run``.
    """
    from dataclasses import replace

    from vae_core.config import configs_for_run

    if new_model:
        patch_size = patch_size or st.session_state[PATCH_CONFIG].patch_size
        error = set_patch_config(replace(st.session_state[PATCH_CONFIG], patch_size=patch_size))
        if error:
            raise ValueError(error)
    state = st.session_state[TRAIN_STATE]
    data = st.session_state[DATASET]
    train_config, model_config = configs_for_run(
        preset,
        new_model=new_model,
        channels=data.channels if data is not None else 3,
        patch_size=patch_size or st.session_state[PATCH_CONFIG].patch_size,
        previous=st.session_state[TRAIN_CONFIG],
        resumed_steps=state.step if state is not None else 0,
        latent_dim=latent_dim,
        beta=beta,
        lr=lr,
        batch_size=batch_size,
    )
    start_job(train_config, model_config)


def _stop_all(jobs: list) -> None:
    for job in jobs:
        job.stop()


@st.cache_resource(scope="session", on_release=_stop_all, show_spinner=False)
def _session_jobs() -> list:
    """The jobs this session started. Streamlit releases this when the session ends (the tab was
    closed and did not come back), and ``_stop_all`` then stops them, so an abandoned run frees
    its training slot for the people still waiting instead of running out its budget."""
    return []
