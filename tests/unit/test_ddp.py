"""The training loop under torchrun with 2 gloo ranks on CPU (DistributedDataParallel)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from testkit import free_port

from vae_core.model.checkpoint import load_checkpoint


def test_two_gloo_ranks_stay_identical_and_checkpoint_loads(tmp_path):
    worker = Path(__file__).with_name("ddp_worker.py")
    cmd = [
        sys.executable, "-m", "torch.distributed.run",
        "--nproc_per_node=2", "--master_addr=127.0.0.1", f"--master_port={free_port()}",
        str(worker), str(tmp_path),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]

    w0, w1 = np.load(tmp_path / "weights_rank0.npy"), np.load(tmp_path / "weights_rank1.npy")
    assert np.array_equal(w0, w1), "ranks diverged: gradients were not all-reduced"
    l0, l1 = np.load(tmp_path / "loss_rank0.npy"), np.load(tmp_path / "loss_rank1.npy")
    assert len(l0) == len(l1) == 6
    assert not np.array_equal(l0, l1), "both ranks saw the same batches: no data parallelism"

    ck = load_checkpoint(tmp_path / "ddp.safetensors")  # single process, no process group
    loaded = torch.cat([p.detach().flatten() for p in ck.model.parameters()]).numpy()
    assert np.array_equal(loaded, w0)
    assert ck.state is not None and ck.state.step == 6
