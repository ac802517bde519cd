"""Every configuration dataclass and shared constant: how images are loaded and cut, the model's shape, training.

* :class:`ImageLimits`: the safety limits every upload is checked against (``data``).
* :class:`ServerBudgets`: what one visitor may make the app's server hold, and the server-wide
  memory ceiling (README, "Deploy"); set by ``TEXTURE_VAE_*_MB`` environment variables.
* :class:`PatchConfig` and :data:`PATCH_SIZES`: how images are cut into patches (``data.patches``).
* :class:`ModelConfig`: the shape of a ``ConvVAE`` (``model``).
* :class:`TrainConfig` and :data:`PRESETS`: how ``fit`` trains (``training``).

Kept in one module below everything else so that the app can show and edit settings (and a
checkpoint can store them as JSON) without importing torch, and so that no subpackage has to
import another one just to read a setting.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

# The model that ships with the app ("Try it with sample textures", the benchmarks' default).
STARTER_CHECKPOINT = Path(__file__).resolve().parents[1] / "assets" / "starter.safetensors"
PATCH_SIZES = (32, 64, 128)  # patch sides the model supports: its down-sampling stack needs powers of two
ARCHS = ("conv", "coef")  # model kinds (ModelConfig.arch): vae_core.model.vae.build_model builds either
MB = 1_000_000  # budgets are in decimal megabytes, as the app's messages and file managers show sizes


@dataclass(frozen=True)
class ImageLimits:
    """Safety limits applied to every upload (see each field for why)."""

    # Far below Pillow's own 179 M-pixel hard stop: an RGBA 40 M-pixel image
    # already needs ~160 MB decoded plus temporaries, and a shared Streamlit
    # server must survive several users uploading at once.
    max_pixels: int = 40_000_000
    # Smaller images cannot provide even a single 32-pixel patch.
    min_side: int = 32
    # Whole-archive caps; an archive over them is refused outright.
    max_zip_members: int = 2000
    max_zip_total_bytes: int = 1_000_000_000  # sum of uncompressed member sizes
    # Per-member uncompressed/compressed ratio: real images are already
    # compressed (ratio ~1), a zip bomb is thousands to one.
    max_zip_ratio: float = 100.0
    # Per file (plain upload, zip member or file on disk), before decoding.
    max_file_bytes: int = 200_000_000
    # Memory budgets in bytes of decoded pixels (H * W * C, as the app holds them), checked from
    # each image's header before it is decoded; None = no budget. An image that does not fit is
    # skipped by name and the ones that fit are kept. README "Deploy" has the arithmetic.
    max_upload_pixel_bytes: int | None = 200 * MB  # one upload: all its files and zips together
    max_session_pixel_bytes: int | None = 300 * MB  # all images one session holds, earlier uploads included


# The default for every upload loader's ``limits=`` (a frozen, shared instance).
DEFAULT_LIMITS = ImageLimits()
# Files on the user's own disk (``load_path``: the command line, a notebook): the same per-file
# safety checks, but no memory budgets, since that machine belongs to whoever runs it.
LOCAL_LIMITS = replace(DEFAULT_LIMITS, max_upload_pixel_bytes=None, max_session_pixel_bytes=None)


@dataclass(frozen=True)
class ServerBudgets:
    """What one visitor of the app may make the server hold, and when the server counts as full.

    The defaults fit 30 sessions on a 24 GiB server (README, "Deploy", has the arithmetic).
    :meth:`from_env` reads the ``TEXTURE_VAE_*_MB`` overrides named next to each field.
    """

    upload_image_bytes: int = 200 * MB  # TEXTURE_VAE_UPLOAD_IMAGE_MB: decoded pixels one upload may add
    session_image_bytes: int = 300 * MB  # TEXTURE_VAE_SESSION_IMAGE_MB: decoded pixels one session may hold
    session_patch_bytes: int = 100 * MB  # TEXTURE_VAE_SESSION_PATCH_MB: training + validation patches
    session_model_bytes: int = 100 * MB  # TEXTURE_VAE_SESSION_MODEL_MB: largest checkpoint file one may open
    # TEXTURE_VAE_MEMORY_CEILING_MB: process memory (resident set) above which new uploads and
    # training jobs are refused with "the server is full"; None = 85% of the machine's memory
    # (or of the container's limit), see ``vae_core.data.budget.memory_ceiling_bytes``.
    memory_ceiling_bytes: int | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerBudgets:
        """The defaults with every ``TEXTURE_VAE_*_MB`` variable that is set (decimal MB, e.g. "300" or "0.5").

        Raises ``ValueError`` naming the variable when one is not a positive number.
        """
        env = os.environ if environ is None else environ
        changes = {}
        for name, var in _BUDGET_VARS.items():
            raw = env.get(var, "").strip()
            if not raw:
                continue
            try:
                value = float(raw)
            except ValueError:
                value = float("nan")
            if not 0 < value < 1e9:  # also refuses nan and inf
                raise ValueError(f"{var}={raw!r} is not a size in megabytes; set a positive number such as 300")
            changes[name] = int(value * MB)
        return replace(cls(), **changes)

    def image_limits(self, base: ImageLimits = DEFAULT_LIMITS) -> ImageLimits:
        """``base`` with this server's per-upload and per-session pixel budgets."""
        return replace(
            base, max_upload_pixel_bytes=self.upload_image_bytes, max_session_pixel_bytes=self.session_image_bytes
        )

    def patch_config(self, config: PatchConfig) -> PatchConfig:
        """``config`` with ``max_bytes`` no higher than the per-session patch budget."""
        if config.max_bytes is not None and config.max_bytes <= self.session_patch_bytes:
            return config
        return replace(config, max_bytes=self.session_patch_bytes)


