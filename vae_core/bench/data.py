"""``python -m vae_core bench --data``: how fast a large upload of real photographs is read, cut and scored.

Beside ``bench`` (training speed) because it measures the data path around training: what a
user waits for before the first step and after the last. It builds, in a temporary folder, a
zip like the one issue 11 measured (about 1,200 colour JPEG photographs of varied sizes,
~90 MB) from the photographs that ship inside scikit-image and scikit-learn (random crops,
rescaled and re-encoded as JPEG; nothing is downloaded), then times each part on its own:

* reading the zip's members (``zipfile``, no decoding);
* loading (``load_zip``: header checks, memory budget, decoding), one thread against the
  parallel pool, as images/s and their ratio;
* cutting patches (``make_patches``, the default 32 px, 256 per image);
* scoring 40,000 validation patches as ``evaluate`` does: the VAE's reconstructions (the default
  preset's model; its weights do not change its speed), PCA fit and reconstruction, PSNR and
  SSIM of both. "before" is the code this benchmark replaced (``torch.no_grad`` with batches of
  256, scikit-image's SSIM one patch at a time, timed on a slice and scaled up); "after" is the
  code in use.

Every figure is the median of ``repeats`` runs where a run is short. The output names the CPU
and the load average (``os.getloadavg``), because a shared machine's timings are noisy.
"""

from __future__ import annotations

import io
import os
import statistics
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

# Colour photographs bundled in installed packages: (package, file). Grey ones are left out: the
# issue's set is colour photos (a few grey crops would make decoding look faster than it is).
SOURCE_PHOTOS = (
    ("skimage", "astronaut.png"),
    ("skimage", "chelsea.png"),
    ("skimage", "coffee.png"),
    ("skimage", "hubble_deep_field.jpg"),
    ("skimage", "ihc.png"),
    ("skimage", "retina.jpg"),
    ("skimage", "rocket.jpg"),
    ("skimage", "motorcycle_left.png"),
    ("sklearn", "china.jpg"),
    ("sklearn", "flower.jpg"),
)
N_IMAGES = 1200  # files in the test zip, as in issue 11's measurement
N_CLASSES = 10  # folders in the zip (labels), as there
SIDES = (192, 720)  # shorter side of each photo is drawn in this range (pixels)
JPEG_QUALITY = (85, 95)  # drawn per file, as cameras and phones vary
VAL_PATCHES = 40_000  # validation patches scored (the target is stated for 40,000)


def _photo(index: int, cache: dict[int, Image.Image]) -> Image.Image:
    """Bundled photograph ``SOURCE_PHOTOS[index]`` in RGB, read once."""
    from vae_core.data.devsets import _load_photo

    if index not in cache:
        cache[index] = _load_photo(*SOURCE_PHOTOS[index]).convert("RGB")
    return cache[index]


def build_photo_zip(path: str | Path, n: int = N_IMAGES, seed: int = 0) -> dict[str, Any]:
    """Write a zip of ``n`` colour JPEGs, ``class_k/photo_i.jpg``, made from bundled photographs.

    Each file is a random crop of a random photo (at least 64 px, any aspect between 3:4 and
    4:3), resized so that its shorter side lies in ``SIDES`` (enlarged where the crop is
    smaller, as a phone photo of a texture would be), lightly sharpened or blurred, and saved at
    a random JPEG quality. Deterministic for ``seed``. Returns {"files", "bytes", "pixels"}.
    """
    from PIL import ImageFilter

    rng = np.random.default_rng(seed)
    photos: dict[int, Image.Image] = {}
    pixels = 0
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for i in range(n):
            photo = _photo(int(rng.integers(len(SOURCE_PHOTOS))), photos)
            w, h = photo.size
            cw = int(rng.integers(64, w + 1))
            ch = int(np.clip(cw * rng.uniform(0.75, 1.33), 64, h))
            x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            crop = photo.crop((x0, y0, x0 + cw, y0 + ch))
            scale = rng.uniform(*SIDES) / min(cw, ch)
            crop = crop.resize((max(64, round(cw * scale)), max(64, round(ch * scale))), Image.Resampling.BICUBIC)
            if rng.random() < 0.5:  # an enlarged crop is soft: sharpen half of them, as cameras do
                crop = crop.filter(ImageFilter.UnsharpMask(radius=2, percent=int(rng.integers(60, 160))))
            buf = io.BytesIO()
            crop.save(buf, format="JPEG", quality=int(rng.integers(*JPEG_QUALITY)))
            zf.writestr(f"class_{i % N_CLASSES}/photo_{i:04d}.jpg", buf.getvalue())
            pixels += crop.size[0] * crop.size[1]
    return {"files": n, "bytes": Path(path).stat().st_size, "pixels": pixels}


def _timed(fn: Callable[[], Any], repeats: int = 1) -> tuple[float, Any]:
    """(median seconds over ``repeats`` calls, the last result)."""
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _load_text() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPU threads"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _skimage_ssim(reference: np.ndarray, test: np.ndarray) -> np.ndarray:
    """The per-patch loop ``ssim_per_patch`` replaced: scikit-image's SSIM, one call per patch."""
    from skimage.metrics import structural_similarity

    ref = reference.astype(np.float32) / 255.0
    out = np.empty(len(ref))
    for i in range(len(ref)):
        out[i] = structural_similarity(ref[i], test[i], data_range=1.0, channel_axis=0)
    return out


