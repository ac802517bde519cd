"""Checks on an untrusted checkpoint, made before anything is built from it (used by ``model.checkpoint``).

The order is the point. :func:`read_header` parses the safetensors header itself, within
fixed bounds, so that a legitimate file is never mistaken for a pickle whatever its header
length's bytes happen to be. :func:`check_tensor_table` then builds the model the file's
config describes on torch's ``meta`` device (no memory), compares every tensor's name, shape
and dtype with it, and checks that the sizes the header declares fit in the bytes the file
really has. Only after that does ``checkpoint.from_bytes`` let safetensors read the tensors and
build the real model, so a few-KB file declaring the largest model allocates nothing large.

The metadata that pages show is checked here too (:func:`clean_dataset`, :func:`read_history`,
:func:`check_optimizer_groups`): malformed parts are dropped with a plain note, or the file is
refused, instead of crashing a page later.
"""

from __future__ import annotations

import json
import math
from typing import Any

import torch

from vae_core.config import ModelConfig
from vae_core.data.images import format_bytes
from vae_core.model.history import History

# Bounds on the JSON header before it is parsed. Parsing JSON can cost ~20x its size in Python
# objects, so the header's size and its numbers of containers and values are capped; at these
# caps the parse stays under ~100 MB however the JSON is crafted (measured by
# tests/unit/test_checkpoint_hostile.py). A real header is a few hundred KB: the tensor table plus
# the loss history (~90 bytes a step), which ``checkpoint`` thins to MAX_HISTORY_POINTS on save.
MAX_HEADER_BYTES = 8 * 2**20  # a history of ~90,000 steps saved before thinning existed
MAX_CONTAINERS = 20_000  # '[' and '{' in the header; a real one has a few hundred
MAX_VALUES = 500_000  # ',' in the header; a thinned history has ~180,000
MAX_HISTORY_POINTS = 20_000  # history entries kept per curve when a checkpoint is saved
MAX_LABELS = 100_000  # labels and image names listed in a dataset summary

# safetensors dtype names -> bytes per element; anything else is refused.
_ITEMSIZE = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8,
}  # fmt: skip
_TORCH_NAME = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64"}


class CheckpointError(ValueError):
    """A file that is not a valid Texture VAE checkpoint; the message says why in plain words."""


def read_header(data: bytes, name: str) -> tuple[dict[str, Any], int]:
    """The safetensors header of ``data`` as a dict, and its length in bytes.

    A safetensors file starts with its header's length (8 bytes, little-endian) and the JSON
    header itself. Only when that does not parse is the file examined for what else it is,
    so a header length whose low byte is 0x80 (a pickle's first byte) or whose low bytes spell
    "PK" (a zip's) is read as the checkpoint it is.
    """
    n = int.from_bytes(data[:8], "little") if len(data) >= 8 else 0
    if 2 <= n <= len(data) - 8 and data[8:9] == b"{":
        if n > MAX_HEADER_BYTES:
            raise CheckpointError(
                f"'{name}' has a {format_bytes(n)} header; this app reads checkpoints whose header is at most "
                f"{format_bytes(MAX_HEADER_BYTES)} (a checkpoint saved by Texture VAE Explorer has a small one)"
            )
        containers = data.count(b"[", 8, 8 + n) + data.count(b"{", 8, 8 + n)
        if containers > MAX_CONTAINERS or data.count(b",", 8, 8 + n) > MAX_VALUES:
            raise CheckpointError(
                f"'{name}' has a header with more entries than a Texture VAE checkpoint can have "
                f"(at most {MAX_CONTAINERS:,} lists and {MAX_VALUES:,} values); it was not opened"
            )
        try:
            header = json.loads(data[8 : 8 + n])
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            header = None
        if isinstance(header, dict):
            return header, n
    if data[:2] == b"PK" or data[:1] == b"\x80":
        raise CheckpointError(
            f"'{name}' looks like a PyTorch pickle (.pt/.pth). For safety this app only opens "
            ".safetensors checkpoints saved by Texture VAE Explorer."
        )
    if len(data) < 8:
        raise CheckpointError(f"'{name}' is not a checkpoint (the file is too short)")
    raise CheckpointError(f"'{name}' is not a .safetensors checkpoint saved by this app")


