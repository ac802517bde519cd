"""Cached derived views: computed once per model/dataset version, per session.

``st.cache_data(scope="session")`` keeps each user's results apart and frees them when the
session ends. The unhashable model and dataset are passed as ``_model``/``_data`` and the
cache key is the pair of version tokens, so retraining or re-cutting patches never shows a
stale picture. Nothing here imports torch at module level.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import streamlit as st

from vae_core.fullimage import to_png


@st.cache_data(scope="session", max_entries=8, show_spinner=False)
def recon_set(_model: Any, model_version: str, _data: Any, dataset_version: str, split: str, n: int) -> dict:
    """Originals, VAE and PCA reconstructions of up to ``n`` patches, with per-patch PSNR/SSIM."""
    from vae_core.latent import reconstruct, to_uint8_hwc
    from vae_core.metrics import fit_pca, psnr_per_patch, ssim_per_patch

    source = _data.val if split == "val" and len(_data.val) else _data.train
    idx = np.linspace(0, len(source) - 1, num=min(n, len(source))).round().astype(int)
    patches = source[idx]
    vae = reconstruct(_model, patches)
    pca = fit_pca(_data.train, _model.config.latent_dim).reconstruct(patches)
    return {
        "originals": patches.transpose(0, 2, 3, 1),
        "vae": to_uint8_hwc(vae),
        "pca": to_uint8_hwc(pca),
        "vae_psnr": psnr_per_patch(patches, vae),
        "vae_ssim": ssim_per_patch(patches, vae),
        "pca_psnr": psnr_per_patch(patches, pca),
        "pca_ssim": ssim_per_patch(patches, pca),
        "pca_k": min(_model.config.latent_dim, len(_data.train)),
    }


SUMMARY_PATCHES = 512  # how many patches the per-dimension statistics (Model page, sliders) are measured on


@st.cache_data(scope="session", max_entries=4, show_spinner=False)
def summary_codes(_model: Any, model_version: str, _data: Any, dataset_version: str) -> Any:
    """``vae_core.latent.Codes`` of up to SUMMARY_PATCHES patches, evenly spread: validation patches when
    there are at least half that many, else validation and training together. The Model page's KL chart
    and the sliders' order, ranges and inactive fold all come from these same codes."""
    from vae_core.latent import encode

    source = _data.val if len(_data.val) >= SUMMARY_PATCHES // 2 else np.concatenate([_data.val, _data.train])
    idx = np.unique(np.linspace(0, len(source) - 1, num=min(SUMMARY_PATCHES, len(source))).round().astype(int))
    return encode(_model, source[idx])


def kl_per_dimension(model: Any, model_version: str, data: Any, dataset_version: str) -> np.ndarray:
    """Mean KL (nats) of each latent dimension over ``summary_codes``."""
    from vae_core.latent import kl_per_dim

    return kl_per_dim(summary_codes(model, model_version, data, dataset_version))


@st.cache_data(scope="session", max_entries=2, show_spinner=False)
def checkpoint_bytes(_model: Any, model_version: str, _train_config: Any, _state: Any, _dataset: dict) -> bytes:
    """The current model as a .safetensors checkpoint (with its optimiser state, so it can resume)."""
    from vae_core.checkpoint import to_bytes

    return to_bytes(
        _model, train_config=_train_config, state=_state, dataset=_dataset, extra={"app": "Texture VAE Explorer"}
    )


@st.cache_data(scope="session", max_entries=4, show_spinner=False)
def thumbnails(_images: list, images_version: str, side: int = 96) -> list[str]:
    """PNG data URIs of each image's centre, ``side`` pixels at most, for tables."""
    from vae_core.fullimage import downscale

    out = []
    for im in _images:
        h, w = im.pixels.shape[:2]
        s = min(h, w)
        crop = im.pixels[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        out.append("data:image/png;base64," + base64.b64encode(to_png(downscale(crop, side))).decode())
    return out


def png(pixels: np.ndarray) -> bytes:
    """PNG bytes for st.download_button."""
    return to_png(pixels)


def delta(diff: float, digits: int, suffix: str = "") -> dict[str, Any]:
    """``st.metric`` keyword arguments for a signed difference, neutral when it rounds to zero.

    Without this, -0.0003 shown to 3 digits reads "↓ -0.000" in red: a loss that is not there.
    """
    if round(diff, digits) == 0:
        return {"delta": f"±{0:.{digits}f}{suffix}", "delta_color": "off", "delta_arrow": "off"}
    return {"delta": f"{diff:+.{digits}f}{suffix}"}
