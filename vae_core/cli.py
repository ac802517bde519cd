"""The command line: ``python -m vae_core {train,evaluate,bench,samples,devset} ...``.

``train`` also runs under ``torchrun --nproc_per_node=N -m vae_core train ...``: each rank
trains with DistributedDataParallel (NCCL on GPUs, gloo on CPUs) and rank 0 writes the
checkpoint and prints the evaluation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from vae_core.config import APP_MODEL, PATCH_SIZES, PRESETS, ModelConfig, TrainConfig


def load_source(spec: str, channels: int | None = None):
    """``samples`` -> the built-in set; ``photos`` -> the real-photo development set
    (``data.devsets.real_photo_images``); else a folder, zip or image file. Returns a LoadReport."""
    from vae_core.data.images import LoadReport
    from vae_core.data.loaders import load_path

    if spec == "samples":
        from vae_core.data.samples import sample_textures

        return LoadReport(images=sample_textures(), rejected=[])
    if spec == "photos":
        from vae_core.data.devsets import real_photo_images

        return LoadReport(images=real_photo_images(), rejected=[])
    from vae_core.data.decode_pool import decode_threads

    return load_path(spec, channels=channels, threads=decode_threads())  # the command line owns the machine


def _patch_dataset(spec: str, patch_size: int, channels: int, patches_per_image: int, seed: int):
    from vae_core.config import PatchConfig
    from vae_core.data.patches import make_patches

    report = load_source(spec, channels=channels)
    for r in report.rejected:
        print(f"skipped: {r.reason}", file=sys.stderr)
    if not report.images:
        raise SystemExit(f"error: no usable images in {spec!r}")
    pc = PatchConfig(patch_size=patch_size, channels=channels, patches_per_image=patches_per_image, seed=seed)
    data = make_patches(report.images, pc)
    return data, pc


def _init_distributed() -> tuple[int, int]:
    """Join the process group when started by torchrun; returns (rank, world_size)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch
    import torch.distributed as dist

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    return dist.get_rank(), world


def _given(**options: Any) -> dict[str, Any]:
    """The command-line options that were actually given (not None)."""
    return {k: v for k, v in options.items() if v is not None}


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from vae_core.explore.metrics import evaluate
    from vae_core.model.checkpoint import load_checkpoint, save_checkpoint
    from vae_core.model.vae import new_model
    from vae_core.training.fit import fit

    rank, world = _init_distributed()
    preset = PRESETS[args.preset]
    mc, tc = preset.model, preset.train
    if args.resume:
        ck = load_checkpoint(args.resume)
        mc, tc = ck.model_config, ck.train_config or tc
    model_changes = _given(
        image_size=args.patch_size, latent_dim=args.latent_dim, width=args.width, channels=args.channels
    )
    if args.arch == "conv":  # the convolutional model and its own batch size and rate (README, "Model choices")
        model_changes.update(arch="conv", refine_layers=ModelConfig.refine_layers)
        tc = TrainConfig(seconds=tc.seconds)  # TrainConfig's defaults are the convolutional recipe
    elif args.arch == "coef":  # the presets' model (config.APP_MODEL)
        model_changes.update(arch="coef", refine_layers=APP_MODEL.refine_layers)
    if model_changes and args.resume:
        raise SystemExit(
            "error: --resume keeps the checkpoint's architecture; drop --patch-size/--latent-dim/--width/--arch"
        )
    mc = replace(mc, **model_changes).validate()
    train_changes = _given(
        seconds=args.seconds,
        max_steps=args.steps,
        seed=args.seed,
        beta=args.beta,
        lr=args.lr,
        batch_size=args.batch_size,
        device=args.device,
    )
    if args.steps is not None and args.seconds is None:
        train_changes["seconds"] = None
    tc = replace(tc, **train_changes).validate()

    data, pc = _patch_dataset(args.data, mc.image_size, mc.channels, args.patches_per_image, tc.seed)
    torch.manual_seed(tc.seed)
    if args.resume:
        model, state = ck.model, ck.state
    else:
        model, state = new_model(mc), None
    if rank == 0:
        s = data.summary()
        print(
            f"data: {s['n_images']} images, {s['n_train']} training / {s['n_val']} validation patches "
            f"of {mc.image_size}px; model: latent_dim={mc.latent_dim}, width={mc.width}",
            file=sys.stderr,
        )

    bar = None
    if rank == 0 and not args.quiet:
        from tqdm import tqdm

        total = tc.seconds if tc.seconds is not None else tc.max_steps
        unit = "s" if tc.seconds is not None else "step"
        bar = tqdm(
            total=total, unit=unit, file=sys.stderr, bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} {unit} {postfix}"
        )

    def on_step(info) -> None:
        if bar is None:
            return
        bar.n = min(bar.total, info.elapsed_s if tc.seconds is not None else info.step - start_step)
        if info.step % 10 == 0 or info.val is not None:
            post = f"step {info.step} loss {info.loss:.2f} kl {info.kl:.1f}"
            if info.val is not None:
                post += f" val_psnr {info.val.psnr:.2f}"
            bar.set_postfix_str(post, refresh=False)
        bar.refresh()

    start_step = state.step if state is not None else 0
    result = fit(model, data, tc, state=state, on_step=on_step)
    if bar is not None:
        bar.close()
    if rank == 0:
        print(result.message, file=sys.stderr)
        summary = data.summary()
        summary["patch_config"] = asdict(pc)
        summary["source"] = args.data
        save_checkpoint(
            args.out,
            model.cpu(),
            train_config=tc,
            state=result.state,
            dataset=summary,
            include_optimizer=not args.weights_only,
        )
        print(f"saved {args.out}", file=sys.stderr)
        ev = evaluate(model, data)
        print(
            f"validation: VAE PSNR {ev.psnr:.2f} dB, SSIM {ev.ssim:.3f} | "
            f"PCA(k={ev.latent_dim}) PSNR {ev.pca_psnr:.2f} dB, SSIM {ev.pca_ssim:.3f} "
            f"on {ev.n_val_patches} patches"
        )
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return 0 if result.stop_reason != "non-finite" else 1


