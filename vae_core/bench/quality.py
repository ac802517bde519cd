"""``python -m vae_core bench --quality``: the VAE against PCA on real photographs and on the samples.

Two patch sets, both 32 px colour, cut as ``train`` cuts them (``PatchConfig()``):

- **photos**: ``data.devsets.real_photo_images`` (57 crops of photographs bundled with
  scikit-image/scikit-learn, colour and grey, 96-384 px);
- **samples**: the built-in procedural textures (``data.samples.sample_textures``).

Three measurements, each on both sets, scored on *every* validation patch the way ``evaluate``
scores (mean per-patch PSNR and SSIM, PCA with k = latent_dim fitted on the training patches):

1. ``presets``: the Quick (30 s) and Default (60 s) presets exactly as ``train`` runs them
   (wall-clock budgets, so the step counts depend on the machine and its load);
2. ``curve``: validation PSNR minus PCA's every 10 steps over the first 200 steps of the
   default settings ("never worse than the start");
3. ``ablation``: each lever tried on the *convolutional* model for issue 11 at an equal step budget
   (300 steps, 2 threads), with its seconds per step, so quality per second can be read off;
4. ``choices``: the coefficient model's choices (:data:`COEF_CHOICES`: its size, learning rate,
   grey batches, patches per image) at an equal *wall-clock* budget (60 s each, 2 threads), since
   what the presets buy is quality per second. Every row is scored on the same validation patches.

The README's "Model quality" table comes from this command (``--quick``: fewer levers and steps).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from vae_core.config import (
    APP_MODEL,
    APP_TRAIN,
    PRESETS,
    QUALITY_MODEL,
    QUALITY_TRAIN,
    ModelConfig,
    PatchConfig,
    TrainConfig,
)
from vae_core.data.patches import PatchDataset, make_patches
from vae_core.explore.metrics import evaluate, fit_pca, psnr_per_patch
from vae_core.model.vae import build_model
from vae_core.training.fit import fit

CURVE_STEPS, CURVE_EVERY = 200, 10  # the "never worse than the start" curve
ABLATION_STEPS = 300  # equal step budget of every ablation row

# The levers of issue 11, each a change to the default settings of the main branch before this
# work ("before": SSE loss, beta 0.005, lr 5e-3, linear path moving from step 0) or of today's.
_BEFORE = {
    "likelihood": "sse",
    "beta": 0.005,
    "lr": 5e-3,
    "linear_freeze_steps": 0,
    "ema_decay": 0.0,
    "adam_beta2": 0.999,
}
LEVERS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {  # name: (TrainConfig changes, ModelConfig changes)
    "before (SSE, beta 0.005, lr 5e-3)": (_BEFORE, {}),
    "before + lr 2e-3": ({**_BEFORE, "lr": 2e-3}, {}),
    "before + per-patch loss (beta 1)": ({**_BEFORE, "likelihood": "patch_gaussian", "beta": 1.0}, {}),
    "before + linear path still 100 steps": ({**_BEFORE, "linear_freeze_steps": 100}, {}),
    "default (today)": ({}, {}),
    "default, the weights instead of their running average": ({"ema_decay": 0.0}, {}),
    "default, running average 0.98": ({"ema_decay": 0.98}, {}),
    "default, Adam beta2 0.999": ({"adam_beta2": 0.999}, {}),
    "default, beta 0.3": ({"beta": 0.3}, {}),
    "default, batch 128": ({"batch_size": 128}, {}),
    "default, wider (width 64)": ({}, {"width": 64}),
    "default, coefficient-MLP model": ({"lr": 1e-3}, {"arch": "coef", "refine_layers": 0}),
}
QUICK_LEVERS = ("before (SSE, beta 0.005, lr 5e-3)", "default (today)")

CHOICE_SECONDS = 60.0  # equal wall-clock budget of every ``choices`` row
# The coefficient model's choices: name -> (TrainConfig changes, ModelConfig changes, PatchConfig changes),
# each relative to the short presets' settings (``config.APP_MODEL``, ``APP_TRAIN``, ``PatchConfig()``).
COEF_CHOICES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "the short presets' model (128 coefficients, MLPs of 256, lr 2e-3)": ({}, {}, {}),
    "Quality's model (256 coefficients, MLPs of 512, lr 1e-3)": (
        {"lr": QUALITY_TRAIN.lr},
        {"coef_k": QUALITY_MODEL.coef_k, "hidden": QUALITY_MODEL.hidden},
        {},
    ),
    "lr 1e-3": ({"lr": 1e-3}, {}, {}),
    "lr 3e-3": ({"lr": 3e-3}, {}, {}),
    "96 coefficients": ({}, {"coef_k": 96}, {}),
    "256 coefficients": ({}, {"coef_k": 256}, {}),
    "MLPs of 512": ({}, {"hidden": 512}, {}),
    "no grey batches": ({"grey_fraction": 0.0}, {}, {}),
    "batch 64": ({"batch_size": 64}, {}, {}),
    "the weights instead of their running average": ({"ema_decay": 0.0}, {}, {}),
    "beta 0.3": ({"beta": 0.3}, {}, {}),
    "8x the training patches (2,048 per image)": ({}, {}, {"patches_per_image": 2048}),
}
QUICK_CHOICES = ("the short presets' model (128 coefficients, MLPs of 256, lr 2e-3)", "no grey batches")


def quality_images(seed: int = 0) -> dict[str, list]:
    """The images of the two sets: ``{"photos": [...], "samples": [...]}``."""
    from vae_core.data.devsets import real_photo_images
    from vae_core.data.samples import sample_textures

    return {"photos": real_photo_images(seed), "samples": sample_textures()}


def quality_sets(seed: int = 0) -> dict[str, PatchDataset]:
    """The two patch sets: ``{"photos": ..., "samples": ...}`` (32 px, 3 channels, ``train``'s defaults)."""
    cfg = PatchConfig(seed=seed)
    return {s: make_patches(images, cfg) for s, images in quality_images(seed).items()}


def _scores(model: torch.nn.Module, data: PatchDataset) -> dict[str, float]:
    ev = evaluate(model, data)
    return {
        "psnr": round(ev.psnr, 3),
        "ssim": round(ev.ssim, 4),
        "pca_psnr": round(ev.pca_psnr, 3),
        "pca_ssim": round(ev.pca_ssim, 4),
        "d_psnr": round(ev.psnr - ev.pca_psnr, 3),
        "d_ssim": round(ev.ssim - ev.pca_ssim, 4),
    }


def train_and_score(
    data: PatchDataset,
    train: TrainConfig,
    model_cfg: ModelConfig | None = None,
    seed: int = 0,
    figure: str | Path | None = None,
) -> dict[str, Any]:
    """Train a new model with ``train`` on ``data`` and score it against PCA on every validation patch
    (``figure``: also write :func:`comparison_png` of it there)."""
    mc = replace(model_cfg or ModelConfig(), channels=data.val.shape[1])
    model = build_model(mc, seed=seed)
    t = time.perf_counter()
    res = fit(model, data, replace(train, seed=seed, val_every_s=1e9))
    secs = time.perf_counter() - t
    out = {"steps": res.steps_this_run, "train_s": round(res.seconds_this_run, 1), "wall_s": round(secs, 1)}
    out["s_per_step"] = round(res.seconds_this_run / max(1, res.steps_this_run), 4)
    if figure is not None:
        comparison_png(model, data, figure)
    return {**out, **_scores(model, data)}


def comparison_png(model: torch.nn.Module, data: PatchDataset, path: str | Path, n: int = 8, zoom: int = 3) -> Path:
    """Write a PNG of ``n`` validation patches spread over the set: originals, the VAE's and PCA(k = latent_dim)'s
    reconstructions, one row each, every patch labelled with its PSNR (the README's picture)."""
    from PIL import Image, ImageDraw

    from vae_core.explore.metrics import compare
    from vae_core.imaging import spread_indices

    idx = spread_indices(len(data.val), n)
    cmp = compare(model, data.val[idx], data.train)
    p = data.val.shape[-1] * zoom
    label_w, pad, text_h = 70, 4, 14
    img = Image.new("RGB", (label_w + n * (p + pad), 3 * (p + text_h + pad)), "white")
    draw = ImageDraw.Draw(img)
    rows = (
        ("original", cmp.originals, None),
        ("VAE", cmp.vae, cmp.vae_psnr),
        (f"PCA k={cmp.pca_k}", cmp.pca, cmp.pca_psnr),
    )
    for r, (name, patches, psnr) in enumerate(rows):
        y = r * (p + text_h + pad)
        draw.text((4, y + p // 2), name, fill="black")
        for i, patch in enumerate(patches):
            tile = Image.fromarray(patch.squeeze(-1) if patch.shape[-1] == 1 else patch).convert("RGB")
            x = label_w + i * (p + pad)
            img.paste(tile.resize((p, p), Image.NEAREST), (x, y))
            if psnr is not None:
                draw.text((x + 2, y + p + 1), f"{psnr[i]:.1f} dB", fill="black")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    img.save(path, optimize=True)
    return Path(path)


def preset_runs(
    sets: dict[str, PatchDataset], names: tuple[str, ...] = ("quick", "default"), figure: str | Path | None = None
) -> dict[str, Any]:
    """Each preset as ``train`` runs it (its wall-clock budget), scored on each set; ``figure``: the PNG of
    the last preset's model on the photos (:func:`comparison_png`)."""
    return {
        f"{n}/{s}": train_and_score(
            d, PRESETS[n].train, PRESETS[n].model, figure=figure if (n, s) == (names[-1], "photos") else None
        )
        for n in names
        for s, d in sets.items()
    }


def curve(
    data: PatchDataset,
    train: TrainConfig | None = None,
    steps: int = CURVE_STEPS,
    every: int = CURVE_EVERY,
    model_cfg: ModelConfig | None = None,
) -> dict[str, Any]:
    """Validation PSNR minus PCA's (dB, every validation patch) at step 0 and every ``every`` steps.

    The model is scored with the weights it has at that step, as a user watching the Train page gets it.
    By default the model and settings are the presets' (``config.APP_MODEL``, ``APP_TRAIN``).
    """
    from vae_core.explore.latent import reconstruct

    train = replace(train or APP_TRAIN, seconds=None, max_steps=steps, val_every_s=1e9)
    model = build_model(replace(model_cfg or APP_MODEL, channels=data.val.shape[1]), seed=train.seed)
    pca = fit_pca(data.train, model.config.latent_dim)
    pca_psnr = float(psnr_per_patch(data.val, pca.reconstruct(data.val)).mean())
    points: list[tuple[int, float]] = []

    def score(step: int) -> None:
        was = model.training
        points.append((step, round(float(psnr_per_patch(data.val, reconstruct(model, data.val)).mean()) - pca_psnr, 3)))
        model.train(was)

    def on_step(info) -> None:
        if info.step % every == 0:
            score(info.step)

    from vae_core.model.vae import init_linear_path

    init_linear_path(model, torch.from_numpy(data.train), seed=train.seed)
    score(0)
    fit(model, data, replace(train, pca_init=False), on_step=on_step)
    worst = min(d for s, d in points[1:]) if len(points) > 1 else points[0][1]
    return {"points": points, "worst_after_0": worst, "start": points[0][1], "end": points[-1][1]}


def ablation(
    sets: dict[str, PatchDataset], levers: tuple[str, ...] | None = None, steps: int = ABLATION_STEPS, threads: int = 1
):
    """Each lever of :data:`LEVERS` at ``steps`` steps on ``threads`` torch threads, scored on each set."""
    rows: dict[str, Any] = {}
    for name in levers or tuple(LEVERS):
        tc, mc = LEVERS[name]
        train = replace(TrainConfig(), seconds=None, max_steps=steps, threads=threads, **tc)
        model = replace(ModelConfig(), **mc)
        rows[name] = {s: train_and_score(d, train, model) for s, d in sets.items()}
    return rows


def with_patches(data: PatchDataset, images, patch_changes: dict[str, Any], seed: int = 0) -> PatchDataset:
    """``data`` with its training patches cut again with ``patch_changes`` (``PatchConfig`` fields) from
    ``images``, and its validation patches kept as they are, so rows with different cuts score alike."""
    if not patch_changes:
        return data
    cut = make_patches(images, replace(PatchConfig(seed=seed), **patch_changes))
    return replace(cut, val=data.val, val_labels=data.val_labels, val_image_ids=data.val_image_ids)


def choices(
    sets: dict[str, PatchDataset],
    images: dict[str, list],
    names: tuple[str, ...] | None = None,
    seconds: float = CHOICE_SECONDS,
) -> dict[str, Any]:
    """Each of :data:`COEF_CHOICES` trained for ``seconds`` of wall clock on each set (``images``: each
    set's images, for the rows that cut the training patches differently), scored on its validation patches."""
    rows: dict[str, Any] = {}
    for name in names or tuple(COEF_CHOICES):
        tc, mc, pc = COEF_CHOICES[name]
        train = replace(APP_TRAIN, seconds=seconds, max_steps=None, **tc)
        model = replace(APP_MODEL, **mc)
        rows[name] = {s: train_and_score(with_patches(d, images[s], pc), train, model) for s, d in sets.items()}
    return rows


def benchmark_quality(
    quick: bool = False,
    parts: tuple[str, ...] = ("presets", "curve", "ablation", "choices"),
    figure: str | Path | None = "assets/vae_vs_pca_photos.png",
) -> dict[str, Any]:
    """Everything above as one JSON-ready dict (``quick``: Quick preset only, two levers, 100-step curve);
    ``figure``: where the presets part writes the VAE-vs-PCA picture of the last preset on the photos."""
    torch.set_num_threads(min(2, torch.get_num_threads()))
    sets = quality_sets()
    out: dict[str, Any] = {
        "sets": {s: {"train_patches": len(d.train), "val_patches": len(d.val)} for s, d in sets.items()},
        "torch_threads": torch.get_num_threads(),
    }
    if "presets" in parts:
        out["presets"] = preset_runs(sets, ("quick",) if quick else ("quick", "default"), figure=figure)
    if "curve" in parts:
        out["curve"] = {s: curve(d, steps=100 if quick else CURVE_STEPS) for s, d in sets.items()}
    if "ablation" in parts:
        out["ablation"] = ablation(sets, QUICK_LEVERS if quick else None, steps=100 if quick else ABLATION_STEPS)
    if "choices" in parts:
        out["choices"] = choices(
            sets, quality_images(), QUICK_CHOICES if quick else None, seconds=15.0 if quick else CHOICE_SECONDS
        )
    return out