_BUDGET_VARS = {
    "upload_image_bytes": "TEXTURE_VAE_UPLOAD_IMAGE_MB",
    "session_image_bytes": "TEXTURE_VAE_SESSION_IMAGE_MB",
    "session_patch_bytes": "TEXTURE_VAE_SESSION_PATCH_MB",
    "session_model_bytes": "TEXTURE_VAE_SESSION_MODEL_MB",
    "memory_ceiling_bytes": "TEXTURE_VAE_MEMORY_CEILING_MB",
}


@dataclass(frozen=True)
class PatchConfig:
    """How patches are cut from images (one comment per field)."""

    patch_size: int = 32  # side P of a square patch: 32, 64 or 128
    patches_per_image: int = 256  # training patches drawn per image (cap in strided mode)
    mode: str = "random"  # "random" (uniform positions) or "strided" (regular grid)
    stride: int | None = None  # strided mode step in pixels; default patch_size // 2
    val_fraction: float = 0.2  # share of each image's rows kept for validation (0 = none)
    augment: bool = True  # random flips + 90-degree rotations, training patches only
    channels: int = 3  # 1 or 3; images are converted to match
    seed: int = 0  # seeds np.random.default_rng; same seed -> same patches
    # Cap on the bytes of training + validation patches together (uint8, N * C * P * P); None = no
    # cap. Over it, every image gives fewer training patches, evenly (``PatchDataset.note`` says so).
    max_bytes: int | None = None


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a ``ConvVAE``. A checkpoint stores ``asdict(config)`` and rebuilds from it."""

    image_size: int = 32  # patch side in pixels: 32, 64 or 128
    channels: int = 3  # 1 = greyscale, 3 = RGB
    latent_dim: int = 32  # numbers in the code z (2..256)
    width: int = 32  # feature maps of the first stage; deeper stages use 2x this
    res_blocks: int = 0  # residual blocks per resolution after each down/up sample
    norm: str = "none"  # "none" or "group" (GroupNorm): measured, see README
    linear_path: bool = True  # dense PCA-initialised pixels<->z path beside the convs
    refine_layers: int = 2  # full-resolution 3x3 convs that sharpen the decoded draft (0 = off)
    refine_width: int = 32  # feature maps of those refining convs
    # "conv": ConvVAE (convolutions beside the linear path); "coef": CoefVAE (MLPs on the
    # coefficients of a fixed PCA basis beside the linear path; README, "Model choices").
    # A checkpoint without this field was made before it existed: "conv" (see from_dict).
    arch: str = "conv"
    coef_k: int = 256  # "coef": PCA components the MLPs read and write (the non-linear part's pixel basis)
    hidden: int = 512  # "coef": width of each MLP's hidden layers
    mlp_layers: int = 2  # "coef": hidden layers in the encoder MLP and in the decoder MLP

    def validate(self) -> ModelConfig:
        """Raise ``ValueError`` naming the bad field and the fix; return self."""
        _check_types(self)
        if self.image_size not in PATCH_SIZES:
            raise ValueError(f"image_size={self.image_size} is not supported; choose one of {PATCH_SIZES}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels={self.channels} is not supported; choose 1 (grey) or 3 (RGB)")
        if not 2 <= self.latent_dim <= 256:
            raise ValueError(f"latent_dim={self.latent_dim} is out of range; choose 2..256")
        if not 8 <= self.width <= 512 or self.width % 8:
            raise ValueError(f"width={self.width} is out of range; choose a multiple of 8 in 8..512")
        if not 0 <= self.res_blocks <= 4:
            raise ValueError(f"res_blocks={self.res_blocks} is out of range; choose 0..4")
        if not 0 <= self.refine_layers <= 6:
            raise ValueError(f"refine_layers={self.refine_layers} is out of range; choose 0..6")
        if not 8 <= self.refine_width <= 256:
            raise ValueError(f"refine_width={self.refine_width} is out of range; choose 8..256")
        if self.norm not in ("none", "group"):
            raise ValueError(f"norm={self.norm!r} is not supported; choose 'none' or 'group'")
        if self.arch not in ARCHS:
            raise ValueError(f"arch={self.arch!r} is not a model kind; choose one of {ARCHS}")
        if not 8 <= self.coef_k <= 1024:
            raise ValueError(f"coef_k={self.coef_k} is out of range; choose 8..1024")
        if not 16 <= self.hidden <= 4096:
            raise ValueError(f"hidden={self.hidden} is out of range; choose 16..4096")
        if not 1 <= self.mlp_layers <= 6:
            raise ValueError(f"mlp_layers={self.mlp_layers} is out of range; choose 1..6")
        return self

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Build from JSON, rejecting unknown keys and wrong types by name. A dict without ``arch``
        comes from a checkpoint made before the field existed: a ``"conv"`` model."""
        if isinstance(d, dict) and "arch" not in d:
            d = {**d, "arch": "conv"}
        return _from_dict(cls, d).validate()