def cmd_evaluate(args: argparse.Namespace) -> int:
    from vae_core.explore.metrics import evaluate
    from vae_core.model.checkpoint import load_checkpoint

    ck = load_checkpoint(args.model)
    mc = ck.model_config
    saved = ck.dataset.get("patch_config", {}) if isinstance(ck.dataset, dict) else {}
    ppi = args.patches_per_image or int(saved.get("patches_per_image", 256))
    seed = args.seed if args.seed is not None else int(saved.get("seed", 0))
    data, _ = _patch_dataset(args.data, mc.image_size, mc.channels, ppi, seed)
    ev = evaluate(ck.model, data)
    if args.json:
        out: dict[str, Any] = ev.to_dict()
        out["steps_trained"] = ck.state.step if ck.state else None
        print(json.dumps(out))
    else:
        print(
            f"VAE:  PSNR {ev.psnr:.2f} dB  SSIM {ev.ssim:.4f}\n"
            f"PCA:  PSNR {ev.pca_psnr:.2f} dB  SSIM {ev.pca_ssim:.4f}  (k = latent_dim = {ev.latent_dim})\n"
            f"on {ev.n_val_patches} validation patches (PCA fitted on {ev.n_train_patches} training patches)"
        )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.analyze:  # the analysis benchmark alone: it takes minutes of its own
        from vae_core.bench.analyze import benchmark_analyze

        models = [m for m in (args.analyze_models or "").split(",") if m]
        result = benchmark_analyze(models or None, args.analyze_train_seconds, args.analyze_images)
        print(json.dumps(result))  # the tables went to stderr as they were measured
        return 0
    if args.restore:  # a use of the model, not the engine: its own figures only
        from vae_core.bench.restore import benchmark_restore, markdown

        figures = benchmark_restore(args.model, quick=args.quick)
        print(json.dumps(figures, indent=None) if args.json else markdown(figures))
        if not args.compress:
            return 0
    if args.quality:  # model quality against PCA on photos and samples: its own figures only
        from vae_core.bench.quality import benchmark_quality

        parts = tuple(args.part) if args.part else ("presets", "curve", "ablation", "choices")
        print(json.dumps(benchmark_quality(quick=args.quick, parts=parts), indent=None))
        return 0
    if args.compress:  # a use of the model, not the engine: its own figures only
        from vae_core.bench.compress import benchmark_compress

        print(json.dumps(benchmark_compress(args.model, quick=args.quick), indent=None))
        return 0
    if args.data:  # the data path (loading, patching, scoring): its own figures only
        from vae_core.bench.data import benchmark_data

        print(json.dumps(benchmark_data(quick=args.quick), indent=None))
        return 0
    from vae_core.bench.engine import run

    if args.generate:  # its own figures only: the engine benchmark takes minutes and measures other things
        from vae_core.bench.engine import benchmark_generate

        print(json.dumps(benchmark_generate(quick=args.quick)))
        return 0
    out = run(quick=args.quick, device=args.device)
    if args.projection:
        from vae_core.bench.engine import benchmark_projection

        out.update(benchmark_projection())
    print(json.dumps(out, indent=None))
    return 0


def cmd_samples(args: argparse.Namespace) -> int:
    from vae_core.data.samples import write_sample_pngs

    paths = write_sample_pngs(args.out, seed=args.seed)
    print(f"wrote {len(paths)} sample textures to {args.out}")
    return 0


