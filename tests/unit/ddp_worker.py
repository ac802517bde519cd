"""Run by test_ddp.py under torchrun: train a tiny model with 2 gloo ranks, dump weights."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from vae_core.config import ModelConfig, PatchConfig, TrainConfig
from vae_core.data.images import TextureImage
from vae_core.data.patches import make_patches
from vae_core.data.samples import procedural_texture
from vae_core.model.checkpoint import save_checkpoint
from vae_core.model.vae import ConvVAE
from vae_core.training.fit import fit


def main(out: Path) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.set_num_threads(1)
    images = [
        TextureImage(f"{k}.png", k, procedural_texture(k, size=96, seed=1)) for k in ("stripes", "dots", "marble")
    ]
    data = make_patches(images, PatchConfig(patch_size=32, patches_per_image=32, seed=0))
    torch.manual_seed(100 + rank)  # different local init: DDP must broadcast rank 0's weights
    model = ConvVAE(ModelConfig(image_size=32, latent_dim=4, width=8, res_blocks=1))
    cfg = TrainConfig(seconds=None, max_steps=6, batch_size=16, val_every_s=1e9, device="cpu")
    result = fit(model, data, cfg)
    weights = torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()
    np.save(out / f"weights_rank{rank}.npy", weights)
    np.save(out / f"loss_rank{rank}.npy", np.array(result.state.history.loss))
    if rank == 0:
        save_checkpoint(out / "ddp.safetensors", model, train_config=cfg, state=result.state)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
