"""The VAE as an image codec: a texture as the quantised latent codes of its patches, in a small container.

An image is cut into a grid of patches (``data.patches.grid_positions``: non-overlapping by
default, the last row and column flush with the edges), each patch is encoded to its
``mu``, and the codes are stored at one of three rates:

* ``float16``: every number as a half float (2 bytes each);
* ``int8``: one byte each, with a per-dimension scale in the header;
* ``entropy``: rounded to a per-dimension step and range-coded (``constriction``) as one
  stream for the whole image. The step of dimension d is ``step * sigma_d``, where sigma_d
  is the encoder's own uncertainty (posterior standard deviation, averaged over this
  image's patches): dimensions the decoder needs precisely get fine steps. Each symbol is
  modelled as a Gaussian discretised to the integers: either the model's own prior N(0, 1),
  or each dimension's mean and spread over this image (3 more header bytes per dimension).
  The encoder codes both and keeps the smaller file: the fitted statistics win on textures
  whose codes sit far from the prior's centre, the prior on small images where the extra
  header bytes cost more than they save.

Decompressing decodes the codes with the same model through ``tasks.latent_grid.decode_grid``,
exactly as compressing did, so the pixels are identical to the decoder's output on the same
software. The decoder's weights are not in the file: they are shared like a codec's tables,
and a file names the model it needs by fingerprint.

Container, version 1, little-endian (``HEADER`` then the rate parameters, payload, CRC)::

    offset size field
    0      4    magic b"TVAZ"
    4      1    version (1)
    5      1    mode: 0 float16, 1 int8, 2 entropy
    6      1    channels (1 or 3)
    7      1    flags: bit 0 = entropy mode with fitted per-dimension statistics
    8      2    height          10  2  width
    12     2    patch size      14  2  grid stride
    16     2    latent_dim
    18     8    model fingerprint (the first 8 bytes of vae_core.model.fingerprint's SHA-256)
    26     4    payload length in bytes
    30     ..   rate parameters: float16: none; int8: latent_dim float16 scales;
                entropy: u16 symbol range R, per dimension a u8 step code, and (flag
                bit 0 set) per dimension an i16 mean (in steps) and a u8 spread code
    ..     ..   payload: float16 / int8 codes, patch-major; or the range coder's 32-bit words
    end-4  4    CRC-32 of everything before it

Every size is checked before anything is allocated; a damaged, truncated or foreign file
raises :class:`CompressedFileError` with the reason in plain words.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from vae_core.config import PATCH_SIZES
from vae_core.data.patches import grid_positions
from vae_core.tasks.latent_grid import MAX_PIXELS, MAX_SIDE, GridCodes, decode_grid, encode_grid, fingerprint_bytes

MAGIC = b"TVAZ"
VERSION = 1
MODES = ("float16", "int8", "entropy")
HEADER = struct.Struct("<4sBBBBHHHHH8sI")  # 30 bytes, fields as in the module docstring
FITTED_DIM = struct.Struct("<hB")  # mean (in steps), spread code: 3 bytes per dimension
MAX_FILE_BYTES = 16 * 2**20  # refused before parsing: a 4096x4096 image at float16 is far below this
MAX_SYMBOL = 32767  # largest |symbol| the entropy coder handles; codes beyond are clipped
FILE_SUFFIX = ".tvaz"


class CompressedFileError(ValueError):
    """A compressed file that cannot be opened; the message says why in plain words."""


@dataclass(frozen=True)
class Rate:
    """One way of storing the codes."""

    mode: str  # "float16", "int8" or "entropy"
    step: float = 0.0  # entropy mode: quantisation step in posterior standard deviations (bigger = smaller file)
    overlap: bool = False  # patches overlap by half (4x the codes, blended seams) instead of a plain grid

    @property
    def label(self) -> str:
        """Plain-words name: "float16", "int8", "entropy-coded, step 12", "..., 50% overlap"."""
        text = f"entropy-coded, step {self.step:g}" if self.mode == "entropy" else self.mode
        return text + (", 50% overlap" if self.overlap else "")


@dataclass(frozen=True)
class Header:
    """What a compressed file says about itself (``parse_header``)."""

    mode: str  # one of MODES
    channels: int
    height: int
    width: int
    patch_size: int
    stride: int
    latent_dim: int
    fingerprint: bytes  # 8 bytes
    fitted: bool = False  # entropy mode: per-dimension statistics fitted to this image (else the prior)

    @property
    def n_patches(self) -> int:
        """Patches on the grid: rows x columns."""
        rows = len(grid_positions(self.height, self.patch_size, self.stride))
        return rows * len(grid_positions(self.width, self.patch_size, self.stride))


@dataclass
class Compressed:
    """A compressed image: the file's bytes and the codes its decoder will see."""

    data: bytes  # the whole file, header and CRC included
    z_hat: np.ndarray  # (N, D) float32: the dequantised codes, exactly as decompression rebuilds them
    header: Header
    rate: Rate

    @property
    def bits_per_pixel(self) -> float:
        return 8.0 * len(self.data) / (self.header.height * self.header.width)


