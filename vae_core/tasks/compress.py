"""Compression: the VAE as a codec next to JPEG, WebP and per-patch JPEG on the same image, at equal bytes.

:func:`rate_distortion` compresses one image at every rate of a ``CompressConfig`` with the
VAE (``tasks.codec``: real files, header and checksum included) and with each classic codec
(``tasks.classic_codecs``), and scores every decoded picture against the original after
8-bit rounding: PSNR and SSIM against bits per pixel (8 x bytes / pixels). Bytes are real
bytes, never KL in nats.

:func:`compare_at` then picks one VAE rate and finds, for each classic codec, its best
quality that fits in the same number of bytes: a :class:`TaskResult` whose verdict says
who wins at that size. The VAE's decoder weights are shared like a codec's tables and are
not counted, which is fair only on images the model did not train on; ``count_weights``
adds them instead. :func:`rd_figure` draws the curves (a plotly dict).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vae_core.config import CompressConfig
from vae_core.data.images import to_channels
from vae_core.imaging import psnr
from vae_core.tasks.classic_codecs import at_budget, coder
from vae_core.tasks.codec import Compressed, Rate, decompress, pack
from vae_core.tasks.latent_grid import encode_grid, fingerprint_bytes
from vae_core.tasks.results import MethodResult, Metric, TaskResult

VAE = "VAE"
CLASSIC = ("JPEG", "WebP", "JPEG per patch")  # the fair, whole-image comparisons first
LABELS = {
    VAE: "VAE (latent codes)",
    "JPEG": "JPEG (whole image)",
    "WebP": "WebP (whole image)",
    "JPEG per patch": "JPEG per patch (tables shared)",
}
METRICS = [
    Metric("PSNR", True, 2, " dB", "how close the pixels are (higher is better; 30 dB looks close)"),
    Metric("SSIM", True, 3, "", "how similar the structure looks (1 = identical)"),
    Metric("bits per pixel", False, 3, "", "the file's size: 8 x bytes / pixels (lower is smaller)"),
]


@dataclass
class RDPoint:
    """One method at one setting on one image."""

    method: str  # VAE or one of CLASSIC
    setting: str  # "entropy-coded, step 8", "quality 40"
    n_bytes: int  # bytes counted (see tasks.classic_codecs for what each codec counts)
    bpp: float  # 8 * n_bytes / pixels
    psnr: float  # dB, 8-bit output against the original
    ssim: float


@dataclass
class RateDistortion:
    """Every method's rate-distortion points on one image, and the VAE's files."""

    name: str  # the image's name
    reference: np.ndarray  # (H, W, C) uint8: the original, in the model's channels
    points: list[RDPoint]  # VAE points first (in ``rates`` order), then the classic ones
    rates: list[Rate]  # the VAE's rates
    files: list[Compressed]  # the VAE's file at each rate
    outputs: list[np.ndarray]  # (H, W, C) uint8: each VAE file decompressed
    decoder_bytes: int  # the decoder's weights as float32 (what a receiver must already have)
    patch_size: int
    patch_header_bytes: int  # headers + tables that full JPEG files per patch would add (left out)
    seconds: list[tuple[float, float]] = field(default_factory=list)  # per VAE rate: (compress, open) seconds

    @property
    def n_pixels(self) -> int:
        return int(self.reference.shape[0] * self.reference.shape[1])

    def curve(self, method: str) -> list[RDPoint]:
        """``method``'s points, smallest file first."""
        return sorted((p for p in self.points if p.method == method), key=lambda p: p.bpp)

    def front(self, method: str, metric: str = "psnr") -> tuple[np.ndarray, np.ndarray]:
        """``method``'s best ``metric`` for its size: (bpp, value) of the points no smaller point beats."""
        xs, ys = [], []
        for p in self.curve(method):
            value = getattr(p, metric)
            if not ys or value > ys[-1]:
                xs.append(p.bpp)
                ys.append(value)
        return np.asarray(xs), np.asarray(ys)

    def at(self, method: str, bpp: float, metric: str = "psnr") -> float:
        """``method``'s ``metric`` at a budget of ``bpp``, interpolated along its front.

        Above its largest file a method keeps its best (it need not use every byte); below its
        smallest file it has no value (NaN).
        """
        xs, ys = self.front(method, metric)
        if len(xs) == 0 or bpp < xs[0]:
            return float("nan")
        return float(np.interp(bpp, xs, ys))

    def lead(self, other: str) -> list[tuple[float, float]]:
        """(bpp, VAE PSNR minus ``other``'s) on a log grid where both have a value."""
        lo = max(self.curve(VAE)[0].bpp, self.curve(other)[0].bpp)
        hi = max(p.bpp for p in self.points if p.method in (VAE, other))
        return [(b, self.at(VAE, b) - self.at(other, b)) for b in np.geomspace(lo, max(hi, lo * 1.01), 200)]

    def crossing(self, other: str = "JPEG") -> float | None:
        """The first bpp at which the VAE's and ``other``'s PSNR curves cross, if they do."""
        lead = self.lead(other)
        for (b0, d0), (b1, d1) in itertools.pairwise(lead):
            if np.sign(d0) != np.sign(d1) and d0 != 0:
                return float(b0 + (b1 - b0) * d0 / (d0 - d1))
        return None