@dataclass(frozen=True)
class TrainConfig:
    """How ``fit`` trains. Every field has a default that works on a 2-core CPU."""

    seconds: float | None = 60.0  # wall-clock budget; None = no time limit
    max_steps: int | None = None  # step budget; None = no step limit (needs seconds)
    batch_size: int = 64  # patches per optimisation step
    lr: float = 2e-3  # peak AdamW learning rate (5e-3 until issue 11: early dips below PCA; README, "Model quality")
    lr_min_fraction: float = 0.05  # cosine decay ends at lr * this (over the budget)
    warmup_steps: int = 50  # linear learning-rate warm-up
    weight_decay: float = 0.0  # AdamW weight decay
    # AdamW's second-moment decay: 0.99 (torch's default 0.999 until issue 11) lets the step size
    # shrink within ~100 steps when a gradient burst comes, instead of stepping ~3x the learning
    # rate for several steps; it cut the worst early dip below PCA on photos (README, "Model quality").
    adam_beta2: float = 0.99
    # The reconstruction term (model.losses): "patch_gaussian" = D/2 * log(mse_i + recon_eps) per
    # patch, a Gaussian decoder whose noise is fitted to each patch, so beta = 1 is the plain ELBO
    # and the objective matches the scores (mean per-patch PSNR); "sse" = the sum of squared
    # errors, where beta = 2 * sigma**2 for a fixed pixel noise sigma (0.005: sigma = 0.05).
    likelihood: str = "patch_gaussian"
    recon_eps: float = 1e-5  # "patch_gaussian": floor added to each patch's mean squared error
    beta: float = 1.0  # KL weight (see likelihood; 0.005 with "sse" until issue 11)
    kl_warmup_steps: int = 200  # beta rises linearly from 0 over these steps
    free_bits: float = 0.01  # nats per dimension below which KL is not penalised
    grad_clip: float = 1.0  # max global gradient norm (README, "Model choices": 1 beat 5 at 500 and 1,500 steps)
    augment: bool = True  # random flips / 90-degree turns of each batch
    # Share of each colour batch's patches turned grey (R = G = B = their mean), so the model learns
    # that a grey patch stays grey; 0 = off (the convolutional model's default, never measured with it).
    # The presets use 0.3: it halved the colour cast on grey photos at equal PSNR (README, "Model choices").
    grey_fraction: float = 0.0
    val_every_s: float = 5.0  # seconds between validation passes
    val_max_patches: int = 512  # validation patches used by the periodic check
    seed: int = 0  # seeds weight init and batch order
    pca_init: bool = True  # start the model's linear path at PCA of the training patches
    linear_lr_scale: float = 0.02  # learning-rate factor of that linear path (see train.param_groups)
    # What is validated, shown and kept is a running average of the weights, each step moving it
    # (1 - ema_decay) of the way to the new weights; 0 = the weights themselves (the rule until
    # issue 11's "never worse than the start": README, "Model quality").
    ema_decay: float = 0.95
    linear_freeze_steps: int = 100  # the linear path stays at its PCA start for the model's first N steps
    device: str = "auto"  # "auto" (CUDA, then MPS, then CPU), or e.g. "cpu", "cuda:1"
    amp: bool = True  # bf16 autocast where the device computes bf16 natively (model.precision)
    threads: int | None = None  # CPU threads for torch; None = threads.cpu_threads decides (fit: torch's default)

    def validate(self) -> TrainConfig:
        """Raise ``ValueError`` naming the bad field and the fix; return self. Every field is checked:
        its type, then its range (``_TRAIN_RANGES``)."""
        _check_types(self)
        if self.seconds is None and self.max_steps is None:
            raise ValueError("seconds and max_steps are both None; set a time or step budget")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"seconds={self.seconds} must be positive")
        if self.max_steps is not None and self.max_steps < 0:
            raise ValueError(f"max_steps={self.max_steps} must be >= 0")
        if not 1 <= self.batch_size <= 4096:
            raise ValueError(f"batch_size={self.batch_size} is out of range; choose 1..4096")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr={self.lr} is out of range; choose 0 < lr < 1 (e.g. 2e-3)")
        for name, (lo, hi) in _TRAIN_RANGES.items():
            value = getattr(self, name)
            if value is not None and not _number_in(value, lo, hi):
                raise ValueError(f"{name}={value!r} is out of range; choose {lo:g}..{hi:g}")
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood={self.likelihood!r} is not supported; choose one of {LIKELIHOODS}")
        if not isinstance(self.device, str) or not _DEVICE.fullmatch(self.device):
            raise ValueError(f"device={self.device!r} is not a device; choose 'auto', 'cpu', 'mps', 'cuda' or 'cuda:N'")
        return self

    def for_this_machine(self) -> TrainConfig:
        """This config with ``threads`` no higher than this machine's CPU count.

        A checkpoint made on a 64-core cluster node may ask for 64 threads; on a 2-core server
        that would only make training threads wait for each other (and a hostile file could ask
        for 4,096). Applied to every config read from a file and to every run the app starts.
        """
        cores = os.cpu_count() or 1
        return replace(self, threads=min(self.threads, cores)) if self.threads and self.threads > cores else self

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from JSON (e.g. a checkpoint), rejecting unknown keys, wrong types and out-of-range values by
        name; ``threads`` is clamped to this machine (:meth:`for_this_machine`). A field the file lacks
        because it was saved before the field existed gets the value that reproduces that older
        training (``_TRAIN_BEFORE``), so a resumed model keeps its objective."""
        if isinstance(d, dict):
            d = {**{k: v for k, v in _TRAIN_BEFORE.items() if k not in d}, **d}
        return _from_dict(cls, d).validate().for_this_machine()


# The range of every numeric TrainConfig field that ``validate`` does not check on its own line
# (seconds/max_steps may also be None; see ``validate``). A value outside is refused by name.
_TRAIN_RANGES: dict[str, tuple[float, float]] = {
    "seconds": (1e-3, 30 * 86_400.0),  # up to 30 days
    "max_steps": (0, 10**9),
    "lr_min_fraction": (0.0, 1.0),
    "warmup_steps": (0, 10**8),
    "weight_decay": (0.0, 10.0),
    "adam_beta2": (0.0, 0.99999),
    "beta": (0.0, 1e4),
    "kl_warmup_steps": (0, 10**8),
    "free_bits": (0.0, 100.0),
    "grad_clip": (1e-6, 1e6),
    "val_every_s": (0.0, 1e12),  # 0 = after every step; tests use 1e9 for "never"
    "val_max_patches": (1, 10**6),
    "ema_decay": (0.0, 0.9999),
    "grey_fraction": (0.0, 1.0),
    "seed": (0, 2**32 - 1),
    "linear_lr_scale": (0.0, 100.0),
    "recon_eps": (1e-12, 1.0),
    "linear_freeze_steps": (0, 10**9),
    "threads": (1, 4096),  # then clamped to the machine by for_this_machine
}
# TrainConfig fields added after checkpoints were first saved, with the value that means "as before"
# (beta and lr were always saved, so an old checkpoint keeps its own).
_TRAIN_BEFORE: dict[str, Any] = {"likelihood": "sse", "linear_freeze_steps": 0, "ema_decay": 0.0, "adam_beta2": 0.999}
LIKELIHOODS = ("patch_gaussian", "sse")  # TrainConfig.likelihood (model.losses.vae_loss)
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d{1,3})?")


def _number_in(value: Any, lo: float, hi: float) -> bool:
    """True for a real number (not a bool) with lo <= value <= hi; NaN is never in range."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and lo <= value <= hi


