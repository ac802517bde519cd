"""Compression: files round-trip bit-exactly, count their real bytes, and bad or foreign files are refused by name."""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace

import numpy as np
import pytest
import torch
from testkit import tiny_images, tiny_model_config

from vae_core.config import CompressConfig
from vae_core.model.fingerprint import PREFIX, model_fingerprint
from vae_core.model.vae import build_model
from vae_core.tasks import codec
from vae_core.tasks.classic_codecs import at_budget, jpeg, jpeg_per_patch, scan_bytes, webp
from vae_core.tasks.codec import CompressedFileError, Rate, compress, decompress, pack
from vae_core.tasks.compress import CLASSIC, VAE, compare_at, fair_start, rate_distortion
from vae_core.tasks.compress_report import equal_bytes_table, rd_figure, summary_words, weights_words
from vae_core.tasks.latent_grid import GridCodes, decode_grid, encode_grid, fingerprint_bytes

RATES = [Rate("float16"), Rate("int8"), Rate("entropy", 8.0), Rate("entropy", 64.0), Rate("entropy", 4.0, True)]
SMALL = CompressConfig(
    steps=(32.0, 4.0), overlap_steps=(8.0,), jpeg_qualities=(1, 30, 90), webp_qualities=(0, 50),
    patch_jpeg_qualities=(10, 80),
)  # fmt: skip


@pytest.fixture(scope="module")
def model():
    """An untrained tiny model: the codec needs a deterministic encoder and decoder, not a good one."""
    return build_model(tiny_model_config(), seed=0).eval()


@pytest.fixture(scope="module")
def image():
    """A 96 x 80 colour texture: not a multiple of the 32-px patch in either direction."""
    return np.ascontiguousarray(tiny_images(("marble",), size=96)[0].pixels[:80])


@pytest.mark.parametrize("rate", RATES, ids=lambda r: r.label)
def test_round_trip_is_bit_exact_to_the_decoder_output_and_counts_the_file(model, image, rate, tmp_path):
    made = compress(model, image, rate)
    path = tmp_path / f"texture{codec.FILE_SUFFIX}"
    path.write_bytes(made.data)
    opened = decompress(model, path.read_bytes(), path.name)
    assert np.array_equal(opened.z_hat, made.z_hat)
    assert np.array_equal(opened.pixels, decode_grid(model, made.z_hat, made.header))
    assert opened.pixels.shape == image.shape and opened.n_bytes == path.stat().st_size == len(made.data)
    assert made.bits_per_pixel == pytest.approx(8 * path.stat().st_size / (80 * 96))


def test_bigger_steps_make_smaller_files_and_rougher_codes(model, image):
    sizes = [len(compress(model, image, r).data) for r in (Rate("float16"), Rate("int8"), Rate("entropy", 1.0))]
    sizes += [len(compress(model, image, Rate("entropy", s)).data) for s in (16.0, 256.0)]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes)
    grid = encode_grid(model, image)
    error = [np.abs(pack(grid, Rate("entropy", s), b"12345678").z_hat - grid.mu).max() for s in (1.0, 64.0)]
    assert error[0] < error[1]


@pytest.mark.parametrize(("centre", "spread", "fitted"), [(5.0, 0.01, True), (0.0, 1.0, False)])
def test_both_entropy_models_round_trip(model, centre, spread, fitted):
    """Codes far from the prior's centre pay for fitted statistics; prior-like codes on 4 patches do not."""
    mu = (centre + spread * np.random.default_rng(0).standard_normal((4, 4))).astype(np.float32)
    grid = GridCodes(mu, np.full(4, 0.05), 64, 64, 3, 32, 32)
    made = pack(grid, Rate("entropy", 2.0), fingerprint_bytes(model))
    assert made.header.fitted is fitted
    assert np.array_equal(decompress(model, made.data).z_hat, made.z_hat)