# --- packing -------------------------------------------------------------------------------------


def _step_value(code: np.ndarray) -> np.ndarray:
    return np.exp2(code.astype(np.float64) / 16.0 - 12.0)  # 0.00024 .. 15.3, 4.4% apart


def _spread_value(code: np.ndarray) -> np.ndarray:
    return np.exp2(code.astype(np.float64) / 16.0 - 4.0)  # 0.0625 .. 3900 steps


def _log_code(value: np.ndarray, offset: float) -> np.ndarray:
    return np.clip(np.round((np.log2(np.maximum(value, 1e-12)) + offset) * 16.0), 0, 255).astype(np.uint8)


def _range_code(symbols: np.ndarray, spread: np.ndarray, bound: int) -> bytes:
    """Range-code integer ``symbols`` (N, D), dimension d as N(0, spread[d]) discretised, in [-bound, bound]."""
    import constriction

    family = constriction.stream.model.QuantizedGaussian(-bound, bound)
    encoder = constriction.stream.queue.RangeEncoder()
    n = symbols.shape[0]
    encoder.encode(symbols.ravel().astype(np.int32), family, np.zeros(symbols.size), np.tile(spread, n))
    return encoder.get_compressed().astype("<u4").tobytes()


def _range_decode(payload: bytes, spread: np.ndarray, bound: int, n: int) -> np.ndarray:
    import constriction

    decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(payload, "<u4").copy())
    family = constriction.stream.model.QuantizedGaussian(-bound, bound)
    return np.asarray(decoder.decode(family, np.zeros(n * spread.size), np.tile(spread, n)), np.int64)


def _entropy_code(codes: GridCodes, step_size: float) -> tuple[bytes, bytes, np.ndarray, int]:
    """Quantise and range-code: -> (rate parameters, payload, dequantised codes, flags); the smaller variant."""
    if not step_size > 0:
        raise ValueError(f"step={step_size} must be positive for entropy coding; try 8")
    step_code = _log_code(step_size * codes.sigma, 12.0)
    step = _step_value(step_code)
    q = np.clip(np.round(codes.mu.astype(np.float64) / step), -MAX_SYMBOL, MAX_SYMBOL).astype(np.int64)
    z_hat = (q * step).astype(np.float32)
    # The prior N(0, 1): in steps, each dimension's spread is 1 / step.
    bound = int(max(1, np.abs(q).max()))
    prior = struct.pack("<H", bound) + step_code.tobytes(), _range_code(q, 1.0 / step, bound)
    # Fitted: each dimension's mean and spread over this image.
    mean = np.clip(np.round(q.mean(axis=0)), -MAX_SYMBOL, MAX_SYMBOL).astype(np.int64)
    residual = q - mean
    spread_code = _log_code(np.sqrt(np.mean(residual.astype(np.float64) ** 2, axis=0)), 4.0)
    bound = int(max(1, np.abs(residual).max()))
    if bound <= MAX_SYMBOL:
        stats = b"".join(FITTED_DIM.pack(int(m), int(c)) for m, c in zip(mean, spread_code, strict=True))
        params = struct.pack("<H", bound) + step_code.tobytes() + stats
        fitted = params, _range_code(residual, _spread_value(spread_code), bound)
        if len(fitted[0]) + len(fitted[1]) < len(prior[0]) + len(prior[1]):
            return (*fitted, z_hat, 1)
    return (*prior, z_hat, 0)


