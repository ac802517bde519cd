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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import streamlit as st

from vae_core.config import STARTER_CHECKPOINT, PatchConfig, ServerBudgets
from vae_core.data.images import LABEL_FROM_USER

ROOT = Path(__file__).resolve().parents[2]  # the app's folder (tests run page scripts from it)
STARTER_SOURCE = "Starter model (bundled)"  # MODEL_SOURCE of the bundled starter

# --- session_state keys (the public contract for pages and tests) ---------------------
IMAGES = "images"  # list[TextureImage]: the source textures; labels are editable
IMAGES_VERSION = "images_version"  # token that changes when images or labels change
REJECTED = "rejected"  # list[Rejection]: files that could not be used, with reasons
LOAD_NOTE = "load_note"  # str | None: what the memory budget kept and skipped at the last upload
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
MODEL_WARNINGS = "model_warnings"  # list[str]: malformed parts of the model's file that were left out
JOB = "job"  # vae_core.training.jobs.TrainingJob | None: this session's training job
ADOPTED = "adopted_run"  # (job.id, run) whose result is already the session's model

# Page-local state (not reset by init_state; each page reads it with .get):
HOME_NOTICE = "home_notice"  # (kind, text): what Home's one-click start did, shown after its rerun
MODEL_NOTICE = "model_notice"  # ((kind, text), uploader file id | None): what the Model page's last load did
MODEL_UPLOAD_SEEN = "model_upload_seen"  # uploader file id of the checkpoint already loaded
RECON_FULL = "recon_full"  # dict(model_version, name, original, recon): the last whole-image rebuild
LAT_Z = "latent_z"  # np.ndarray (D,) float32: the sliders' current code
LAT_START = "latent_start"  # dict(z, label, model_version): the sliders' starting point (Reset returns here)
LAT_UPLOAD_SEEN = "lat_upload_seen"  # uploader file id of the image the sliders last started from
LAT_JOB = "latent_strip_job"  # vae_core.explore.sliders.StripJob | None: previews being decoded
LAT_PANEL = "latent_panel"  # the slider component's key
LAT_DECODER_SENT = "latent_decoder_sent"  # model_version whose browser decoder this session was sent
LAT_SPRITES_SENT = "latent_sprites_sent"  # {token, dims}: strips sent since the panel last mounted
RESTORE_RUN = "restore_run"  # vae_core.tasks.runs.TaskRun | None: the Restore page's last restoration (a TaskResult)
RESTORE_UPLOAD = "restore_upload"  # dict(file_id, name, pixels | None, error | None): the Restore page's decoded upload
COMPRESS_RD = "compress_rd"  # dict(model_version, token, rd): the Compress page's last rate-distortion measurement
PATCH_ERROR = "patch_error"  # str | None: why the patch settings just chosen were not used (shown once)
LOAD_NOTES = "load_notes"  # list[str]: notes on files that loaded (only the first frame used, transparency on grey)
HOME_CONFIRM = "home_confirm"  # True while Home asks before the samples replace the user's own things
KEPT_WIDGETS = "kept_widgets"  # {widget key: value}: choices kept across page visits (see keep_widgets)
MAP_CLICK = "map_click"  # dict(figure, curve, index): the map's last click in a selection mode (pages.shared.map_click)
LAT_RECIPE_SEEN = "lat_recipe_seen"  # uploader file id of the recipe the sliders last opened
GEN_RESULTS = "gen_results"  # dict: Generate tab -> {model_version, recipe, shown}: each tab's last result
GEN_UPLOADS = "gen_uploads"  # dict: code picker key -> (uploader file id, code): images encoded once each
GEN_RECIPE_SEEN = "gen_recipe_seen"  # uploader file id of the recipe the Generate page last opened
WORK_SAVED = "work_saved"  # MODEL_VERSION last packed by "Save my work" (then a reload loses nothing unsaved)
WORK_UPLOAD_SEEN = "work_upload_seen"  # uploader file id of the work file already opened
WORK_NOTICE = "work_notice"  # (kind, text): what the last "Open my work" did
MAP_UMAP = "latent_map_umap"  # vae_core.explore.umap_runs.UmapRun: the background UMAP layout (progress, result)
ANALYSIS = "analysis_run"  # vae_core.tasks.analyze.AnalysisRun: this session's texture analysis (progress, result)
AN_PREDICTION = "analysis_prediction"  # (upload file id, run id, Prediction, pixels): the last new image classified

DEFAULTS: dict[str, Any] = {
    IMAGES: [],
    IMAGES_VERSION: "",
    REJECTED: [],
    LOAD_NOTE: None,
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
    MODEL_WARNINGS: [],
    JOB: None,
    ADOPTED: None,
}


def session_id() -> str:
    """This browser session's id: the owner of its background work (training, UMAP) server-wide."""
    ctx = st.runtime.scriptrunner.get_script_run_ctx()
    return ctx.session_id if ctx is not None else "no-session"


