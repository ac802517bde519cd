"""Tests for vae_core.data.samples: the offline, deterministic built-in texture set."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vae_core.data.loaders import load_path
from vae_core.data.samples import (
    PROCEDURAL_KINDS,
    SKIMAGE_KINDS,
    fractal_noise,
    procedural_texture,
    sample_textures,
    value_noise,
    write_sample_pngs,
)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to open a socket fail loudly."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the sample set must not use the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize("kind", PROCEDURAL_KINDS)
def test_procedural_shape_dtype_and_determinism(kind: str) -> None:
    a = procedural_texture(kind, size=64, seed=3)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, procedural_texture(kind, size=64, seed=3))
    assert not np.array_equal(a, procedural_texture(kind, size=64, seed=4))
    assert a.std() > 10  # a texture, not a flat colour


def test_procedural_kinds_listed() -> None:
    assert set(PROCEDURAL_KINDS) >= {
        "stripes",
        "checks",
        "dots",
        "cells",
        "marble",
        "wood",
    }


def test_procedural_bad_kind_and_size() -> None:
    with pytest.raises(ValueError, match=r"kind='lava'.*stripes"):
        procedural_texture("lava")
    with pytest.raises(ValueError, match="size=8"):
        procedural_texture("dots", size=8)


def test_noise_range_and_shape() -> None:
    rng = np.random.default_rng(0)
    v = value_noise(64, 4, rng)
    f = fractal_noise(64, 4, 3, rng)
    for n in (v, f):
        assert n.shape == (64, 64) and n.min() >= 0 and n.max() <= 1
    # Smooth: neighbouring pixels differ far less than the full range.
    assert np.abs(np.diff(v, axis=1)).max() < 0.2


@pytest.mark.usefixtures("no_network")
def test_sample_set_labels_shapes_and_determinism() -> None:
    images = sample_textures(seed=0, size=64, per_kind=2)
    labels = [image.label for image in images]
    assert labels.count("stripes") == 2
    assert set(labels) == set(PROCEDURAL_KINDS) | set(SKIMAGE_KINDS)
    assert len(images) == 2 * len(PROCEDURAL_KINDS) + len(SKIMAGE_KINDS)
    names = [image.name for image in images]
    assert "stripes_0.png" in names and "brick.png" in names and len(set(names)) == len(names)
    for image in images:
        assert image.pixels.dtype == np.uint8
        if image.label in SKIMAGE_KINDS:
            assert image.pixels.shape == (128, 128, 1)
        else:
            assert image.pixels.shape == (64, 64, 3)
    # Two images of one kind differ; the same seed gives the same set.
    assert not np.array_equal(images[0].pixels, images[1].pixels)
    again = sample_textures(seed=0, size=64, per_kind=2)
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(images, again, strict=True))
    other = sample_textures(seed=1, size=64, per_kind=2)
    assert not np.array_equal(images[0].pixels, other[0].pixels)


@pytest.mark.usefixtures("no_network")
def test_write_sample_pngs_are_readable_and_relabel(tmp_path: Path) -> None:
    paths = write_sample_pngs(tmp_path / "samples", seed=0)
    assert len(paths) == 2 * len(PROCEDURAL_KINDS) + len(SKIMAGE_KINDS)
    assert all(p.suffix == ".png" and p.parent == tmp_path / "samples" for p in paths)
    with Image.open(paths[0]) as img:
        assert img.format == "PNG" and img.mode == "RGB" and img.size == (256, 256)
    with Image.open(tmp_path / "samples" / "brick.png") as img:
        assert img.mode == "L" and img.size == (512, 512)
    report = load_path(tmp_path / "samples")
    assert report.rejected == []
    assert set(report.labels) == set(PROCEDURAL_KINDS) | set(SKIMAGE_KINDS)
    expected = {image.name: image.pixels for image in sample_textures(seed=0)}
    loaded = {image.name: image.pixels for image in report.images}
    assert loaded.keys() == expected.keys()
    for name in ("wood_1.png", "gravel.png"):
        np.testing.assert_array_equal(loaded[name], expected[name])


def test_committed_assets_match_generator() -> None:
    assets = Path(__file__).resolve().parents[2] / "assets" / "samples"
    if not assets.is_dir():
        pytest.skip("assets/samples has not been generated yet")
    on_disk = sorted(p.name for p in assets.glob("*.png"))
    assert on_disk == sorted(image.name for image in sample_textures(seed=0))


def test_unseen_photographs_are_bundled_and_not_in_the_sample_set():
    from vae_core.data.samples import PHOTOGRAPH_KINDS, sample_textures, unseen_photographs

    photos = unseen_photographs()
    assert [p.name for p in photos] == [f"{k}.png" for k in PHOTOGRAPH_KINDS]
    assert all(p.pixels.dtype == np.uint8 and p.pixels.shape[2] in (1, 3) for p in photos)
    assert not {p.name for p in photos} & {s.name for s in sample_textures(size=64)}
    with pytest.raises(ValueError, match="kind='moon'"):
        unseen_photographs(("moon",))