def cmd_devset(args: argparse.Namespace) -> int:
    from vae_core.data.devsets import write_dev_set

    paths = write_dev_set(args.out, part=args.part, seed=args.seed)
    labels = {p.parent.name for p in paths}
    print(f"wrote {len(paths)} images in {len(labels)} labelled folders to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vae_core", description="Texture VAE: train, evaluate, benchmark.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a VAE on textures and save a .safetensors checkpoint")
    t.add_argument(
        "--data",
        required=True,
        help="folder, zip or image file, 'samples' for the built-in set or 'photos' for the real-photo dev set",
    )
    t.add_argument("--out", required=True, type=Path, help="checkpoint to write (.safetensors)")
    t.add_argument("--preset", default="default", choices=sorted(PRESETS), help="starting settings (default: default)")
    t.add_argument("--seconds", type=float, help="time budget in seconds (default: the preset's)")
    t.add_argument("--steps", type=int, help="step budget (alone: no time limit)")
    t.add_argument("--seed", type=int, help="random seed (default 0)")
    t.add_argument("--patch-size", type=int, choices=PATCH_SIZES)
    t.add_argument("--channels", type=int, choices=(1, 3))
    t.add_argument("--latent-dim", type=int)
    t.add_argument("--width", type=int)
    t.add_argument(
        "--arch",
        choices=("conv", "coef"),
        help="coef (default): MLPs on PCA coefficients, the model the app trains; conv: the convolutional VAE "
        "with its refiner, at batch 64 and lr 2e-3 unless given (README, 'Model choices')",
    )
    t.add_argument("--beta", type=float)
    t.add_argument("--lr", type=float)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--patches-per-image", type=int, default=256)
    t.add_argument("--device", help="auto (default), cpu, cuda, cuda:1, mps")
    t.add_argument("--resume", type=Path, help="continue training from this checkpoint")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument(
        "--weights-only", action="store_true", help="leave out the optimiser state (3x smaller; resuming restarts Adam)"
    )
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="validation PSNR/SSIM of a checkpoint next to PCA(k = latent_dim)")
    e.add_argument("--model", required=True, type=Path)
    e.add_argument("--data", required=True, help="folder, zip or image file, 'samples' or 'photos'")
    e.add_argument("--patches-per-image", type=int, help="default: as saved in the checkpoint")
    e.add_argument("--seed", type=int, help="patch seed (default: as saved in the checkpoint)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=cmd_evaluate)

    b = sub.add_parser("bench", help="throughput, FLOP efficiency and latency as one JSON object")
    b.add_argument("--quick", action="store_true", help="fewer repeats (~20 s); with --restore, three images")
    b.add_argument("--device", default="auto")
    b.add_argument(
        "--projection", action="store_true", help="also time PCA of 10k codes and UMAP of 5k (cold JIT too; minutes)"
    )
    b.add_argument(
        "--compress",
        action="store_true",
        help="only the VAE as a codec against JPEG and WebP on unseen images (rate-distortion; minutes)",
    )
    b.add_argument(
        "--restore",
        action="store_true",
        help="only the VAE's restorations against the classic filters on unseen images (tables; minutes)",
    )
    b.add_argument("--json", action="store_true", help="--restore: one JSON object instead of markdown tables")
    b.add_argument("--model", type=Path, help="checkpoint for --compress/--restore (default: the bundled starter)")
    b.add_argument(
        "--data",
        action="store_true",
        help="only the data path on a zip of 1,200 real photos: loading, patching, scoring 40,000 patches (minutes)",
    )
    b.add_argument(
        "--generate",
        action="store_true",
        help="only large textures: seam ratios, texture distance vs repetition and tiling-and-blending, 512/1024 time",
    )
    b.add_argument(
        "--analyze", action="store_true", help="only the texture-classification benchmark (README 'Analyze'; minutes)"
    )
    b.add_argument("--analyze-models", help="comma-separated checkpoints (default: the starter + one trained 60 s)")
    b.add_argument("--analyze-train-seconds", type=float, default=60.0, help="training of the dev-set model (0: none)")
    b.add_argument("--analyze-images", type=int, default=1000, help="images of the timed analysis (0: not timed)")
    b.add_argument(
        "--quality",
        action="store_true",
        help="only the VAE against PCA on real photos and samples: presets, early curve, ablations (~60 min)",
    )
    b.add_argument(
        "--part",
        action="append",
        choices=("presets", "curve", "ablation", "choices"),
        help="with --quality: only these parts (ablation: the convolutional model's levers at equal steps; "
        "choices: the coefficient model's at equal seconds)",
    )
    b.set_defaults(func=cmd_bench)

    d = sub.add_parser("devset", help="write the labelled texture dev set (photos + procedural) as PNGs")
    d.add_argument("--out", required=True, type=Path, help="folder; one sub-folder per label")
    d.add_argument("--part", default="all", choices=("all", "photos", "procedural"))
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=cmd_devset)

    s = sub.add_parser("samples", help="write the built-in sample textures as PNGs")
    s.add_argument("--out", default="assets/samples", type=Path)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_samples)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from vae_core.model.checkpoint import CheckpointError

    try:
        return args.func(args)
    except (CheckpointError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
