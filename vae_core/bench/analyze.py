"""``python -m vae_core bench --analyze``: texture classification, VAE features against LBP, GLCM and raw-pixel PCA.

Measures, with folds grouped by source image (the app's own :func:`vae_core.tasks.analyze.analyze`):

* every feature set on the labelled dev set (:mod:`vae_core.data.devsets`: its photo part, its
  procedural part, both) and on the built-in samples, for each model given: the bundled
  starter, and a model trained for 60 s on the dev set's PNGs with the documented command
  (``python -m vae_core train --data <dev set folder> --seconds 60``);
* the ablation of the pooled-descriptor candidates (:data:`CANDIDATES`) on the dev set;
* the time to analyse a 1,000-image dataset (256 px procedural textures, 6 labels).

Prints README-ready Markdown tables, then one JSON object. Takes several minutes on a 2-core CPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vae_core.config import STARTER_CHECKPOINT, AnalyzeConfig
from vae_core.data.devsets import dev_set, write_dev_set
from vae_core.data.images import TextureImage
from vae_core.data.samples import PROCEDURAL_KINDS, procedural_texture, sample_textures
from vae_core.explore.latent import encode
from vae_core.tasks import analyze_features as af
from vae_core.tasks import latent_features as lf
from vae_core.tasks import probes
from vae_core.tasks.analyze import analyze


def _covariances(n_maps: int, turns: bool) -> Callable[[Any, np.ndarray, np.ndarray], list[np.ndarray]]:
    return lambda model, pixels, mu: lf.encoder_covariances(model, pixels, n_maps=n_maps, turns=turns)


# name -> (model, pixels, mu) -> blocks; "bag of codes" is added after all codes are known.
CANDIDATES: dict[str, Callable[[Any, np.ndarray, np.ndarray], list[np.ndarray]]] = {
    "codes: mean": lambda model, pixels, mu: [mu.mean(0)],
    "codes: mean and spread": lambda model, pixels, mu: [lf.pool_mean_std(mu)],
    "codes: mean and covariance": lambda model, pixels, mu: [lf.pool_mean_cov(mu)],
    "codes at 3 scales (x1, x1/2, x1/4)": lambda model, pixels, mu: [
        lf.multiscale_codes(model, pixels, model.config.image_size // 2, AnalyzeConfig().max_patches)
    ],
    "encoder Gram matrices, all 4 maps": lambda model, pixels, mu: lf.encoder_grams(model, pixels),
    "encoder Gram matrices, first 2 maps": lambda model, pixels, mu: lf.encoder_grams(model, pixels, 2),
    "encoder log-covariances, first 2 maps": _covariances(2, False),
    "encoder log-covariances, first 3 maps, 8 turns": _covariances(3, True),
    "encoder log-covariances, first 2 maps, 8 turns (the descriptor)": _covariances(2, True),
    "the descriptor + codes' mean and spread": lambda model, pixels, mu: [
        *lf.encoder_covariances(model, pixels),
        lf.pool_mean_std(mu),
    ],
}
BAG = "codes: bag of 32 k-means words"
# The candidates that read the encoder's feature maps: a model without them (the coefficient model) skips these.
NEEDS_MAPS = {name for name in CANDIDATES if "encoder" in name or "descriptor" in name}


def ablation(images: list[TextureImage], model, seed: int = 0) -> list[dict[str, Any]]:
    """Image-level balanced accuracy (logistic, kNN) of every descriptor candidate, on the same grouped folds
    (those that read feature maps only for a model that has them)."""
    from sklearn.cluster import KMeans

    config = AnalyzeConfig(seed=seed)
    size = int(model.config.image_size)
    units, _ = af.make_units(images, size, int(model.config.channels), config)
    labels = sorted({u.label for u in units})
    y = np.array([labels.index(u.label) for u in units])
    has_maps = lf.has_feature_maps(model)
    candidates = {name: make for name, make in CANDIDATES.items() if has_maps or name not in NEEDS_MAPS}
    rows: dict[str, list[list[np.ndarray]]] = {name: [] for name in candidates}
    codes = []
    for unit in units:
        windows = lf.grid_windows(*unit.pixels.shape[:2], size, size // 2, config.max_patches)
        mu = encode(model, lf.cut(unit.pixels, windows)).mu
        codes.append(mu)
        for name, make in candidates.items():
            rows[name].append(make(model, unit.pixels, mu))
    words = KMeans(32, n_init=3, random_state=seed).fit(np.concatenate(codes)).cluster_centers_
    rows[BAG] = [[lf.bag_of_codes(mu, words)] for mu in codes]
    folds = probes.grouped_folds(y, np.arange(len(y)), config.n_splits, seed)
    out = []
    for name, blocks in rows.items():
        x = np.stack([np.concatenate(b) for b in blocks])
        sizes = [len(b) for b in blocks[0]]
        scores = {kind: probes.cross_validate(x, y, folds, kind, len(labels), sizes) for kind in probes.PROBES}
        out.append({
            "candidate": name, "numbers": int(x.shape[1]),
            "logistic": round(scores["logistic"].balanced_accuracy, 3), "spread": round(scores["logistic"].spread, 3),
            "knn": round(scores["knn"].balanced_accuracy, 3),
        })  # fmt: skip
    return out


def feature_table(images: list[TextureImage], model, seed: int = 0) -> dict[str, Any]:
    """Every feature set's scores on ``images`` (the app's analysis), with the number of classes, images and folds."""
    started = time.perf_counter()
    analysis = analyze(images, model, AnalyzeConfig(seed=seed))
    rows = [
        {"method": r["method"], **{k: round(float(v), 3) for k, v in r.items() if k not in ("method", "kind")}}
        for r in analysis.result.rows()
    ]
    extra = analysis.result.extra
    return {"classes": extra["classes"], "images": extra["images"], "folds": extra["folds"], "rows": rows,
            "seconds": round(time.perf_counter() - started, 1), "verdict": analysis.result.verdict()}  # fmt: skip


def thousand_images(n: int = 1000, side: int = 256, seed: int = 0) -> list[TextureImage]:
    """``n`` procedural textures of ``side`` px, labelled by kind (the 6 kinds in turn)."""
    kinds = PROCEDURAL_KINDS
    return [
        TextureImage(f"{kinds[i % len(kinds)]}_{i}.png", kinds[i % len(kinds)],
                     procedural_texture(kinds[i % len(kinds)], side, seed * 100_000 + i))
        for i in range(n)
    ]  # fmt: skip


def time_analysis(model, n: int = 1000, side: int = 256) -> dict[str, float]:
    """Wall time of analysing ``n`` images of ``side`` px: describing them, then the probes."""
    images = thousand_images(n, side)
    marks: dict[str, float] = {}
    started = time.perf_counter()

    def progress(fraction: float, message: str) -> None:
        if fraction >= 0.9 and "described_s" not in marks:
            marks["described_s"] = time.perf_counter() - started

    analyze(images, model, on_progress=progress)
    total = time.perf_counter() - started
    return {"images": n, "side": side, "total_s": round(total, 1), "describe_s": round(marks["described_s"], 1),
            "probes_s": round(total - marks["described_s"], 1)}  # fmt: skip


def train_on_dev_set(seconds: float, out_dir: Path) -> Path:
    """Write the dev set as PNGs and train a model on them with the documented command; returns the checkpoint."""
    data = out_dir / "devset"
    write_dev_set(data)
    out = out_dir / "devset_60s.safetensors"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    command = [sys.executable, "-m", "vae_core", "train", "--data", str(data), "--out", str(out)]
    subprocess.run([*command, "--seconds", str(seconds), "--seed", "0", "--quiet"], check=True, env=env, cwd=root)
    return out


def benchmark_analyze(models: list[str] | None = None, train_seconds: float = 60.0, n_timed: int = 1000) -> dict:
    """Every figure of the README's "Analyze" section; ``models``: checkpoints (default: the starter + a 60 s one)."""
    import torch

    from vae_core.model.checkpoint import load_checkpoint

    out: dict[str, Any] = {"load_before": os.getloadavg()[0], "torch_threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        paths = list(models) if models else [str(STARTER_CHECKPOINT)]
        if not models and train_seconds > 0:
            paths.append(str(train_on_dev_set(train_seconds, Path(tmp))))
        sets = {"dev set: photos": dev_set("photos"), "dev set: procedural": dev_set("procedural"),
                "dev set: all": dev_set("all"), "built-in samples": sample_textures()}  # fmt: skip
        out["models"] = {}
        for path in paths:
            model = load_checkpoint(path).model.eval()
            name = "starter" if Path(path) == STARTER_CHECKPOINT else Path(path).name
            entry = out["models"][name] = {}
            for set_name, images in sets.items():
                entry[set_name] = feature_table(images, model)
                _log(_table_markdown(name, set_name, entry[set_name]))
            entry["ablation"] = ablation(sets["dev set: all"], model)
            _log(_ablation_markdown(name, entry["ablation"]))
            if n_timed and "timing" not in out:
                out["timing"] = time_analysis(model, n_timed)
                _log(_timing_markdown(out["timing"]))
    out["load_after"] = os.getloadavg()[0]
    return out


def _log(text: str) -> None:
    """Each table as soon as it is measured (stderr), so a long run shows its figures as it goes."""
    print(text, file=sys.stderr, flush=True)


def _table_markdown(model: str, set_name: str, table: dict[str, Any]) -> str:
    lines = [f"\n**{set_name}**, model: {model} ({table['classes']} classes, {table['images']} images, "
             f"{table['folds']} folds, {table['seconds']} s)\n",
             "| features | per image | ± | per image, kNN | per patch | per patch, kNN |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for r in table["rows"]:
        cells = [r["accuracy per image"], r["± across folds"], r["per image, kNN"], r["accuracy per patch"],
                 r["per patch, kNN"]]  # fmt: skip
        lines.append(f"| {r['method']} | " + " | ".join("" if np.isnan(c) else f"{c:.2f}" for c in cells) + " |")
    return "\n".join(lines)


def _ablation_markdown(model: str, rows: list[dict[str, Any]]) -> str:
    lines = [f"\n**Descriptor ablation** (dev set, all classes), model: {model}\n",
             "| candidate | numbers | logistic | ± | kNN |", "| --- | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for r in rows:
        lines.append(
            f"| {r['candidate']} | {r['numbers']:,} | {r['logistic']:.2f} | {r['spread']:.2f} | {r['knn']:.2f} |"
        )
    return "\n".join(lines)


def _timing_markdown(t: dict[str, Any]) -> str:
    return (f"\nAnalysing {t['images']:,} images of {t['side']} px: {t['total_s']} s "
            f"(describing {t['describe_s']} s, probes {t['probes_s']} s)")  # fmt: skip


def markdown(out: dict[str, Any]) -> str:
    """The README's tables from :func:`benchmark_analyze`'s output."""
    lines = []
    for model, entry in out["models"].items():
        lines += [_table_markdown(model, name, table) for name, table in entry.items() if name != "ablation"]
        lines.append(_ablation_markdown(model, entry["ablation"]))
    if "timing" in out:
        lines.append(_timing_markdown(out["timing"]))
    return "\n".join(lines)
