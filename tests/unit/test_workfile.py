"""Save my work / open my work: a round trip keeps everything; a bad file is refused in plain words."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace

import numpy as np
import pytest
import torch
from testkit import tiny_images, weights

from vae_core.config import PatchConfig
from vae_core.model.vae import ConvVAE
from vae_core.model.workfile import WorkFileError, open_work, save_work
from vae_core.training.fit import fit


@pytest.fixture(scope="module")
def trained(tiny_data):
    from testkit import tiny_model_config

    from vae_core.config import TrainConfig

    torch.manual_seed(0)
    model = ConvVAE(tiny_model_config())
    config = TrainConfig(seconds=None, max_steps=3, batch_size=16, val_every_s=1e9, warmup_steps=1)
    result = fit(model, tiny_data, config)
    return model.eval(), config, result.state


def _rezip(data: bytes, change) -> bytes:
    """The same zip with ``change(name, payload) -> payload | None`` applied to each member (None drops it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            payload = change(info.filename, src.read(info))
            if payload is not None:
                dst.writestr(info.filename, payload)
    return out.getvalue()


def test_round_trip_keeps_model_state_images_labels_and_settings(trained, tiny_data):
    model, config, state = trained
    images = tiny_images()
    images[1].label = "my own label"
    pc = PatchConfig(patch_size=32, patches_per_image=32, seed=7)
    saved = save_work(
        images=images, patch_config=pc, model=model, train_config=config, state=state,
        dataset=tiny_data.summary(), model_source="Trained here (3 steps)",
    )  # fmt: skip
    assert saved.images_included and "4 images" in saved.note
    work = open_work(saved.data, "my_work.zip")
    assert torch.equal(weights(work.checkpoint.model), weights(model))
    assert work.checkpoint.state.step == 3 and work.checkpoint.state.optimizer is not None  # Resume works
    assert work.checkpoint.train_config == config
    assert [im.name for im in work.images] == [im.name for im in images]
    assert [im.label for im in work.images] == [im.label for im in images]
    for a, b in zip(work.images, images, strict=True):
        np.testing.assert_array_equal(a.pixels, b.pixels)  # lossless
    assert work.patch_config == pc and work.model_source == "Trained here (3 steps)" and work.rejected == []


def test_images_over_the_limit_are_left_out_and_said_so():
    images = tiny_images()
    saved = save_work(images=images, patch_config=PatchConfig(), max_image_bytes=10_000)
    assert not saved.images_included and "left out" in saved.note and "upload the images again" in saved.note
    work = open_work(saved.data)
    assert work.images is None and work.checkpoint is None
    assert work.labels == {im.name: im.label for im in images}  # labels still apply by name


def test_a_broken_image_is_reported_and_the_rest_are_kept():
    saved = save_work(images=tiny_images(), patch_config=PatchConfig())
    broken = _rezip(saved.data, lambda name, p: b"not a png" if name == "images/0002.png" else p)
    work = open_work(broken)
    assert [im.name for im in work.images] == ["stripes.png", "marble.png", "checks.png"]
    assert len(work.rejected) == 1 and work.rejected[0].name == "dots.png" and "dots.png" in work.rejected[0].reason


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: b"hello, not a zip", "not a zip archive"),
        (lambda d: _rezip(d, lambda n, p: None if n == "work.json" else p), "has no work.json"),
        (lambda d: _rezip(d, lambda n, p: b"{nope" if n == "work.json" else p), "cannot be read"),
        (lambda d: _rezip(d, lambda n, p: None if n == "model.safetensors" else p), "model.safetensors is missing"),
        (lambda d: _rezip(d, lambda n, p: p[:100] if n == "model.safetensors" else p), "model.safetensors"),
    ],
)
def test_a_file_that_cannot_be_opened_is_refused_in_plain_words(trained, make, match):
    model, config, state = trained
    saved = save_work(images=tiny_images(), patch_config=PatchConfig(), model=model, train_config=config, state=state)
    with pytest.raises(WorkFileError, match=match):
        open_work(make(saved.data), "work.zip")


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m | {"format": "something-else"},
        lambda m: m | {"version": 99},
        lambda m: m | {"images": "all of them"},
        lambda m: m | {"images": [{"name": 3, "label": "x", "file": None}]},
        lambda m: m | {"images": [{"name": "a.png", "label": "x" * 5000, "file": None}]},
        lambda m: m | {"images": [{"name": "a.png", "label": "x", "file": "../../etc/passwd"}]},
        lambda m: m | {"patch_config": {"patch_size": 33}},
        lambda m: m | {"patch_config": {"patch_size": "32"}},
        lambda m: m | {"patch_config": {"bogus": 1}},
        lambda m: m | {"has_model": "yes"},
    ],
)
def test_a_tampered_description_is_refused(edit):
    saved = save_work(images=tiny_images(), patch_config=PatchConfig())

    def change(name, payload):
        return json.dumps(edit(json.loads(payload))).encode() if name == "work.json" else payload

    with pytest.raises(WorkFileError):
        open_work(_rezip(saved.data, change))


def test_the_description_is_read_with_a_size_cap():
    saved = save_work(images=tiny_images(), patch_config=replace(PatchConfig(), seed=1))
    huge = _rezip(saved.data, lambda n, p: p + b" " * (5 * 1024 * 1024) if n == "work.json" else p)
    with pytest.raises(WorkFileError, match="too large"):
        open_work(huge)