def check_tensor_table(header: dict[str, Any], header_len: int, data_len: int, config: ModelConfig, name: str) -> None:
    """Refuse the file unless every tensor entry is well formed, fits in the file's bytes, and the
    ``model.*`` tensors are exactly those the model ``config`` describes has (names, shapes, dtypes).

    The reference model is built on the meta device: its shapes, none of its memory.
    """
    from vae_core.model.vae import new_model

    body = data_len - 8 - header_len  # bytes after the header: all the tensors must fit in these
    table = {k: v for k, v in header.items() if k != "__metadata__"}
    declared = 0
    for key, info in table.items():
        shape, begin, end, itemsize = _entry(key, info, name)
        size = math.prod(shape) * itemsize
        declared += size
        if not 0 <= begin <= end <= body or end - begin != size:
            raise CheckpointError(
                f"'{name}' is damaged: tensor {key} claims {format_bytes(size)} at bytes {begin}..{end}, "
                f"but the file holds {format_bytes(max(body, 0))} of tensor data"
            )
    if declared > body:
        raise CheckpointError(
            f"'{name}' declares {format_bytes(declared)} of tensors but holds only {format_bytes(max(body, 0))}; "
            "it is damaged or not a real checkpoint"
        )

    with torch.device("meta"):
        reference = new_model(config)
    expected = {f"model.{k}": v for k, v in reference.state_dict().items()}
    got = {k: v for k, v in table.items() if k.startswith("model.")}
    missing, unexpected = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"'{name}' does not match its own config: missing {missing[:3]}, unexpected {unexpected[:3]} "
            f"({len(missing)} missing, {len(unexpected)} unexpected)"
        )
    for key, ref in expected.items():
        shape, dtype = tuple(got[key]["shape"]), got[key]["dtype"]
        if shape != tuple(ref.shape):
            raise CheckpointError(f"'{name}': tensor {key} has shape {shape}, the config needs {tuple(ref.shape)}")
        want = _TORCH_NAME.get(ref.dtype, str(ref.dtype))
        if dtype != want:
            raise CheckpointError(f"'{name}': tensor {key} is {dtype}, expected {want}")


def _entry(key: str, info: Any, name: str) -> tuple[list[int], int, int, int]:
    """(shape, begin, end, bytes per element) of one header entry, or CheckpointError."""
    ok = (
        isinstance(info, dict)
        and info.get("dtype") in _ITEMSIZE
        and isinstance(info.get("shape"), list)
        and len(info["shape"]) <= 8
        and all(_whole(d, 0, 2**40) for d in info["shape"])
        and isinstance(info.get("data_offsets"), list)
        and len(info["data_offsets"]) == 2
        and all(_whole(o, 0, 2**62) for o in info["data_offsets"])
    )
    if not ok:
        raise CheckpointError(f"'{name}' is damaged: the header entry for tensor {key[:80]!r} is malformed")
    begin, end = info["data_offsets"]
    return info["shape"], begin, end, _ITEMSIZE[info["dtype"]]


