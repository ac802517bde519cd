"""Tests for vae_core.data.patches: shapes, determinism, the leak-free split, augmentation, grids."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vae_core.config import PatchConfig
from vae_core.data.images import TextureImage
from vae_core.data.patches import PatchDataset, extract_grid, grid_positions, make_patches, to_channels


def unique_image(height: int = 160, width: int = 200, name: str = "u.png", label: str = "u") -> TextureImage:
    """RGB image whose every pixel is unique: R = y, G = x (both < 256), B = 7."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([y, x, np.full_like(y, 7)], axis=2).astype(np.uint8)
    return TextureImage(name=name, label=label, pixels=pixels)


def noise_image(height: int, width: int, channels: int = 3, seed: int = 0, label: str = "n") -> TextureImage:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    return TextureImage(name=f"{label}_{seed}.png", label=label, pixels=pixels)


def pixel_set(patches: np.ndarray) -> set[tuple[int, ...]]:
    """All distinct pixel value-tuples in ``(N, C, P, P)`` patches."""
    flat = patches.transpose(0, 2, 3, 1).reshape(-1, patches.shape[1])
    return set(map(tuple, np.unique(flat, axis=0).tolist()))


def test_shapes_dtypes_and_counts() -> None:
    images = [
        noise_image(128, 160, seed=0, label="a"),
        noise_image(96, 96, seed=1, label="b"),
    ]
    config = PatchConfig(patch_size=32, patches_per_image=50, seed=3)
    ds = make_patches(images, config)
    assert ds.train.shape == (100, 3, 32, 32) and ds.train.dtype == np.uint8
    assert ds.val.ndim == 4 and ds.val.shape[1:] == (3, 32, 32) and ds.val.dtype == np.uint8
    assert ds.train.flags.c_contiguous
    # Val cap is max(8, 50 // 4) = 12 per image; bands: 128x160 -> 32x160 (5 patches), 96x96 -> 32x96 (3).
    assert ds.n_val == 5 + 3
    for arr, n in ((ds.train_labels, ds.n_train), (ds.val_labels, ds.n_val)):
        assert arr.shape == (n,) and arr.dtype == np.int64
    assert ds.train_image_ids.dtype == np.int64 and ds.val_image_ids.dtype == np.int64
    assert ds.label_names == ["a", "b"]
    assert ds.image_names == ["a_0.png", "b_1.png"]
    assert np.bincount(ds.train_image_ids).tolist() == [50, 50]
    np.testing.assert_array_equal(ds.train_labels, ds.train_image_ids)  # label i == image i here
    assert ds.patch_size == 32 and ds.channels == 3 and ds.skipped == []


def test_summary_is_json_serialisable() -> None:
    images = [noise_image(96, 96, seed=s, label=lab) for s, lab in enumerate("aab")]
    summary = make_patches(images, PatchConfig(patches_per_image=10)).summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["n_images"] == 3 and summary["n_train"] == 30
    assert summary["labels"] == {"a": 2, "b": 1}
    assert summary["train_patches_per_label"] == {"a": 20, "b": 10}
    assert summary["patch_size"] == 32 and summary["channels"] == 3


def test_deterministic_by_seed() -> None:
    images = [noise_image(128, 128, seed=s) for s in range(2)]
    a = make_patches(images, PatchConfig(seed=5, patches_per_image=20))
    b = make_patches(images, PatchConfig(seed=5, patches_per_image=20))
    c = make_patches(images, PatchConfig(seed=6, patches_per_image=20))
    np.testing.assert_array_equal(a.train, b.train)
    np.testing.assert_array_equal(a.val, b.val)
    assert not np.array_equal(a.train, c.train)


def test_adding_an_image_keeps_earlier_images_patches() -> None:
    first = noise_image(128, 128, seed=0)
    one = make_patches([first], PatchConfig(seed=1, patches_per_image=16))
    two = make_patches(
        [first, noise_image(128, 128, seed=9)],
        PatchConfig(seed=1, patches_per_image=16),
    )
    np.testing.assert_array_equal(one.train, two.train[two.train_image_ids == 0])


