"""Checkpoints: exact round-trip, atomic saves, and every kind of bad file refused safely."""

from __future__ import annotations

import json
import os
import pickle
import struct
from dataclasses import asdict

import pytest
import torch

from vae_core.model.checkpoint import (
    FORMAT_VERSION,
    META_KEY,
    CheckpointError,
    from_bytes,
    load_checkpoint,
    save_checkpoint,
    to_bytes,
)
from vae_core.model.vae import ConvVAE


def _rewrite(blob: bytes, edit_meta=None, edit_tensors=None) -> bytes:
    """Re-save a checkpoint with its metadata or tensors altered (as an attacker could)."""
    from safetensors.torch import load, save

    header_len = struct.unpack("<Q", blob[:8])[0]
    meta = json.loads(json.loads(blob[8 : 8 + header_len])["__metadata__"][META_KEY])
    tensors = load(blob)
    if edit_meta:
        edit_meta(meta)
    if edit_tensors:
        edit_tensors(tensors)
    return save(tensors, metadata={META_KEY: json.dumps(meta)})


@pytest.fixture
def model(tiny_config):
    torch.manual_seed(0)
    return ConvVAE(tiny_config).eval()


def test_round_trip_gives_identical_outputs(tmp_path, model, tiny_data):
    path = save_checkpoint(tmp_path / "m.safetensors", model, dataset=tiny_data.summary(), extra={"note": "hi"})
    ck = load_checkpoint(path)
    x = torch.from_numpy(tiny_data.val[:8]).float() / 255
    with torch.no_grad():
        assert torch.equal(model.decode(model.encode(x)[0]), ck.model.decode(ck.model.encode(x)[0]))
    assert ck.model_config == model.config
    assert ck.dataset["n_train"] == tiny_data.n_train
    assert ck.extra == {"note": "hi"}
    assert not ck.model.training


def test_save_is_atomic(tmp_path, model, monkeypatch):
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, model)
    before = path.read_bytes()

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with torch.no_grad():
        model.from_latent.bias.add_(1.0)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model)
    assert path.read_bytes() == before  # the old checkpoint is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]  # no temp file left


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "too short"),
        (b"hello world, not a model", r"not a \.safetensors checkpoint"),
        (b"\x80\x04\x95 pickle-ish", "PyTorch pickle"),
        (b"PK\x03\x04 zip-ish", "PyTorch pickle"),
    ],
)
def test_garbage_is_refused(blob, message):
    with pytest.raises(CheckpointError, match=message):
        from_bytes(blob, name="upload.bin")


def test_truncated_file_is_refused(model):
    blob = to_bytes(model)
    with pytest.raises(CheckpointError, match=r"damaged|not a \.safetensors"):
        from_bytes(blob[: len(blob) // 2], name="cut.safetensors")


def test_foreign_safetensors_is_refused():
    from safetensors.torch import save

    with pytest.raises(CheckpointError, match="not a Texture VAE checkpoint"):
        from_bytes(save({"w": torch.zeros(2)}), name="other.safetensors")


def test_wrong_version_is_refused(model):
    blob = _rewrite(to_bytes(model), edit_meta=lambda m: m.update(version=FORMAT_VERSION + 1))
    with pytest.raises(CheckpointError, match="format version 2"):
        from_bytes(blob)


def test_bad_config_schema_is_refused(model):
    blob = _rewrite(to_bytes(model), edit_meta=lambda m: m["model_config"].update(latent_dim=999))
    with pytest.raises(CheckpointError, match="latent_dim=999"):
        from_bytes(blob)
    blob = _rewrite(to_bytes(model), edit_meta=lambda m: m["model_config"].update(extra_layer=1))
    with pytest.raises(CheckpointError, match="unknown field"):
        from_bytes(blob)


def test_shape_mismatch_is_refused(model):
    def grow(t):
        t["model.from_latent.bias"] = torch.zeros(3)

    with pytest.raises(CheckpointError, match="shape"):
        from_bytes(_rewrite(to_bytes(model), edit_tensors=grow))


def test_missing_tensor_is_refused(model):
    with pytest.raises(CheckpointError, match="missing"):
        from_bytes(_rewrite(to_bytes(model), edit_tensors=lambda t: t.pop("model.from_latent.bias")))


def test_non_finite_weights_are_refused(model):
    def poison(t):
        t["model.from_latent.weight"] = t["model.from_latent.weight"].clone()
        t["model.from_latent.weight"][0, 0] = float("nan")

    with pytest.raises(CheckpointError, match="NaN"):
        from_bytes(_rewrite(to_bytes(model), edit_tensors=poison))


class _Bomb:
    """Unpickling this would create a file: proof that a loader executed code."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_pickle_bomb_never_runs(tmp_path):
    target = tmp_path / "pwned.txt"
    raw = pickle.dumps(_Bomb(str(target)))
    bomb_pt = tmp_path / "evil.pt"
    torch.save({"x": _Bomb(str(target))}, bomb_pt)
    for blob, name in [(raw, "evil.pkl"), (bomb_pt.read_bytes(), "evil.pt")]:
        with pytest.raises(CheckpointError):
            from_bytes(blob, name=name)
    renamed = tmp_path / "evil.safetensors"
    renamed.write_bytes(bomb_pt.read_bytes())
    with pytest.raises(CheckpointError):
        load_checkpoint(renamed)
    assert not target.exists()


def test_checkpoint_stores_configs_as_json(model, tiny_train):
    blob = to_bytes(model, train_config=tiny_train)
    header_len = struct.unpack("<Q", blob[:8])[0]
    meta = json.loads(json.loads(blob[8 : 8 + header_len])["__metadata__"][META_KEY])
    assert meta["version"] == FORMAT_VERSION
    assert meta["model_config"] == asdict(model.config)
    assert meta["train_config"]["batch_size"] == tiny_train.batch_size


def test_patch_config_fits_the_model_and_keeps_the_saved_patch_settings(model):
    blob = to_bytes(model, dataset={"patch_config": {"patches_per_image": 64, "seed": 3}})
    pc = from_bytes(blob).patch_config()
    assert (pc.patch_size, pc.channels, pc.patches_per_image, pc.seed) == (32, 3, 64, 3)
    odd = from_bytes(to_bytes(model, dataset={"patch_config": {"patches_per_image": "lots", "seed": -1}}))
    assert (odd.patch_config().patches_per_image, odd.patch_config().seed) == (256, 0)  # malformed: the defaults
