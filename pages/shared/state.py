"""The session's state: one place that names every st.session_state key, plus the data and model setters.

(The training job's keys are changed by ``pages.shared.training``.)

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

from vae_core.patches import PatchConfig

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
JOB = "job"  # vae_core.jobs.TrainingJob | None: this session's training job
ADOPTED = "adopted_run"  # (job.id, run) whose result is already the session's model

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


def new_version() -> str:
    return uuid.uuid4().hex


def init_state() -> None:
    """Give every key its default (copies, so sessions never share a mutable default)."""
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value.copy() if hasattr(value, "copy") else value


# --- data ---------------------------------------------------------------------------------


def set_images(images: list, patch_config: PatchConfig | None = None) -> None:
    """Replace the source images (and optionally the patch settings), then re-cut patches."""
    st.session_state[IMAGES] = list(images)
    st.session_state[IMAGES_VERSION] = new_version()
    if patch_config is not None:
        st.session_state[PATCH_CONFIG] = patch_config
    rebuild_dataset()


def add_images(report: Any) -> None:
    """Add a ``LoadReport``'s images (names made unique) and remember its rejections."""
    images = list(st.session_state[IMAGES])
    names = {im.name for im in images}
    for im in report.images:
        name, k = im.name, 2
        while name in names:
            name, k = f"{im.name} ({k})", k + 1
        names.add(name)
        im.name = name
        images.append(im)
    st.session_state[REJECTED] = list(st.session_state[REJECTED]) + list(report.rejected)
    if report.images:
        set_images(images)


def rebuild_dataset() -> None:
    """Cut patches from the images with the current PatchConfig; a bad setting is kept as a message."""
    from vae_core.patches import make_patches

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
    st.session_state[DATASET_VERSION] = new_version()


def set_patch_config(config: PatchConfig) -> str | None:
    """Re-cut patches with new settings. On a bad setting, keep the old patches and return why."""
    from vae_core.patches import make_patches

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
    st.session_state[DATASET_VERSION] = new_version()
    return None


@st.cache_data(show_spinner=False)
def _samples() -> list:
    from vae_core.samples import sample_textures

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
    st.session_state[MODEL_VERSION] = new_version()
    st.session_state[MODEL_SOURCE] = source
    st.session_state[TRAIN_CONFIG] = train_config
    st.session_state[TRAIN_STATE] = state
    st.session_state[MODEL_DATASET] = dict(dataset or {})
    st.session_state[MODEL_DEVICE] = device


def set_checkpoint(ck: Any, source: str) -> None:
    """Adopt a loaded ``vae_core.checkpoint.Checkpoint``."""
    set_model(ck.model, source=source, train_config=ck.train_config, state=ck.state, dataset=ck.dataset)


@st.cache_resource(show_spinner=False)
def starter_bytes() -> bytes | None:
    """The bundled starter checkpoint's bytes (read-only, shared); None if it is not installed."""
    return STARTER_PATH.read_bytes() if STARTER_PATH.is_file() else None


def load_starter() -> str | None:
    """Load a fresh copy of the starter model into this session. Returns an error message or None."""
    data = starter_bytes()
    if data is None:
        return "The starter model is not installed on this server (assets/starter.safetensors is missing)."
    from vae_core.checkpoint import CheckpointError, from_bytes

    try:
        set_checkpoint(from_bytes(data, STARTER_PATH.name), "Starter model (bundled)")
    except CheckpointError as exc:
        return str(exc)
    return None


def load_uploaded_checkpoint(name: str, data: bytes) -> str | None:
    """Load an uploaded checkpoint; on failure the current model stays. Returns an error message or None."""
    from vae_core.checkpoint import CheckpointError, from_bytes

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
    error = load_starter()
    model = st.session_state[MODEL]
    saved = dict(st.session_state[MODEL_DATASET].get("patch_config") or {}) if error is None else {}
    config = PatchConfig(
        patch_size=model.config.image_size if error is None else 32,
        channels=model.config.channels if error is None else 3,
        patches_per_image=int(saved.get("patches_per_image", 256)),
        seed=int(saved.get("seed", 0)),
    )
    set_images(sample_images(), config)
    return error


def compatible() -> bool:
    """True when the current patches fit the current model (same patch size and channels)."""
    model, data = st.session_state[MODEL], st.session_state[DATASET]
    return (
        model is not None
        and data is not None
        and model.config.image_size == data.patch_size
        and model.config.channels == data.channels
    )