def release_uploads(file_ids: Iterable[str]) -> None:
    """Drop uploads already read from Streamlit's own upload store.

    Streamlit keeps every uploaded file's bytes in server memory until the visitor removes its
    chip or the session ends, outside every budget here; once the Data page has decoded them
    (what fits is in the session's images, within budget), the bytes are only a second copy.
    The uploader still shows their names; the files are gone from the server.
    """
    ctx = st.runtime.scriptrunner.get_script_run_ctx()
    if ctx is None:
        return
    for file_id in file_ids:
        ctx.uploaded_file_mgr.remove_file(ctx.session_id, file_id)


def init_state() -> None:
    """Give every key its default (copies, so sessions never share a mutable default)."""
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value.copy() if hasattr(value, "copy") else value


# --- data ---------------------------------------------------------------------------------


def set_images(images: list, patch_config: PatchConfig | None = None) -> None:
    """Replace the source images (and optionally the patch settings), then re-cut patches."""
    if not images:
        st.session_state[LOAD_NOTES] = []
    st.session_state[IMAGES] = list(images)
    st.session_state[IMAGES_VERSION] = uuid.uuid4().hex
    if patch_config is not None:
        st.session_state[PATCH_CONFIG] = patch_config
    rebuild_dataset()


def memory() -> Any:
    """What this session holds (``vae_core.data.budget.SessionMemory``): images, patches, model."""
    from vae_core.data.budget import session_memory

    ss = st.session_state
    return session_memory(ss[IMAGES], ss[DATASET], ss[MODEL], ss[TRAIN_STATE])


def read_uploads(
    files: list[tuple[str, bytes]], label: str | None = None, progress: Callable[[int, int], None] | None = None
) -> str | None:
    """Decode uploaded ``(name, bytes)`` files within this session's memory budget and add them
    (``label``: for every image instead of the one from its name; ``progress(done, total)``: called
    after each image file, in this thread). Decoding uses the server's share of the cores. Returns the
    "server is full" message instead, having read nothing, when the server is near its memory ceiling."""
    from vae_core.data.budget import server_full_message
    from vae_core.data.decode_pool import decode_threads
    from vae_core.data.loaders import load_files

    budgets = ServerBudgets.from_env()
    full = server_full_message(budgets)
    if full:
        return full
    report = load_files(
        files,
        limits=budgets.image_limits(),
        held_bytes=memory().images,
        threads=decode_threads(in_server=True),
        progress=progress,
    )
    for image in report.images if label else []:
        image.label, image.label_from = label, LABEL_FROM_USER
    add_images(report)
    return None


def add_images(report: Any) -> None:
    """Add a ``LoadReport``'s images (names made unique, within the session's image budget) and
    remember its rejections and its note."""
    from vae_core.data.budget import keep_within_budget
    from vae_core.data.images import unique_name

    report = keep_within_budget(report, ServerBudgets.from_env().image_limits(), held=memory().images)
    st.session_state[LOAD_NOTE] = report.note
    images = list(st.session_state[IMAGES])
    names = {im.name for im in images}
    for im in report.images:
        im.name = unique_name(im.name, names)
        names.add(im.name)
        images.append(im)
    st.session_state[REJECTED] = list(st.session_state[REJECTED]) + list(report.rejected)
    st.session_state[LOAD_NOTES] = list(st.session_state.get(LOAD_NOTES, [])) + list(report.notes)
    if report.images:
        set_images(images)


def rebuild_dataset() -> None:
    """Cut patches from the images with the current PatchConfig; a bad setting is kept as a message."""
    from vae_core.data.patches import make_patches

    images = st.session_state[IMAGES]
    st.session_state[PATCH_CONFIG] = ServerBudgets.from_env().patch_config(st.session_state[PATCH_CONFIG])
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

    config = ServerBudgets.from_env().patch_config(config)  # never more patches than this session's budget
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


def apply_patch_widgets(size_key: str, per_image_key: str, colour_key: str) -> None:
    """The Data page's patch widgets' callback: re-cut with their values, before anything is drawn.

    Run as ``on_change``, so the sidebar (drawn before the page) already shows the new counts. A
    setting that does not fit the images is refused: the widgets go back to the settings in use
    and ``PATCH_ERROR`` says why (the page shows it once).
    """
    from dataclasses import replace

    cfg = st.session_state[PATCH_CONFIG]
    channels = 3 if st.session_state[colour_key] == "Colour" else 1
    wanted = replace(
        cfg, patch_size=st.session_state[size_key], patches_per_image=st.session_state[per_image_key], channels=channels
    )
    error = set_patch_config(wanted)
    st.session_state[PATCH_ERROR] = error and (
        f"Could not cut {wanted.patch_size}-pixel patches: {error.rstrip('.')}. "
        f"Your patches stay as they were ({cfg.patch_size} px)."
    )
    if error:
        st.session_state[size_key], st.session_state[per_image_key] = cfg.patch_size, cfg.patches_per_image
        st.session_state[colour_key] = "Colour" if cfg.channels == 3 else "Greyscale"


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
    warnings: list[str] | None = None,
) -> None:
    """Make ``model`` this session's current model (pages and caches see a new version).

    ``warnings``: malformed parts of the model's file that were left out, in plain words."""
    st.session_state[MODEL] = model
    st.session_state[MODEL_VERSION] = uuid.uuid4().hex
    st.session_state[MODEL_SOURCE] = source
    st.session_state[TRAIN_CONFIG] = train_config
    st.session_state[TRAIN_STATE] = state
    st.session_state[MODEL_DATASET] = dict(dataset or {})
    st.session_state[MODEL_DEVICE] = device
    st.session_state[MODEL_WARNINGS] = list(warnings or [])