def _reseal(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """``data`` with one header field changed and a checksum that matches again (a crafted file)."""
    body = bytearray(data[:-4])
    struct.pack_into(fmt, body, offset, value)
    return bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))


def test_damaged_truncated_and_foreign_files_are_refused_with_a_reason(model, image):
    data = compress(model, image, Rate("entropy", 8.0)).data
    cases = {
        "truncated": data[:-7],
        "damaged (extra": data + b"\0",
        "checksum does not match": data[:40] + bytes([data[40] ^ 1]) + data[41:],
        "a PNG image": b"\x89PNG\r\n\x1a\n" + bytes(60),
        "not a compressed texture": b"hello",
        "format version 9": _reseal(data, 4, "<B", 9),
        "impossible size 96x60000": _reseal(data, 8, "<H", 60000),
        "impossible patch size 33": _reseal(data, 12, "<H", 33),
    }
    for reason, bad in cases.items():
        with pytest.raises(CompressedFileError, match=reason.replace("(", r"\(")):
            decompress(model, bad, "bad.tvaz")


def test_no_prefix_or_flipped_byte_gets_past_the_checks(model, image):
    data = compress(model, image, Rate("entropy", 16.0)).data
    for n in range(len(data)):
        with pytest.raises(CompressedFileError):
            decompress(model, data[:n])
    for i in range(len(data)):
        with pytest.raises(CompressedFileError):
            decompress(model, data[:i] + bytes([data[i] ^ 0x10]) + data[i + 1 :])


def test_a_file_over_the_size_limits_is_refused_before_parsing(model, image, monkeypatch):
    with pytest.raises(CompressedFileError, match="opens at most 4,000 pixels"):
        decompress(model, compress(model, image, Rate("float16")).data, max_pixels=4000)
    monkeypatch.setattr(codec, "MAX_FILE_BYTES", 1000)
    with pytest.raises(CompressedFileError, match="at most"):
        decompress(model, codec.MAGIC + bytes(2000))


def test_a_file_from_another_model_is_refused_naming_both(model, image):
    data = compress(model, image, Rate("int8")).data
    other = build_model(replace(tiny_model_config(), latent_dim=6), seed=3).eval()
    with pytest.raises(CompressedFileError) as info:
        decompress(other, data, "mine.tvaz")
    message = str(info.value)
    assert all(model_fingerprint(m).removeprefix(PREFIX)[:16] in message for m in (model, other))
    assert "4 numbers each" in message and "6 numbers each" in message and "Model page" in message


def test_the_fingerprint_follows_the_weights_not_the_memory_format(model):
    before = model_fingerprint(model)
    assert model_fingerprint(model.to(memory_format=torch.channels_last)) == before
    twin = build_model(tiny_model_config(), seed=0)
    twin.load_state_dict(model.state_dict())
    assert model_fingerprint(twin) == before
    with torch.no_grad():
        next(twin.parameters()).view(-1)[0] += 1e-6
    assert model_fingerprint(twin) != before


def test_classic_codecs_count_what_they_say(image):
    whole = jpeg(image, 50)
    assert whole.output.shape == image.shape and whole.n_bytes > 0
    assert webp(image[:, :, :1], 50).output.shape == (80, 96, 1)
    patch = jpeg_per_patch(image, 50, 32)
    assert patch.output.shape == image.shape and patch.header_bytes > patch.n_bytes / 4  # headers are costly
    data = _jpeg_bytes(image[:32, :32])
    assert 0 < scan_bytes(data) < len(data) - 300  # a JPEG file's tables and headers are hundreds of bytes
    fit, ok = at_budget("WebP", image, 600)
    assert ok and fit.n_bytes <= 600
    _, ok = at_budget("JPEG", image, 10)
    assert not ok


def _jpeg_bytes(pixels: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=50)
    return buf.getvalue()


@pytest.fixture(scope="module")
def measured(model, image):
    seen = []
    rd = rate_distortion(model, image, "marble.png", SMALL, on_progress=lambda d, t, what: seen.append((d, t)))
    return rd, seen


