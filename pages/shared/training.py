"""This session's background training: start a job (from the Train page's form), adopt its result, describe progress.

The job itself (a thread running ``fit``, a server-wide queue) is ``vae_core.jobs``; this module
only ties it to ``st.session_state``. No torch at import time.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages.shared.state import (
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


def duration(seconds: float) -> str:
    """'45 s', '2 min': how the app says a length of time."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def time_left(info: Any) -> str:
    """'about 12 s left' while time remains; 'finishing…' once the budget is spent (final check, saving)."""
    if info is None or info.eta_s is None:
        return ""
    return f"about {duration(info.eta_s)} left" if info.eta_s >= 0.5 else "finishing…"


def time_estimate(device: str, presets: list, batch_size: int | None = None) -> str:
    """One sentence on how long training takes here, with step counts once a run has measured the speed.

    ``batch_size``: the one entered under Advanced settings; None means each preset's own.
    """
    text = f"Training runs on **{device}** and stops when its time is up (plus a few seconds to set up and check)."
    job = st.session_state[JOB]
    info = job.snapshot().info if job is not None else None
    if info is not None and info.patches_per_s > 0:
        # Steps = patches per second x seconds / patches per step, at the batch size the next run would use.
        steps = ", ".join(
            f"{p.name} ≈ {info.patches_per_s * p.train.seconds / (batch_size or p.train.batch_size):,.0f}"
            for p in presets
        )
        at = f" at batch size {batch_size:,}" if batch_size else ""
        text += f" Measured here: {info.patches_per_s:,.0f} patches/s, so about this many steps{at}: {steps}."
    return text


def progress_text(info: Any, device: str | None) -> str:
    """'Step 1,234 · 40% · about 12 s left · on cpu': the progress bar's caption while a run trains."""
    left = time_left(info)
    return f"Step {info.step:,} · {info.progress:.0%}{' · ' + left if left else ''} · on {device}"


def job_active() -> bool:
    job = st.session_state[JOB]
    return job is not None and job.snapshot().active


@st.cache_resource(show_spinner=False)
def training_device() -> str:
    """Where new training runs go on this server ("cpu", "cuda", "mps"): read-only, shared."""
    from vae_core.train import select_device

    return str(select_device("auto"))


def start_job(train_config: Any, model_config: Any = None) -> None:
    """Start this session's training job in the background.

    With ``model_config``: a new model of that shape. Without: continue the current model
    from its saved state (Resume). Raises ``ValueError`` with a plain message.
    """
    from dataclasses import replace

    from vae_core.jobs import TrainingJob, fresh_model

    if job_active():
        raise ValueError("A training run is already in progress; stop it first.")
    data = st.session_state[DATASET]
    if data is None:
        raise ValueError("There are no patches to train on; add textures on the Data page.")
    if model_config is not None:
        model, state = fresh_model(model_config.validate(), train_config.seed), None
    else:
        model, state = st.session_state[MODEL], st.session_state[TRAIN_STATE]
        if model is None:
            raise ValueError("There is no model to resume; start a new training run instead.")
        if not compatible():
            raise ValueError("The patches do not fit the current model; re-cut them or start a new run.")
        if state is None or state.step == 0:  # keep trained weights: no PCA re-initialisation
            train_config = replace(train_config, pca_init=False)
    job = TrainingJob(model, data, train_config, state=state)
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

    ``preset`` (a ``vae_core.config.Preset``) gives the budget and every setting left empty (None).
    ``new_model``: a fresh model cut for ``patch_size`` (the patches are re-cut first, and kept as
    they were if that size does not fit); otherwise the current model continues with the
    settings it was trained with, for the preset's time budget.
    """
    from dataclasses import replace

    changes = {k: v for k, v in {"beta": beta, "lr": lr, "batch_size": batch_size}.items() if v is not None}
    if new_model:
        patch_size = patch_size or st.session_state[PATCH_CONFIG].patch_size
        error = set_patch_config(replace(st.session_state[PATCH_CONFIG], patch_size=patch_size))
        if error:
            raise ValueError(error)
        model_config = replace(
            preset.model,
            image_size=patch_size,
            channels=st.session_state[DATASET].channels,
            latent_dim=latent_dim or preset.model.latent_dim,
        )
        start_job(replace(preset.train, **changes).validate(), model_config)
    else:
        previous = st.session_state[TRAIN_CONFIG] or preset.train
        start_job(replace(previous, seconds=preset.train.seconds, max_steps=None, device="auto", **changes).validate())


def _stop_all(jobs: list) -> None:
    for job in jobs:
        job.stop()


@st.cache_resource(scope="session", on_release=_stop_all, show_spinner=False)
def _session_jobs() -> list:
    """The jobs this session started. Streamlit releases this when the session ends (the tab was
    closed and did not come back), and ``_stop_all`` then stops them, so an abandoned run frees
    its training slot for the people still waiting instead of running out its budget."""
    return []
