"""The training loop: ``fit(model, data, config, on_step=..., should_stop=...)``.

Batches are drawn straight from the dataset's uint8 tensors, kept on the training device,
so there is no per-sample ``DataLoader`` overhead (``python -m vae_core bench`` measures
the difference). The loop knows nothing about any UI: it reports through ``on_step`` and
asks ``should_stop`` each step, as minGPT's ``Trainer`` does with its callbacks.

The same loop runs under ``torchrun --nproc_per_node=N``: when ``torch.distributed`` is
initialised, the model is wrapped in ``DistributedDataParallel`` and every rank draws its
own batches. Ranks agree each step on whether to stop, so a time budget or a NaN on one
rank cannot leave another waiting forever.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .config import TrainConfig
from .losses import vae_loss
from .model import ConvVAE, init_linear_path
from .patches import PatchDataset
from .threads import cpu_threads


@dataclass
class StepInfo:
    """What ``on_step`` receives after every optimisation step."""

    step: int  # steps done in total (including earlier runs when resuming)
    elapsed_s: float  # seconds spent in this call of fit
    progress: float  # 0..1 of this call's budget (time or steps, whichever is further), after this step
    eta_s: float | None  # estimated seconds left in this call, measured with ``progress``
    loss: float  # beta-ELBO terms of this step's batch, per patch
    recon: float
    kl: float
    beta: float  # the KL weight used this step (after warm-up)
    lr: float
    patches_per_s: float  # throughput of this call so far
    val: dict[str, float] | None = None  # set on steps that ran a validation pass


@dataclass
class History:
    """Loss curves, one entry per step (train) and per validation pass (val)."""

    step: list[int] = field(default_factory=list)
    time_s: list[float] = field(default_factory=list)  # cumulative training seconds
    loss: list[float] = field(default_factory=list)
    recon: list[float] = field(default_factory=list)
    kl: list[float] = field(default_factory=list)
    val_step: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_mse: list[float] = field(default_factory=list)
    val_psnr: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, list]:
        return {k: list(v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        h = cls()
        for k, v in d.items():
            if hasattr(h, k) and isinstance(v, list):
                setattr(h, k, list(v))
        return h

    def summary(self) -> dict[str, float | int | None]:
        """Last values: small enough for checkpoint metadata and the model card."""
        return {
            "steps": self.step[-1] if self.step else 0,
            "train_seconds": round(self.time_s[-1], 2) if self.time_s else 0.0,
            "final_loss": self.loss[-1] if self.loss else None,
            "final_val_mse": self.val_mse[-1] if self.val_mse else None,
            "final_val_psnr": self.val_psnr[-1] if self.val_psnr else None,
        }


@dataclass
class TrainState:
    """Everything needed to resume: optimiser state, step count, RNG and history."""

    step: int = 0
    train_seconds: float = 0.0
    optimizer: dict[str, Any] | None = None
    rng_state: torch.Tensor | None = None  # CPU generator state of the batch sampler
    history: History = field(default_factory=History)


@dataclass
class TrainResult:
    """What ``fit`` returns. The model is trained in place."""

    state: TrainState
    stop_reason: str  # "time", "steps", "stopped", "non-finite"
    message: str  # plain-words summary for a person
    steps_this_run: int
    seconds_this_run: float
    patches_per_s: float
    device: str


def select_device(preference: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU; or exactly what ``preference`` names."""
    if preference != "auto":
        device = torch.device(preference)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={preference!r} was requested but CUDA is not available; use 'auto' or 'cpu'")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _dist() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def run_progress(config: TrainConfig, steps: int, elapsed_s: float) -> tuple[float, float | None]:
    """Share of a run's budget used (0..1) and seconds left, both measured at the same moment.

    ``steps`` and ``elapsed_s`` count this run only (not earlier runs of a resumed model).
    Progress follows whichever budget is further along, the time left whichever ends first,
    so the two always agree: with a time budget, ``progress * seconds + eta == seconds``.
    ``fit`` uses it before each step (for that step's learning rate) and again after it (for
    ``StepInfo``), so a report never reads "69 %, 0 s left".
    """
    fractions: list[float] = []
    left: list[float] = []
    if config.seconds is not None:
        fractions.append(elapsed_s / config.seconds)
        left.append(max(0.0, config.seconds - elapsed_s))
    if config.max_steps is not None:
        fractions.append(steps / max(1, config.max_steps))
        if steps:
            left.append(max(0.0, (config.max_steps - steps) * elapsed_s / steps))
    progress = min(1.0, max(0.0, *fractions)) if fractions else 0.0
    return progress, (min(left) if left else None)


def lr_at(config: TrainConfig, step_in_run: int, progress: float) -> float:
    """Linear warm-up, then cosine decay over the budget's progress (0..1)."""
    warm = min(1.0, (step_in_run + 1) / max(1, config.warmup_steps))
    floor = config.lr_min_fraction
    cosine = floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.lr * warm * cosine