def test_rate_distortion_compares_at_equal_bytes(measured, model):
    rd, seen = measured
    assert seen[-1] == (len(rd.points), len(rd.points)) == (5 + 3 + 2 + 2, 12)
    assert [p.n_bytes for p in rd.points[:5]] == [len(f.data) for f in rd.files]
    assert {p.method for p in rd.points} == {VAE, *CLASSIC}
    result = compare_at(rd, 3)
    assert [m.name for m in result.methods] == [VAE, *CLASSIC]
    budget = result.extra["budget_bytes"]
    assert budget == len(rd.files[3].data) and result.extra["file"] == rd.files[3].data
    for m in result.classic:
        assert m.metrics["bits per pixel"] * 80 * 96 / 8 <= budget or "smallest file is bigger" in m.note
    assert result.verdict().startswith("The VAE ")
    first = fair_start(rd)
    smaller = [p for p in rd.points[:5] if p.n_bytes < rd.points[first].n_bytes]
    assert all(p.psnr < rd.points[first].psnr for p in smaller)  # no smaller VAE file is as good
    fits = [m for m in compare_at(rd, first).classic[:2] if "smallest file is bigger" not in m.note]
    assert len(fits) == 2 or rd.points[first].psnr == max(p.psnr for p in rd.points[:5])
    from vae_core.model.vae import count_parameters

    assert 0 < rd.decoder_bytes < 4 * count_parameters(model)  # the decoder's share of the weights
    weighted = compare_at(rd, 3, count_weights=True)
    assert weighted.extra["budget_bytes"] == budget + rd.decoder_bytes > budget
    assert "JPEG" in summary_words(rd) and "WebP" in summary_words(rd) and "MB" in weights_words(rd)
    figure = rd_figure(rd, selected=3)
    lines = [t for t in figure["data"] if t["mode"] == "lines+markers"]
    assert len(lines) == 2 * 4 and figure["layout"]["xaxis"]["type"] == "log"
    assert all(t["y"] == sorted(t["y"]) for t in lines)  # a line joins each method's best for its size
    plotted = [t for t in figure["data"] if t.get("legendgroup") == VAE and t.get("xaxis") == "x"]
    assert sum(len(t["x"]) for t in plotted) == 5  # every VAE setting is drawn, on the line or off it
    assert set(equal_bytes_table(rd)) == {VAE, *CLASSIC}
    with pytest.raises(ValueError, match="index=9"):
        compare_at(rd, 9)


def test_images_too_small_or_too_big_get_a_clear_message(model):
    with pytest.raises(ValueError, match="at least 32"):
        compress(model, np.zeros((20, 100, 3), np.uint8), Rate("float16"))


def test_the_benchmark_summarises_equal_budgets_and_is_one_command(measured):
    from vae_core.bench.compress import BUDGETS, _summarise
    from vae_core.cli import build_parser

    summary = _summarise([measured[0]])
    assert summary["images"] == ["marble.png"] and set(summary["crossing_with_jpeg_bpp"]) == {"marble.png"}
    row = summary[f"at_{BUDGETS[-1]:g}_bpp"]
    assert row[VAE].endswith("dB on 1") and row["JPEG cannot go this small"] in (0, 1)
    args = build_parser().parse_args(["bench", "--compress", "--quick"])
    assert args.compress and args.quick and args.model is None


def test_the_coefficient_models_decoder_size_counts_its_fixed_basis():
    """The basis is a buffer, not a weight, but a receiver needs it to decode: it counts toward the decoder."""
    from vae_core.config import APP_MODEL
    from vae_core.model.vae import build_model
    from vae_core.tasks.compress import decoder_bytes

    model = build_model(APP_MODEL)
    decoder_params = sum(p.numel() for p in (*model.lin_dec.parameters(), *model.dec_mlp.parameters()))
    assert decoder_bytes(model) == 4 * (decoder_params + model.basis.numel() + model.basis_std.numel())
