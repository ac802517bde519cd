"""The Model page's loading controls: upload a checkpoint or reload the starter, and say what the last load did."""

from __future__ import annotations

import streamlit as st

from pages.shared import session
from vae_core.data.images import as_typed


def load_model_controls() -> None:
    """Uploader, "Load the starter model" button, and the last load's message.

    The message stays while its file is still in the uploader (a starter load: once); after the
    file is removed, or the page is left and opened again, it is gone.
    """
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
                ("error", f"Could not load this file. {as_typed(error.rstrip('.'))}. Your current model is unchanged.")
                if error
                else ("success", f"Loaded '{as_typed(upload.name)}'."),
                upload.file_id,
            )
            st.rerun()  # so the sidebar shows the current model
    with c2:
        st.write("Or start from the model that comes with the app, trained on the sample textures.")
        if st.button("Load the starter model", key="model_load_starter", icon=":material/download_for_offline:"):
            with st.spinner("Loading the starter model..."):
                error = session.load_starter()
            st.session_state[session.MODEL_NOTICE] = (
                ("error", error) if error else ("success", "Loaded the starter model."),
                None,
            )
            st.rerun()
    # What the last load did: shown while its file is still in the uploader (a starter load: once), never after.
    notice = st.session_state.pop(session.MODEL_NOTICE, None)
    if notice and (notice[1] is None or (upload is not None and upload.file_id == notice[1])):
        (st.error if notice[0][0] == "error" else st.success)(notice[0][1])
        if notice[1] is not None:
            st.session_state[session.MODEL_NOTICE] = notice
