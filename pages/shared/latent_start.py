"""The Latent sliders' starting point: a dataset patch, an uploaded image, a random code or the origin.

Other pages (the Latent map) send a code with ``session.set_slider_start`` before switching to the sliders.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from pages.shared import session
from vae_core.data.decode import decode_image
from vae_core.data.images import ImageRejected, to_channels
from vae_core.explore.latent import encode
from vae_core.imaging import center_patch


def starting_point_picker(model: Any, data: Any) -> None:
    """An expander to choose where the sliders start; a new choice becomes the current code and reruns."""
    size, dim = model.config.image_size, model.latent_dim
    with st.expander(f"Starting point: {st.session_state[session.LAT_START]['label']}"):
        kind = st.radio(
            "Start from",
            ["A patch from my dataset", "An image I upload", "A random sample", "The origin (all zeros)"],
            horizontal=True,
            key="lat_start_kind",
        )
        new_z, label = None, None
        if kind == "A patch from my dataset":
            a, b = st.columns([3, 1])
            i = a.number_input("Patch number", 1, len(data.train), 1, key="lat_patch") - 1
            b.image(data.train[i].transpose(1, 2, 0), width=64)
            if a.button("Start from this patch", key="lat_use_patch"):
                new_z, label = encode(model, data.train[i : i + 1]).mu[0], f"Patch {i + 1} of the training set"
        elif kind == "An image I upload":
            upload = st.file_uploader(f"An image: its centre is cropped and resized to {size} px", key="lat_upload")
            if upload is not None:
                try:
                    pixels = to_channels(decode_image(upload.getvalue(), upload.name).pixels, model.config.channels)
                except ImageRejected as exc:
                    st.error(str(exc))
                else:
                    patch = center_patch(pixels, size)
                    if st.session_state.get(session.LAT_UPLOAD_SEEN) != upload.file_id:  # encode each new upload once
                        st.session_state[session.LAT_UPLOAD_SEEN] = upload.file_id
                        new_z, label = encode(model, patch[None]).mu[0], f"Uploaded image {upload.name}"
                    st.image(patch.transpose(1, 2, 0), width=64)
                    st.caption(f"What the model sees: the centre of your image, {size}×{size} pixels")
        elif kind == "A random sample":
            seed = st.number_input("Seed", 0, 10**6, 0, key="lat_seed")
            if st.button("Draw a random code", key="lat_use_random"):
                new_z, label = np.random.default_rng(seed).standard_normal(dim), f"Random sample (seed {seed})"
        elif st.button("Start from the origin", key="lat_use_origin"):
            new_z, label = np.zeros(dim), "The origin"
        if new_z is not None:
            session.set_slider_start(new_z, label)
            st.rerun()  # so that the expander's title names the new starting point
        st.caption(f"Current starting point: **{st.session_state[session.LAT_START]['label']}**")
