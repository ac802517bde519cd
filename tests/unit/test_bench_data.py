"""The test zip of ``bench --data``: real photographs from installed packages, varied sizes, loadable with labels."""

from __future__ import annotations

from vae_core.bench.data import build_photo_zip
from vae_core.cli import build_parser
from vae_core.config import LOCAL_LIMITS
from vae_core.data.loaders import load_zip


def test_photo_zip_holds_varied_colour_jpegs_that_load_with_labels(tmp_path):
    info = build_photo_zip(tmp_path / "photos.zip", n=4, seed=1)
    assert info["files"] == 4 and info["bytes"] > 4 * 5_000
    report = load_zip((tmp_path / "photos.zip").read_bytes(), limits=LOCAL_LIMITS)
    assert len(report.images) == 4 and not report.rejected
    assert {im.channels for im in report.images} == {3}
    sides = {min(im.pixels.shape[:2]) for im in report.images}
    assert len(sides) == 4 and min(sides) >= 64
    assert report.labels == ["class_0", "class_1", "class_2", "class_3"]
    assert build_parser().parse_args(["bench", "--data", "--quick"]).data
