"""Parallel decoding (vae_core.data.decode_pool via the loaders): as one thread, budgets from headers, progress."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from vae_core.config import DEFAULT_LIMITS
from vae_core.data import decode_pool
from vae_core.data.loaders import count_images, load_files, load_zip


def _jpeg(seed: int, size: tuple[int, int]) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _mixed_zip() -> bytes:
    """20 JPEGs of varied sizes, one truncated after a valid header, one not an image, one text file."""
    members = {f"cls{k % 3}/img_{k:02d}.jpg": _jpeg(k, (40 + 7 * k, 48 + 3 * k)) for k in range(20)}
    members["cls1/img_07.jpg"] = members["cls1/img_07.jpg"][:300]  # header fine, pixels damaged
    members["cls1/broken.png"] = b"not a png at all"
    members["notes.txt"] = b"hello"
    return _zip(members)


def _summary(report) -> tuple:
    return (
        [(im.name, im.label, im.pixels.shape) for im in report.images],
        [(r.name, r.reason) for r in report.rejected],
        report.note,
    )


@pytest.mark.parametrize("upload_budget", [None, 60_000])
def test_parallel_load_equals_one_thread_in_order_pixels_and_budget(upload_budget):
    data = _mixed_zip()
    limits = replace(DEFAULT_LIMITS, max_upload_pixel_bytes=upload_budget, max_session_pixel_bytes=None)
    one = load_zip(data, limits=limits, threads=1)
    four = load_zip(data, limits=limits, threads=4)
    assert _summary(four) == _summary(one)
    for a, b in zip(one.images, four.images, strict=True):
        np.testing.assert_array_equal(a.pixels, b.pixels)
    rejected = {r.name for r in four.rejected}
    assert {"cls1/img_07.jpg", "cls1/broken.png", "notes.txt"} <= rejected
    if upload_budget is None:
        assert len(four.images) == 19
    else:  # the budget cut some images by name, and what was kept fits it
        assert four.note and 0 < len(four.images) < 19
        assert sum(im.pixels.nbytes for im in four.images) <= upload_budget


def test_budget_is_checked_from_headers_before_any_parallel_decode(monkeypatch):
    decoded: list[str] = []
    real = decode_pool.finish_image

    def spy(opened):
        decoded.append(opened.name)
        return real(opened)

    monkeypatch.setattr(decode_pool, "finish_image", spy)
    big = _jpeg(1, (400, 300))  # 360,000 bytes decoded: over the budget, so never decoded
    small = {f"s{k}.jpg": _jpeg(k, (50, 50)) for k in range(6)}
    limits = replace(DEFAULT_LIMITS, max_upload_pixel_bytes=100_000, max_session_pixel_bytes=None)
    report = load_files([("big.jpg", big), *small.items()], limits=limits, threads=3)
    assert "big.jpg" not in decoded
    assert [r.name for r in report.rejected] == ["big.jpg"]
    assert "100,000 bytes" in report.rejected[0].reason
    assert sorted(decoded) == sorted(small)


def test_a_damaged_image_gives_its_reserved_room_back():
    good = _jpeg(3, (100, 100))  # 30,000 bytes decoded
    whole = _jpeg(4, (100, 100))
    damaged = whole[: len(whole) // 3]  # the header opens, the pixels are cut short
    limits = replace(DEFAULT_LIMITS, max_upload_pixel_bytes=61_000, max_session_pixel_bytes=None)
    report = load_files([("a.jpg", good), ("b.jpg", damaged), ("c.jpg", good)], limits=limits, threads=2)
    assert [im.name for im in report.images] == ["a.jpg", "c.jpg"]
    assert [r.name for r in report.rejected] == ["b.jpg"]
    assert "damaged" in report.rejected[0].reason
    # c.jpg fits only because b.jpg's room, reserved from its header, came back when its decode failed
    assert report.note is None


@pytest.mark.parametrize("threads", [1, 3])
def test_progress_is_called_for_every_file_up_to_the_total(threads):
    calls: list[tuple[int, int]] = []
    data = _mixed_zip()
    plain = _jpeg(99, (64, 64))
    report = load_files(
        [("photos.zip", data), ("extra.jpg", plain)], threads=threads, progress=lambda d, t: calls.append((d, t))
    )
    total = count_images(data) + 1
    assert total == 23  # 20 JPEGs + broken.png + notes.txt, and the plain file
    assert calls[-1] == (total, total)
    assert [d for d, _ in calls] == list(range(1, total + 1))
    assert all(t == total for _, t in calls)
    assert len(report.images) + len(report.rejected) == total


def test_a_whole_archive_refused_still_completes_the_progress():
    calls: list[tuple[int, int]] = []
    data = _mixed_zip()
    limits = replace(DEFAULT_LIMITS, max_zip_members=5)
    report = load_files([("photos.zip", data)], limits=limits, progress=lambda d, t: calls.append((d, t)))
    assert [r.name for r in report.rejected] == ["photos.zip"]
    assert calls[-1] == (22, 22)


def test_decode_threads_leave_a_core_to_the_server(monkeypatch):
    monkeypatch.setattr(decode_pool.os, "sched_getaffinity", lambda pid: set(range(4)), raising=False)
    assert decode_pool.decode_threads() == 4
    assert decode_pool.decode_threads(in_server=True) == 3
    monkeypatch.setattr(decode_pool.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert decode_pool.decode_threads(in_server=True) == 1