def set_checkpoint(ck: Any, source: str) -> None:
    """Adopt a loaded ``vae_core.model.checkpoint.Checkpoint``."""
    set_model(
        ck.model,
        source=source,
        train_config=ck.train_config,
        state=ck.state,
        dataset=ck.dataset,
        warnings=ck.warnings,
    )


@st.cache_resource(show_spinner=False)
def starter_bytes() -> bytes | None:
    """The bundled starter checkpoint's bytes (read-only, shared); None if it is not installed."""
    return STARTER_CHECKPOINT.read_bytes() if STARTER_CHECKPOINT.is_file() else None


def _starter_checkpoint() -> Any:
    """A fresh copy of the bundled starter checkpoint; raises CheckpointError with a plain reason."""
    from vae_core.model.checkpoint import CheckpointError, from_bytes

    data = starter_bytes()
    if data is None:
        raise CheckpointError(
            "The starter model is not installed on this server (assets/starter.safetensors is missing)."
        )
    return from_bytes(data, STARTER_CHECKPOINT.name)


def load_starter() -> str | None:
    """Load a fresh copy of the starter model into this session. Returns an error message or None."""
    from vae_core.model.checkpoint import CheckpointError

    try:
        set_checkpoint(_starter_checkpoint(), STARTER_SOURCE)
    except CheckpointError as exc:
        return str(exc)
    return None


def load_uploaded_checkpoint(name: str, data: bytes) -> str | None:
    """Load an uploaded checkpoint (within this session's model budget, and only while the server has
    room); on failure the current model stays. Returns an error message or None."""
    from vae_core.data.budget import server_full_message
    from vae_core.model.checkpoint import CheckpointError, from_bytes

    budgets = ServerBudgets.from_env()
    full = server_full_message(budgets)
    if full:
        return full
    try:
        ck = from_bytes(data, name, max_bytes=budgets.session_model_bytes)
    except CheckpointError as exc:
        return str(exc)
    except Exception:  # a file crafted to get past the checks must still not crash the page
        return f"'{name}' could not be read as a Texture VAE checkpoint."
    set_checkpoint(ck, name)
    return None


def samples_would_replace() -> str:
    """What Home's one-click start would replace, in words ("your 4 images and your model ..."); "" for nothing.

    The samples themselves (unedited) and the starter model are not the user's to lose.
    """
    from vae_core.data.images import LABEL_FROM_SAMPLES, plural

    own = [im for im in st.session_state[IMAGES] if im.label_from != LABEL_FROM_SAMPLES]
    parts = [f"your {plural(len(own), 'image')}"] if own else []
    if st.session_state[MODEL] is not None and st.session_state[MODEL_SOURCE] != STARTER_SOURCE:
        parts.append(f"your model ({st.session_state[MODEL_SOURCE]})")
    return " and ".join(parts)


def add_samples_beside() -> str:
    """Add the sample textures to the user's own (their model stays); what happened, in words."""
    from vae_core.data.images import LoadReport

    samples = sample_images()
    add_images(LoadReport(images=samples))
    kept = "your model is unchanged" if st.session_state[MODEL] is not None else "train a model on them all next"
    return f"The {len(samples)} sample textures were added beside yours; {kept}."


def keep_widgets(*keys: str) -> None:
    """Keep these widgets' values across page visits; call before drawing them.

    Streamlit forgets a widget's value when its page is left, so Layout: UMAP came back as PCA.
    Values are copied into ``KEPT_WIDGETS`` on every run and given back when the page returns.
    """
    kept = st.session_state.setdefault(KEPT_WIDGETS, {})
    for key in keys:
        if key in st.session_state:
            kept[key] = st.session_state[key]
        elif key in kept:
            st.session_state[key] = kept[key]


def try_samples() -> str | None:
    """Home's one-click start: sample textures cut to fit the starter model, plus the starter model."""
    from vae_core.model.checkpoint import CheckpointError

    try:
        ck = _starter_checkpoint()
    except CheckpointError as exc:
        set_images(sample_images(), PatchConfig())
        return str(exc)
    set_checkpoint(ck, STARTER_SOURCE)
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
