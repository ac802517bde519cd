"""Cached computations of the pages: done once per model/dataset *content*, shared by identical sessions.

Each page calls these with the session's unhashable model and dataset (``_model``/``_data``)
and their version tokens, so retraining or re-cutting patches never shows a stale picture.

Views that depend only on the model's weights and the patches (reconstruction grids, codes,
slider ranges, the map, decodes) are computed once per *content* and shared: the version
tokens are turned into content digests (``vae_core.explore.fingerprint``, once per version,
per session), and a server-wide ``st.cache_data`` is keyed by those digests. A class of
twenty who all load the samples and the starter model then costs one computation, not
twenty; Streamlit lets one session compute a key while the others wait for it. Two sessions
share a result only when they hold the same bytes, so nothing private is shared. Shared
entries are bounded (``SHARED_ENTRIES`` per function, ``SHARED_TTL_S``); each caller gets its
own copy. Things that are the session's alone (its checkpoint with its settings, thumbnails
of its uploads) stay in ``scope="session"`` caches. Nothing here imports torch at module level.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

SHARED_ENTRIES = 16  # results kept per shared function (each a few MB at most)
SHARED_TTL_S = 3600  # a shared result nobody asked for in an hour is dropped


@st.cache_data(scope="session", max_entries=8, show_spinner=False)
def model_key(_model: Any, model_version: str) -> str:
    """The model's fingerprint (``vae_core.model.fingerprint``, hashed once per version): the content key of
    the shared views, and what recipes and compressed files made with this model carry."""
    from vae_core.model.fingerprint import model_fingerprint

    return model_fingerprint(_model)


@st.cache_data(scope="session", max_entries=8, show_spinner=False)
def data_key(_data: Any, dataset_version: str) -> str:
    """The content digest of this session's dataset version (hashed once per version)."""
    from vae_core.explore.fingerprint import data_digest

    return data_digest(_data)


def comparison(_model: Any, model_version: str, _data: Any, dataset_version: str, split: str, n: int) -> Any:
    """``vae_core.explore.metrics.Comparison`` of up to ``n`` evenly spread patches of ``split`` ("val"/"train")."""
    return _comparison(_model, model_key(_model, model_version), _data, data_key(_data, dataset_version), split, n)


@st.cache_data(max_entries=SHARED_ENTRIES, ttl=SHARED_TTL_S, show_spinner=False)
def _comparison(_model: Any, model_digest: str, _data: Any, data_digest: str, split: str, n: int) -> Any:
    from vae_core.explore.metrics import compare
    from vae_core.imaging import spread_indices

    source = _data.val if split == "val" and len(_data.val) else _data.train
    pca = pca_baseline_by_digest(_data, data_digest, _model.config.latent_dim)
    return compare(_model, source[spread_indices(len(source), n)], _data.train, pca=pca)


def comparison_pngs(
    _model: Any, model_version: str, _data: Any, dataset_version: str, split: str, n: int, order: str
) -> tuple[list[bytes], list[str], bytes]:
    """The Reconstructions grid as PNGs, encoded once per content and shared: one per column (original /
    VAE / PCA, in ``order``), their captions, and the whole grid for the download.

    Encoding 32-128 images on every rerun of every visitor was a large part of that page's time.
    """
    return _comparison_pngs(
        _model, model_key(_model, model_version), _data, data_key(_data, dataset_version), split, n, order
    )


@st.cache_data(max_entries=SHARED_ENTRIES, ttl=SHARED_TTL_S, show_spinner=False)
def _comparison_pngs(
    _model: Any, model_digest: str, _data: Any, data_digest: str, split: str, n: int, order: str
) -> tuple[list[bytes], list[str], bytes]:
    from vae_core.explore.metrics import comparison_columns
    from vae_core.imaging import tile, to_png

    stacks, captions = comparison_columns(_comparison(_model, model_digest, _data, data_digest, split, n), order)
    return [to_png(s) for s in stacks], captions, to_png(tile(np.stack(stacks), cols=16))


def map_overview_png(_model: Any, model_version: str, _proj: Any, cols: int = 6) -> bytes:
    """PNG of a ``cols`` x ``cols`` grid of decodes across the map ``_proj``, shared by content (the model's
    fingerprint and a digest of the map's coordinates): 36 decodes per rerun otherwise."""
    import hashlib

    coords = np.ascontiguousarray(_proj.coords, np.float64)
    layout = f"{_proj.method}:{coords.shape}:{hashlib.blake2b(coords.tobytes(), digest_size=16).hexdigest()}"
    return _map_overview_png(_model, model_key(_model, model_version), _proj, layout, cols)