def pack(codes: GridCodes, rate: Rate, fingerprint: bytes) -> Compressed:
    """Quantise ``codes`` at ``rate`` and write the container; ``fingerprint``: ``fingerprint_bytes(model)``."""
    if rate.mode not in MODES:
        raise ValueError(f"rate mode {rate.mode!r} is not supported; choose one of {MODES}")
    mu = codes.mu.astype(np.float64)
    dim = mu.shape[1]
    flags = 0
    if rate.mode == "float16":
        stored = codes.mu.astype("<f2")
        params, payload, z_hat = b"", stored.tobytes(), stored.astype(np.float32)
    elif rate.mode == "int8":
        scale = (np.abs(mu).max(axis=0) / 127.0).astype("<f2")
        scale = np.where(scale > 0, scale, np.float16(1.0)).astype("<f2")
        q = np.clip(np.round(mu / scale.astype(np.float64)), -127, 127).astype(np.int8)
        params, payload = scale.tobytes(), q.tobytes()
        z_hat = (q.astype(np.float32) * scale.astype(np.float32)).astype(np.float32)
    else:
        params, payload, z_hat, flags = _entropy_code(codes, rate.step)
    header = Header(
        rate.mode, codes.channels, codes.height, codes.width, codes.patch_size, codes.stride, dim, fingerprint,
        bool(flags & 1),
    )  # fmt: skip
    head = HEADER.pack(
        MAGIC, VERSION, MODES.index(rate.mode), codes.channels, flags, codes.height, codes.width,
        codes.patch_size, codes.stride, dim, fingerprint, len(payload),
    )  # fmt: skip
    body = head + params + payload
    return Compressed(body + struct.pack("<I", zlib.crc32(body)), z_hat, header, rate)


def compress(model: Any, pixels: np.ndarray, rate: Rate) -> Compressed:
    """Compress ``pixels`` ((H, W, C) uint8) with ``model`` at ``rate``."""
    return pack(encode_grid(model, pixels, rate.overlap), rate, fingerprint_bytes(model))


# --- unpacking ------------------------------------------------------------------------------------


@dataclass
class Decompressed:
    """A decompressed image."""

    pixels: np.ndarray  # (H, W, C) uint8, identical to the decoder's output at compression
    header: Header
    z_hat: np.ndarray  # (N, D) float32 codes read from the file
    n_bytes: int  # the file's length


def _refuse(name: str, why: str) -> CompressedFileError:
    return CompressedFileError(f"'{name}' {why}")


def parse_header(data: bytes, name: str = "file", max_pixels: int = MAX_PIXELS) -> tuple[Header, bytes, bytes]:
    """Check ``data``'s size, magic, version, checksum and fields; return (header, rate parameters, payload).

    Nothing is allocated from what the file declares until every field is within the limits
    (``max_pixels``: the most pixels the caller will decode; opening allocates ~20 bytes each).
    """
    size = len(data)
    if size > MAX_FILE_BYTES:
        raise _refuse(name, f"is {size / 2**20:.1f} MB; a compressed texture is at most {MAX_FILE_BYTES // 2**20} MB")
    if size < HEADER.size + 4 or data[:4] != MAGIC:
        kind = "a PNG image" if data[:4] == b"\x89PNG" else "a JPEG image" if data[:2] == b"\xff\xd8" else "not"
        hint = " (open images on the Data page)" if kind != "not" else ""
        raise _refuse(name, f"is {kind} a compressed texture from this app{hint}; expected a {FILE_SUFFIX} file")
    _, version, mode, channels, flags, height, width, patch, stride, dim, fingerprint, n_payload = HEADER.unpack_from(
        data
    )
    if version != VERSION:
        raise _refuse(name, f"has format version {version}; this app reads version {VERSION}")
    if mode >= len(MODES):
        raise _refuse(name, f"is damaged: unknown storage mode {mode}")
    fitted = mode == 2 and bool(flags & 1)
    n_params = {0: 0, 1: 2 * dim, 2: 2 + dim + (FITTED_DIM.size * dim if fitted else 0)}[mode]
    expected = HEADER.size + n_params + n_payload + 4
    if size != expected:
        what = "truncated" if size < expected else "damaged (extra bytes at the end)"
        raise _refuse(name, f"is {what}: its header promises {expected:,} bytes, the file has {size:,}")
    if struct.unpack_from("<I", data, size - 4)[0] != zlib.crc32(data[: size - 4]):
        raise _refuse(name, "is damaged: its checksum does not match its contents")
    header = Header(MODES[mode], channels, height, width, patch, stride, dim, fingerprint, fitted)
    problems = [
        channels not in (1, 3) and f"channels={channels}",
        patch not in PATCH_SIZES and f"patch size {patch}",
        not 1 <= stride <= patch and f"stride {stride}",
        not 2 <= dim <= 256 and f"latent_dim={dim}",
        not (patch <= height <= MAX_SIDE and patch <= width <= MAX_SIDE and height * width <= MAX_PIXELS)
        and f"size {width}x{height}",
    ]
    problems = [p for p in problems if p]
    if problems:
        raise _refuse(name, f"declares an impossible {', '.join(problems)}; it was not made by this app")
    if height * width > max_pixels:
        raise _refuse(name, f"is a {width}x{height} image; this server opens at most {max_pixels:,} pixels")
    start = HEADER.size
    return header, data[start : start + n_params], data[start + n_params : size - 4]


