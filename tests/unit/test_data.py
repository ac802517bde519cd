"""Tests for image loading (vae_core.data.images, .decode, .loaders): formats, modes, limits, zips."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vae_core.config import ImageLimits
from vae_core.data.decode import decode_image
from vae_core.data.images import (
    LABEL_FROM_FOLDER,
    LABEL_FROM_NAME,
    ImageRejected,
    LoadReport,
    Rejection,
    TextureImage,
    label_and_rule,
    label_from_name,
    to_channels,
    unique_name,
)
from vae_core.data.loaders import load_files, load_path, load_zip

RED = (255, 0, 0)
BLUE = (0, 0, 255)


def encode(img: Image.Image, fmt: str, **save_args: object) -> bytes:
    """Save ``img`` to bytes in ``fmt``."""
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save_args)
    return buf.getvalue()


def png(
    color: tuple[int, ...] | int = RED,
    size: tuple[int, int] = (40, 40),
    mode: str = "RGB",
) -> bytes:
    """A flat PNG in memory."""
    return encode(Image.new(mode, size, color), "PNG")


def make_zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive in memory; member names are written verbatim (even unsafe ones)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return buf.getvalue()


# ---------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "save_args"),
    [("PNG", {}), ("BMP", {}), ("WEBP", {"lossless": True}), ("TIFF", {})],
)
def test_lossless_formats_roundtrip_exactly(fmt: str, save_args: dict) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(36, 48, 3), dtype=np.uint8)
    image = decode_image(encode(Image.fromarray(pixels), fmt, **save_args), f"a.{fmt.lower()}")
    assert image.pixels.dtype == np.uint8
    assert image.pixels.shape == (36, 48, 3)
    np.testing.assert_array_equal(image.pixels, pixels)


def test_jpeg_decodes_close_to_source() -> None:
    image = decode_image(encode(Image.new("RGB", (48, 40), (200, 100, 50)), "JPEG", quality=95), "a.jpg")
    assert image.pixels.shape == (40, 48, 3)
    assert np.abs(image.pixels.astype(int) - [200, 100, 50]).max() <= 3


def test_gif_uses_first_frame_of_animation() -> None:
    frames = [Image.new("RGB", (40, 40), RED), Image.new("RGB", (40, 40), BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    image = decode_image(data, "anim.gif")
    assert image.pixels.shape == (40, 40, 3)
    assert tuple(image.pixels[0, 0]) == RED
    assert image.notes == ["'anim.gif' has 2 frames; only the first is used."]


def test_tiff_uses_first_page_of_multipage() -> None:
    pages = [Image.new("RGB", (40, 40), RED), Image.new("RGB", (40, 40), BLUE)]
    data = encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    assert Image.open(io.BytesIO(data)).n_frames == 2
    image = decode_image(data, "pages.tiff")
    assert tuple(image.pixels[5, 5]) == RED
    assert image.notes == ["'pages.tiff' has 2 pages; only the first is used."]


def test_a_plain_image_has_no_notes_and_an_opaque_alpha_channel_is_not_transparency() -> None:
    assert decode_image(png(), "a.png").notes == []
    assert decode_image(png((9, 9, 9, 255), mode="RGBA"), "opaque.png").notes == []
    assert decode_image(png((9, 9, 9, 255), mode="RGBA"), "opaque.png").pixels[0, 0].tolist() == [9, 9, 9]


def test_a_transparent_image_loads_with_a_note_that_it_is_on_grey() -> None:
    img = Image.new("RGBA", (40, 40), (255, 0, 0, 255))
    img.paste((0, 0, 0, 0), (0, 0, 10, 10))
    image = decode_image(encode(img, "PNG"), "logo.png")
    assert image.notes == ["'logo.png' has transparent parts; they were put on a mid-grey background."]
    report = load_files([("logo.png", encode(img, "PNG")), ("plain.png", png())])
    assert report.notes == image.notes and len(report.images) == 2 and not report.rejected


def test_an_empty_file_is_called_empty() -> None:
    with pytest.raises(ImageRejected, match=r"'empty\.png' is empty"):
        decode_image(b"", "empty.png")
    report = load_files([("empty.png", b"")])
    assert "is empty (0 bytes)" in report.rejected[0].reason


def test_exif_orientation_is_applied() -> None:
    # Stored 48 wide x 80 tall, red block top-left; Orientation=6 means
    # "rotate 90 degrees clockwise to display", so it shows 80 wide x 48 tall
    # with the block top-right.
    img = Image.new("RGB", (48, 80), (255, 255, 255))
    img.paste(RED, (0, 0, 16, 16))
    exif = Image.Exif()
    exif[0x0112] = 6
    image = decode_image(encode(img, "JPEG", exif=exif, quality=95), "phone.jpg")
    assert image.pixels.shape == (48, 80, 3)
    top_right = image.pixels[2:12, -12:-2].mean(axis=(0, 1))
    top_left = image.pixels[2:12, 2:12].mean(axis=(0, 1))
    assert top_right[0] > 200 and top_right[1] < 60
    assert top_left.min() > 200  # white


# ---------------------------------------------------------------------------
# Modes
# ---------------------------------------------------------------------------


def test_mode_p_palette_becomes_rgb() -> None:
    img = Image.new("RGB", (40, 40), (10, 200, 30)).quantize(4)
    assert img.mode == "P"
    image = decode_image(encode(img, "PNG"), "pal.png")
    assert image.pixels.shape == (40, 40, 3)
    assert tuple(image.pixels[0, 0]) == (10, 200, 30)


def test_mode_p_with_transparency_composites_over_grey() -> None:
    img = Image.new("P", (40, 40), 0)
    img.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    img.paste(1, (0, 0, 40, 20))  # top half blue, bottom half transparent red
    image = decode_image(encode(img, "PNG", transparency=0), "pal.png")
    assert tuple(image.pixels[0, 0]) == BLUE
    assert tuple(image.pixels[-1, -1]) == (128, 128, 128)


def test_mode_1_is_grey_0_or_255() -> None:
    img = Image.new("1", (40, 40), 0)
    img.paste(1, (0, 0, 20, 40))
    image = decode_image(encode(img, "PNG"), "bw.png")
    assert image.pixels.shape == (40, 40, 1)
    assert set(np.unique(image.pixels)) == {0, 255}


def test_mode_l_stays_single_channel() -> None:
    image = decode_image(png(77, mode="L"), "grey.png")
    assert image.pixels.shape == (40, 40, 1)
    assert image.channels == 1
    assert (image.pixels == 77).all()


def test_mode_la_composites_over_mid_grey() -> None:
    img = Image.new("LA", (40, 40), (200, 255))
    img.paste((0, 0), (0, 0, 20, 40))  # left half: black but fully transparent
    img.paste((0, 128), (20, 0, 40, 40))  # right half: black, half transparent
    image = decode_image(encode(img, "PNG"), "la.png")
    assert image.pixels.shape == (40, 40, 1)
    assert image.pixels[0, 0, 0] == 128
    assert image.pixels[0, -1, 0] == 64  # 0 * 128/255 + 128 * 127/255, rounded


def test_mode_rgba_uses_grey_not_hidden_colour() -> None:
    img = Image.new("RGBA", (40, 40), (255, 0, 0, 0))  # invisible red everywhere
    img.paste((0, 0, 255, 255), (0, 0, 10, 10))  # opaque blue corner
    image = decode_image(encode(img, "PNG"), "rgba.png")
    assert image.pixels.shape == (40, 40, 3)
    assert tuple(image.pixels[-1, -1]) == (128, 128, 128)
    assert tuple(image.pixels[0, 0]) == BLUE


def test_mode_cmyk_converts_to_rgb() -> None:
    data = encode(Image.new("CMYK", (40, 40), (0, 255, 255, 0)), "TIFF")
    image = decode_image(data, "print.tif")
    assert image.pixels.shape == (40, 40, 3)
    assert tuple(image.pixels[0, 0]) == RED


def test_mode_i16_is_scaled_not_clipped() -> None:
    values = np.zeros((40, 40), dtype=np.uint16)
    values[:, :10], values[:, 10:20], values[:, 20:30] = 65535, 32768, 257
    img = Image.fromarray(values)
    assert img.mode == "I;16"
    image = decode_image(encode(img, "PNG"), "deep.png")
    assert image.pixels.shape == (40, 40, 1)
    assert image.pixels[0, 0, 0] == 255
    assert image.pixels[0, 15, 0] == 128
    assert image.pixels[0, 25, 0] == 1
    assert image.pixels[0, 35, 0] == 0


def test_mode_i16_big_endian_tiff() -> None:
    img = Image.new("I;16B", (40, 40), 65535)
    img.paste(0, (0, 0, 20, 40))
    image = decode_image(encode(img, "TIFF"), "be.tif")
    assert image.pixels.shape == (40, 40, 1)
    assert image.pixels[0, 0, 0] == 0 and image.pixels[0, -1, 0] == 255


def test_mode_i_uses_16_bit_range_when_values_fit() -> None:
    values = np.full((40, 40), 65535, dtype=np.int32)
    values[:, :20] = 32768
    img = Image.fromarray(values)
    assert img.mode == "I"
    image = decode_image(encode(img, "TIFF"), "int.tif")
    assert image.pixels.shape == (40, 40, 1)
    assert image.pixels[0, 0, 0] == 128 and image.pixels[0, -1, 0] == 255


def test_mode_i_above_16_bit_is_scaled_to_int32_range() -> None:
    values = np.full((40, 40), 2**31 - 1, dtype=np.int32)
    values[:, :20] = 2**30
    image = decode_image(encode(Image.fromarray(values), "TIFF"), "int.tif")
    assert image.pixels[0, -1, 0] == 255
    assert image.pixels[0, 0, 0] == 128


def test_mode_f_unit_range_is_scaled() -> None:
    values = np.full((40, 40), 1.0, dtype=np.float32)
    values[:, :20] = 0.5
    image = decode_image(encode(Image.fromarray(values), "TIFF"), "float.tif")
    assert image.pixels.shape == (40, 40, 1)
    assert image.pixels[0, 0, 0] == 128 and image.pixels[0, -1, 0] == 255


def test_channels_option_forces_rgb_or_grey() -> None:
    grey = decode_image(png(90, mode="L"), "g.png", channels=3)
    assert grey.pixels.shape == (40, 40, 3)
    assert (grey.pixels == 90).all()
    colour = decode_image(png((255, 0, 0)), "c.png", channels=1)
    assert colour.pixels.shape == (40, 40, 1)
    assert colour.pixels[0, 0, 0] == 76  # ITU-R 601: 0.299 * 255


def test_bad_channels_value_names_the_parameter() -> None:
    with pytest.raises(ValueError, match="channels=2"):
        decode_image(png(), "a.png", channels=2)


def test_to_channels_roundtrip_shapes() -> None:
    grey = np.full((33, 35, 1), 9, dtype=np.uint8)
    assert to_channels(grey, 1) is grey
    assert to_channels(grey, 3).shape == (33, 35, 3)
    assert to_channels(grey[:, :, 0], 3).shape == (33, 35, 3)
    with pytest.raises(ValueError, match="uint8"):
        to_channels(grey.astype(np.float32), 3)


# ---------------------------------------------------------------------------
# Limits and bad input
# ---------------------------------------------------------------------------


def test_pixel_cap_message_names_file_and_limit() -> None:
    with pytest.raises(
        ImageRejected,
        match=r"'big\.png' is 40x40 = 1,600 pixels; the limit is 1,000 pixels",
    ) as info:
        decode_image(png(), "big.png", limits=ImageLimits(max_pixels=1000))
    assert info.value.name == "big.png"


def test_pixel_cap_is_checked_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_load(self: Image.Image) -> None:
        raise AssertionError("pixel data was decoded before the size check")

    data = png()
    monkeypatch.setattr(Image.Image, "load", fail_load)
    with pytest.raises(ImageRejected, match="limit"):
        decode_image(data, "big.png", limits=ImageLimits(max_pixels=1000))


def test_megapixel_message_format() -> None:
    # A 2000x1000 PNG of one colour is tiny on disk; only the header is read.
    with pytest.raises(ImageRejected, match=r"2000x1000 = 2\.0 M pixels; the limit is 1\.0 M pixels"):
        decode_image(png(size=(2000, 1000)), "wide.png", limits=ImageLimits(max_pixels=1_000_000))


@pytest.mark.parametrize("max_pixels", [3000, 1500])
def test_pillow_decompression_bomb_guard_is_an_error(monkeypatch: pytest.MonkeyPatch, max_pixels: int) -> None:
    # 4096 pixels: above 3000 Pillow only warns (we turn that into an error),
    # above 2 * 1500 Pillow raises DecompressionBombError itself.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", max_pixels)
    with pytest.raises(ImageRejected, match=r"'bomb\.png' is too large to open safely"):
        decode_image(png(size=(64, 64)), "bomb.png")


def test_tiny_image_rejected_with_min_side() -> None:
    with pytest.raises(
        ImageRejected,
        match=r"'tiny\.png' is only 20x40 pixels; both sides must be at least 32",
    ):
        decode_image(png(size=(20, 40)), "tiny.png")


def test_file_byte_cap() -> None:
    with pytest.raises(ImageRejected, match=r"'a\.png' is .* the limit is 100 bytes per file"):
        decode_image(png(), "a.png", limits=ImageLimits(max_file_bytes=100))


@pytest.mark.parametrize("data", [b"not an image at all", png()[:60], b"GIF89a" + b"\x00" * 40])
def test_corrupt_bytes_rejected_plainly(data: bytes) -> None:
    with pytest.raises(ImageRejected, match=r"'x\.png' is not an image this app can read \(PNG, JPEG"):
        decode_image(data, "x.png")


def test_unsupported_format_rejected() -> None:
    # PPM is a real image format Pillow knows, but not one we accept.
    with pytest.raises(ImageRejected, match="not an image this app can read"):
        decode_image(encode(Image.new("RGB", (40, 40)), "PPM"), "a.ppm")


# ---------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("brick/a.png", "brick"),
        ("textures/grass/b.jpg", "grass"),
        ("brick_01.png", "brick"),
        ("grass-2.jpg", "grass"),
        ("sand3.png", "sand"),
        ("IMG_0001.JPG", "IMG"),
        ("plain.png", "plain"),
        ("007.png", "007"),
        ("win\\tiles\\c.png", "tiles"),
        # the whole stem before a trailing index (issue 9: these all used to be "D")
        ("D103_01.bmp", "D103"),
        ("D104_06.bmp", "D104"),
        ("brick_wall_03.png", "brick_wall"),
        ("grass (2).jpg", "grass"),
        ("sand3_01.png", "sand"),
        ("D12.gif", "D12"),  # one letter and a number is a name (Brodatz), not a word and an index
        ("IMG_20240101_1234.jpg", "IMG"),
    ],
)
def test_label_from_name(path: str, label: str) -> None:
    assert label_from_name(path) == label


def test_label_and_rule_says_which_rule_made_the_label() -> None:
    assert label_and_rule("brick/a_01.png") == ("brick", LABEL_FROM_FOLDER)
    assert label_and_rule("D103_01.bmp") == ("D103", LABEL_FROM_NAME)
    report = load_zip(make_zip({"wrap/brick/a.png": png(), "wrap/D103_01.png": png()}))
    assert {i.name: (i.label, i.label_from) for i in report.images} == {
        "wrap/brick/a.png": ("brick", LABEL_FROM_FOLDER),
        "wrap/D103_01.png": ("D103", LABEL_FROM_NAME),
    }
    (upload,) = load_files([("D104_06.bmp", encode(Image.new("RGB", (40, 40)), "BMP"))]).images
    assert (upload.label, upload.label_from) == ("D104", LABEL_FROM_NAME)


def test_unique_name_numbers_a_repeated_name() -> None:
    assert unique_name("a.png", {"b.png"}) == "a.png"
    assert unique_name("a.png", {"a.png", "a.png (2)"}) == "a.png (3)"


# ---------------------------------------------------------------------------
# Zip archives
# ---------------------------------------------------------------------------


def labels_by_name(report: LoadReport) -> dict[str, str]:
    return {image.name: image.label for image in report.images}


def test_zip_labels_from_folders_ignoring_wrapper() -> None:
    data = make_zip(
        {
            "textures/brick/a.png": png(),
            "textures/grass/b.png": png(),
            "textures/readme_1.png": png(),
        }
    )
    report = load_zip(data)
    assert labels_by_name(report) == {
        "textures/brick/a.png": "brick",
        "textures/grass/b.png": "grass",
        "textures/readme_1.png": "readme",
    }
    assert report.rejected == []


def test_zip_single_class_folder_is_the_label() -> None:
    report = load_zip(make_zip({"brick/a.png": png(), "brick/b.png": png()}))
    assert set(labels_by_name(report).values()) == {"brick"}


def test_zip_flat_wrapper_with_prefix_classes_uses_prefixes() -> None:
    members = {f"textures/{k}_{i}.png": png() for k in ("brick", "grass") for i in range(2)}
    assert set(labels_by_name(load_zip(make_zip(members))).values()) == {
        "brick",
        "grass",
    }


def test_zip_labels_from_prefixes() -> None:
    report = load_zip(make_zip({"brick_01.png": png(), "grass-2.png": png(), "sand3.png": png()}))
    assert labels_by_name(report) == {
        "brick_01.png": "brick",
        "grass-2.png": "grass",
        "sand3.png": "sand",
    }


def test_zip_unsafe_paths_are_skipped_and_reported() -> None:
    data = make_zip({"../evil.png": png(), "/abs.png": png(), "C:/win.png": png(), "ok.png": png()})
    report = load_zip(data)
    assert [image.name for image in report.images] == ["ok.png"]
    assert {r.name for r in report.rejected} == {
        "../evil.png",
        "/abs.png",
        "C:/win.png",
    }
    assert all("unsafe path" in r.reason for r in report.rejected)


def test_zip_non_image_reported_and_clutter_ignored() -> None:
    data = make_zip(
        {
            "notes.txt": b"hello",
            "__MACOSX/._a.png": b"junk",
            ".DS_Store": b"junk",
            "a.png": png(),
        }
    )
    report = load_zip(data)
    assert len(report.images) == 1
    assert report.rejected == [Rejection("notes.txt", "'notes.txt' was skipped: not an image file (.txt).")]


def test_zip_member_count_cap() -> None:
    data = make_zip({f"a{i}.png": png() for i in range(4)})
    with pytest.raises(ImageRejected, match=r"'up\.zip' holds 4 files; the limit is 3"):
        load_zip(data, "up.zip", limits=ImageLimits(max_zip_members=3))


def test_zip_total_bytes_cap() -> None:
    # Flat BMPs deflate well, so the archive is far smaller than what it unpacks to.
    bmp = encode(Image.new("RGB", (40, 40)), "BMP")
    data = make_zip({f"a{i}.bmp": bmp for i in range(3)})
    declared = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    limit = declared - 1
    assert len(data) <= limit  # so it is the unpacked total that trips, not the archive size
    with pytest.raises(
        ImageRejected,
        match=rf"'up\.zip' unpacks to {declared:,} bytes; the limit is {limit:,} bytes",
    ):
        load_zip(data, "up.zip", limits=ImageLimits(max_zip_total_bytes=limit))


def test_zip_total_bytes_enforced_while_reading() -> None:
    # Understate one member's size in both headers: the header sum passes the
    # cap, but the member can't be read past its (false) size, so it's reported.
    real = png(size=(64, 64))
    data = bytearray(make_zip({"a.png": real, "b.png": real}, compression=zipfile.ZIP_STORED))
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 10)
    struct.pack_into("<I", data, central + 24, 10)
    report = load_zip(bytes(data))
    assert [image.name for image in report.images] == ["b.png"]
    assert [r.name for r in report.rejected] == ["a.png"]


def test_zip_ratio_cap_rejects_highly_compressible_member() -> None:
    bomb = b"\x00" * (2 << 20)  # 2 MiB of zeros deflates ~1000:1
    report = load_zip(make_zip({"bomb.bmp": bomb, "ok.png": png()}))
    assert [image.name for image in report.images] == ["ok.png"]
    assert len(report.rejected) == 1
    assert "zip bomb" in report.rejected[0].reason and "100 to 1" in report.rejected[0].reason


def test_zip_one_bad_member_among_twenty_good() -> None:
    members = {f"good_{i:02d}.png": png() for i in range(20)}
    members["broken.png"] = b"\x89PNG\r\n\x1a\n garbage"
    report = load_zip(make_zip(members))
    assert len(report.images) == 20
    assert [r.name for r in report.rejected] == ["broken.png"]
    assert "not an image this app can read" in report.rejected[0].reason


def test_zip_not_a_zip_raises() -> None:
    with pytest.raises(ImageRejected, match="not a zip archive"):
        load_zip(b"PK\x03\x04 truncated", "bad.zip")


def test_zip_is_read_in_memory_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("zip members must not be extracted to disk")

    monkeypatch.setattr(zipfile.ZipFile, "extract", forbidden)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", forbidden)
    spool = tmp_path / "tmp"
    spool.mkdir()
    monkeypatch.setenv("TMPDIR", str(spool))
    monkeypatch.setattr("tempfile.tempdir", str(spool))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    report = load_zip(make_zip({"brick/a.png": png(), "grass/b.png": png()}))
    assert len(report.images) == 2
    assert list(spool.iterdir()) == [] and list(work.iterdir()) == []


# ---------------------------------------------------------------------------
# load_files and load_path
# ---------------------------------------------------------------------------


def test_load_files_mixes_images_and_zips_and_never_raises() -> None:
    renamed_zip = make_zip({"wood/a.png": png(), "wood/b.png": png()})
    report = load_files(
        [
            ("brick_01.png", png()),
            ("upload.bin", renamed_zip),  # detected by magic bytes, not extension
            ("junk.png", b"nope"),
            ("tiny.png", png(size=(8, 8))),
            ("bad.zip", b"PK\x03\x04 broken"),
        ]
    )
    assert sorted((i.name, i.label) for i in report.images) == [
        ("brick_01.png", "brick"),
        ("wood/a.png", "wood"),
        ("wood/b.png", "wood"),
    ]
    assert [r.name for r in report.rejected] == ["junk.png", "tiny.png", "bad.zip"]
    assert all(r.name in r.reason for r in report.rejected)


def test_load_files_channels_option() -> None:
    report = load_files([("g.png", png(5, mode="L")), ("c.png", png())], channels=3)
    assert all(i.pixels.shape == (40, 40, 3) for i in report.images)


def test_load_report_extend() -> None:
    a = LoadReport([TextureImage("a", "x", np.zeros((32, 32, 1), np.uint8))], [])
    b = LoadReport([], [Rejection("b", "bad")])
    a.extend(b)
    assert len(a.images) == 1 and a.rejected == [Rejection("b", "bad")]
    assert a.labels == ["x"]


def test_load_path_folder_zip_and_file(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "brick").mkdir(parents=True)
    (root / "brick" / "a.png").write_bytes(png())
    (root / "grass_1.png").write_bytes(png())
    (root / "notes.md").write_text("hi")
    (root / ".hidden.png").write_bytes(png())
    (root / "more.zip").write_bytes(make_zip({"wood/w.png": png()}))

    report = load_path(root)
    assert sorted((i.name, i.label) for i in report.images) == [
        ("brick/a.png", "brick"),
        ("grass_1.png", "grass"),
        ("wood/w.png", "wood"),
    ]
    assert [r.name for r in report.rejected] == ["notes.md"]

    assert [i.label for i in load_path(root / "more.zip").images] == ["wood"]
    assert [i.label for i in load_path(root / "grass_1.png").images] == ["grass"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_path(tmp_path / "missing")


def test_as_typed_escapes_markdown_in_names() -> None:
    from vae_core.data.images import as_typed

    assert as_typed("brick_01.png") == r"brick\_01.png"
    assert as_typed("**big**[x](http://y)\n# h $x$") == r"\*\*big\*\*\[x\]\(http\://y\) \# h \$x\$"


def test_plural_counts_in_words() -> None:
    from vae_core.data.images import plural

    assert plural(1, "image") == "1 image" and plural(2, "image") == "2 images" and plural(0, "label") == "0 labels"
    assert plural(1307, "validation patch", "validation patches") == "1,307 validation patches"
