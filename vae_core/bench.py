"""Benchmarks behind ``python -m vae_core bench``: throughput, FLOP efficiency, latency.

The figures in the README's Performance section come from here, not from timed tests.
One run measures, on the same model (the default preset):

- training throughput of ``fit`` (batches drawn from in-memory uint8 tensors), and of a
  plain per-sample ``DataLoader`` loop doing the same optimisation, as a ratio;
- the model's FLOPs per patch for forward + backward (``torch.utils.flop_counter``),
  the FLOP/s that training achieves, and the machine's float32 matmul FLOP/s;
- single-code decode latency (p50) and batch-64 decode/encode throughput.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import torch

from .config import PRESETS, ModelConfig, TrainConfig
from .losses import vae_loss
from .model import ConvVAE
from .patches import PatchConfig, PatchDataset, make_patches
from .samples import sample_textures
from .train import fit, param_groups, select_device


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
    model.to(memory_format=torch.channels_last)  # the same model and step as fit; only the feeding differs
    loader = DataLoader(Patches(data.train), batch_size=config.batch_size, shuffle=True, drop_last=True)
    opt = torch.optim.AdamW(param_groups(model, config), lr=config.lr, fused=True)
    model.train()
    done, t0 = 0, None
    while done < steps + 2:
        for x in loader:
            if done == 2:  # two warm-up steps, as fit's own measurement excludes set-up
                _sync(dev)
                t0 = time.perf_counter()
            x = x.to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last)
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
