"""``python -m vae_core bench --restore``: the VAE's restorations against the classic filters, on images it never saw.

Beside ``bench`` (engine speed) because it measures a use of the model. For a checkpoint
(default: the bundled starter) it damages each image of two sets the model did not train on
(the same sets as ``bench --compress``: held-out samples and scikit-image's photographs, shrunk
to 256 pixels a side as the Restore page does) in the four ways of issue 13:

* Gaussian noise, sigma = 0.1;
* salt-and-pepper on 10% of the pixels;
* JPEG at quality 10;
* a centred hole of 25% of the image,

runs ``tasks.restore.restore`` (the VAE and every classic method for that damage, the page's
own settings) and reports each method's mean scores per set: PSNR and SSIM of the whole
image; for the hole, PSNR in the hole, SSIM around it, the texture distance and the seam ratio
(with the original's own values on the same region: what a perfect fill scores). Then the time
to restore a 512 x 512 photograph, per damage, for the VAE and for the slowest classic method.

Prints one markdown table per damage (ready for the README) and, with ``--json``, one JSON
object instead. BM3D is not run: its licence is non-commercial and it is no dependency.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from vae_core.bench.common import open_model
from vae_core.bench.compress import held_out_images, photograph_images

HOLE_PSNR, HOLE_SSIM = "PSNR in the hole", "SSIM around the hole"  # tasks.restore's metric names
SIDE = 256  # the Restore page's largest side (pages/restore.py MAX_SIDE)
DAMAGES = {  # the four settings, by DamageConfig field
    "noise": {"kind": "noise", "sigma": 0.1},
    "salt_pepper": {"kind": "salt_pepper", "amount": 0.1},
    "jpeg": {"kind": "jpeg", "quality": 10},
    "hole": {"kind": "hole", "hole_fraction": 0.25},
}


def _images(quick: bool) -> dict[str, list[tuple[str, np.ndarray]]]:
    """The two image sets at most ``SIDE`` a side; ``quick``: two held-out samples and one photograph."""
    from vae_core.imaging import downscale

    held_out, photos = held_out_images(quick), photograph_images(quick, max_side=SIDE)
    if quick:
        held_out, photos = held_out[:2], photos[:1]
    sets = {"held_out_samples": held_out, "photographs": photos}
    return {name: [(n, downscale(p, SIDE)) for n, p in images] for name, images in sets.items()}


def _say(words: str) -> None:
    """Progress on stderr (stdout carries only the tables or the JSON)."""
    print(f"[bench --restore {time.strftime('%H:%M:%S')}] {words}", file=sys.stderr, flush=True)


def _mean_scores(results: list[Any]) -> dict[str, dict[str, float]]:
    """Each method's mean of each metric over ``results`` (TaskResults of one damage), NaNs left out."""
    out: dict[str, dict[str, float]] = {}
    for i, method in enumerate(results[0].methods):
        row = {}
        for metric in results[0].metrics:
            values = [r.methods[i].metrics[metric.name] for r in results]
            values = [v for v in values if np.isfinite(v)]
            row[metric.name] = round(float(np.mean(values)), 4) if values else float("nan")
        row["seconds"] = round(float(np.mean([r.methods[i].seconds for r in results])), 2)
        out[method.name] = row
    if results[0].extra.get("original_scores"):
        own = [r.extra["original_scores"] for r in results]
        out["(original)"] = {k: round(float(np.nanmean([o[k] for o in own])), 4) for k in own[0]}
    if results[0].extra.get("damaged_scores"):
        hurt = [r.extra["damaged_scores"] for r in results]
        out["(damaged, unrepaired)"] = {k: round(float(np.mean([h[k] for h in hurt])), 4) for k in hurt[0]}
    return out