@pytest.mark.parametrize("mode", ["random", "strided"])
@pytest.mark.parametrize("augment", [True, False])
def test_no_pixel_shared_between_train_and_val(mode: str, augment: bool) -> None:
    image = unique_image(160, 200)
    config = PatchConfig(patch_size=32, patches_per_image=300, mode=mode, augment=augment, seed=2)
    ds = make_patches([image], config)
    assert ds.n_train > 0 and ds.n_val > 0
    assert pixel_set(ds.train).isdisjoint(pixel_set(ds.val))
    # Region split: val patches come from the bottom band (rows >= 160 - 32).
    assert min(p[0] for p in pixel_set(ds.val)) == 128
    assert max(p[0] for p in pixel_set(ds.train)) < 128


def test_short_wide_image_splits_by_columns() -> None:
    image = unique_image(40, 250)
    ds = make_patches([image], PatchConfig(patch_size=32, patches_per_image=50))
    assert ds.n_val > 0
    assert pixel_set(ds.train).isdisjoint(pixel_set(ds.val))
    assert min(p[1] for p in pixel_set(ds.val)) == 250 - 50  # 20% of 250 columns


def test_small_images_split_by_image() -> None:
    # 40x40 can't hold a train and a val patch: with two such images, one of
    # them is validation so the set is not empty; with one, all is training.
    a, b = unique_image(40, 40, name="a.png"), noise_image(40, 40, seed=1)
    two = make_patches([a, b], PatchConfig(patches_per_image=10))
    assert set(two.train_image_ids.tolist()) == {0} and set(two.val_image_ids.tolist()) == {1}
    one = make_patches([a], PatchConfig(patches_per_image=10))
    assert one.n_train == 10 and one.n_val == 0


def test_val_fraction_zero_means_no_validation() -> None:
    ds = make_patches([noise_image(128, 128)], PatchConfig(val_fraction=0.0, patches_per_image=10))
    assert ds.n_val == 0 and ds.val.shape == (0, 3, 32, 32)


