"""Configuration dataclasses for the model and the training run, plus named presets.

Kept apart from ``model`` and ``train`` so that the app can show and edit settings
(and a checkpoint can store them as JSON) without importing torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

PATCH_SIZES = (32, 64, 128)


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

    def validate(self) -> ModelConfig:
        """Raise ``ValueError`` naming the bad field and the fix; return self."""
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
        return self

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """Build from JSON, rejecting unknown keys and wrong types by name."""
        return _from_dict(cls, d).validate()


@dataclass(frozen=True)
class TrainConfig:
    """How ``fit`` trains. Every field has a default that works on a 2-core CPU."""

    seconds: float | None = 60.0  # wall-clock budget; None = no time limit
    max_steps: int | None = None  # step budget; None = no step limit (needs seconds)
    batch_size: int = 64  # patches per optimisation step
    lr: float = 5e-3  # peak AdamW learning rate
    lr_min_fraction: float = 0.05  # cosine decay ends at lr * this (over the budget)
    warmup_steps: int = 50  # linear learning-rate warm-up
    weight_decay: float = 0.0  # AdamW weight decay
    # beta weighs KL against the per-patch sum of squared errors. For a Gaussian
    # decoder with pixel noise sigma the ELBO has beta = 2 * sigma**2, so the default
    # 0.005 assumes sigma = 0.05 (about 26 dB): a sharp decoder with a usable latent.
    beta: float = 0.005
    kl_warmup_steps: int = 200  # beta rises linearly from 0 over these steps
    free_bits: float = 0.01  # nats per dimension below which KL is not penalised
    grad_clip: float = 1.0  # max global gradient norm (README, "Model choices": 1 beat 5 at 500 and 1,500 steps)
    augment: bool = True  # random flips / 90-degree turns of each batch
    val_every_s: float = 5.0  # seconds between validation passes
    val_max_patches: int = 512  # validation patches used by the periodic check
    seed: int = 0  # seeds weight init and batch order
    pca_init: bool = True  # start the model's linear path at PCA of the training patches
    linear_lr_scale: float = 0.02  # learning-rate factor of that linear path (see train.param_groups)
    device: str = "auto"  # "auto" (CUDA, then MPS, then CPU), or e.g. "cpu", "cuda:1"
    amp: bool = True  # bf16 autocast on CUDA (ignored on CPU/MPS)
    threads: int | None = None  # CPU threads for torch; None = threads.cpu_threads decides (fit: torch's default)

    def validate(self) -> TrainConfig:
        """Raise ``ValueError`` naming the bad field and the fix; return self."""
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
        if self.beta < 0:
            raise ValueError(f"beta={self.beta} must be >= 0")
        if self.free_bits < 0:
            raise ValueError(f"free_bits={self.free_bits} must be >= 0")
        return self

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        return _from_dict(cls, d).validate()


@dataclass(frozen=True)
class Preset:
    """A named recipe for people who do not want to pick hyper-parameters."""

    name: str
    description: str
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# The default preset is "balanced"'s architecture with a 60 s budget; the README's
# quality figures come from it (see ``python -m vae_core evaluate``).
PRESETS: dict[str, Preset] = {
    "quick": Preset(
        "Quick",
        "About 30 seconds: a rough model to start exploring.",
        train=TrainConfig(seconds=30.0),
    ),
    "default": Preset(
        "Default",
        "One minute: the settings the README's quality figures use.",
        train=TrainConfig(seconds=60.0),
    ),
    "balanced": Preset(
        "Balanced",
        "About 2 minutes: sharper reconstructions.",
        train=TrainConfig(seconds=120.0),
    ),
    "quality": Preset(
        "Quality",
        "About 10 minutes: the best this model gets on a laptop CPU.",
        train=TrainConfig(seconds=600.0),
    ),
}


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
