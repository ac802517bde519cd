"""This session's background training: start a job (from the Train page's form), adopt its result.

The job itself (a worker process running ``fit``, a server-wide queue) is ``vae_core.training.jobs``;
this module only ties it to ``st.session_state`` and to the server's reaper, which stops a session's
background work once the session is really gone (``vae_core.training.reaper``): not on a dropped
connection that comes back within ``server.disconnectedSessionTTL``. No torch at import time.
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
    session_id,
    set_model,
    set_patch_config,
)

REAP_MARGIN_S = 15.0  # stop a session's work this long after Streamlit may have dropped it


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


def rerun_when_done(snap: Any, drawn_active: bool) -> None:
    """From a polling fragment: once this session's job is done, adopt its model and rerun the whole app.

    ``drawn_active``: whether the page around the fragment was drawn for a running job. The app
    reruns then even if the model was already adopted: a full rerun that a poll interrupted under
    load would otherwise leave the page's buttons greyed out for good while the fragment alone
    kept updating.
    """
    job = st.session_state[JOB]
    if snap.done and (drawn_active or st.session_state[ADOPTED] != (job.id, job.run)):
        sync_job()
        st.rerun()


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
    return job is not None and job.active


@st.cache_resource(show_spinner=False)
def reaper() -> Any:
    """The server's reaper (weak references only, no user data): stops a session's jobs and maps once it is gone."""
    from vae_core.training.reaper import Reaper

    ttl = float(st.get_option("server.disconnectedSessionTTL"))
    return Reaper(alive=_session_connected, grace_s=ttl + REAP_MARGIN_S).start()


def _session_connected(owner: str) -> bool:
    """True while the browser session ``owner`` has a live connection (always True outside a server)."""
    return not st.runtime.exists() or st.runtime.get_instance().is_active_session(owner)


@st.cache_resource(show_spinner=False)
def prewarm_worker() -> bool:
    """Start the first training process as soon as someone opens the Train page, not when they press Start."""
    from vae_core.training.jobs import default_runner
    from vae_core.training.slots import get_slots

    if default_runner() == "process":
        get_slots().workers.prewarm(0)
    return st.runtime.exists()


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
    from vae_core.data.budget import server_full_message
    from vae_core.explore.latent import collapse_check
    from vae_core.model.vae import build_model
    from vae_core.training.jobs import TrainingJob, default_runner

    if job_active():
        raise ValueError("A training run is already in progress; stop it first.")
    data = st.session_state[DATASET]
    if data is None:
        raise ValueError("There are no patches to train on; add textures on the Data page.")
    if full := server_full_message():  # before anything is built: "try again in a minute", not an OOM kill
        raise ValueError(full)
    if model_config is not None:
        model, state = build_model(model_config, train_config.seed), None
    else:
        model, state = st.session_state[MODEL], st.session_state[TRAIN_STATE]
        if model is None:
            raise ValueError("There is no model to resume; start a new training run instead.")
        if not compatible():
            raise ValueError("The patches do not fit the current model; re-cut them or start a new run.")
    owner = session_id()
    job = TrainingJob(
        model, data, train_config, state=state, describe=collapse_check, runner=default_runner(), owner=owner
    )
    st.session_state[JOB] = job.start()  # raises QueueFull (a ValueError) when the queue is full
    reaper().track(owner, job)


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
