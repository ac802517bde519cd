"""The command line: train -> checkpoint -> evaluate --json, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vae_core", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def _texture_folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for label in ("red", "blue"):
        (root / label).mkdir(parents=True)
        for i in range(2):
            px = rng.integers(0, 255, (80, 80, 3), dtype=np.uint8)
            px[..., 0 if label == "red" else 2] = 230
            Image.fromarray(px).save(root / label / f"{i}.png")
    (root / "notes.txt").write_text("not an image")
    return root


def test_train_then_evaluate_json(tmp_path):
    data = _texture_folder(tmp_path / "tex")
    out = tmp_path / "m.safetensors"
    args = ("--data", str(data), "--out", str(out), "--steps", "4", "--latent-dim", "4", "--width", "8")
    proc = _run("train", *args, "--patches-per-image", "16")  # with the progress bar
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()
    assert "PCA(k=4)" in proc.stdout
    assert "notes.txt" in proc.stderr  # the skipped file is reported, the rest trained

    proc = _run("evaluate", "--model", str(out), "--data", str(data), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    for key in ("psnr", "ssim", "pca_psnr", "pca_ssim", "latent_dim", "n_val_patches"):
        assert key in result
    assert result["latent_dim"] == 4
    assert result["n_val_patches"] > 0
    assert np.isfinite(result["psnr"]) and 0 < result["ssim"] <= 1


def test_bad_checkpoint_gives_a_message_not_a_traceback(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    proc = _run("evaluate", "--model", str(bad), "--data", "samples")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:")
    assert "Traceback" not in proc.stderr


def test_train_either_model_kind_from_the_command_line(tmp_path):
    """The presets train the coefficient model; ``--arch conv`` the convolutional one, at its own batch and rate."""
    from vae_core.config import TrainConfig
    from vae_core.model.checkpoint import load_checkpoint

    data = _texture_folder(tmp_path / "tex")
    out = tmp_path / "coef.safetensors"
    args = ("--data", str(data), "--out", str(out), "--steps", "3", "--latent-dim", "4")
    proc = _run("train", *args, "--patches-per-image", "16", "--batch-size", "8", "--quiet")
    assert proc.returncode == 0, proc.stderr
    ck = load_checkpoint(out)
    assert (ck.model_config.arch, ck.model_config.refine_layers, ck.model_config.latent_dim) == ("coef", 0, 4)
    assert (ck.train_config.batch_size, ck.train_config.lr) == (8, 2e-3)
    assert (ck.model_config.coef_k, ck.model_config.hidden) == (128, 256)  # the default preset's model
    proc = _run("train", "--data", str(data), "--out", str(out), "--resume", str(out), "--arch", "coef")
    assert proc.returncode != 0 and "--arch" in proc.stderr and "Traceback" not in proc.stderr  # keeps its kind
    conv = tmp_path / "conv.safetensors"
    proc = _run("train", "--data", str(data), "--out", str(conv), "--steps", "2", "--arch", "conv", "--quiet")
    assert proc.returncode == 0, proc.stderr
    ck = load_checkpoint(conv)
    assert (ck.model_config.arch, ck.model_config.refine_layers) == ("conv", 2)
    assert (ck.train_config.batch_size, ck.train_config.lr) == (TrainConfig().batch_size, TrainConfig().lr)
