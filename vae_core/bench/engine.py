"""Every benchmark behind ``python -m vae_core bench``: throughput, FLOP efficiency, latency, projection.

The figures in the README's Performance section come from here (and from the browser
benchmark scripts in ``tests/e2e``), not from timed tests. ``run`` measures, on the same
model (the default preset):

- training throughput of ``fit`` (batches drawn from in-memory uint8 tensors), and of a
  plain per-sample ``DataLoader`` loop doing the same optimisation, as a ratio;
- the model's FLOPs per patch for forward + backward (``torch.utils.flop_counter``),
  the FLOP/s that training achieves, and the machine's float32 matmul FLOP/s;
- single-code decode latency (p50) and batch-64 decode/encode throughput.

``benchmark_projection`` (``bench --projection``) times the latent map's PCA and UMAP,
cold (a fresh interpreter, so the numba JIT is paid) and warm.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import torch

from vae_core.config import PRESETS, ModelConfig, PatchConfig, TrainConfig
from vae_core.data.patches import PatchDataset, make_patches
from vae_core.data.samples import sample_textures
from vae_core.explore.projection import project_pca, project_umap, warm_up_umap
from vae_core.model.losses import vae_loss
from vae_core.model.precision import use_bf16
from vae_core.model.vae import ConvVAE
from vae_core.training.fit import fit, param_groups, select_device


def matmul_gflops(device: torch.device, n: int = 2048, seconds: float = 1.5) -> float:
    """Best-of float32 GFLOP/s of an n x n matmul: the machine's practical peak."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    for _ in range(2):
        a @ b
    _sync(device)
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        for _ in range(3):
            a @ b
        _sync(device)
        best = max(best, 3 * 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def flops_per_patch(model: ConvVAE, batch_size: int = 64) -> float:
    """FLOPs of one training step (forward + backward), per patch, counted by torch."""
    from torch.utils.flop_counter import FlopCounterMode

    c = model.config
    dev = next(model.parameters()).device
    x = torch.rand(batch_size, c.channels, c.image_size, c.image_size, device=dev)
    model.train()
    with FlopCounterMode(display=False) as counter:
        out = model(x)
        vae_loss(x, out.recon_raw, out.mu, out.logvar, 0.005).loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / batch_size


def dataloader_patches_per_s(model: ConvVAE, data: PatchDataset, config: TrainConfig, steps: int) -> float:
    """The conventional loop: a per-sample Dataset + DataLoader feeding the same step."""
    from torch.utils.data import DataLoader, Dataset

    class Patches(Dataset):
        def __init__(self, arr: np.ndarray) -> None:
            self.arr = arr

        def __len__(self) -> int:
            return len(self.arr)

        def __getitem__(self, i: int) -> torch.Tensor:
            return torch.from_numpy(self.arr[i]).float().div(255)

    dev = next(model.parameters()).device
    bf16 = use_bf16(dev, config.amp)
    model.to(memory_format=torch.channels_last)  # the same model and step as fit; only the feeding differs
    loader = DataLoader(Patches(data.train), batch_size=config.batch_size, shuffle=True, drop_last=True)
    opt = torch.optim.AdamW(param_groups(model, config), lr=config.lr, betas=(0.9, config.adam_beta2), fused=True)
    model.train()
    done, t0 = 0, None
    while done < steps + 2:
        for x in loader:
            if done == 2:  # two warm-up steps, as fit's own measurement excludes set-up
                _sync(dev)
                t0 = time.perf_counter()
            x = x.to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last)
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=bf16):  # as fit computes
                out = model(x)
            lo = vae_loss(x, out.recon_raw, out.mu, out.logvar, config.beta, config.free_bits)
            opt.zero_grad(set_to_none=True)
            lo.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            opt.step()
            done += 1
            if done >= steps + 2:
                break
    _sync(dev)
    return steps * config.batch_size / (time.perf_counter() - t0)