def param_groups(model: ConvVAE, config: TrainConfig) -> list[dict[str, Any]]:
    """AdamW groups: the PCA-initialised linear path learns at ``linear_lr_scale`` x lr.

    Adam moves every weight by about lr per step whatever its scale. The linear path's
    weights are ~1e-3 (PCA directions times pixel std), so at the conv layers' rate
    Adam would erase the PCA start within a few steps.
    """
    linear = [p for n, p in model.named_parameters() if n.startswith(("lin_enc.", "lin_dec."))]
    ids = {id(p) for p in linear}
    rest = [p for p in model.parameters() if id(p) not in ids]
    groups: list[dict[str, Any]] = [{"params": rest, "lr_scale": 1.0}]
    if linear:
        groups.append({"params": linear, "lr_scale": config.linear_lr_scale})
    return groups


def random_dihedral(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Apply one random flip/90-degree turn to the whole batch (textures have no up)."""
    k = int(torch.randint(0, 8, (1,), generator=generator))
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1)) if k % 4 else x


@torch.no_grad()
def validate(model: ConvVAE, val_u8: torch.Tensor, beta: float, batch_size: int = 256) -> dict[str, float]:
    """Loss on validation patches using z = mu. Returns loss, mse and psnr.

    ``psnr`` is the mean of per-patch PSNRs (capped at 100 dB), the same definition as
    ``metrics.psnr_per_patch`` and ``evaluate``, so curves and scores agree.
    """
    was_training = model.training
    model.eval()
    tot_loss = tot_sq = tot_psnr = 0.0
    n = int(val_u8.shape[0])
    for i in range(0, n, batch_size):
        x = val_u8[i : i + batch_size].float().div_(255)
        out = model(x)
        lo = vae_loss(x, out.recon, out.mu, out.logvar, beta)
        tot_loss += float(lo.loss) * x.shape[0]
        tot_sq += float(lo.mse) * x.shape[0]
        mse_i = (out.recon.float() - x).pow(2).flatten(1).mean(1)
        tot_psnr += float((10 * torch.log10(1.0 / mse_i.clamp(min=1e-10))).clamp(max=100.0).sum())
    model.train(was_training)
    return {"loss": tot_loss / max(1, n), "mse": tot_sq / max(1, n), "psnr": tot_psnr / max(1, n)}


def fit(
    model: ConvVAE,
    data: PatchDataset,
    config: TrainConfig | None = None,
    *,
    state: TrainState | None = None,
    on_step: Callable[[StepInfo], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train ``model`` in place on ``data.train``; validate on ``data.val``.

    Resumes from ``state`` when given (its optimiser state, step, RNG and history).
    Stops at the first of: the time budget, ``max_steps`` more steps, ``should_stop()``
    returning True, or a non-finite loss or gradient. On a non-finite value the weights
    are rolled back to the last step whose loss was finite, and the message says so.
    """
    config = (config or TrainConfig()).validate()
    if data.train.shape[0] == 0:
        raise ValueError("the dataset has no training patches; add images or lower patch_size")
    mc = model.config
    if tuple(data.train.shape[1:]) != (mc.channels, mc.image_size, mc.image_size):
        raise ValueError(
            f"patches are {tuple(data.train.shape[1:])} but the model expects "
            f"{(mc.channels, mc.image_size, mc.image_size)}; re-cut patches with patch_size={mc.image_size}, "
            f"channels={mc.channels}"
        )
    threads = cpu_threads(config)  # a standalone run: config.threads, else torch's default (None)
    if threads is not None:
        torch.set_num_threads(threads)
    rank, world = _dist()
    device = select_device(config.device)
    if world > 1 and device.type == "cuda" and config.device == "auto":
        import os

        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
    # channels_last (NHWC) lets oneDNN/cuDNN pick their fastest convolution kernels: measured
    # 1.2-1.5x more training throughput on a 2-core CPU (README, Performance).
    model.to(device).to(memory_format=torch.channels_last).train()
    state = state or TrainState()
    train_u8 = torch.from_numpy(np.ascontiguousarray(data.train)).to(device)
    if state.step == 0 and config.pca_init:
        init_linear_path(model, train_u8, seed=config.seed)

    # Same initial weights on every rank come from the caller's seed; DDP also broadcasts.
    net: nn.Module = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    # fused=True: one kernel for all parameters instead of ~8 small ops per tensor.
    opt = torch.optim.AdamW(param_groups(model, config), lr=config.lr, weight_decay=config.weight_decay, fused=True)
    if state.optimizer is not None:
        opt.load_state_dict(state.optimizer)
        # Checkpoints store plain (NCHW-contiguous) tensors while the parameters are
        # channels_last; the fused optimiser walks both in memory order, so the moments must
        # have the same layout as their parameter or they would pair up the wrong elements.
        for p, st in opt.state.items():
            for k, v in st.items():
                if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                    st[k] = torch.empty_like(p).copy_(v)

    gen = torch.Generator()  # batch order and augmentation, on CPU for reproducibility
    if state.rng_state is not None:
        gen.set_state(state.rng_state)
    else:
        gen.manual_seed(config.seed * 1000 + rank)
    noise_gen = torch.Generator(device=device) if device.type != "mps" else None
    if noise_gen is not None:
        noise_gen.manual_seed(config.seed * 1000 + rank + 7919)

    val_u8 = torch.from_numpy(np.ascontiguousarray(data.val[: config.val_max_patches])).to(device)
    n_train = train_u8.shape[0]
    amp = config.amp and device.type == "cuda"
    params = [p for p in model.parameters()]
    good = [p.detach().clone() for p in params]  # weights after the last finite step

    hist = state.history
    t0 = time.perf_counter()
    last_val = t0
    steps = 0
    stop_reason, message = "steps", ""
    while True:
        elapsed = time.perf_counter() - t0
        progress, _ = run_progress(config, steps, elapsed)
        want_stop = 0
        if config.seconds is not None and elapsed >= config.seconds:
            want_stop, stop_reason = 1, "time"
        elif config.max_steps is not None and steps >= config.max_steps:
            want_stop, stop_reason = 1, "steps"
        elif should_stop is not None and should_stop():
            want_stop, stop_reason = 1, "stopped"
        if world > 1:
            want_stop = _all_max(want_stop, device)
            if want_stop and stop_reason not in ("time", "steps", "stopped"):
                stop_reason = "stopped"
        if want_stop:
            break

        lr = lr_at(config, steps, progress)
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_scale"]
        beta = config.beta * min(1.0, (state.step + 1) / max(1, config.kl_warmup_steps))
        idx = torch.randint(0, n_train, (config.batch_size,), generator=gen).to(device)
        x = train_u8[idx].float().div_(255)
        if config.augment:
            x = random_dihedral(x, gen)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=amp):
            out = net(x, noise_gen) if noise_gen is not None else net(x)
        lo = vae_loss(x, out.recon_raw, out.mu, out.logvar, beta, config.free_bits)
        opt.zero_grad(set_to_none=True)
        bad = not bool(torch.isfinite(lo.loss.detach()))
        if not bad:
            lo.loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            bad = not bool(torch.isfinite(gnorm))
        if world > 1:
            bad = bool(_all_max(int(bad), device))
        if bad:
            with torch.no_grad():
                for p, g in zip(params, good, strict=True):
                    p.copy_(g)
            stop_reason = "non-finite"
            message = (
                f"Training stopped at step {state.step}: the loss became NaN or infinite. "
                "The weights from the last good step were kept. Try a lower learning rate "
                f"(now {config.lr:g})."
            )
            break
        opt.step()
        with torch.no_grad():
            torch._foreach_copy_(good, [p.detach() for p in params])
        steps += 1
        state.step += 1
        now = time.perf_counter()
        run_s = now - t0
        hist.step.append(state.step)
        hist.time_s.append(state.train_seconds + run_s)
        loss_v, recon_v, kl_v = lo.loss.item(), lo.recon.item(), lo.kl.item()
        hist.loss.append(loss_v)
        hist.recon.append(recon_v)
        hist.kl.append(kl_v)

        val = None
        if now - last_val >= config.val_every_s and val_u8.shape[0] and rank == 0:
            val = validate(model, val_u8, config.beta)
            hist.val_step.append(state.step)
            hist.val_loss.append(val["loss"])
            hist.val_mse.append(val["mse"])
            hist.val_psnr.append(val["psnr"])
            last_val = time.perf_counter()
        if on_step is not None:
            pps = steps * config.batch_size / max(run_s, 1e-9)
            done, eta = run_progress(config, steps, run_s)  # both measured after this step
            on_step(
                StepInfo(
                    step=state.step,
                    elapsed_s=run_s,
                    progress=done,
                    eta_s=eta,
                    loss=loss_v,
                    recon=recon_v,
                    kl=kl_v,
                    beta=beta,
                    lr=lr,
                    patches_per_s=pps,
                    val=val,
                )
            )

    run_s = time.perf_counter() - t0
    if val_u8.shape[0] and rank == 0 and steps and stop_reason != "non-finite":
        val = validate(model, val_u8, config.beta)
        hist.val_step.append(state.step)
        hist.val_loss.append(val["loss"])
        hist.val_mse.append(val["mse"])
        hist.val_psnr.append(val["psnr"])
    state.train_seconds += run_s
    state.optimizer = opt.state_dict()
    state.rng_state = gen.get_state()
    if not message:
        why = {"time": "the time budget was used", "steps": "the step budget was used", "stopped": "you stopped it"}
        message = (
            f"Trained {steps} step{'' if steps == 1 else 's'} in {run_s:.1f} s ({why.get(stop_reason, stop_reason)})."
        )
        if hist.val_psnr:
            message += f" Validation PSNR {hist.val_psnr[-1]:.1f} dB."
    model.eval()
    return TrainResult(
        state=state,
        stop_reason=stop_reason,
        message=message,
        steps_this_run=steps,
        seconds_this_run=run_s,
        patches_per_s=steps * config.batch_size / max(run_s, 1e-9),
        device=str(device),
    )


def _all_max(flag: int, device: torch.device) -> int:
    import torch.distributed as dist

    t = torch.tensor([flag], dtype=torch.int32, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())
