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

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from vae_core.config import TrainConfig
from vae_core.data.patches import PatchDataset
from vae_core.imaging import psnr_from_mse, spread_indices
from vae_core.model.history import TrainState, ValScores
from vae_core.model.losses import vae_loss
from vae_core.model.precision import use_bf16
from vae_core.model.vae import ConvVAE, init_linear_path
from vae_core.training.threads import cpu_threads


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
    val: ValScores | None = None  # set on steps that ran a validation pass


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
    Adam would erase the PCA start within a few steps. The linear group is marked
    ``"linear": True`` so that ``_train_step`` can hold it still for ``linear_freeze_steps``.
    """
    linear = [p for n, p in model.named_parameters() if n.startswith(("lin_enc.", "lin_dec."))]
    ids = {id(p) for p in linear}
    rest = [p for p in model.parameters() if id(p) not in ids]
    groups: list[dict[str, Any]] = [{"params": rest, "lr_scale": 1.0}]
    if linear:
        groups.append({"params": linear, "lr_scale": config.linear_lr_scale, "linear": True})
    return groups


def random_dihedral(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Apply one random flip/90-degree turn to the whole batch (textures have no up)."""
    k = int(torch.randint(0, 8, (1,), generator=generator))
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1)) if k % 4 else x


def random_grey(x: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    """Turn about ``fraction`` of a colour batch's patches grey (each channel their mean); others untouched.

    Photographs come in grey too; without this a model trained mostly on colour puts a faint
    colour cast on grey patches, which PCA does not (README, "Model choices").
    """
    if fraction <= 0 or x.shape[1] != 3:
        return x
    pick = (torch.rand(x.shape[0], generator=generator) < fraction).to(x.device)  # drawn on the CPU generator
    if not bool(pick.any()):
        return x
    x = x.clone()
    x[pick] = x[pick].mean(1, keepdim=True).expand(-1, 3, -1, -1)
    return x


@torch.no_grad()
def validate(
    model: ConvVAE,
    val_u8: torch.Tensor,
    beta: float,
    batch_size: int = 256,
    likelihood: str = "sse",
    eps: float = 1e-5,
) -> ValScores:
    """Loss, MSE and PSNR on validation patches (uint8 tensor (N, C, P, P)) using z = mu.

    ``psnr`` is the mean of per-patch PSNRs through ``imaging.psnr_from_mse``, the same
    definition as ``explore.metrics.psnr_per_patch`` and ``evaluate``, so curves and scores agree.
    ``likelihood``/``eps``: the loss's reconstruction term (``model.losses.vae_loss``).
    """
    was_training = model.training
    model.eval()
    tot_loss = tot_sq = tot_psnr = 0.0
    n = int(val_u8.shape[0])
    for i in range(0, n, batch_size):
        x = val_u8[i : i + batch_size].float().div_(255)
        out = model(x)
        lo = vae_loss(x, out.recon, out.mu, out.logvar, beta, likelihood=likelihood, eps=eps)
        tot_loss += float(lo.loss) * x.shape[0]
        tot_sq += float(lo.mse) * x.shape[0]
        mse_i = (out.recon.float() - x).pow(2).flatten(1).mean(1)
        tot_psnr += float(psnr_from_mse(mse_i.double().cpu().numpy()).sum())
    model.train(was_training)
    return ValScores(loss=tot_loss / max(1, n), mse=tot_sq / max(1, n), psnr=tot_psnr / max(1, n))


@dataclass
class _Run:
    """Everything one call of ``fit`` sets up before its first step (see ``_set_up``)."""

    config: TrainConfig
    model: ConvVAE
    net: nn.Module  # the model, or its DistributedDataParallel wrapper
    device: torch.device
    rank: int
    world: int
    train_u8: torch.Tensor  # (N, C, P, P) uint8 on the device
    val_u8: torch.Tensor  # an evenly spread subset of the validation patches, on the device
    opt: torch.optim.Optimizer
    batches: torch.Generator  # batch order and augmentation (CPU, so runs reproduce)
    noise: torch.Generator | None  # the reparameterisation noise (on the device; None on MPS)
    params: list[torch.Tensor]
    good: list[torch.Tensor]  # the weights after the last finite step, for a roll-back
    state: TrainState
    ema: list[torch.Tensor] | None = None  # running average of the weights (config.ema_decay > 0)
    bf16: bool = False  # autocast to bfloat16 (model.precision.use_bf16)
    t0: float = 0.0
    steps: int = 0  # steps of this call


def _check_data(model: ConvVAE, data: PatchDataset) -> None:
    if data.train.shape[0] == 0:
        raise ValueError("the dataset has no training patches; add images or lower patch_size")
    mc = model.config
    if tuple(data.train.shape[1:]) != (mc.channels, mc.image_size, mc.image_size):
        raise ValueError(
            f"patches are {tuple(data.train.shape[1:])} but the model expects "
            f"{(mc.channels, mc.image_size, mc.image_size)}; re-cut patches with patch_size={mc.image_size}, "
            f"channels={mc.channels}"
        )


def _set_up(model: ConvVAE, data: PatchDataset, config: TrainConfig, state: TrainState | None) -> _Run:
    """Device, tensors, PCA start, optimiser (restored when resuming) and generators."""
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
    model.to(device).to(memory_format=_memory_format(model)).train()
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
    opt = torch.optim.AdamW(
        param_groups(model, config),
        lr=config.lr,
        betas=(0.9, config.adam_beta2),
        weight_decay=config.weight_decay,
        fused=True,
    )
    if state.optimizer is not None:
        _restore_optimizer(opt, state.optimizer)

    batches = torch.Generator()
    if state.rng_state is not None:
        batches.set_state(state.rng_state)
    else:
        batches.manual_seed(config.seed * 1000 + rank)
    noise = torch.Generator(device=device) if device.type != "mps" else None
    if noise is not None:
        noise.manual_seed(config.seed * 1000 + rank + 7919)

    # Spread over the whole set, not its first patches: datasets are ordered by image.
    val = data.val[spread_indices(len(data.val), config.val_max_patches)]
    params = list(model.parameters())
    return _Run(
        config=config,
        model=model,
        net=net,
        device=device,
        rank=rank,
        world=world,
        train_u8=train_u8,
        val_u8=torch.from_numpy(np.ascontiguousarray(val)).to(device),
        opt=opt,
        batches=batches,
        noise=noise,
        params=params,
        good=[p.detach().clone() for p in params],
        state=state,
        ema=[p.detach().clone() for p in params] if config.ema_decay > 0 else None,
        bf16=use_bf16(device, config.amp),
    )


def _restore_optimizer(opt: torch.optim.Optimizer, saved: dict[str, Any]) -> None:
    """Load a saved AdamW state, or ValueError in words when it does not fit this model.

    A checkpoint's optimiser tensors come from an untrusted file: torch checks only the number
    of parameters per group, and a moment of the wrong shape or a non-finite one would fail (or
    poison the weights) at the first step, after the run had started.
    """
    try:
        opt.load_state_dict(saved)
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ValueError(f"The saved optimiser state does not fit this model ({exc}). {_FRESH}") from None
    for i, p in enumerate(p for g in opt.param_groups for p in g["params"]):
        for k, v in opt.state.get(p, {}).items():
            if not torch.is_tensor(v) or not v.is_floating_point():
                raise ValueError(f"The saved optimiser state has a malformed {k} for parameter {i}. {_FRESH}")
            if (k == "step" and v.numel() != 1) or (k != "step" and v.shape != p.shape):
                raise ValueError(
                    f"The saved optimiser state has {k} of shape {tuple(v.shape)} for a parameter of shape "
                    f"{tuple(p.shape)}. {_FRESH}"
                )
            if not torch.isfinite(v).all():
                raise ValueError(f"The saved optimiser state has non-finite values in {k}. {_FRESH}")
    # Checkpoints store plain (NCHW-contiguous) tensors while the parameters are
    # channels_last; the fused optimiser walks both in memory order, so the moments must
    # have the same layout as their parameter or they would pair up the wrong elements.
    for p, st in opt.state.items():
        for k, v in st.items():
            if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                st[k] = torch.empty_like(p).copy_(v)


_FRESH = "Start a new run instead of resuming this one."


def _stop_reason(run: _Run, should_stop: Callable[[], bool] | None) -> str | None:
    """Why to stop before the next step ("time", "steps", "stopped"), or None to go on. Ranks agree."""
    config, elapsed = run.config, time.perf_counter() - run.t0
    reason = None
    if config.seconds is not None and elapsed >= config.seconds:
        reason = "time"
    elif config.max_steps is not None and run.steps >= config.max_steps:
        reason = "steps"
    elif should_stop is not None and should_stop():
        reason = "stopped"
    if run.world > 1 and _all_max(int(reason is not None), run.device) and reason is None:
        reason = "stopped"  # another rank wants to stop
    return reason


@dataclass
class _Step:
    """One optimisation step's numbers."""

    ok: bool  # False: the loss or a gradient was not finite, and the weights were rolled back
    loss: float = math.nan
    recon: float = math.nan
    kl: float = math.nan
    beta: float = 0.0
    lr: float = 0.0


def _train_step(run: _Run) -> _Step:
    """Draw a batch, take one AdamW step; on a non-finite loss or gradient put back the last good weights."""
    config, state = run.config, run.state
    progress, _ = run_progress(config, run.steps, time.perf_counter() - run.t0)
    lr = lr_at(config, run.steps, progress)
    frozen = state.step < config.linear_freeze_steps  # counted on the model's steps, so resuming keeps it
    for g in run.opt.param_groups:
        g["lr"] = 0.0 if frozen and g.get("linear") else lr * g["lr_scale"]
    beta = config.beta * min(1.0, (state.step + 1) / max(1, config.kl_warmup_steps))
    idx = torch.randint(0, run.train_u8.shape[0], (config.batch_size,), generator=run.batches).to(run.device)
    x = run.train_u8[idx].float().div_(255)
    if config.augment:
        x = random_dihedral(x, run.batches)
    x = random_grey(x, config.grey_fraction, run.batches)
    x = x.contiguous(memory_format=_memory_format(run.model))
    with torch.autocast(device_type=run.device.type, dtype=torch.bfloat16, enabled=run.bf16):
        out = run.net(x, run.noise) if run.noise is not None else run.net(x)
    lo = vae_loss(
        x, out.recon_raw, out.mu, out.logvar, beta, config.free_bits, likelihood=config.likelihood, eps=config.recon_eps
    )
    run.opt.zero_grad(set_to_none=True)
    bad = not bool(torch.isfinite(lo.loss.detach()))
    if not bad:
        lo.loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(run.params, config.grad_clip)
        bad = not bool(torch.isfinite(gnorm))
    if run.world > 1:
        bad = bool(_all_max(int(bad), run.device))
    with torch.no_grad():
        if bad:
            torch._foreach_copy_(run.params, run.good)
            return _Step(ok=False)
        run.opt.step()
        torch._foreach_copy_(run.good, [p.detach() for p in run.params])
        if run.ema is not None:
            torch._foreach_lerp_(run.ema, run.good, 1.0 - run.config.ema_decay)
    run.steps += 1
    state.step += 1
    return _Step(ok=True, loss=lo.loss.item(), recon=lo.recon.item(), kl=lo.kl.item(), beta=beta, lr=lr)


@contextlib.contextmanager
def _averaged(run: _Run) -> Iterator[None]:
    """Inside, the model holds the running average of its weights (``config.ema_decay``); the trained
    weights come back on leaving, from ``run.good`` (the weights after the last step). Without an
    average, nothing changes."""
    if run.ema is None:
        yield
        return
    with torch.no_grad():
        torch._foreach_copy_(run.params, run.ema)
    try:
        yield
    finally:
        with torch.no_grad():
            torch._foreach_copy_(run.params, run.good)


def _validate_now(run: _Run) -> ValScores | None:
    """Score the validation subset (rank 0 only) and add it to the history; None when there is none."""
    if not run.val_u8.shape[0] or run.rank != 0:
        return None
    c = run.config
    with _averaged(run):
        val = validate(run.model, run.val_u8, c.beta, likelihood=c.likelihood, eps=c.recon_eps)
    run.state.history.record_val(run.state.step, val)
    return val


def _memory_format(model: nn.Module) -> torch.memory_format:
    """channels_last for convolutions (oneDNN's fast kernels); the coefficient model flattens patches instead."""
    return torch.channels_last if model.config.arch == "conv" else torch.contiguous_format


def _finish(run: _Run, stop_reason: str) -> TrainResult:
    """Last validation, state for resuming, and the plain-words summary."""
    run_s = time.perf_counter() - run.t0
    state, hist, steps = run.state, run.state.history, run.steps
    if run.ema is not None:  # the model keeps the average (a resumed run starts its own from it)
        with torch.no_grad():
            torch._foreach_copy_(run.params, run.ema)
        run.ema = None
    if stop_reason == "non-finite":
        message = (
            f"Training stopped at step {state.step}: the loss became NaN or infinite. "
            "The weights from the last good step were kept. Try a lower learning rate "
            f"(now {run.config.lr:g})."
        )
    else:
        if steps:
            _validate_now(run)
        why = {"time": "the time budget was used", "steps": "the step budget was used", "stopped": "you stopped it"}
        message = (
            f"Trained {steps} step{'' if steps == 1 else 's'} in {run_s:.1f} s ({why.get(stop_reason, stop_reason)})."
        )
        if hist.val_psnr:
            message += f" Validation PSNR {hist.val_psnr[-1]:.1f} dB."
    state.train_seconds += run_s
    state.optimizer = run.opt.state_dict()
    state.rng_state = run.batches.get_state()
    run.model.eval()
    return TrainResult(
        state=state,
        stop_reason=stop_reason,
        message=message,
        steps_this_run=steps,
        seconds_this_run=run_s,
        patches_per_s=steps * run.config.batch_size / max(run_s, 1e-9),
        device=str(run.device),
    )


def fit(
    model: ConvVAE,
    data: PatchDataset,
    config: TrainConfig | None = None,
    *,
    state: TrainState | None = None,
    on_step: Callable[[StepInfo], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train ``model`` in place on ``data.train``; validate on an evenly spread subset of ``data.val``.

    Resumes from ``state`` when given (its optimiser state, step, RNG and history).
    Stops at the first of: the time budget, ``max_steps`` more steps, ``should_stop()``
    returning True, or a non-finite loss or gradient. On a non-finite value the weights
    are rolled back to the last step whose loss was finite, and the message says so.
    """
    config = (config or TrainConfig()).validate()
    _check_data(model, data)
    run = _set_up(model, data, config, state)
    run.t0 = last_val = time.perf_counter()
    while (reason := _stop_reason(run, should_stop)) is None:
        step = _train_step(run)
        if not step.ok:
            reason = "non-finite"
            break
        run_s = time.perf_counter() - run.t0
        run.state.history.record_step(run.state.step, run.state.train_seconds + run_s, step.loss, step.recon, step.kl)
        val = None
        if time.perf_counter() - last_val >= config.val_every_s:
            val = _validate_now(run)
            last_val = time.perf_counter() if val is not None else last_val
        if on_step is not None:
            with _averaged(run):
                on_step(_step_info(run, step, run_s, val))
    return _finish(run, reason)


def _step_info(run: _Run, step: _Step, run_s: float, val: ValScores | None) -> StepInfo:
    done, eta = run_progress(run.config, run.steps, run_s)  # both measured after this step
    return StepInfo(
        step=run.state.step,
        elapsed_s=run_s,
        progress=done,
        eta_s=eta,
        loss=step.loss,
        recon=step.recon,
        kl=step.kl,
        beta=step.beta,
        lr=step.lr,
        patches_per_s=run.steps * run.config.batch_size / max(run_s, 1e-9),
        val=val,
    )


def _all_max(flag: int, device: torch.device) -> int:
    import torch.distributed as dist

    t = torch.tensor([flag], dtype=torch.int32, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())