@torch.inference_mode()
def latency(model: ConvVAE, repeats: int) -> dict[str, float]:
    """p50 of decoding one code, and batch-64 decode/encode throughput."""
    model.eval()
    dev = next(model.parameters()).device
    c = model.config
    z1 = torch.randn(1, c.latent_dim, device=dev)
    z64 = torch.randn(64, c.latent_dim, device=dev)
    x64 = torch.rand(64, c.channels, c.image_size, c.image_size, device=dev)
    for _ in range(5):
        model.decode(z1)
        model.decode(z64)
        model.encode(x64)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.decode(z1)
        _sync(dev)
        times.append(time.perf_counter() - t)

    def rate(fn, arg) -> float:
        n = max(3, repeats // 10)
        t = time.perf_counter()
        for _ in range(n):
            fn(arg)
        _sync(dev)
        return 64 * n / (time.perf_counter() - t)

    return {
        "decode1_p50_ms": statistics.median(times) * 1000,
        "decode64_patches_per_s": rate(model.decode, z64),
        "encode64_patches_per_s": rate(model.encode, x64),
    }


def run(quick: bool = False, device: str = "auto", seed: int = 0) -> dict[str, Any]:
    """Run every benchmark on the default preset; returns the JSON-ready figures."""
    preset = PRESETS["default"]
    mc: ModelConfig = preset.model
    dev = select_device(device)
    steps = 20 if quick else 40
    tc = replace(preset.train, seconds=None, max_steps=steps, val_every_s=1e9, device=str(dev))
    images = sample_textures(seed=seed)
    data = make_patches(images, PatchConfig(patch_size=mc.image_size, channels=mc.channels, seed=seed))

    torch.manual_seed(seed)
    model = ConvVAE(mc).to(dev)
    fpp = flops_per_patch(model)
    torch.manual_seed(seed)
    model2 = ConvVAE(mc).to(dev)
    fit(model, data, replace(tc, max_steps=3))  # warm-up: allocator, kernels
    # Alternate the two loops and take medians, so that a slow spell of a shared machine
    # does not land on one side of the ratio only.
    train_runs, dl_runs = [], []
    for _ in range(1 if quick else 3):
        train_runs.append(fit(model, data, tc).patches_per_s)
        dl_runs.append(dataloader_patches_per_s(model2, data, tc, steps))
    train_pps, dl_pps = statistics.median(train_runs), statistics.median(dl_runs)

    peak = matmul_gflops(dev, seconds=0.8 if quick else 2.0)
    achieved = train_pps * fpp / 1e9
    out: dict[str, Any] = {
        "device": _device_name(dev),
        "torch_threads": torch.get_num_threads(),
        "bf16": use_bf16(dev, tc.amp),  # training autocasts to bf16 (model.precision); the matmul peak is float32
        "model": asdict(mc),
        "batch_size": tc.batch_size,
        "steps_timed": steps,
        "train_patches_per_s": round(train_pps, 1),
        "dataloader_patches_per_s": round(dl_pps, 1),
        "speedup_vs_dataloader": round(train_pps / dl_pps, 3),
        "model_gflop_per_patch": round(fpp / 1e9, 4),
        "achieved_gflop_per_s": round(achieved, 2),
        "matmul_gflop_per_s": round(peak, 2),
        "fraction_of_matmul_peak": round(achieved / peak, 3),
    }
    out.update({k: round(v, 3) for k, v in latency(model, repeats=50 if quick else 300).items()})
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        import platform

        return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    return str(device)


# --- projection (``bench --projection``) ------------------------------------------------------

_COLD_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
import umap
t1 = time.perf_counter()
import numpy as np
from vae_core.explore.projection import project_umap
n, dim, seed = (int(v) for v in sys.argv[1:4])
codes = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
t2 = time.perf_counter()
project_umap(codes, seed=seed, max_fit=None)
print(json.dumps({"import_s": t1 - t0, "first_fit_s": time.perf_counter() - t2}))
"""


def _cold_umap(n: int, dim: int, seed: int, cache_dir: str | None) -> dict[str, float]:
    """First UMAP fit in a fresh interpreter (so this process's JIT cache cannot hide the cost)."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir  # empty folder: no on-disk numba cache either
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", _COLD_SCRIPT, str(n), str(dim), str(seed)],
        capture_output=True, text=True, env=env, timeout=1800, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def benchmark_projection(
    n_pca: int = 10000, n_umap: int = 5000, dim: int = 32, seed: int = 0, no_disk_cache: bool = False
) -> dict[str, Any]:
    """Time PCA and UMAP on random Gaussian codes; returns seconds (and context) by name.

    - ``pca_{n_pca}_s``: best of 3 ``project_pca`` calls.
    - ``umap_cold_import_s``, ``umap_{n_umap}_cold_s``: ``import umap`` and the first fit in
      a fresh interpreter; numba's on-disk cache (umap-learn/pynndescent ``cache=True``
      functions) may serve part of the compilation there.
    - ``umap_cold_jit_s``: cold fit minus warm fit, the compilation cost of a first call.
    - ``umap_warm_up_s``: ``warm_up_umap`` in this process (~0 if it already ran).
    - ``umap_{n_umap}_warm_s``: a fit of all the codes after warm-up, in this process.
    - ``umap_{n_umap}_nocache_cold_s`` (with ``no_disk_cache``): the cold fit again with an
      empty ``NUMBA_CACHE_DIR``, i.e. with no compiled code from disk either.
    - ``numba_threading_layer``: the layer numba chose (a string), for the record.
    """
    rng = np.random.default_rng(seed)
    pca_codes = rng.normal(size=(n_pca, dim)).astype(np.float32)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        project_pca(pca_codes)
        times.append(time.perf_counter() - t)
    result: dict[str, Any] = {f"pca_{n_pca}_s": min(times)}

    cold = _cold_umap(n_umap, dim, seed, cache_dir=None)
    result["umap_cold_import_s"] = cold["import_s"]
    result[f"umap_{n_umap}_cold_s"] = cold["first_fit_s"]
    if no_disk_cache:
        with tempfile.TemporaryDirectory() as empty:
            result[f"umap_{n_umap}_nocache_cold_s"] = _cold_umap(n_umap, dim, seed, cache_dir=empty)["first_fit_s"]

    result["umap_warm_up_s"] = warm_up_umap()
    umap_codes = np.random.default_rng(seed).normal(size=(n_umap, dim)).astype(np.float32)
    t = time.perf_counter()
    project_umap(umap_codes, seed=seed, max_fit=None)
    result[f"umap_{n_umap}_warm_s"] = time.perf_counter() - t
    result["umap_cold_jit_s"] = max(0.0, cold["first_fit_s"] - result[f"umap_{n_umap}_warm_s"])
    try:
        import numba

        result["numba_threading_layer"] = numba.threading_layer()
    except ValueError:  # no parallel region has run yet (seeded UMAP is single-threaded)
        result["numba_threading_layer"] = "not initialised"
    return result


# --- large textures (``bench --generate``) ------------------------------------------------------

EXTRA_PHOTOS = ("moon", "immunohistochemistry")  # more photographs bundled with scikit-image: lunar surface, tissue


def _bench_sources(extra: bool = True) -> list[tuple[str, np.ndarray, bool]]:
    """(name, pixels, is_photo): the sample set, plus two more scikit-image photographs (256 px centre crops)."""
    from vae_core.data.samples import SKIMAGE_KINDS
    from vae_core.imaging import center_crop

    out = [(im.name, im.pixels, im.label in SKIMAGE_KINDS) for im in sample_textures()]
    if extra:
        import skimage.data

        for kind in EXTRA_PHOTOS:
            pixels = np.asarray(getattr(skimage.data, kind)(), np.uint8)
            pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels[:, :, :3]
            out.append((f"{kind.split('_')[0][:12]}.png", np.ascontiguousarray(center_crop(pixels, 256)), True))
    return out


@torch.no_grad()
def circular_padding_canvas(model: ConvVAE, codes: np.ndarray) -> np.ndarray | None:
    """The usual tiling trick, measured for comparison: a grid of codes (n, n, D) decoded as one image.

    Each code's 4x4 feature block is laid side by side, the decoder's convolutions run over the whole
    map with circular padding (so it wraps round), its dense path adds each code's own patch, and the
    refiner runs with circular padding too. Walks ``ConvVAE``'s layers, so it returns None for a model
    built otherwise. -> (n*P, n*P, C) uint8.
    """
    import torch.nn.functional as F

    def circular(m: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3):
            return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), m.weight, m.bias)
        if isinstance(m, torch.nn.ConvTranspose2d) and m.kernel_size == (4, 4):
            y = F.conv_transpose2d(F.pad(x, (1, 1, 1, 1), mode="circular"), m.weight, m.bias, stride=2)
            return y[:, :, 3 : 3 + 2 * x.shape[2], 3 : 3 + 2 * x.shape[3]]
        if isinstance(m, (torch.nn.SiLU, torch.nn.Identity)):
            return m(x)
        raise TypeError(type(m).__name__)

    c, n = model.config, codes.shape[0]
    p = c.image_size
    z = torch.from_numpy(np.ascontiguousarray(codes.reshape(n * n, -1), np.float32))
    try:
        h = model.from_latent(z).view(n, n, model.top, 4, 4).permute(2, 0, 3, 1, 4).reshape(1, model.top, 4 * n, 4 * n)
        for m in model.decoder:
            h = circular(m, h)
        if c.linear_path:
            h = h + model.lin_dec(z).view(n, n, c.channels, p, p).permute(2, 0, 3, 1, 4).reshape(
                1, c.channels, p * n, p * n
            )
        if model.refine is not None:
            r = h * 2 - 1
            for m in model.refine:
                r = circular(m, r)
            h = h + r
    except (AttributeError, TypeError, RuntimeError):
        return None
    return (h.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def _canvas_scores(label: str, source: np.ndarray, pixels: np.ndarray, lines: list[int]) -> dict[str, float]:
    from vae_core.tasks.texture_stats import seam_ratio, texture_distance

    seams = seam_ratio(pixels, lines, lines)
    return {
        f"{label}_seam_edges": round(seams.wrap, 3),
        f"{label}_seam_inside": round(seams.internal, 3),
        f"{label}_texture_distance": round(texture_distance(source, pixels), 3),
    }


def benchmark_generate(model_path: str = "assets/starter.safetensors", quick: bool = False, seed: int = 0) -> dict:
    """Large textures from each sample (and two more photographs) with the bundled starter model.

    Per source, at 512x512: the VAE's seamless canvas (neighbour-matched, the default), the
    same without matching ("direct", the plain latent field) and not seamless, the source's codes
    decoded as one image with circular padding (``circular_padding_canvas``), plain repetition
    and tiling-and-blending: texture distance to the source and seam ratios (edges, inside).
    Then the wall time of the default VAE canvas at 512 and 1024 (best of 3, one source).
    """
    from vae_core.model.checkpoint import load_checkpoint
    from vae_core.tasks.large_texture import compare_large_texture, prepare_source, source_style
    from vae_core.tasks.synthesis import CanvasSettings, synthesize

    model = load_checkpoint(model_path).model.eval()
    channels = model.config.channels
    sources = _bench_sources(extra=not quick)[:: 3 if quick else 1]
    rows = []
    for name, pixels, photo in sources:
        source = prepare_source(pixels, channels)
        style = source_style(model, source, seed)
        result = compare_large_texture(model, source, CanvasSettings(size=512, seed=seed), style=style)
        row: dict[str, Any] = {"source": name, "photo": photo}
        for m in result.methods:
            key = {"VAE": "vae", "Repeat": "repeat", "Tiling and blending": "tiling_blending"}[m.name]
            row |= {f"{key}_{k.replace(' ', '_').replace(',', '')}": round(v, 3) for k, v in m.metrics.items()}
        for label, changes in (("direct", {"method": "direct"}), ("not_seamless", {"seamless": False})):
            c = synthesize(model, [style], CanvasSettings(size=512, seed=seed, **changes))
            row |= _canvas_scores(label, source, c.pixels, c.seams_x)
        p = model.config.image_size
        codes = style.members[np.random.default_rng(seed).integers(0, len(style.members), (512 // p) ** 2)]
        circ = circular_padding_canvas(model, codes.reshape(512 // p, 512 // p, -1))
        if circ is not None:
            row |= _canvas_scores("circular_padding", source, circ, list(range(p, 512, p)))
        rows.append(row)

    def mean(key: str, photos: bool | None = None) -> float:
        vals = [r[key] for r in rows if photos is None or r["photo"] == photos]
        return round(float(np.mean(vals)), 3) if vals else float("nan")

    keys = [k for k in rows[0] if k not in ("source", "photo")]
    summary = {f"mean_{k}": mean(k) for k in keys} | {f"photos_mean_{k}": mean(k, True) for k in keys}
    seam_keys = ("vae_seam_ratio_edges", "vae_seam_ratio_inside")
    in_band = [all(0.9 <= r[k] <= 1.1 for k in seam_keys) for r in rows]
    name, pixels, _ = sources[0]
    style = source_style(model, prepare_source(pixels, channels), seed)
    times = {}
    for size in (512, 1024):
        settings = CanvasSettings(size=size, seed=seed)
        runs = [synthesize(model, [style], settings).seconds for _ in range(1 if quick else 3)]
        times[f"synthesize_{size}_s"] = round(min(runs), 3)
    return {
        "device": _device_name(torch.device("cpu")),
        "sources": rows,
        "vae_seams_in_band": f"{sum(in_band)} of {len(rows)}",
        **summary,
        **times,
    }
