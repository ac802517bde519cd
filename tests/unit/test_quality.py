"""Issue 11's model-quality pieces: the real-photo development set."""

from __future__ import annotations

import numpy as np


def test_real_photo_set_is_varied_colour_and_grey_and_seeded():
    from vae_core.data.devsets import real_photo_images

    images = real_photo_images(seed=0)
    assert len(images) >= 50
    channels = {im.pixels.shape[2] for im in images}
    assert channels == {1, 3}  # grey photos (camera, moon, ...) and colour ones
    sizes = {im.pixels.shape[:2] for im in images}
    assert len(sizes) > 40 and all(min(s) >= 96 and max(s) <= 384 for s in sizes)
    assert sum(h != w for h, w in sizes) > len(sizes) // 2  # mostly not square
    assert min(float(im.pixels.std()) for im in images) > 5  # no flat crops
    again = real_photo_images(seed=0)
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(images, again, strict=True))
    other = real_photo_images(seed=1)
    assert any(a.pixels.shape != b.pixels.shape for a, b in zip(images, other, strict=True))
