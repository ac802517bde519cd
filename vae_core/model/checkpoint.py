"""Checkpoints: tensors in safetensors, everything else as JSON metadata.

A checkpoint is one ``.safetensors`` file. Its tensors are the model weights
(``model.*``), and, for resuming, the optimiser state (``optim.*``) and the batch
sampler's RNG (``rng.batches``). Its metadata holds one JSON document under the key
``texture_vae``: format version, model config, train config, history, dataset summary.

Loading never unpickles anything: safetensors is a flat tensor format, and files in any
other format (a pickled ``.pt`` included) are refused. Every load is validated before
anything is built from the file (``model.checkpoint_checks``): the header within bounds, the
format version, every config field, tensor names, shapes and declared sizes against a model
built on the meta device and the file's real length; then finiteness and a test decode.
Malformed history or dataset metadata is dropped with a note (``Checkpoint.warnings``).
Saves are atomic (temp file in the same folder, then ``os.replace``), so a crash mid-save
never leaves a half-written checkpoint behind, and thin a long loss history so the header
stays small.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from vae_core.config import ModelConfig, PatchConfig, TrainConfig
from vae_core.data.images import format_bytes
from vae_core.model.checkpoint_checks import (
    DATASET_FIELDS,
    CheckpointError,
    check_optimizer_groups,
    check_tensor_table,
    clean_dataset,
    read_header,
    read_history,
    thin_history,
)
from vae_core.model.history import History, TrainState
from vae_core.model.vae import ConvVAE, new_model

FORMAT_NAME = "texture-vae"
FORMAT_VERSION = 1
META_KEY = "texture_vae"
MAX_CHECKPOINT_BYTES = 512 * 1024 * 1024  # refuse bigger uploads before parsing


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (eval mode, on CPU) and what it was trained with."""

    model: ConvVAE
    model_config: ModelConfig
    train_config: TrainConfig | None = None
    state: TrainState | None = None  # present when the file can resume training
    dataset: dict[str, Any] = field(default_factory=dict)  # PatchDataset.summary()
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes (e.g. who made it)
    warnings: list[str] = field(default_factory=list)  # malformed metadata that was dropped, in plain words

    @property
    def history(self) -> History:
        return self.state.history if self.state is not None else History()

    def patch_config(self) -> PatchConfig:
        """Patch settings that fit this model: its patch size and channels, and the patch count and
        seed it was trained with when the file records them (else the defaults)."""
        saved = self.dataset.get("patch_config") if isinstance(self.dataset.get("patch_config"), dict) else {}

        def whole(key: str, default: int, lo: int, hi: int) -> int:
            value = saved.get(key)
            ok = isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi
            return value if ok else default

        return PatchConfig(
            patch_size=self.model_config.image_size,
            channels=self.model_config.channels,
            patches_per_image=whole("patches_per_image", PatchConfig.patches_per_image, 1, 4096),
            seed=whole("seed", PatchConfig.seed, 0, 2**32 - 1),
        )


def to_bytes(
    model: ConvVAE,
    *,
    train_config: TrainConfig | None = None,
    state: TrainState | None = None,
    dataset: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    include_optimizer: bool = True,
) -> bytes:
    """Serialise a model (and optionally its training state) to safetensors bytes."""
    from safetensors.torch import save

    tensors, meta = _pack(model, train_config, state, dataset, extra, include_optimizer)
    return save(tensors, metadata=meta)


def save_checkpoint(path: str | Path, model: ConvVAE, **kwargs: Any) -> Path:
    """Atomically write ``to_bytes(model, **kwargs)`` to ``path``; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = to_bytes(model, **kwargs)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); give it the usual permissions instead.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load and validate a checkpoint file. Raises ``CheckpointError`` with a plain reason."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"'{path}' does not exist or is not a file")
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(
            f"'{path.name}' is {size / 2**20:.0f} MB; the limit is {MAX_CHECKPOINT_BYTES // 2**20} MB"
        )
    return from_bytes(path.read_bytes(), name=path.name)


def from_bytes(data: bytes, name: str = "checkpoint", *, max_bytes: int = MAX_CHECKPOINT_BYTES) -> Checkpoint:
    """Load and validate checkpoint bytes (an upload). Nothing is unpickled, and nothing is built
    before the header, the configs and every tensor's name, shape and size have been checked.

    ``max_bytes``: the largest file accepted (the app passes its per-session model budget).
    Raises ``CheckpointError`` with a plain reason.
    """
    if len(data) > max_bytes:
        raise CheckpointError(
            f"'{name}' is {format_bytes(len(data))}; this app opens checkpoints of up to {format_bytes(max_bytes)}"
        )
    header, header_len = read_header(data, name)
    meta = _read_metadata(header, name)
    mc, tc = _read_configs(meta, name)
    check_tensor_table(header, header_len, len(data), mc, name)
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        tensors = load(data)
    except (SafetensorError, ValueError, RuntimeError, OSError) as exc:
        raise CheckpointError(f"'{name}' is damaged: its tensors could not be read ({exc})") from None
    return _unpack(tensors, meta, mc, tc, name)


def _read_metadata(header: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``texture_vae`` JSON document of a parsed safetensors header, with a known format version."""
    try:
        raw = header.get("__metadata__", {}).get(META_KEY)
        meta = json.loads(raw) if isinstance(raw, str) else None
    except (json.JSONDecodeError, AttributeError, RecursionError):
        raise CheckpointError(f"'{name}' is not a .safetensors checkpoint saved by this app") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise CheckpointError(
            f"'{name}' is a safetensors file but not a Texture VAE checkpoint (no '{META_KEY}' metadata)"
        )
    version = meta.get("version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"'{name}' has checkpoint format version {version!r}; this app reads version {FORMAT_VERSION}. "
            "Re-save it with a matching version of Texture VAE Explorer."
        )
    return meta


