"""Memory figures behind the README's "Deploy" budget arithmetic (a benchmark, not a test; Linux only).

    python tests/e2e/bench_memory.py [--umap] [--json out.json]

Resident memory (MB, decimal) of one fresh process as it loads what the app's server loads, then the
extra peak of one training job (3 steps of the default model at 32 and at 128 px, batch 64, PCA
start included, one thread), and the bytes of a 128 px model plus its Adam state. ``--umap`` also
runs UMAP's warm-up (its compiled code stays in the server; ~40 s on a 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def resident_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 1e6


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError("no VmHWM in /proc/self/status")


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux >= 4.0: the peak restarts from now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--umap", action="store_true", help="also measure UMAP's warm-up")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    out = {"python": resident_mb()}
    import pandas  # noqa: F401
    import plotly  # noqa: F401
    import streamlit  # noqa: F401

    out["+ streamlit, pandas, plotly"] = resident_mb()
    import torch

    out["+ torch"] = resident_mb()
    import umap  # noqa: F401

    out["+ umap"] = resident_mb()
    from vae_core.config import ModelConfig, PatchConfig, TrainConfig
    from vae_core.data.budget import session_memory
    from vae_core.data.patches import make_patches
    from vae_core.data.samples import sample_textures
    from vae_core.model.checkpoint import load_checkpoint
    from vae_core.model.vae import ConvVAE
    from vae_core.training.fit import fit

    load_checkpoint(ROOT / "assets" / "starter.safetensors")
    images = sample_textures(seed=0)
    out["+ starter model and samples"] = resident_mb()
    if args.umap:
        from vae_core.explore.projection import warm_up_umap

        warm_up_umap()
        out["+ umap warm-up"] = resident_mb()

    torch.set_num_threads(1)
    for size in (32, 128):
        data = make_patches(images, PatchConfig(patch_size=size, patches_per_image=64))
        model = ConvVAE(ModelConfig(image_size=size))
        reset_peak()
        before = resident_mb()
        result = fit(model, data, TrainConfig(seconds=None, max_steps=3, val_every_s=1e9, batch_size=64))
        out[f"training job peak, {size} px (extra)"] = peak_mb() - before
        out[f"model + Adam state, {size} px"] = session_memory(model=model, train_state=result.state).model / 1e6

    for key, value in out.items():
        print(f"{key:>40}: {value:8.1f} MB")
    if args.json:
        args.json.write_text(json.dumps({k: round(v, 1) for k, v in out.items()}, indent=1))


if __name__ == "__main__":
    main()
