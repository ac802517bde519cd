"""What a model keeps of its training: the loss curves (:class:`History`) and the state to resume (:class:`TrainState`).

Kept with the model, not with the training loop, because a checkpoint stores both and must
be readable without the trainer: ``model.checkpoint`` writes and validates them, and
``training.fit`` appends to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass
class ValScores:
    """One validation pass: means over the validation patches, with z = mu."""

    loss: float  # beta-ELBO terms per patch
    mse: float  # mean squared error per pixel
    psnr: float  # mean of per-patch PSNRs (dB), as ``explore.metrics.psnr_per_patch``


@dataclass
class History:
    """Loss curves, one entry per step (train) and per validation pass (val)."""

    step: list[int] = field(default_factory=list)
    time_s: list[float] = field(default_factory=list)  # cumulative training seconds
    loss: list[float] = field(default_factory=list)
    recon: list[float] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    val_step: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_mse: list[float] = field(default_factory=list)
    val_psnr: list[float] = field(default_factory=list)

    def record_step(self, step: int, time_s: float, loss: float, recon: float, kl: float) -> None:
        """Append one optimisation step's values."""
        self.step.append(step)
        self.time_s.append(time_s)
        self.loss.append(loss)
        self.recon.append(recon)
        self.kl.append(kl)

    def record_val(self, step: int, val: ValScores) -> None:
        """Append one validation pass's scores."""
        self.val_step.append(step)
        self.val_loss.append(val.loss)
        self.val_mse.append(val.mse)
        self.val_psnr.append(val.psnr)

    def to_dict(self) -> dict[str, list]:
        return {k: list(v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        h = cls()
        for k, v in d.items():
            if hasattr(h, k) and isinstance(v, list):
                setattr(h, k, list(v))
        return h

    def summary(self) -> dict[str, float | int | None]:
        """Last values: small enough for checkpoint metadata and the model card."""
        return {
            "steps": self.step[-1] if self.step else 0,
            "train_seconds": round(self.time_s[-1], 2) if self.time_s else 0.0,
            "final_loss": self.loss[-1] if self.loss else None,
            "final_val_mse": self.val_mse[-1] if self.val_mse else None,
            "final_val_psnr": self.val_psnr[-1] if self.val_psnr else None,
        }


@dataclass
class TrainState:
    """Everything needed to resume: optimiser state, step count, RNG and history."""

    step: int = 0
    train_seconds: float = 0.0
    optimizer: dict[str, Any] | None = None
    rng_state: torch.Tensor | None = None  # CPU generator state of the batch sampler
    history: History = field(default_factory=History)