def benchmark_data(quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Time the data path on a zip of real photographs; returns the JSON-ready figures (see the module docstring).

    ``quick``: 300 images and 4,000 validation patches instead of 1,200 and 40,000 (the scoring
    figures are then also given per patch, so the 40,000-patch time can be worked out).
    """
    import tempfile

    import torch

    from vae_core.config import LOCAL_LIMITS, PRESETS, PatchConfig
    from vae_core.data.decode_pool import decode_threads
    from vae_core.data.loaders import load_zip
    from vae_core.data.patches import make_patches
    from vae_core.explore.latent import decode, encode, reconstruct
    from vae_core.explore.metrics import fit_pca, psnr_per_patch, ssim_per_patch
    from vae_core.imaging import spread_indices
    from vae_core.model.vae import ConvVAE

    n_images, n_val = (300, 4_000) if quick else (N_IMAGES, VAL_PATCHES)
    out: dict[str, Any] = {"cpu": _cpu_name(), "load_before": _load_text(), "torch_threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory(prefix="texture-vae-bench-") as tmp:
        path = Path(tmp) / "photos.zip"
        t = time.perf_counter()
        out["zip"] = build_photo_zip(path, n_images, seed)
        out["zip"]["build_s"] = round(time.perf_counter() - t, 1)
        data = path.read_bytes()

    def read_members() -> int:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return sum(len(zf.read(info)) for info in zf.infolist())

    threads = decode_threads()
    read_s, _ = _timed(read_members, 3)
    serial_s, report = _timed(lambda: load_zip(data, limits=LOCAL_LIMITS, threads=1), 1 if not quick else 3)
    parallel_s, report = _timed(lambda: load_zip(data, limits=LOCAL_LIMITS, threads=threads), 1 if not quick else 3)
    images = report.images
    patch_s, dataset = _timed(lambda: make_patches(images, PatchConfig(seed=seed)))
    n = len(images)
    out["loading"] = {
        "images": n,
        "rejected": len(report.rejected),
        "decode_threads": threads,
        "zip_read_s": round(read_s, 2),
        "load_1_thread_s": round(serial_s, 2),
        "load_parallel_s": round(parallel_s, 2),
        "decode_1_thread_s": round(serial_s - read_s, 2),
        "decode_parallel_s": round(parallel_s - read_s, 2),
        "load_images_per_s_before": round(n / serial_s, 1),
        "load_images_per_s_after": round(n / parallel_s, 1),
        "load_speedup": round(serial_s / parallel_s, 2),
        "patching_s": round(patch_s, 2),
        "patches": {"train": dataset.n_train, "val": dataset.n_val},
        "load_and_patch_images_per_s_before": round(n / (serial_s + patch_s), 1),
        "load_and_patch_images_per_s_after": round(n / (parallel_s + patch_s), 1),
    }
    images.clear()  # the decoded photos are not needed any more: free their memory

    val = dataset.val[spread_indices(dataset.n_val, n_val)]
    mc = PRESETS["default"].model
    torch.manual_seed(seed)
    model = ConvVAE(mc)  # untrained: the weights do not change how long a forward pass takes
    reconstruct(model, val[:64])  # warm-up: oneDNN primitives, allocator
    slice_ = val[: min(len(val), 4_000)]  # the old path is timed on a slice and scaled up (same model, same patches)
    infer_before_s, _ = _timed(lambda: decode(model, encode(model, slice_, 256).mu, 256))
    infer_before_s *= len(val) / len(slice_)
    infer_after_s, rec = _timed(lambda: reconstruct(model, val))
    pca_fit_s, pca = _timed(lambda: fit_pca(dataset.train, mc.latent_dim, seed=seed))
    pca_rec_s, prec = _timed(lambda: pca.reconstruct(val))
    psnr_s, _ = _timed(lambda: (psnr_per_patch(val, rec), psnr_per_patch(val, prec)))
    ssim_s, _ = _timed(lambda: (ssim_per_patch(val, rec), ssim_per_patch(val, prec)))
    probe = min(len(val), 500)  # scikit-image one patch at a time is ~3 ms a patch: timed on a slice, scaled up
    ssim_loop_probe_s, _ = _timed(
        lambda: (_skimage_ssim(val[:probe], rec[:probe]), _skimage_ssim(val[:probe], prec[:probe]))
    )
    ssim_loop_s = ssim_loop_probe_s * len(val) / probe
    common = pca_fit_s + pca_rec_s + psnr_s
    before = infer_before_s + common + ssim_loop_s
    after = infer_after_s + common + ssim_s
    m = len(val)
    out["scoring"] = {
        "val_patches": m,
        "inference_s_before": round(infer_before_s, 2),
        "inference_s_before_timed_on": len(slice_),
        "inference_s_after": round(infer_after_s, 2),
        "inference_patches_per_s_before": round(m / infer_before_s, 1),
        "inference_patches_per_s_after": round(m / infer_after_s, 1),
        "pca_fit_s": round(pca_fit_s, 2),
        "pca_reconstruct_s": round(pca_rec_s, 2),
        "psnr_both_s": round(psnr_s, 2),
        "ssim_both_s_before": round(ssim_loop_s, 1),
        "ssim_both_s_before_timed_on": probe,
        "ssim_both_s_after": round(ssim_s, 2),
        "total_s_before": round(before, 1),
        "total_s_after": round(after, 1),
        "total_s_after_for_40000": round(after * VAL_PATCHES / m, 1),
        "speedup": round(before / after, 2),
        "inference_share_after": round(infer_after_s / after, 2),
    }
    out["load_after"] = _load_text()
    return out
