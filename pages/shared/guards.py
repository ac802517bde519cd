"""Page guards: say what is missing, link to where to get it, and stop the page."""

from __future__ import annotations

import streamlit as st

from pages.shared import jobs, session


def require_dataset() -> None:
    """Stop the page unless this session has patches to work with."""
    if st.session_state[session.DATASET] is None:
        st.info("This page needs some textures first. Add your own images or the built-in samples.")
        st.page_link("pages/data.py", label="Go to Data", icon=":material/photo_library:")
        st.page_link("pages/home.py", label="Or try everything with the samples", icon=":material/rocket_launch:")
        st.stop()


def require_model() -> None:
    """Stop the page unless this session has a model."""
    if st.session_state[session.MODEL] is None:
        if jobs.job_active():
            st.info("Your first model is still training. Its results will appear here when it finishes.")
            st.page_link("pages/train.py", label="Watch the training", icon=":material/model_training:")
        else:
            st.info("This page needs a model. Train one, load a checkpoint, or start with the samples.")
            st.page_link("pages/train.py", label="Train a model", icon=":material/model_training:")
            st.page_link("pages/model.py", label="Load a model", icon=":material/upload_file:")
            st.page_link("pages/home.py", label="Try it with sample textures", icon=":material/rocket_launch:")
        st.stop()


def require_compatible() -> None:
    """Stop the page when the patches do not fit the model; offer to re-cut them."""
    require_dataset()
    require_model()
    if session.compatible():
        return
    model, data = st.session_state[session.MODEL], st.session_state[session.DATASET]
    size, channels = model.config.image_size, model.config.channels
    kind = {1: "greyscale", 3: "colour"}
    st.warning(
        f"The model works on {size}-pixel {kind[channels]} patches, but your patches are "
        f"{data.patch_size}-pixel {kind[data.channels]}. Re-cut the patches to match, or train a new model."
    )
    if st.button(f"Re-cut patches at {size} px ({kind[channels]})", key="guard_recut"):
        from dataclasses import replace

        error = session.set_patch_config(
            replace(st.session_state[session.PATCH_CONFIG], patch_size=size, channels=channels)
        )
        if error:
            st.error(error)
        else:
            st.rerun()
    st.page_link("pages/train.py", label="Train a new model", icon=":material/model_training:")
    st.stop()