def decoder_bytes(model: Any) -> int:
    """Bytes of the weights ``decode`` uses (float32), found by following one decode's gradient, plus the
    fixed tensors it reads that are not learnt (a ``CoefVAE``'s PCA basis: ``decoder_buffers``).

    ``torch.autograd.grad`` leaves the model's ``.grad`` alone, so this is safe on a model
    other code is using.
    """
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    with torch.enable_grad():
        out = model.decode(torch.zeros(1, model.latent_dim)).sum()
        grads = torch.autograd.grad(out, params, allow_unused=True)
    fixed = sum(b.numel() for b in getattr(model, "decoder_buffers", list)())
    return 4 * (fixed + sum(p.numel() for p, g in zip(params, grads, strict=True) if g is not None))


def scores(reference: np.ndarray, output: np.ndarray) -> tuple[float, float]:
    """(PSNR dB, SSIM) of two (H, W, C) uint8 images, the same measures as everywhere in the app."""
    from vae_core.explore.metrics import ssim_per_patch

    ssim = ssim_per_patch(reference.transpose(2, 0, 1)[None], output.transpose(2, 0, 1)[None])[0]
    return psnr(reference, output), float(ssim)


def _point(method: str, setting: str, n_bytes: int, reference: np.ndarray, output: np.ndarray) -> RDPoint:
    p, s = scores(reference, output)
    return RDPoint(method, setting, int(n_bytes), 8.0 * n_bytes / (reference.shape[0] * reference.shape[1]), p, s)


def vae_rates(config: CompressConfig) -> list[Rate]:
    """The VAE's rates, largest file first: float16, int8, then the entropy-coded steps."""
    return (
        [Rate("float16"), Rate("int8")]
        + [Rate("entropy", s) for s in sorted(config.steps)]
        + [Rate("entropy", s, overlap=True) for s in sorted(config.overlap_steps)]
    )


def rate_distortion(
    model: Any,
    pixels: np.ndarray,
    name: str = "image",
    config: CompressConfig | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> RateDistortion:
    """Compress ``pixels`` ((H, W, C) uint8) with the VAE and every classic codec at every rate of ``config``.

    ``on_progress(done, total, what)`` is called after each setting. Raises ``ValueError``
    for an image smaller than the model's patches or beyond the codec's limits.
    """
    config = config or CompressConfig()
    reference = to_channels(np.asarray(pixels), int(model.config.channels))
    size = int(model.config.image_size)
    rates = vae_rates(config)
    sweeps = [("JPEG", config.jpeg_qualities), ("WebP", config.webp_qualities)]
    sweeps.append(("JPEG per patch", config.patch_jpeg_qualities))
    total, done = len(rates) + sum(len(q) for _, q in sweeps), 0

    def tick(what: str) -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, total, what)

    fingerprint, grids, encode_s, points, files, outputs = fingerprint_bytes(model), {}, {}, [], [], []
    seconds: list[tuple[float, float]] = []
    for rate in rates:
        if rate.overlap not in grids:
            start = time.perf_counter()
            grids[rate.overlap] = encode_grid(model, reference, rate.overlap)
            encode_s[rate.overlap] = time.perf_counter() - start
        start = time.perf_counter()
        compressed = pack(grids[rate.overlap], rate, fingerprint)
        middle = time.perf_counter()
        opened = decompress(model, compressed.data, name, fingerprint)
        seconds.append((encode_s[rate.overlap] + middle - start, time.perf_counter() - middle))
        files.append(compressed)
        outputs.append(opened.pixels)
        points.append(_point(VAE, rate.label, len(compressed.data), reference, opened.pixels))
        tick(f"VAE, {rate.label}")
    header_bytes = 0
    for method, qualities in sweeps:
        code = coder(method, size)
        for quality in qualities:
            coded = code(reference, quality)
            header_bytes = max(header_bytes, coded.header_bytes)
            points.append(_point(method, coded.setting, coded.n_bytes, reference, coded.output))
            tick(f"{method}, {coded.setting}")
    return RateDistortion(
        name, reference, points, rates, files, outputs, decoder_bytes(model), size, header_bytes, seconds
    )


