"""The session's state: one place that names every st.session_state key, plus the data and model setters.

(The training job's keys are changed by ``pages.shared.jobs``; widget keys live with their widgets.)

Every user's images, patches, model and training job live in ``st.session_state`` (never in
a global cache). Only read-only things are cached globally: the starter checkpoint's bytes
and the sample textures (``st.cache_data`` hands each caller its own copy).

Versions are random tokens (not counters) so that session-scoped caches keyed on them can
never confuse two models or datasets. No torch at import time: heavy modules are imported
inside the functions that need them.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import streamlit as st

from vae_core.config import PatchConfig

ROOT = Path(__file__).resolve().parents[2]
STARTER_PATH = ROOT / "assets" / "starter.safetensors"

# --- session_state keys (the public contract for pages and tests) ---------------------
IMAGES = "images"  # list[TextureImage]: the source textures; labels are editable
IMAGES_VERSION = "images_version"  # token that changes when images or labels change
REJECTED = "rejected"  # list[Rejection]: files that could not be used, with reasons
SEEN_UPLOADS = "seen_uploads"  # set[str]: uploader file ids already added
PATCH_CONFIG = "patch_config"  # PatchConfig used to cut the dataset
DATASET = "dataset"  # PatchDataset | None
DATASET_VERSION = "dataset_version"  # token that changes with every new PatchDataset
DATASET_ERROR = "dataset_error"  # str | None: why patches could not be cut
MODEL = "model"  # ConvVAE | None, on CPU in eval mode; never written by a training thread
MODEL_VERSION = "model_version"  # token that changes with every new model or new weights
MODEL_SOURCE = "model_source"  # plain-words origin: "Starter model", a file name, "Trained here"
TRAIN_CONFIG = "train_config"  # TrainConfig | None the model was last trained with
TRAIN_STATE = "train_state"  # TrainState | None: step count, optimiser, history (for Resume)
MODEL_DATASET = "model_dataset"  # dict: PatchDataset.summary() of the data the model saw
MODEL_DEVICE = "model_device"  # str: device it was trained on
JOB = "job"  # vae_core.training.jobs.TrainingJob | None: this session's training job
ADOPTED = "adopted_run"  # (job.id, run) whose result is already the session's model

# Page-local state (not reset by init_state; each page reads it with .get):
HOME_NOTICE = "home_notice"  # (kind, text): what Home's one-click start did, shown after its rerun
MODEL_NOTICE = "model_notice"  # (kind, text): what the Model page's last load did
MODEL_UPLOAD_SEEN = "model_upload_seen"  # uploader file id of the checkpoint already loaded
RECON_FULL = "recon_full"  # dict(model_version, name, original, recon): the last whole-image rebuild
LAT_Z = "latent_z"  # np.ndarray (D,) float32: the sliders' current code
LAT_START = "latent_start"  # dict(z, label, model_version): the sliders' starting point (Reset returns here)
LAT_UPLOAD_SEEN = "lat_upload_seen"  # uploader file id of the image the sliders last started from
LAT_JOB = "latent_strip_job"  # vae_core.explore.sliders.StripJob | None: previews being decoded
LAT_PANEL = "latent_panel"  # the slider component's key
LAT_DECODER_SENT = "latent_decoder_sent"  # model_version whose browser decoder this session was sent
LAT_SPRITES_SENT = "latent_sprites_sent"  # {token, dims}: strips sent since the panel last mounted
MAP_UMAP = "latent_map_umap"  # vae_core.explore.latent_map.UmapRun: the background UMAP layout (progress, result)
ANALYSIS = "analysis_run"  # vae_core.tasks.analyze.AnalysisRun: this session's texture analysis (progress, result)
AN_PREDICTION = "analysis_prediction"  # (upload file id, run id, Prediction, pixels): the last new image classified

DEFAULTS: dict[str, Any] = {
    IMAGES: [],
    IMAGES_VERSION: "",
    REJECTED: [],
    SEEN_UPLOADS: set(),
    PATCH_CONFIG: PatchConfig(),
    DATASET: None,
    DATASET_VERSION: "",
    DATASET_ERROR: None,
    MODEL: None,
    MODEL_VERSION: "",
    MODEL_SOURCE: "",
    TRAIN_CONFIG: None,
    TRAIN_STATE: None,
    MODEL_DATASET: {},
    MODEL_DEVICE: "cpu",
    JOB: None,
    ADOPTED: None,
}


def init_state() -> None:
    """Give every key its default (copies, so sessions never share a mutable default)."""
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value.copy() if hasattr(value, "copy") else value


# --- data ---------------------------------------------------------------------------------


def set_images(images: list, patch_config: PatchConfig | None = None) -> None:
    """Replace the source images (and optionally the patch settings), then re-cut patches."""
    st.session_state[IMAGES] = list(images)
    st.session_state[IMAGES_VERSION] = uuid.uuid4().hex
    if patch_config is not None:
        st.session_state[PATCH_CONFIG] = patch_config
    rebuild_dataset()


def add_images(report: Any) -> None:
    """Add a ``LoadReport``'s images (names made unique) and remember its rejections."""
    from vae_core.data.images import unique_name

    images = list(st.session_state[IMAGES])
    names = {im.name for im in images}
    for im in report.images:
        im.name = unique_name(im.name, names)
        names.add(im.name)
        images.append(im)
    st.session_state[REJECTED] = list(st.session_state[REJECTED]) + list(report.rejected)
    if report.images:
        set_images(images)