def _check_types(config: Any) -> None:
    """Refuse a value whose type does not match its field (a whole number given as 2.5, text as a number)."""
    for f in fields(config):
        value, kind = getattr(config, f.name), str(f.type)
        if value is None and "None" in kind:
            continue
        if kind.startswith("bool"):
            ok = isinstance(value, bool)
        elif kind.startswith("int"):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind.startswith("float"):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            raise ValueError(f"{f.name}={value!r} has the wrong type; expected {kind}")


@dataclass(frozen=True)
class CompressConfig:
    """Which rates the Compress page and ``bench --compress`` measure (``tasks.compress``)."""

    # Entropy-coded VAE rates on the plain grid: the quantisation step in units of the encoder's
    # own uncertainty (posterior sigma). Bigger steps, smaller files; below ~4 nothing improves.
    steps: tuple[float, ...] = (64.0, 32.0, 16.0, 8.0, 4.0)
    # The same on a grid whose patches overlap by half: 4x the codes and blended seams, so a
    # higher ceiling at more bytes (measured: worse per byte below ~0.25 bpp at 32 px).
    overlap_steps: tuple[float, ...] = (16.0, 6.0)
    jpeg_qualities: tuple[int, ...] = (1, 4, 8, 12, 20, 35, 55, 80, 95)  # whole-image JPEG sweep (1: its smallest)
    webp_qualities: tuple[int, ...] = (0, 5, 15, 30, 50, 75, 95)  # whole-image WebP sweep (0: its smallest)
    patch_jpeg_qualities: tuple[int, ...] = (1, 10, 25, 50, 80)  # JPEG per patch (shared tables) sweep
    max_side: int = 512  # the page shrinks bigger images to this first, so a comparison takes seconds
    max_open_pixels: int = 1024 * 1024  # the largest file the page opens (~20 MB while decoding; its own are 512 px)