def fair_start(rd: RateDistortion) -> int:
    """The VAE rate to show first: its smallest good file that whole-image JPEG and WebP can both match in size.

    "Good" means on the VAE's front (no smaller VAE file scores as well) and entropy-coded
    where possible. Smaller VAE files have no JPEG of equal size to compare with; when no good
    file is that big, the largest good one.
    """
    floor = max(min(p.n_bytes for p in rd.points if p.method == m) for m in ("JPEG", "WebP"))
    front, best = [], -np.inf
    for i in sorted(range(len(rd.files)), key=lambda i: len(rd.files[i].data)):
        if rd.points[i].psnr > best:
            front.append(i)
            best = rd.points[i].psnr
    big_enough = [i for i in front if len(rd.files[i].data) >= floor]
    coded = [i for i in big_enough if rd.rates[i].mode == "entropy"]  # int8 may edge onto the front by 0.01 dB
    return (coded or big_enough or front[-1:])[0]


def compare_at(rd: RateDistortion, index: int, count_weights: bool = False) -> TaskResult:
    """The VAE at its ``index``-th rate next to each classic codec's best quality in as many bytes.

    ``count_weights`` adds the decoder's weights to the VAE's bytes (and so to the others'
    budget). The result's ``extra`` holds the VAE's file (``"file"``) and the settings.
    """
    if not 0 <= index < len(rd.files):
        raise ValueError(f"index={index} is not one of the {len(rd.files)} VAE rates; choose 0..{len(rd.files) - 1}")
    file, rate = rd.files[index], rd.rates[index]
    budget = len(file.data) + (rd.decoder_bytes if count_weights else 0)
    weights = f"; with the decoder's {rd.decoder_bytes / 1e6:.2f} MB of weights" if count_weights else ""
    vae_point = rd.points[index]
    methods = [
        MethodResult(
            VAE, True, _metrics(rd, vae_point.psnr, vae_point.ssim, budget), rd.outputs[index],
            sum(rd.seconds[index]), f"{rate.label}, {len(file.data):,} bytes{weights}",
        )
    ]  # fmt: skip
    for method in CLASSIC:
        coded, fits = at_budget(method, rd.reference, budget, rd.patch_size)
        start = time.perf_counter()
        coder(method, rd.patch_size)(rd.reference, coded.quality)  # timed alone: encode and decode, like the VAE
        seconds = time.perf_counter() - start
        p, s = scores(rd.reference, coded.output)
        note = f"{coded.setting}, {coded.n_bytes:,} bytes"
        if not fits:
            note += f"; its smallest file is bigger than the VAE's ({budget:,} bytes)"
        methods.append(MethodResult(method, False, _metrics(rd, p, s, coded.n_bytes), coded.output, seconds, note))
    return TaskResult(
        task="compression",
        metrics=METRICS,
        methods=methods,
        reference=rd.reference,
        extra={
            "file": file.data,
            "rate": rate.label,
            "budget_bytes": budget,
            "count_weights": count_weights,
            "points": rd.points,  # the whole rate-distortion measurement, every method and setting
        },
    )


def _metrics(rd: RateDistortion, p: float, s: float, n_bytes: int) -> dict[str, float]:
    return {"PSNR": p, "SSIM": s, "bits per pixel": 8.0 * n_bytes / rd.n_pixels}
