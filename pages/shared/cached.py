"""Cached computations of the pages: done once per model/dataset version, per session.

``st.cache_data(scope="session")`` keeps each user's results apart and frees them when the
session ends. The unhashable model and dataset are passed as ``_model``/``_data`` and the
cache key is the pair of version tokens, so retraining or re-cutting patches never shows a
stale picture. Every function only calls into vae_core; nothing here imports torch at
module level.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st


@st.cache_data(scope="session", max_entries=8, show_spinner=False)
def comparison(_model: Any, model_version: str, _data: Any, dataset_version: str, split: str, n: int) -> Any:
    """``vae_core.explore.metrics.Comparison`` of up to ``n`` evenly spread patches of ``split`` ("val"/"train")."""
    from vae_core.explore.metrics import compare
    from vae_core.imaging import spread_indices

    source = _data.val if split == "val" and len(_data.val) else _data.train
    return compare(_model, source[spread_indices(len(source), n)], _data.train)


@st.cache_data(scope="session", max_entries=4, show_spinner=False)
def summary_codes(_model: Any, model_version: str, _data: Any, dataset_version: str) -> Any:
    """``vae_core.explore.latent.Codes`` of ``summary_patches``: the Model page's KL chart and the
    sliders' order, ranges and inactive fold all come from these same codes."""
    from vae_core.explore.latent import encode, summary_patches

    return encode(_model, summary_patches(_data))


def kl_per_dimension(model: Any, model_version: str, data: Any, dataset_version: str) -> np.ndarray:
    """Mean KL (nats) of each latent dimension over ``summary_codes``."""
    from vae_core.explore.latent import kl_per_dim

    return kl_per_dim(summary_codes(model, model_version, data, dataset_version))


@st.cache_data(scope="session", max_entries=4, show_spinner=False)
def slider_setup(_model: Any, model_version: str, _data: Any, dataset_version: str) -> Any:
    """``vae_core.explore.sliders.SliderSetup`` (KL, order, active mask, ranges) from ``summary_codes``."""
    from vae_core.explore.sliders import slider_setup as setup

    return setup(summary_codes(_model, model_version, _data, dataset_version))


@st.cache_data(scope="session", max_entries=2, show_spinner=False)
def checkpoint_bytes(_model: Any, model_version: str, _train_config: Any, _state: Any, _dataset: dict) -> bytes:
    """The current model as a .safetensors checkpoint (with its optimiser state, so it can resume)."""
    from vae_core.model.checkpoint import to_bytes

    return to_bytes(
        _model, train_config=_train_config, state=_state, dataset=_dataset, extra={"app": "Texture VAE Explorer"}
    )


@st.cache_data(scope="session", max_entries=4, show_spinner=False)
def thumbnails(_images: list, images_version: str, side: int = 96) -> list[str]:
    """PNG data URLs of each image's centre, ``side`` pixels at most, for tables."""
    from vae_core.imaging import data_url, thumbnail, to_png

    return [data_url(to_png(thumbnail(im.pixels, side))) for im in _images]


@st.cache_data(scope="session", max_entries=2, show_spinner=False)
def browser_decoder(_model: Any, model_version: str) -> dict:
    """The model's decoder for the browser (vae_core.model.browser_decoder.decoder_spec)."""
    from vae_core.model.browser_decoder import decoder_spec

    return decoder_spec(_model)


@st.cache_data(scope="session", max_entries=64, show_spinner=False)
def exact_png(_model: Any, model_version: str, z: tuple[float, ...]) -> bytes:
    """The decode of one code as PNG bytes (H, W, C)."""
    from vae_core.explore.latent import decode
    from vae_core.imaging import to_png, to_uint8_hwc

    return to_png(to_uint8_hwc(decode(_model, np.asarray(z, np.float32)[None]))[0])


@st.cache_data(scope="session", max_entries=4, show_spinner=False)
def map_codes(_model: Any, model_version: str, _data: Any, dataset_version: str) -> Any:
    """``vae_core.explore.latent_map.MapPoints``: codes of up to 20,000 patches (fewer above 32 px), evenly spread."""
    from vae_core.explore.latent_map import encode_map

    return encode_map(_model, _data)


@st.cache_data(scope="session", max_entries=4, show_spinner=False)
def map_recon_error(_model: Any, model_version: str, _data: Any, dataset_version: str) -> np.ndarray:
    """Per-point reconstruction error (mean squared, 0-255 scale) for the map's points."""
    from vae_core.explore.latent_map import reconstruction_error

    return reconstruction_error(_model, _data, map_codes(_model, model_version, _data, dataset_version))


@st.cache_data(scope="session", max_entries=8, show_spinner=False)
def pca_map(_model: Any, model_version: str, _data: Any, dataset_version: str, k: int) -> Any:
    """PCA projection of the map's codes (k = 2 or 3)."""
    from vae_core.explore.projection import project_pca

    return project_pca(map_codes(_model, model_version, _data, dataset_version).mu, k)


@st.cache_data(scope="session", max_entries=4, show_spinner=False)
def compress_comparison(_rd: Any, rd_token: str, index: int, count_weights: bool) -> Any:
    """``vae_core.tasks.compress.compare_at``: the VAE's ``index``-th rate next to JPEG and WebP in as many bytes."""
    from vae_core.tasks.compress import compare_at

    return compare_at(_rd, index, count_weights)


@st.cache_data(show_spinner=False)
def photographs() -> list:
    """scikit-image's bundled photographs that no built-in model trained on (read-only; each caller gets a copy)."""
    from vae_core.data.samples import unseen_photographs

    return unseen_photographs()