def rebuild_dataset() -> None:
    """Cut patches from the images with the current PatchConfig; a bad setting is kept as a message."""
    from vae_core.data.patches import make_patches

    images = st.session_state[IMAGES]
    st.session_state[DATASET_ERROR] = None
    if not images:
        st.session_state[DATASET] = None
    else:
        try:
            st.session_state[DATASET] = make_patches(images, st.session_state[PATCH_CONFIG])
        except ValueError as exc:
            st.session_state[DATASET] = None
            st.session_state[DATASET_ERROR] = str(exc)
    st.session_state[DATASET_VERSION] = uuid.uuid4().hex


def set_patch_config(config: PatchConfig) -> str | None:
    """Re-cut patches with new settings. On a bad setting, keep the old patches and return why."""
    from vae_core.data.patches import make_patches

    if config == st.session_state[PATCH_CONFIG]:
        return None
    images = st.session_state[IMAGES]
    if images:
        try:
            data = make_patches(images, config)
        except ValueError as exc:
            return str(exc)
    st.session_state[PATCH_CONFIG] = config
    st.session_state[DATASET] = data if images else None
    st.session_state[DATASET_ERROR] = None
    st.session_state[DATASET_VERSION] = uuid.uuid4().hex
    return None


@st.cache_data(show_spinner=False)
def _samples() -> list:
    from vae_core.data.samples import sample_textures

    return sample_textures(seed=0)


def sample_images() -> list:
    """The built-in sample textures (a fresh copy for this session)."""
    return _samples()


# --- model --------------------------------------------------------------------------------


def set_model(
    model: Any,
    *,
    source: str,
    train_config: Any = None,
    state: Any = None,
    dataset: dict | None = None,
    device: str = "cpu",
) -> None:
    """Make ``model`` this session's current model (pages and caches see a new version)."""
    st.session_state[MODEL] = model
    st.session_state[MODEL_VERSION] = uuid.uuid4().hex
    st.session_state[MODEL_SOURCE] = source
    st.session_state[TRAIN_CONFIG] = train_config
    st.session_state[TRAIN_STATE] = state
    st.session_state[MODEL_DATASET] = dict(dataset or {})
    st.session_state[MODEL_DEVICE] = device


def set_checkpoint(ck: Any, source: str) -> None:
    """Adopt a loaded ``vae_core.model.checkpoint.Checkpoint``."""
    set_model(ck.model, source=source, train_config=ck.train_config, state=ck.state, dataset=ck.dataset)


@st.cache_resource(show_spinner=False)
def starter_bytes() -> bytes | None:
    """The bundled starter checkpoint's bytes (read-only, shared); None if it is not installed."""
    return STARTER_PATH.read_bytes() if STARTER_PATH.is_file() else None


def _starter_checkpoint() -> Any:
    """A fresh copy of the bundled starter checkpoint; raises CheckpointError with a plain reason."""
    from vae_core.model.checkpoint import CheckpointError, from_bytes

    data = starter_bytes()
    if data is None:
        raise CheckpointError(
            "The starter model is not installed on this server (assets/starter.safetensors is missing)."
        )
    return from_bytes(data, STARTER_PATH.name)


def load_starter() -> str | None:
    """Load a fresh copy of the starter model into this session. Returns an error message or None."""
    from vae_core.model.checkpoint import CheckpointError

    try:
        set_checkpoint(_starter_checkpoint(), "Starter model (bundled)")
    except CheckpointError as exc:
        return str(exc)
    return None


def load_uploaded_checkpoint(name: str, data: bytes) -> str | None:
    """Load an uploaded checkpoint; on failure the current model stays. Returns an error message or None."""
    from vae_core.model.checkpoint import CheckpointError, from_bytes

    try:
        ck = from_bytes(data, name)
    except CheckpointError as exc:
        return str(exc)
    except Exception:  # a file crafted to get past the checks must still not crash the page
        return f"'{name}' could not be read as a Texture VAE checkpoint."
    set_checkpoint(ck, name)
    return None


def try_samples() -> str | None:
    """Home's one-click start: sample textures cut to fit the starter model, plus the starter model."""
    from vae_core.model.checkpoint import CheckpointError

    try:
        ck = _starter_checkpoint()
    except CheckpointError as exc:
        set_images(sample_images(), PatchConfig())
        return str(exc)
    set_checkpoint(ck, "Starter model (bundled)")
    set_images(sample_images(), ck.patch_config())
    return None


def set_slider_start(z: Any, label: str) -> None:
    """Make code ``z`` (D,) the Latent sliders' starting point and current code."""
    import numpy as np

    z = np.asarray(z, np.float32).reshape(-1).copy()
    st.session_state[LAT_START] = {"z": z, "label": label, "model_version": st.session_state[MODEL_VERSION]}
    st.session_state[LAT_Z] = z.copy()


def compatible() -> bool:
    """True when the current patches fit the current model (same patch size and channels)."""
    model, data = st.session_state[MODEL], st.session_state[DATASET]
    return (
        model is not None
        and data is not None
        and model.config.image_size == data.patch_size
        and model.config.channels == data.channels
    )
