"""A large texture from one source image: the VAE's canvas next to plain repetition and tiling-and-blending.

:func:`source_style` turns an image into a latent :class:`~vae_core.tasks.synthesis.Style`
(the codes of random patches of it); :func:`compare_large_texture` makes the same canvas
three ways and measures each the same way (texture distance to the source, seam ratios at
the tile's edges and inside), as one :class:`~vae_core.tasks.results.TaskResult`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict

import numpy as np

from vae_core.data.images import to_channels
from vae_core.explore.latent import encode
from vae_core.imaging import downscale
from vae_core.tasks.classic_texture import ClassicCanvas, repeat_tile, tiling_and_blending
from vae_core.tasks.results import MethodResult, Metric, TaskResult
from vae_core.tasks.synthesis import Canvas, CanvasSettings, Style, style_from_codes, synthesize
from vae_core.tasks.texture_stats import seam_ratio, texture_distance

SOURCE_MAX_SIDE = 512  # sources are shrunk to this first: enough texture, bounded work
STYLE_PATCHES = 256  # random patches of the source whose codes make its style

DISTANCE = Metric(
    "texture distance",
    False,
    3,
    help="how different the canvas's small-scale patterns (7x7 pixels, at four scales) are from the source's; "
    "0 = the same statistics",
)
SEAM_EDGE = Metric(
    "seam ratio, edges",
    False,
    2,
    help="contrast across the canvas's wrap-around edges (what you see when you tile it) over contrast elsewhere; "
    "1 = no seam",
    best_at=1.0,
)
SEAM_INSIDE = Metric(
    "seam ratio, inside",
    False,
    2,
    help="the same across the lines where the method's patches meet inside the canvas; 1 = no seam",
    best_at=1.0,
)


def prepare_source(pixels: np.ndarray, channels: int) -> np.ndarray:
    """An image ``(H, W, C) uint8`` shrunk to at most ``SOURCE_MAX_SIDE`` pixels and converted to ``channels``."""
    return to_channels(downscale(np.asarray(pixels), SOURCE_MAX_SIDE), channels)


def source_style(model, source: np.ndarray, seed: int = 0, n: int = STYLE_PATCHES) -> Style:
    """The style of ``source`` ``(H, W, C) uint8`` (model channels, each side >= the patch size): codes of
    ``n`` random patches of it."""
    p = int(model.config.image_size)
    h, w = source.shape[:2]
    if min(h, w) < p:
        raise ValueError(f"the source is {w}x{h} pixels; it must be at least {p} (the model's patch size) on each side")
    rng = np.random.default_rng(seed)
    ys, xs = rng.integers(0, h - p + 1, n), rng.integers(0, w - p + 1, n)
    patches = np.stack([source[y : y + p, x : x + p].transpose(2, 0, 1) for y, x in zip(ys, xs, strict=True)])
    return style_from_codes(encode(model, patches).mu)


def _scores(source: np.ndarray, pixels: np.ndarray, seams_x: list[int], seams_y: list[int]) -> dict[str, float]:
    seams = seam_ratio(pixels, seams_x, seams_y)
    try:
        distance = texture_distance(source, pixels)
    except ValueError:  # a source under 64 px has too few neighbourhoods at the coarsest scale
        distance = float("nan")
    return {DISTANCE.name: distance, SEAM_EDGE.name: seams.wrap, SEAM_INSIDE.name: seams.internal}


def compare_large_texture(
    model,
    source: np.ndarray,
    settings: CanvasSettings,
    on_progress: Callable[[int, int], None] | None = None,
    style: Style | None = None,
) -> TaskResult:
    """The VAE's canvas from ``source``'s style, plain repetition and Heitz & Neyret's tiling and blending.

    source: ``(H, W, C) uint8`` in the model's channels (see ``prepare_source``). The VAE's
    ``Canvas`` and its ``Style`` are in ``result.extra["canvas"]`` and ``["style"]`` (for a recipe).
    """
    style = style if style is not None else source_style(model, source, settings.seed)
    canvas: Canvas = synthesize(model, [style], settings, on_progress)
    methods = [
        MethodResult(
            "VAE",
            True,
            _scores(source, canvas.pixels, canvas.seams_x, canvas.seams_y),
            canvas.pixels,
            canvas.seconds,
            "Patches decoded from codes of the source's patches (plus variation), chosen to agree with their "
            "neighbours and blended.",
        )
    ]
    classics: list[tuple[str, Callable[[], ClassicCanvas], str]] = [
        ("Repeat", lambda: repeat_tile(source, settings.size), "A square crop of the source, repeated."),
        (
            "Tiling and blending",
            lambda: tiling_and_blending(source, settings.size, settings.seed),
            "Heitz & Neyret (2018): random source patches on a triangle grid, blended so the histogram is kept.",
        ),
    ]
    for name, make, note in classics:
        t0 = time.perf_counter()
        try:
            made = make()
        except ValueError as exc:  # e.g. a source too small for the lattice
            methods.append(MethodResult(name, False, {}, None, 0.0, f"Not available here: {exc}"))
            continue
        seconds = time.perf_counter() - t0
        scores = _scores(source, made.pixels, made.seams_x, made.seams_y)
        methods.append(MethodResult(name, False, scores, made.pixels, seconds, note))
    return TaskResult(
        task="large texture",
        metrics=[DISTANCE, SEAM_EDGE, SEAM_INSIDE],
        methods=methods,
        reference=source,
        extra={"canvas": canvas, "style": style, "settings": asdict(settings)},
    )
