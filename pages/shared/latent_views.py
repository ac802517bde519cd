"""Session keys and cached views shared by the Latent sliders and Latent map pages.

Keys hold per-user state in ``st.session_state``; cached views use
``st.cache_data(scope="session")`` keyed by ``model_version``/``dataset_version`` (see
pages/shared/views.py). Nothing here imports torch at module level.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from pages.shared import state as S
from pages.shared.views import summary_codes

# --- session_state keys -------------------------------------------------------------------
LAT_Z = "latent_z"  # np.ndarray (D,) float32: the sliders' current code
LAT_START = "latent_start"  # dict(z, label, model_version): the sliders' starting point (Reset returns here)
LAT_JOB = "latent_strip_job"  # vae_core.slider_frames.StripJob | None: previews being decoded
LAT_PANEL = "latent_panel"  # the slider component's key
LAT_DECODER_SENT = "latent_decoder_sent"  # model_version whose browser decoder this session was sent
LAT_SPRITES_SENT = "latent_sprites_sent"  # {token, dims}: strips sent since the panel last mounted
MAP_UMAP = "latent_map_umap"  # vae_core.latent_map.UmapRun: the background UMAP layout (progress, result)

STRIP_FRAMES = 13  # frames pre-decoded along each slider (the browser cross-fades between them)


def set_start(z: np.ndarray, label: str) -> None:
    """Make ``z`` the sliders' starting point and current code."""
    z = np.asarray(z, np.float32).reshape(-1).copy()
    st.session_state[LAT_START] = {"z": z, "label": label, "model_version": st.session_state[S.MODEL_VERSION]}
    st.session_state[LAT_Z] = z.copy()


@st.cache_data(scope="session", max_entries=4, show_spinner=False)
def slider_setup(_model: Any, model_version: str, _data: Any, dataset_version: str) -> dict:
    """KL per dimension, order (most used first), active mask and slider ranges (views.summary_codes)."""
    from vae_core.latent import active_dimensions, kl_per_dim, rank_dimensions
    from vae_core.slider_frames import slider_ranges

    codes = summary_codes(_model, model_version, _data, dataset_version)
    lo, hi = slider_ranges(codes.mu)
    return {
        "kl": kl_per_dim(codes),
        "order": rank_dimensions(codes),
        "active": active_dimensions(codes),
        "lo": lo,
        "hi": hi,
    }


@st.cache_data(scope="session", max_entries=2, show_spinner=False)
def browser_decoder(_model: Any, model_version: str) -> dict:
    """The model's decoder for the browser (vae_core.browser_decoder.decoder_spec)."""
    from vae_core.browser_decoder import decoder_spec

    return decoder_spec(_model)


@st.cache_data(scope="session", max_entries=64, show_spinner=False)
def exact_png(_model: Any, model_version: str, z: tuple[float, ...]) -> bytes:
    """The decode of one code as PNG bytes (H, W, C)."""
    from vae_core.fullimage import to_png
    from vae_core.latent import decode, to_uint8_hwc

    return to_png(to_uint8_hwc(decode(_model, np.asarray(z, np.float32)[None]))[0])


@st.cache_data(scope="session", max_entries=4, show_spinner=False)
def map_codes(_model: Any, model_version: str, _data: Any, dataset_version: str) -> Any:
    """``vae_core.latent_map.MapPoints``: codes of up to 20,000 patches (fewer above 32 px), evenly spread."""
    from vae_core.latent_map import encode_map

    return encode_map(_model, _data)


@st.cache_data(scope="session", max_entries=4, show_spinner=False)
def map_recon_error(_model: Any, model_version: str, _data: Any, dataset_version: str) -> np.ndarray:
    """Per-point reconstruction error (mean squared, 0-255 scale) for the map's points."""
    from vae_core.latent_map import reconstruction_error

    return reconstruction_error(_model, _data, map_codes(_model, model_version, _data, dataset_version))


@st.cache_data(scope="session", max_entries=8, show_spinner=False)
def pca_map(_model: Any, model_version: str, _data: Any, dataset_version: str, k: int) -> Any:
    """PCA projection of the map's codes (k = 2 or 3)."""
    from vae_core.projection import project_pca

    return project_pca(map_codes(_model, model_version, _data, dataset_version).mu, k)