@st.cache_data(max_entries=SHARED_ENTRIES, ttl=SHARED_TTL_S, show_spinner=False)
def _map_overview_png(_model: Any, model_digest: str, _proj: Any, layout: str, cols: int) -> bytes:
    from vae_core.explore.latent_map import decode_images, overview_grid
    from vae_core.imaging import tile, to_png

    frames = decode_images(_model, _proj.inverse(overview_grid(_proj.coords, cols), approx=True))
    return to_png(tile(frames, cols=cols, scale=max(1, 64 // _model.config.image_size)))


def pca_baseline(_data: Any, dataset_version: str, k: int) -> Any:
    """``vae_core.explore.metrics.PCABaseline`` with ``k`` components fitted on the training patches (seconds
    for thousands of patches: fitted once per dataset content and k, for the scores and the pictures alike)."""
    return pca_baseline_by_digest(_data, data_key(_data, dataset_version), k)


@st.cache_data(max_entries=SHARED_ENTRIES, ttl=SHARED_TTL_S, show_spinner=False)
def pca_baseline_by_digest(_data: Any, data_digest: str, k: int) -> Any:
    """``pca_baseline`` by the patches' content digest (``data_key``): callable off the page's thread."""
    from vae_core.explore.metrics import fit_pca

    return fit_pca(_data.train, k)


def summary_codes(_model: Any, model_version: str, _data: Any, dataset_version: str) -> Any:
    """``vae_core.explore.latent.Codes`` of ``summary_patches``: the Model page's KL chart and the
    sliders' order, ranges and inactive fold all come from these same codes."""
    return summary_codes_by_digest(_model, model_key(_model, model_version), _data, data_key(_data, dataset_version))


@st.cache_data(max_entries=SHARED_ENTRIES, ttl=SHARED_TTL_S, show_spinner=False)
def summary_codes_by_digest(_model: Any, model_digest: str, _data: Any, data_digest: str) -> Any:
    """``summary_codes`` by content digests (``model_key``, ``data_key``): callable off the page's thread."""
    from vae_core.explore.latent import encode, summary_patches

    return encode(_model, summary_patches(_data))


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


def browser_decoder(_model: Any, model_version: str) -> dict:
    """The model's decoder for the browser (vae_core.model.browser_decoder.decoder_spec)."""
    return _browser_decoder(_model, model_key(_model, model_version))


@st.cache_data(max_entries=SHARED_ENTRIES, ttl=SHARED_TTL_S, show_spinner=False)
def _browser_decoder(_model: Any, model_digest: str) -> dict:
    from vae_core.model.browser_decoder import decoder_spec

    return decoder_spec(_model)


def exact_png(_model: Any, model_version: str, z: tuple[float, ...]) -> bytes:
    """The decode of one code as PNG bytes (H, W, C)."""
    return _exact_png(_model, model_key(_model, model_version), z)


@st.cache_data(max_entries=256, ttl=SHARED_TTL_S, show_spinner=False)
def _exact_png(_model: Any, model_digest: str, z: tuple[float, ...]) -> bytes:
    from vae_core.explore.latent import decode
    from vae_core.imaging import to_png, to_uint8_hwc

    return to_png(to_uint8_hwc(decode(_model, np.asarray(z, np.float32)[None]))[0])


def map_codes(_model: Any, model_version: str, _data: Any, dataset_version: str) -> Any:
    """``vae_core.explore.latent_map.MapPoints``: codes of up to 20,000 patches (fewer above 32 px), evenly spread."""
    return _map_codes(_model, model_key(_model, model_version), _data, data_key(_data, dataset_version))


@st.cache_data(max_entries=SHARED_ENTRIES, ttl=SHARED_TTL_S, show_spinner=False)
def _map_codes(_model: Any, model_digest: str, _data: Any, data_digest: str) -> Any:
    from vae_core.explore.latent_map import encode_map

    return encode_map(_model, _data)


def map_recon_error(_model: Any, model_version: str, _data: Any, dataset_version: str) -> np.ndarray:
    """Per-point reconstruction error (mean squared, 0-255 scale) for the map's points."""
    return _map_recon_error(_model, model_key(_model, model_version), _data, data_key(_data, dataset_version))


@st.cache_data(max_entries=SHARED_ENTRIES, ttl=SHARED_TTL_S, show_spinner=False)
def _map_recon_error(_model: Any, model_digest: str, _data: Any, data_digest: str) -> np.ndarray:
    from vae_core.explore.latent_map import reconstruction_error

    return reconstruction_error(_model, _data, _map_codes(_model, model_digest, _data, data_digest))


def pca_map(_model: Any, model_version: str, _data: Any, dataset_version: str, k: int) -> Any:
    """PCA projection of the map's codes (k = 2 or 3)."""
    return _pca_map(_model, model_key(_model, model_version), _data, data_key(_data, dataset_version), k)


@st.cache_data(max_entries=SHARED_ENTRIES, ttl=SHARED_TTL_S, show_spinner=False)
def _pca_map(_model: Any, model_digest: str, _data: Any, data_digest: str, k: int) -> Any:
    from vae_core.explore.projection import project_pca

    return project_pca(_map_codes(_model, model_digest, _data, data_digest).mu, k)


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


@st.cache_data(scope="session", max_entries=4, show_spinner=False)
def code_spread(_model: Any, model_version: str, _data: Any, dataset_version: str) -> np.ndarray:
    """(D, R) main directions in which the dataset's codes vary (``summary_codes``): how one code's texture varies."""
    from vae_core.tasks.synthesis import principal_spread

    return principal_spread(summary_codes(_model, model_version, _data, dataset_version).mu)
