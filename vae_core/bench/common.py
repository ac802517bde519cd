"""What several benchmarks share: opening the model they measure (the bundled starter by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vae_core.config import STARTER_CHECKPOINT


def open_model(model_path: str | Path | None = None) -> tuple[Any, dict[str, Any]]:
    """The model of ``model_path`` (default: the starter) and the first fields of a benchmark's JSON:
    the checkpoint's file name and torch's thread count."""
    import torch

    from vae_core.model.checkpoint import load_checkpoint

    path = Path(model_path) if model_path else STARTER_CHECKPOINT
    return load_checkpoint(path).model, {"model": path.name, "torch_threads": torch.get_num_threads()}
