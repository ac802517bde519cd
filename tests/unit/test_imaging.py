"""vae_core.imaging: the pixel helpers every layer uses (grids, PNGs, crops, spread indices, PSNR)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from vae_core.imaging import (
    center_crop,
    center_patch,
    data_url,
    downscale,
    psnr,
    psnr_from_mse,
    spread_indices,
    thumbnail,
    tile,
    to_png,
    to_uint8_hwc,
)


def test_tile_png_downscale_psnr():
    imgs = np.stack([np.full((4, 4, 3), i * 20, np.uint8) for i in range(5)])
    grid = tile(imgs, cols=3, pad=1)
    assert grid.shape == (2 * 4 + 1, 3 * 4 + 2, 3)
    assert (grid[5:, 5:9] == 80).all()  # image 4 (value 80) is row 1, column 1
    assert tile(imgs[:2], cols=2, pad=0, scale=3).shape == (12, 24, 3)
    png = Image.open(io.BytesIO(to_png(grid)))
    np.testing.assert_array_equal(np.asarray(png), grid)
    small = downscale(np.zeros((100, 50, 3), np.uint8), 40)
    assert small.shape == (40, 20, 3)
    assert downscale(np.zeros((10, 10, 3), np.uint8), 40).shape == (10, 10, 3)
    assert psnr(grid, grid) == 100.0
    assert 0 < psnr(grid, grid // 2) < 30


def test_center_patch_crops_and_resizes():
    img = np.zeros((60, 100, 3), np.uint8)
    img[:, 20:80] = 200  # the centred 60x60 square is all 200
    out = center_patch(img, 32)
    assert out.shape == (3, 32, 32) and out.dtype == np.uint8
    assert int(out.min()) == 200
    grey = center_patch(np.full((40, 40, 1), 9, np.uint8), 32)
    assert grey.shape == (1, 32, 32)


def test_spread_indices_keep_all_or_an_even_subset():
    np.testing.assert_array_equal(spread_indices(5, 10), np.arange(5))
    idx = spread_indices(1000, 7)
    assert len(idx) == 7 and idx[0] == 0 and idx[-1] == 999 and np.all(np.diff(idx) > 0)


def test_spread_indices_sample_an_ordered_set_across_its_whole_length():
    labels = np.repeat(np.arange(10), 100)  # a dataset ordered by class, as patches are ordered by image
    picked = labels[spread_indices(len(labels), 50)]
    assert set(picked.tolist()) == set(range(10))  # every class, not only the first
    assert len(spread_indices(0, 5)) == 0 and len(spread_indices(5, 0)) == 0


def test_center_crop_takes_the_middle_square_of_at_most_the_given_side():
    img = np.arange(6 * 10).reshape(6, 10, 1)
    np.testing.assert_array_equal(center_crop(img), img[:, 2:8])
    np.testing.assert_array_equal(center_crop(img, 4), img[1:5, 3:7])
    assert center_crop(img, 99).shape == (6, 6, 1)


def test_thumbnail_is_a_small_centred_square():
    img = np.zeros((300, 500, 3), np.uint8)
    img[:, 100:400] = 255
    thumb = thumbnail(img, 96)
    assert thumb.shape == (96, 96, 3) and int(thumb.min()) == 255


def test_psnr_from_mse_is_one_formula_with_a_cap():
    np.testing.assert_allclose(psnr_from_mse([0.01, 1e-4]), [20.0, 40.0])
    assert psnr_from_mse(0.0) == 100.0 and psnr_from_mse(1e-30) == 100.0
    assert psnr_from_mse(255.0**2 / 1e4, data_range=255.0) == pytest.approx(40.0)


def test_to_uint8_hwc_rounds_and_clips():
    out = to_uint8_hwc(np.array([[[[0.0, 0.5]], [[1.2, -1.0]], [[1 / 255, 0.9999]]]]))  # (1, 3, 1, 2)
    assert out.shape == (1, 1, 2, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0], [[0, 255, 1], [128, 0, 255]])


def test_data_url_is_a_png_data_url():
    assert data_url(to_png(np.zeros((2, 2, 3), np.uint8))).startswith("data:image/png;base64,iVBOR")
