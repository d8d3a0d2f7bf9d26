"""Benchmark: is sampler training compute-bound when it reads a feature store?

Builds a random feature store (default 2,000 videos x T=50 x 1280-d light features, float16, in a
temp dir, through nsnet.store / zarr), then trains the same NSNet config twice in one process:

* from the store: ``load_sampler_arrays`` (one read into float32 memory) + training;
* from memory: the same tensors already in memory (no store access).

It prints seconds per epoch for both (wall time including the store read, divided by the epochs),
their ratio (target <= 1.1) and training frames/s. ``--compare-widths`` also trains the FEM at
d = 256 / 512 / 1280 on a planted-saliency store (T=50, 1280-d) and reports top-5 precision on the
planted frames and seconds per epoch.

    python benchmarks/bench_fit.py --videos 500 --epochs 1            # reduced run
    python benchmarks/bench_fit.py --compare-widths --compare-videos 256 --compare-epochs 8

``--compare-variants STORE`` trains each listed sampler variant (default NSNet and TSQNet) on the
train split of a real store, in turns (A B A B ... ``--rounds`` times, so machine noise hits both
alike), and prints seconds per epoch per variant and their ratio to the first one:

    python benchmarks/bench_fit.py --skip-store --compare-variants STORE --variants nsnet tsqnet
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nsnet.sampler.config import sampler_config  # noqa: E402
from nsnet.sampler.data import SamplerArrays, load_sampler_arrays  # noqa: E402
from nsnet.sampler.registry import create_sampler  # noqa: E402
from nsnet.toys.planted import PlantedSpec, planted_saliency_arrays, top_k_precision, write_store  # noqa: E402
from nsnet.sampler.run import SamplerRun  # noqa: E402
from nsnet.sampler.train import train_sampler  # noqa: E402


def random_arrays(n: int, t: int, d: int, d2: int, c: int, seed: int = 0) -> SamplerArrays:
    """Returns random float32 arrays (values representable in float16, like the store's)."""
    rng = np.random.default_rng(seed)
    return SamplerArrays(
        light=rng.standard_normal((n, t, d), dtype=np.float32).astype(np.float16).astype(np.float32),
        labels=np.eye(c, dtype=np.float32)[rng.integers(0, c, n)],
        class_names=[f"c{i}" for i in range(c)],
        rec_features=rng.standard_normal((n, t, d2), dtype=np.float32).astype(np.float16).astype(np.float32),
        rec_logits=rng.standard_normal((n, t, c), dtype=np.float32),
        video_ids=[f"v{i:06d}" for i in range(n)], split="train",
    )


def bench_store_vs_memory(args: argparse.Namespace, console: Console) -> None:
    """Trains from the store and from memory; prints the per-epoch table and the ratio."""
    arrays = random_arrays(args.videos, args.frames, args.dim, args.rec_dim, args.classes)
    cfg = sampler_config(name="bench", width=args.width, epochs=args.epochs, device=args.device, seed=0)
    # warm-up: one-time imports (torch's deterministic-mode setup) and kernel initialisation
    train_sampler(arrays.subset(np.arange(min(64, arrays.N))), dataclasses.replace(cfg, epochs=1))
    with tempfile.TemporaryDirectory() as tmp:
        tic = time.perf_counter()
        store = write_store(Path(tmp) / "bench.zarr", {"train": arrays}, chunk_videos=32)
        t_write = time.perf_counter() - tic
        tic = time.perf_counter()
        loaded = load_sampler_arrays(store.path, "train")
        t_load = time.perf_counter() - tic
        res_store = train_sampler(loaded, cfg, progress=False)
        wall_store = time.perf_counter() - tic
        del loaded
    tic = time.perf_counter()
    res_mem = train_sampler(arrays, cfg, progress=False)
    wall_mem = time.perf_counter() - tic
    frames = args.videos * args.frames * args.epochs
    table = Table(title=f"fit: {args.videos} videos x T={args.frames} x {args.dim}-d, d={args.width}, "
                        f"{args.epochs} epoch(s), device={args.device}")
    for col in ("source", "read s", "s / epoch (wall)", "s / epoch (compute)", "frames/s"):
        table.add_column(col, justify="right")
    for name, wall, read, res in (("store", wall_store, t_load, res_store), ("memory", wall_mem, 0.0, res_mem)):
        compute = sum(res.epoch_seconds)
        table.add_row(name, f"{read:.2f}", f"{wall / args.epochs:.2f}", f"{compute / args.epochs:.2f}",
                      f"{frames / compute:,.0f}")
    console.print(table)
    console.print(f"store written in {t_write:.1f}s; ratio store/memory (wall per epoch) = "
                  f"[bold]{wall_store / wall_mem:.3f}[/bold] (target <= 1.1)")


def bench_widths(args: argparse.Namespace, console: Console) -> None:
    """Trains NSNet at several widths on a planted-saliency set; prints precision and cost."""
    spec = PlantedSpec(num_videos=args.compare_videos, num_classes=10, num_frames=args.frames, light_dim=args.dim,
                       rec_dim=128, salient=10)
    train, _ = planted_saliency_arrays(spec, "train")
    val, mask = planted_saliency_arrays(dataclasses.replace(spec, num_videos=max(64, args.compare_videos // 4)), "val")
    inputs = val
    table = Table(title=f"width comparison: planted saliency, {spec.num_videos} videos, T={spec.num_frames}, "
                        f"{spec.light_dim}-d, {args.compare_epochs} epochs, lr {args.compare_lr}")
    for col in ("d", "params", "s / epoch", "top-5 prec nsnet", "top-5 prec fsm", "top-5 prec vgm"):
        table.add_column(col, justify="right")
    for width in args.widths:
        cfg = sampler_config(name=f"d{width}", width=width, epochs=args.compare_epochs, lr=args.compare_lr,
                            device=args.device, seed=0)
        res = train_sampler(train, cfg, progress=False)
        run = SamplerRun("memory", res.config, res.model, res.prototypes, {"T": train.T, "D": train.D})
        prec = [top_k_precision(create_sampler(name, run=run).select(inputs, 5), mask)
                for name in ("nsnet", "fsm", "vgm")]
        params = sum(p.numel() for p in res.model.parameters())
        table.add_row(str(width), f"{params / 1e6:.2f}M", f"{np.mean(res.epoch_seconds):.2f}",
                      *(f"{p:.3f}" for p in prec))
        console.print(f"d={width}: done", style="dim")
    console.print(table)


def bench_variants(args: argparse.Namespace, console: Console) -> None:
    """Trains each of ``args.variants`` on the store's train split in alternating rounds; prints
    median seconds per epoch (setup excluded: prototypes, text embeddings, object scores) per
    variant, the total seconds per run (setup included) and the ratio to the first variant."""
    base = {"epochs": args.variant_epochs, "width": args.width, "lr": args.compare_lr, "device": args.device}
    cfgs = {v: sampler_config(v, name=v, seed=0, **base) for v in args.variants}
    arrays = {}
    for v, cfg in cfgs.items():
        t = time.perf_counter()
        arrays[v] = load_sampler_arrays(args.compare_variants, cfg.train_split, rec_features=cfg.needs_rec_features(),
                                        rec_logits=cfg.needs_rec_logits())
        console.print(f"{v}: read {arrays[v].N} train videos (T={arrays[v].T}) in {time.perf_counter() - t:.1f} s")
    epoch_s: dict[str, list[float]] = {v: [] for v in cfgs}
    total_s: dict[str, list[float]] = {v: [] for v in cfgs}
    for _ in range(args.rounds):
        for v, cfg in cfgs.items():
            result = train_sampler(arrays[v], cfg)
            epoch_s[v] += list(result.epoch_seconds)
            total_s[v].append(result.seconds)
    table = Table(title=f"sampler training on {args.compare_variants} ({args.rounds} alternating rounds, "
                        f"{args.variant_epochs} epochs each, width {args.width})")
    for col in ("variant", "videos", "s/epoch (median)", "s/run incl. setup (median)", "ratio s/epoch vs " + args.variants[0]):
        table.add_column(col)
    ref = float(np.median(epoch_s[args.variants[0]]))
    for v in cfgs:
        med = float(np.median(epoch_s[v]))
        table.add_row(v, str(arrays[v].N), f"{med:.2f}", f"{float(np.median(total_s[v])):.1f}", f"{med / ref:.2f}")
    console.print(table)


def main() -> None:
    """Parses the options and runs the benchmarks."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=2000)
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--rec-dim", type=int, default=512, help="recognizer feature dim of the random store")
    ap.add_argument("--classes", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"))
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    ap.add_argument("--skip-store", action="store_true", help="only run the width comparison")
    ap.add_argument("--compare-widths", action="store_true")
    ap.add_argument("--widths", type=int, nargs="+", default=[256, 512, 1280])
    ap.add_argument("--compare-videos", type=int, default=256)
    ap.add_argument("--compare-epochs", type=int, default=8)
    ap.add_argument("--compare-lr", type=float, default=0.03)
    ap.add_argument("--compare-variants", type=Path, default=None, metavar="STORE",
                    help="train these sampler variants on STORE's train split, in turns")
    ap.add_argument("--variants", nargs="+", default=["nsnet", "tsqnet"])
    ap.add_argument("--variant-epochs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    console = Console()
    console.print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU thread(s)")
    if not args.skip_store:
        bench_store_vs_memory(args, console)
    if args.compare_widths:
        bench_widths(args, console)
    if args.compare_variants is not None:
        bench_variants(args, console)


if __name__ == "__main__":
    main()