def _check_model(header: Header, model: Any, fingerprint: bytes, name: str) -> None:
    c = model.config
    ours = (int(c.image_size), int(c.channels), int(c.latent_dim))
    if header.fingerprint == fingerprint and ours == (header.patch_size, header.channels, header.latent_dim):
        return
    kind = {1: "grey", 3: "colour"}
    made = f"{header.patch_size}-px {kind[header.channels]} patches, {header.latent_dim} numbers each"
    loaded = f"{ours[0]}-px {kind.get(ours[1], '?')} patches, {ours[2]} numbers each"
    raise _refuse(
        name,
        f"was made with model {header.fingerprint.hex()} ({made}); the loaded model is {fingerprint.hex()} "
        f"({loaded}). Load the model it was made with on the Model page, then open the file again.",
    )


def _codes(header: Header, params: bytes, payload: bytes, name: str) -> np.ndarray:
    """The dequantised codes (N, D) float32 a file holds."""
    n, dim = header.n_patches, header.latent_dim
    if header.mode in ("float16", "int8"):
        width = 2 if header.mode == "float16" else 1
        if len(payload) != n * dim * width:
            raise _refuse(name, f"is damaged: {len(payload):,} bytes of codes where {n * dim * width:,} are needed")
        if header.mode == "float16":
            z = np.frombuffer(payload, "<f2").astype(np.float32).reshape(n, dim)
        else:
            scale = np.frombuffer(params, "<f2").astype(np.float32)
            z = np.frombuffer(payload, np.int8).astype(np.float32).reshape(n, dim) * scale
        if not np.isfinite(z).all():
            raise _refuse(name, "is damaged: it holds codes that are not finite numbers")
        return z.astype(np.float32)
    (bound,) = struct.unpack_from("<H", params)
    step_code = np.frombuffer(params, np.uint8, dim, 2)
    if not 1 <= bound <= MAX_SYMBOL or len(payload) % 4:
        raise _refuse(name, "is damaged: its entropy-coding parameters are out of range")
    step, mean = _step_value(step_code), np.zeros(dim, np.int64)
    spread = 1.0 / step  # the prior N(0, 1), in steps
    if header.fitted:
        fields = np.array([FITTED_DIM.unpack_from(params, 2 + dim + FITTED_DIM.size * d) for d in range(dim)])
        mean, spread = fields[:, 0].astype(np.int64), _spread_value(fields[:, 1])
    try:
        symbols = _range_decode(payload, spread, bound, n).reshape(n, dim)
    except (ValueError, RuntimeError, AssertionError, OverflowError) as exc:
        raise _refuse(name, f"is damaged: its code stream could not be decoded ({exc})") from None
    return ((symbols + mean) * step).astype(np.float32)


def decompress(
    model: Any, data: bytes, name: str = "file", fingerprint: bytes | None = None, max_pixels: int = MAX_PIXELS
) -> Decompressed:
    """Open a compressed file with ``model`` (the one it was made with): -> the image.

    ``fingerprint`` (``fingerprint_bytes(model)``) may be passed to skip hashing the weights;
    ``max_pixels`` lowers the size of image the caller agrees to decode. Raises
    :class:`CompressedFileError` for a foreign, damaged, truncated, too large or mismatched file.
    """
    header, params, payload = parse_header(bytes(data), name, max_pixels)
    _check_model(header, model, fingerprint_bytes(model) if fingerprint is None else fingerprint, name)
    z_hat = _codes(header, params, payload, name)
    return Decompressed(decode_grid(model, z_hat, header), header, z_hat, len(data))