@dataclass(frozen=True)
class Preset:
    """A named recipe for people who do not want to pick hyper-parameters."""

    name: str
    description: str
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# The model every preset trains: the coefficient model (MLPs on a fixed PCA basis, no refiner),
# at batch 128 with 30% of each batch's patches turned grey. Per second of a 2-core CPU it beat
# the convolutional model (``ModelConfig()``'s default kind, ``python -m vae_core train --arch
# conv``) on the photos and on the samples at every budget measured (README, "Model quality on
# real photographs"). The presets of up to two minutes use a smaller one (128 coefficients,
# 256 hidden units, learning rate 2e-3): it takes 1.5x the steps per second, and on the photos
# it was ahead by 0.11 dB at 30 s, 0.07 at 60 s and 0.04 at 120 s (behind on the easy samples,
# -0.03 and -0.19 dB at 30 and 60 s). Quality's ten minutes keep the larger one (256, 512, 1e-3).
APP_MODEL = ModelConfig(arch="coef", refine_layers=0, coef_k=128, hidden=256)
APP_TRAIN = TrainConfig(batch_size=128, lr=2e-3, grey_fraction=0.3)  # TrainConfig's defaults: the conv recipe
QUALITY_MODEL = replace(APP_MODEL, coef_k=ModelConfig.coef_k, hidden=ModelConfig.hidden)
QUALITY_TRAIN = replace(APP_TRAIN, lr=1e-3)


def _preset(
    name: str, description: str, seconds: float, model: ModelConfig = APP_MODEL, train: TrainConfig = APP_TRAIN
) -> Preset:
    return Preset(name, description, model=model, train=replace(train, seconds=seconds))


# The default preset has a 60 s budget; the README's quality figures come from it
# (see ``python -m vae_core evaluate``).
PRESETS: dict[str, Preset] = {
    "quick": _preset("Quick", "About 30 seconds: a rough model to start exploring.", 30.0),
    "default": _preset("Default", "One minute: the settings the README's quality figures use.", 60.0),
    "balanced": _preset("Balanced", "About 2 minutes: sharper reconstructions.", 120.0),
    "quality": _preset(
        "Quality",
        "About 10 minutes: the best this model gets on a laptop CPU.",
        600.0,
        QUALITY_MODEL,
        QUALITY_TRAIN,
    ),
}


