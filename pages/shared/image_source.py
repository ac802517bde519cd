"""Pick one image to work on: one of the session's textures, a sample texture, or an upload (decoded once, shrunk)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages.shared import session


def pick_image(key: str, max_side: int, upload_state: str) -> tuple[Any, str] | None:
    """Radio + picker (widget keys start with ``key``); returns ``((H, W, C) uint8 pixels, name)`` or None.

    The picture is shrunk so its longer side is at most ``max_side`` (a caption says so). An
    upload is decoded once per file and kept in ``st.session_state[upload_state]``; a file that
    is not an image gets its reason shown, and None is returned.
    """
    from vae_core.data.decode import decode_image
    from vae_core.data.images import ImageRejected
    from vae_core.imaging import downscale

    own = st.session_state[session.IMAGES]
    options = (["My textures"] if own else []) + ["Sample textures", "Upload an image"]
    source = st.radio("Image", options, horizontal=True, key=f"{key}_source")
    if source == "Upload an image":
        upload = st.file_uploader("An image (PNG, JPEG, ...)", key=f"{key}_upload")
        if upload is None:
            return None
        kept = st.session_state.get(upload_state) or {}
        if kept.get("file_id") != upload.file_id:
            try:
                pixels = decode_image(upload.getvalue(), upload.name).pixels
                kept = {"file_id": upload.file_id, "name": upload.name, "pixels": downscale(pixels, max_side)}
                kept |= {"error": None, "size": pixels.shape[:2]}
            except ImageRejected as exc:
                kept = {"file_id": upload.file_id, "name": upload.name, "pixels": None, "error": str(exc)}
            st.session_state[upload_state] = kept
        if kept["error"]:
            st.error(kept["error"])
            return None
        small, name, size = kept["pixels"], kept["name"], kept["size"]
    else:
        images = own if source == "My textures" else session.sample_images()
        names = [im.name for im in images]
        name = st.selectbox("Texture", names, key=f"{key}_image")
        pixels = images[names.index(name)].pixels
        small, size = downscale(pixels, max_side), pixels.shape[:2]
    if small.shape[:2] != size:
        st.caption(f"Shrunk from {size[1]}×{size[0]} to {small.shape[1]}×{small.shape[0]} pixels to keep it quick.")
    return small, name