def test_val_patches_capped_and_not_augmented() -> None:
    image = unique_image(255, 255)
    ds = make_patches(
        [image],
        PatchConfig(patch_size=32, patches_per_image=40, val_fraction=0.5, augment=True),
    )
    assert ds.n_val == max(8, 40 // 4)
    # Un-augmented patches of a position-coded image have R increasing down
    # rows and G increasing along columns.
    assert (np.diff(ds.val[:, 0].astype(int), axis=1) == 1).all()
    assert (np.diff(ds.val[:, 1].astype(int), axis=2) == 1).all()


def test_augmentation_only_changes_train_orientation() -> None:
    image = unique_image(160, 200)
    plain = make_patches([image], PatchConfig(patches_per_image=200, augment=False, seed=4))
    aug = make_patches([image], PatchConfig(patches_per_image=200, augment=True, seed=4))
    np.testing.assert_array_equal(plain.val, aug.val)
    rows_increase = (np.diff(aug.train[:, 0].astype(int), axis=1) == 1).all(axis=(1, 2))
    assert 0 < rows_increase.sum() < aug.n_train  # some patches rotated/flipped, not all
    assert (np.diff(plain.train[:, 0].astype(int), axis=1) == 1).all()
    # Each augmented patch is one of the 8 symmetries of its un-augmented twin.
    for p, q in zip(plain.train[:20], aug.train[:20], strict=True):
        variants = [np.rot90(p, k, axes=(1, 2)) for k in range(4)]
        variants += [v[:, :, ::-1] for v in variants]
        assert any(np.array_equal(q, v) for v in variants)


def test_strided_mode_uses_grid_and_caps_count() -> None:
    image = unique_image(200, 200)
    ds = make_patches(
        [image],
        PatchConfig(mode="strided", stride=16, patches_per_image=1000, augment=False),
    )
    # Train region 160x200: rows 0,16,..,128 (9) x cols 0,16,..,160 plus 168 (12).
    assert ds.n_train == 9 * 12
    corners = {(int(p[0, 0, 0]), int(p[1, 0, 0])) for p in ds.train}
    assert all(y % 16 == 0 for y, _ in corners)
    capped = make_patches([image], PatchConfig(mode="strided", stride=16, patches_per_image=30))
    assert capped.n_train == 30


def test_random_mode_respects_patches_per_image() -> None:
    ds = make_patches([noise_image(256, 256)], PatchConfig(patches_per_image=77))
    assert ds.n_train == 77


@pytest.mark.parametrize(("source", "channels"), [(1, 3), (3, 1), (1, 1), (3, 3)])
def test_channel_conversion(source: int, channels: int) -> None:
    ds = make_patches(
        [noise_image(96, 96, channels=source)],
        PatchConfig(channels=channels, patches_per_image=4),
    )
    assert ds.train.shape[1] == channels and ds.val.shape[1] == channels and ds.channels == channels
    if source == 1 and channels == 3:
        np.testing.assert_array_equal(ds.train[:, 0], ds.train[:, 2])


def test_to_channels_luminance() -> None:
    rgb = np.zeros((32, 32, 3), dtype=np.uint8)
    rgb[..., 1] = 255
    assert to_channels(rgb, 1)[0, 0, 0] == 150  # 0.587 * 255


def test_mixed_sizes_skip_small_images_and_report() -> None:
    ds = make_patches(
        [noise_image(64, 64, seed=0), noise_image(40, 300, seed=1)],
        PatchConfig(patch_size=64),
    )
    assert ds.image_names == ["n_0.png"]
    assert len(ds.skipped) == 1 and ds.skipped[0].name == "n_1.png"
    assert "300x40" in ds.skipped[0].reason and "patch_size=64" in ds.skipped[0].reason


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            PatchConfig(patch_size=96),
            r"patch_size=96 is not supported; choose 32, 64 or 128",
        ),
        (PatchConfig(mode="grid"), r"mode='grid'"),
        (PatchConfig(patches_per_image=0), r"patches_per_image=0"),
        (PatchConfig(val_fraction=1.0), r"val_fraction=1.0"),
        (PatchConfig(channels=4), r"channels=4"),
        (PatchConfig(mode="strided", stride=0), r"stride=0"),
    ],
)
def test_bad_config_messages(config: PatchConfig, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_patches([noise_image(64, 64)], config)


def test_empty_and_too_small_errors() -> None:
    with pytest.raises(ValueError, match="no images: add some textures first"):
        make_patches([], PatchConfig())
    with pytest.raises(
        ValueError,
        match=r"patch_size=128 is larger than every image .*80 pixels.*choose patch_size=64",
    ):
        make_patches([noise_image(80, 100)], PatchConfig(patch_size=128))


def test_extract_grid_covers_edges() -> None:
    image = unique_image(70, 100)
    patches, coords = extract_grid(image.pixels, 32, 32)
    assert patches.shape == (len(coords), 3, 32, 32) and patches.dtype == np.uint8
    assert sorted({y for y, _ in coords}) == [0, 32, 38]
    assert sorted({x for _, x in coords}) == [0, 32, 64, 68]
    covered = np.zeros((70, 100), dtype=bool)
    for patch, (y, x) in zip(patches, coords, strict=True):
        np.testing.assert_array_equal(patch, image.pixels[y : y + 32, x : x + 32].transpose(2, 0, 1))
        covered[y : y + 32, x : x + 32] = True
    assert covered.all()


def test_extract_grid_grey_and_errors() -> None:
    grey = np.zeros((64, 64), dtype=np.uint8)
    patches, coords = extract_grid(grey, 32, 16)
    assert patches.shape == (9, 1, 32, 32) and len(coords) == 9
    with pytest.raises(
        ValueError,
        match=r"patch_size=128 is larger than the image \(64x64\); choose <= 64",
    ):
        extract_grid(grey, 128, 64)
    with pytest.raises(ValueError, match="stride=0"):
        extract_grid(grey, 32, 0)


def test_grid_positions() -> None:
    assert grid_positions(100, 32, 32) == [0, 32, 64, 68]
    assert grid_positions(32, 32, 8) == [0]
    assert grid_positions(64, 32, 16) == [0, 16, 32]


def test_dataset_fields_are_typed() -> None:
    ds = make_patches([noise_image(96, 96)], PatchConfig(patches_per_image=3))
    assert isinstance(ds, PatchDataset)
    assert ds.n_images == 1 and ds.n_train == 3