def configs_for_run(
    preset: Preset,
    *,
    new_model: bool,
    channels: int,
    patch_size: int,
    previous: TrainConfig | None = None,
    resumed_steps: int = 0,
    latent_dim: int | None = None,
    beta: float | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
) -> tuple[TrainConfig, ModelConfig | None]:
    """The settings of the next training run, from a preset and the few values a person typed.

    ``new_model``: a fresh model of the preset's shape cut for ``patch_size``/``channels``
    (``latent_dim`` when given), trained with the preset's settings. Otherwise (Resume) the
    model continues with the settings it was last trained with (``previous``, else the
    preset's) for the preset's time budget, on the automatic device; a model with no
    recorded steps (``resumed_steps == 0``) keeps its weights instead of restarting from PCA.
    ``beta``, ``lr``, ``batch_size``: overrides; None keeps the value. Returns the validated
    (train config, model config or None when resuming). Raises ``ValueError`` naming the field.
    """
    changes = {k: v for k, v in {"beta": beta, "lr": lr, "batch_size": batch_size}.items() if v is not None}
    if new_model:
        model = replace(
            preset.model, image_size=patch_size, channels=channels, latent_dim=latent_dim or preset.model.latent_dim
        )
        return replace(preset.train, **changes).validate().for_this_machine(), model.validate()
    base = previous or preset.train
    train = replace(base, seconds=preset.train.seconds, max_steps=None, device="auto", **changes)
    if resumed_steps == 0:
        train = replace(train, pca_init=False)  # keep the trained weights: no PCA re-initialisation
    return train.validate().for_this_machine(), None


def to_dict(config: ModelConfig | TrainConfig) -> dict[str, Any]:
    """JSON-ready dict of a config."""
    return asdict(config)


def with_changes(config: Any, **changes: Any) -> Any:
    """``dataclasses.replace`` that validates the result."""
    return replace(config, **changes).validate()


def _from_dict(cls: type, d: dict[str, Any]) -> Any:
    if not isinstance(d, dict):
        raise ValueError(f"{cls.__name__} must be a JSON object, got {type(d).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise ValueError(f"{cls.__name__} has unknown field(s) {unknown}; this file was made by another version")
    for name, value in d.items():
        expected = known[name].type
        if value is None:
            if "None" not in str(expected):
                raise ValueError(f"{cls.__name__}.{name} may not be null")
            continue
        if ("float" in str(expected) and isinstance(value, (int, float)) and not isinstance(value, bool)) or (
            "int" in str(expected) and isinstance(value, int) and not isinstance(value, bool)
        ):
            continue
        if "str" in str(expected) and isinstance(value, str):
            continue
        if "bool" in str(expected) and isinstance(value, bool):
            continue
        raise ValueError(f"{cls.__name__}.{name}={value!r} has the wrong type; expected {expected}")
    return cls(**d)


@dataclass(frozen=True)
class AnalyzeConfig:
    """How the Analyze task cuts, describes and cross-validates labelled textures (``tasks.analyze``)."""

    max_side: int = 512  # images with a longer side are shrunk to it first (keeps a 1,000-image run to minutes)
    max_units: int = 2000  # images (or image parts) analysed at most: the memory and time budget of one run
    max_patches: int = 48  # patches per image for its codes, evenly spread over a half-overlapping grid
    gallery_per_image: int = 6  # patches per image kept to show as "nearest training patches"
    min_images: int = 3  # per class; a class with fewer is cut into spatial blocks, if they are big enough
    n_splits: int = 5  # cross-validation folds (fewer when a class has fewer images)
    seed: int = 0  # seeds the folds, the PCA baseline and the probes

    def validate(self) -> AnalyzeConfig:
        """Raise ``ValueError`` naming the bad field and the fix; return self."""
        if self.max_side < 64:
            raise ValueError(f"max_side={self.max_side} is too small; choose >= 64")
        if self.max_units < 4:
            raise ValueError(f"max_units={self.max_units} is too small; choose >= 4")
        if not 1 <= self.max_patches <= 1024:
            raise ValueError(f"max_patches={self.max_patches} is out of range; choose 1..1024")
        if self.min_images < 2:
            raise ValueError(f"min_images={self.min_images} must be at least 2 (cross-validation needs 2 groups)")
        if self.n_splits < 2:
            raise ValueError(f"n_splits={self.n_splits} must be at least 2")
        return self