def _timing(model: Any, kinds: tuple[str, ...] = tuple(DAMAGES)) -> dict[str, dict[str, float]]:
    """Seconds to restore a 512 x 512 photograph, per damage in ``kinds``: the VAE, and the slowest classic method."""
    from vae_core.data.samples import unseen_photographs
    from vae_core.tasks.damage import DamageConfig, damage
    from vae_core.tasks.restore import restore

    pixels = unseen_photographs(("astronaut",))[0].pixels[:512, :512]
    out = {}
    for name in kinds:
        fields = DAMAGES[name]
        _say(f"512 x 512 timing: {name}")
        start = time.perf_counter()
        result = restore(model, pixels, damage(pixels, DamageConfig(**fields)))
        total = time.perf_counter() - start
        slowest = max(result.classic, key=lambda m: m.seconds)
        out[name] = {
            "vae_s": round(result.vae.seconds, 2),
            "slowest_classic": slowest.name,
            "slowest_classic_s": round(slowest.seconds, 2),
            "all_methods_and_scores_s": round(total, 2),
        }
    return out


def benchmark_restore(model_path: str | Path | None = None, quick: bool = False) -> dict[str, Any]:
    """Mean scores of the VAE and each classic method per damage and image set, and 512 x 512 timings.

    ``quick``: two held-out samples, one photograph, and the 512 x 512 timing of noise and a hole only.
    """
    from vae_core.tasks.damage import DamageConfig, damage
    from vae_core.tasks.restore import RestoreConfig, restore

    model, out = open_model(model_path)
    config = RestoreConfig()
    out.update(fit_steps=config.fit.steps, impulse_steps=config.impulse_steps)
    for set_name, images in _images(quick).items():
        out[set_name] = {"images": [n for n, _ in images]}
        for damage_name, fields in DAMAGES.items():
            results = []
            for name, pixels in images:
                _say(f"{set_name}: {damage_name} on {name}")
                results.append(restore(model, pixels, damage(pixels, DamageConfig(**fields)), config))
            out[set_name][damage_name] = _mean_scores(results)
    out["restore_512_s"] = _timing(model, ("noise", "hole") if quick else tuple(DAMAGES))
    return out


def markdown(figures: dict[str, Any]) -> str:
    """The figures of :func:`benchmark_restore` as markdown tables: one per image set and damage."""
    lines = [
        f"Model: {figures['model']}, {figures['torch_threads']} torch threads, {figures['fit_steps']} fit steps "
        f"for holes, {figures['impulse_steps']} for salt-and-pepper."
    ]
    for set_name in ("held_out_samples", "photographs"):
        block = figures.get(set_name)
        if not block:
            continue
        lines += ["", f"**{set_name.replace('_', ' ')}** ({len(block['images'])} images: {', '.join(block['images'])})"]
        for damage_name in DAMAGES:
            rows = block[damage_name]
            metrics = [k for k in next(iter(rows.values())) if k != "seconds"]
            lines += ["", f"*{damage_name}*", "", "| method | " + " | ".join(metrics) + " | seconds |"]
            lines.append("|---" * (len(metrics) + 2) + "|")
            for method, row in rows.items():
                own = method == "(original)"  # its PSNR/SSIM against itself say nothing
                cells = [_fmt(None if own and m in (HOLE_PSNR, HOLE_SSIM) else row.get(m)) for m in metrics]
                cells.append(_fmt(row.get("seconds")))
                lines.append(f"| {method} | " + " | ".join(cells) + " |")
    timing = figures.get("restore_512_s")
    if timing:
        lines += [
            "",
            "**512 x 512 photograph**",
            "",
            "| damage | VAE s | slowest classic | its s | all methods + scores s |",
        ]
        lines.append("|---|---|---|---|---|")
        for name, t in timing.items():
            lines.append(
                f"| {name} | {t['vae_s']} | {t['slowest_classic']} | {t['slowest_classic_s']} | "
                f"{t['all_methods_and_scores_s']} |"
            )
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if not np.isfinite(value):
        return "n/a"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"