def _read_configs(meta: dict[str, Any], name: str) -> tuple[ModelConfig, TrainConfig | None]:
    """The model and training configs, every field checked (threads clamped to this machine)."""
    try:
        mc = ModelConfig.from_dict(meta.get("model_config"))
        tc_raw = meta.get("train_config")
        tc = TrainConfig.from_dict(tc_raw) if tc_raw is not None else None
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"'{name}' has an invalid configuration: {exc}") from None
    return mc, tc


def _pack(
    model: ConvVAE,
    train_config: TrainConfig | None,
    state: TrainState | None,
    dataset: dict[str, Any] | None,
    extra: dict[str, Any] | None,
    include_optimizer: bool,
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    tensors = {f"model.{k}": v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    meta: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "model_config": asdict(model.config),
        "train_config": asdict(train_config) if train_config is not None else None,
        "dataset": dataset or {},
        "extra": extra or {},
    }
    if state is not None:
        meta["state"] = {
            "step": state.step,
            "train_seconds": state.train_seconds,
            "history": thin_history(state.history.to_dict()),
            "history_summary": state.history.summary(),
        }
        if include_optimizer and state.optimizer is not None:
            opt_tensors, groups = _flatten_optimizer(state.optimizer)
            tensors.update(opt_tensors)
            meta["state"]["optimizer_groups"] = groups
        if include_optimizer and state.rng_state is not None:
            tensors["rng.batches"] = state.rng_state.clone()
    return tensors, {META_KEY: json.dumps(meta)}


def _unpack(
    tensors: dict[str, torch.Tensor], meta: dict[str, Any], mc: ModelConfig, tc: TrainConfig | None, name: str
) -> Checkpoint:
    """Build the model from tensors whose names, shapes and dtypes ``check_tensor_table`` has checked."""
    got = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    for k, t in got.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"'{name}': tensor model.{k} contains NaN or infinite values; the model is broken")
    model = new_model(mc)
    try:
        model.load_state_dict(got)
    except RuntimeError as exc:  # pragma: no cover - names and shapes were checked on the meta device
        raise CheckpointError(f"'{name}' does not match its own config ({exc})") from None
    model.eval()
    with torch.no_grad():
        try:
            probe = model.decode(torch.zeros(2, mc.latent_dim))
        except RuntimeError as exc:  # pragma: no cover - shapes were checked above
            raise CheckpointError(f"'{name}': a test decode failed ({exc})") from None
    want = (2, mc.channels, mc.image_size, mc.image_size)
    if tuple(probe.shape) != want or not bool(torch.isfinite(probe).all()):
        raise CheckpointError(
            f"'{name}': a test decode gave {tuple(probe.shape)} or non-finite pixels; expected {want}"
        )

    warnings: list[str] = []
    state = _read_state(meta.get("state"), tensors, name, warnings)
    dataset, dropped = clean_dataset(meta.get("dataset"))
    if dropped:  # name only our own field names: the others are text someone else chose
        named = [k for k in dropped if k in DATASET_FIELDS]
        others = len(dropped) - len(named)
        what = ", ".join(named + ([f"{others} unknown field{'s' if others > 1 else ''}"] if others else []))
        warnings.append(f"Its description of the training data was partly malformed, so this was left out: {what}.")
    extra = meta.get("extra") if isinstance(meta.get("extra"), dict) else {}
    return Checkpoint(
        model=model, model_config=mc, train_config=tc, state=state, dataset=dataset, extra=extra, warnings=warnings
    )


def _read_state(st: Any, tensors: dict[str, torch.Tensor], name: str, warnings: list[str]) -> TrainState | None:
    """The resumable training state: step count and seconds (refused when malformed), history (dropped
    with a warning when malformed), optimiser state and RNG."""
    if st is None:
        return None
    step, seconds = (st.get("step", 0), st.get("train_seconds", 0.0)) if isinstance(st, dict) else (None, None)
    if not (isinstance(step, int) and not isinstance(step, bool) and 0 <= step <= 10**12):
        raise CheckpointError(f"'{name}': its training state is malformed (step={step!r}); it was not opened")
    if not (isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 <= seconds <= 1e12):
        raise CheckpointError(f"'{name}': its training state is malformed (train_seconds={seconds!r}); not opened")
    history, ok = read_history(st.get("history"))
    if not ok:
        warnings.append("Its training history was malformed, so the loss curves were left out.")
    state = TrainState(step=step, train_seconds=float(seconds), history=history)
    groups = st.get("optimizer_groups")
    if groups is not None:
        state.optimizer = _unflatten_optimizer(tensors, check_optimizer_groups(groups, name), name)
    if "rng.batches" in tensors:
        state.rng_state = tensors["rng.batches"].to(torch.uint8)
    return state


def _flatten_optimizer(sd: dict[str, Any]) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    tensors: dict[str, torch.Tensor] = {}
    for idx, st in sd["state"].items():
        for key, val in st.items():
            t = val if torch.is_tensor(val) else torch.tensor(val)
            tensors[f"optim.{idx}.{key}"] = t.detach().to("cpu").contiguous()
    groups = [{k: v for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, groups


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], groups: list[dict[str, Any]], name: str) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, t in tensors.items():
        if not key.startswith("optim."):
            continue
        try:
            _, idx, field_name = key.split(".", 2)
            state.setdefault(int(idx), {})[field_name] = t
        except ValueError:
            raise CheckpointError(f"'{name}': unexpected optimiser tensor {key}") from None
    return {"state": state, "param_groups": groups}