def _whole(value: Any, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- metadata that pages show ------------------------------------------------------------------

# A dataset summary's fields (``PatchDataset.summary`` plus the command line's additions) and
# the checks each must pass to be kept.
_COUNT = ("n_images", "n_train", "n_val", "patch_size", "channels")
_COUNTS_BY_NAME = ("labels", "train_patches_per_label")
_NAMES = ("image_names", "skipped")
DATASET_FIELDS = frozenset((*_COUNT, *_COUNTS_BY_NAME, *_NAMES, "patch_config", "source"))


def clean_dataset(raw: Any) -> tuple[dict[str, Any], list[str]]:
    """The well-formed part of a checkpoint's dataset summary, and the names of the fields dropped.

    Counts must be whole numbers >= 0, label counts a mapping of text to counts, name lists
    lists of text (at most MAX_LABELS entries each); ``patch_config`` a mapping (its values are
    checked by ``Checkpoint.patch_config``), ``source`` text. Unknown fields are dropped too.
    """
    if not isinstance(raw, dict):
        return {}, ([] if raw in (None, {}) else ["dataset"])
    kept: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _COUNT:
            ok = _whole(value, 0, 10**12)
        elif key in _COUNTS_BY_NAME:
            ok = (
                isinstance(value, dict)
                and len(value) <= MAX_LABELS
                and all(isinstance(k, str) and _whole(v, 0, 10**12) for k, v in value.items())
            )
        elif key in _NAMES:
            ok = isinstance(value, list) and len(value) <= MAX_LABELS and all(isinstance(v, str) for v in value)
        elif key == "patch_config":
            ok = isinstance(value, dict)
        elif key == "source":
            ok = isinstance(value, str)
        else:
            ok = False
        if ok:
            kept[key] = value
    return kept, sorted(set(raw) - set(kept))


_TRAIN_CURVES = ("step", "time_s", "loss", "recon", "kl")
_VAL_CURVES = ("val_step", "val_loss", "val_mse", "val_psnr")


def read_history(raw: Any) -> tuple[History, bool]:
    """A checkpoint's loss history, and whether it was well formed.

    Every curve must be a list of numbers (steps: whole numbers), the training curves all of
    one length and the validation curves all of one length. A malformed history is replaced
    by an empty one (``False``): the model still loads, the page says the history was dropped.
    """
    if raw is None or raw == {}:
        return History(), True
    if not isinstance(raw, dict) or set(raw) - set(_TRAIN_CURVES) - set(_VAL_CURVES):
        return History(), False
    for group in (_TRAIN_CURVES, _VAL_CURVES):
        curves = [raw.get(k, []) for k in group]
        if not all(isinstance(c, list) for c in curves) or len({len(c) for c in curves}) > 1:
            return History(), False
        for key, curve in zip(group, curves, strict=True):
            whole = key.endswith("step")
            if not all(_whole(v, 0, 10**12) if whole else _number(v) for v in curve):
                return History(), False
    return History(**{k: [float(v) if not k.endswith("step") else v for v in raw.get(k, [])] for k in raw}), True


def thin_history(history: dict[str, list], max_points: int = MAX_HISTORY_POINTS) -> dict[str, list]:
    """``History.to_dict()`` with each curve group cut to ``max_points`` entries, evenly spread (first and
    last kept), so a long run's checkpoint keeps a small header; shorter histories are unchanged."""
    from vae_core.imaging import spread_indices

    out = {k: list(v) for k, v in history.items()}
    for group in (_TRAIN_CURVES, _VAL_CURVES):
        n = len(out.get(group[0], []))
        if n > max_points and all(len(out.get(k, [])) == n for k in group):
            keep = spread_indices(n, max_points).tolist()
            for k in group:
                out[k] = [out[k][i] for i in keep]
    return out


def check_optimizer_groups(groups: Any, name: str) -> list[dict[str, Any]]:
    """The optimiser's parameter groups, or CheckpointError when they are not what an optimiser stores:
    a list of mappings whose values are finite numbers, flags, None, or lists of finite numbers."""

    def plain(v: Any) -> bool:
        if v is None or isinstance(v, bool):
            return True
        if _number(v):
            return math.isfinite(v)
        return isinstance(v, list) and len(v) <= 100_000 and all(_number(x) and math.isfinite(x) for x in v)

    ok = (
        isinstance(groups, list)
        and len(groups) <= 64
        and all(isinstance(g, dict) and all(isinstance(k, str) and plain(v) for k, v in g.items()) for g in groups)
        and all(isinstance(g.get("params"), list) and all(_whole(p, 0, 10**6) for p in g["params"]) for g in groups)
    )
    if not ok:
        raise CheckpointError(f"'{name}': the optimiser settings are malformed")
    return groups
