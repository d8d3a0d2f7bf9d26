"""Beyond one machine, measured on one: extraction with 1 and 2 workers, and a projection to 100k videos.

On the real fight/noFight clips (H.264, read in place from ``--src``), in one run:

* **local**: ``nsnet extract`` as one process (DataLoader decode workers + the models), and with
  ``torchrun``-style 2 ranks (two processes, each owning half the chunks);
* **ray**: ``--engine ray`` on a local Ray cluster (started once, its start-up time reported apart),
  with 1 and with 2 model actors (decoding is dynamic Ray tasks in both);
* **per-stage cost** of one video (decode, light forward, recognizer forward, chunk write), from which
  the projection for ``--project-videos`` on N workers is computed: a streaming pipeline runs at the
  pace of its slowest stage, so hours = videos x max(decode / decode CPUs, models / model workers,
  write) / 3600. The model cost on a GPU is not measured on this CPU-only machine: the projection
  takes ``--gpu-frames-per-s`` (frames of both models per second on one GPU) as an input, printed as
  such; ``benchmarks/gpu_check.sh`` measures it on a GPU.

Every store made here is checked equal to the one-process store (the engines must not change a bit).

Usage: ``python benchmarks/bench_scale.py --src ../shared/data/fight-surv [--videos 64] [--frames 16]
[--json benchmarks/results/scale.json]``
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from _common import ensure_repo_on_path, machine, print_line, print_table, ratio

ensure_repo_on_path()

import torch  # noqa: E402

from nsnet.extract.chunks import ChunkWriter  # noqa: E402
from nsnet.extract.config import ExtractConfig  # noqa: E402
from nsnet.extract.features import VideoFeatures  # noqa: E402
from nsnet.extract.pipeline import VideoFrames  # noqa: E402
from nsnet.store import FeatureStore  # noqa: E402
from nsnet.store import schema as S  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def write_annotations(src: Path, out: Path, n: int) -> Path:
    """Writes a path,label,split CSV of the first n/2 fight and n/2 noFight clips; returns its path."""
    rows = []
    for label in ("fight", "noFight"):
        clips = sorted((src / label).glob("*.mp4"))[: n // 2]
        rows += [(str(c), label, "train" if i % 2 else "val") for i, c in enumerate(clips)]
    path = out / "annotations.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([("path", "label", "split"), *rows])
    return path


def same_store(a: Path, b: Path) -> bool:
    """Returns True when every array of the two stores is identical."""
    sa, sb = FeatureStore.open(a), FeatureStore.open(b)
    return sa.fingerprint == sb.fingerprint and all(
        np.array_equal(sa.read(n), sb.read(n), equal_nan=sa.read(n).dtype.kind == "f")
        for n in S.PER_FRAME_ARRAYS + S.PER_VIDEO_ARRAYS)


def timed_cli(args: list[str], env: dict[str, str] | None = None) -> float:
    """Returns the wall seconds of one command (which must succeed)."""
    t0 = time.perf_counter()
    subprocess.run(args, cwd=REPO, check=True, env={**os.environ, **(env or {})}, capture_output=True)
    return time.perf_counter() - t0


def stage_costs(cfg: ExtractConfig, store_path: Path) -> dict[str, float]:
    """Returns seconds per video of decode, light forward, recognizer forward and chunk write (one process)."""
    models = VideoFeatures.from_config(cfg, torch.device("cpu"))
    store = FeatureStore.open(store_path)
    paths = [str(p) for p in store.read(S.PATH)]
    frames = VideoFrames(list(range(len(paths))), paths, cfg.frames, *models.transforms(), cfg.decoder)
    t0 = time.perf_counter()
    items = [frames[i] for i in range(len(paths))]
    decode = time.perf_counter() - t0
    from nsnet.extract.models import run_model

    models(items[0])  # warm-up: the one-off model freezing (--jit) is not a per-video cost
    t0 = time.perf_counter()
    for item in items:
        run_model(models.extractor, item["light"], cfg.batch_size, models.device)
    light = time.perf_counter() - t0
    t0 = time.perf_counter()
    outputs = [models(item) for item in items]  # both models
    both = time.perf_counter() - t0
    copy = store_path.parent / "write_probe.zarr"  # chunks rewritten with the same data
    shutil.copytree(store_path, copy)
    target = FeatureStore.open(copy, mode="r+")
    writer = ChunkWriter(target, range(len(target.chunk_ranges())), models.extractor.spec.feature_dim,
                         models.recognizer.spec.feature_dim, models.num_logit_classes)
    t0 = time.perf_counter()
    for row, out in enumerate(outputs):
        writer.add(row, out)
    write = time.perf_counter() - t0
    n = len(paths)
    return {"decode": decode / n, "light": light / n, "recognizer": max(both - light, 0.0) / n, "write": write / n}


def projection(costs: dict[str, float], frames: int, videos: int, gpu_fps: float, cpus_per_gpu: int,
               workers: list[int]) -> list[dict]:
    """Returns hours for ``videos`` on N GPU workers (each with ``cpus_per_gpu`` decode CPUs; the slowest
    stage bounds a streaming pipeline) and on N CPU workers like this machine's one process (each decodes
    and runs both models, as measured); the driver's chunk writes bound both."""
    rows = []
    model_gpu = 2 * frames / gpu_fps  # both models see the T frames of a video
    model_cpu = costs["light"] + costs["recognizer"]
    for n in workers:
        gpu = max(costs["decode"] / (n * cpus_per_gpu), model_gpu / n, costs["write"])
        cpu = max((costs["decode"] + model_cpu) / n, costs["write"])  # a CPU worker decodes and runs the models
        rows.append({"workers": n, "GPU workers: hours": videos * gpu / 3600,
                     "GPU bound by": ("decode" if gpu == costs["decode"] / (n * cpus_per_gpu) else
                                      "models" if gpu == model_gpu / n else "write"),
                     "CPU workers (as measured here): hours": videos * cpu / 3600})
    return rows


def ablation_scaling(work: Path, entries: int, videos: int, epochs: int) -> list[dict]:
    """Returns the wall seconds of one ablation grid run serially (all cores to one entry at a time)
    and with 2 jobs (one core each), on a planted store of real feature widths; tables checked equal
    at equal threads (serial with --threads 1 vs 2 jobs)."""
    import dataclasses

    from nsnet.sampler.ablate import ablate
    from nsnet.toys.planted import PlantedSpec, planted_saliency_arrays, write_store

    spec = PlantedSpec(num_videos=videos, num_classes=8, num_frames=50, light_dim=1280, rec_dim=1280)
    store = write_store(work / "planted.zarr", {"train": planted_saliency_arrays(spec, "train")[0],
                                                "val": planted_saliency_arrays(dataclasses.replace(spec, seed=1),
                                                                               "val")[0]})
    common = {"epochs": epochs, "width": 128, "device": "cpu"}
    grid = work / "grid.json"
    grid.write_text(json.dumps([{"name": f"e{i}", **common, "seed": i} for i in range(entries)]))
    rows, tables = [], {}
    for label, kwargs in (("serial, all cores", {}), ("serial, 1 thread", {"threads": 1}),
                          ("2 jobs x 1 thread", {"jobs": 2, "threads": 1})):
        out = work / label.replace(" ", "_").replace(",", "")
        t0 = time.perf_counter()
        ablate(store.path, grid, out, progress=False, **kwargs)
        seconds = time.perf_counter() - t0
        tables[label] = [{k: v for k, v in r.items() if k != "train_s"}
                         for r in csv.DictReader(open(out / "ablation.csv"))]
        rows.append({"ablate": label, "seconds": seconds, "entries": entries})
    same = tables["serial, 1 thread"] == tables["2 jobs x 1 thread"]
    for row in rows:
        row["speed-up vs serial, all cores"] = ratio(rows[0]["seconds"], row["seconds"])
        row["table == serial, 1 thread"] = same if row["ablate"] != "serial, all cores" else None
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--src", type=Path, default=REPO.parent / "shared" / "data" / "fight-surv")
    p.add_argument("--videos", type=int, default=64)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--chunk-videos", type=int, default=32)
    p.add_argument("--project-videos", type=int, default=100_000)
    p.add_argument("--gpu-frames-per-s", type=float, default=2000.0,
                   help="ASSUMED frames/s of one GPU for both models (not measured here)")
    p.add_argument("--cpus-per-gpu", type=int, default=8)
    p.add_argument("--ablation-entries", type=int, default=4)
    p.add_argument("--ablation-videos", type=int, default=400)
    p.add_argument("--ablation-epochs", type=int, default=5)
    p.add_argument("--tmp", default=tempfile.gettempdir())
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(dir=args.tmp, prefix="bench_scale_"))
    ann = write_annotations(args.src, work, args.videos)
    common = ["--frames", str(args.frames), "--extractor-size", "112", "--batch-size", "64",
              "--chunk-videos", str(args.chunk_videos), "--device", "cpu", "-q"]
    cfg = ExtractConfig(annotations=ann, out=work / "one.zarr", frames=args.frames, extractor_size=112,
                        batch_size=64, chunk_videos=args.chunk_videos, workers=1, device="cpu", quiet=True)
    cli = [sys.executable, "-m", "nsnet.cli", "extract", str(ann)]
    t = {"local, 1 process": timed_cli([*cli, "--out", str(work / "one.zarr"), "--workers", "1", *common])}
    t["local, 2 torchrun ranks"] = timed_cli([sys.executable, "-m", "torch.distributed.run", "--standalone",
                                              "--nproc-per-node", "2", "-m", "nsnet.cli", "extract", str(ann),
                                              "--out", str(work / "ranks.zarr"), "--workers", "0", *common])
    import ray

    from nsnet.extract.ray_engine import extract_with_ray

    t0 = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    ray_start = time.perf_counter() - t0
    for actors in (1, 2):
        t0 = time.perf_counter()
        extract_with_ray(replace(cfg, out=work / f"ray{actors}.zarr"), actors=actors)
        t[f"ray, {actors} model actor{'s' if actors > 1 else ''}"] = time.perf_counter() - t0
    ray.shutdown()
    equal = {k: same_store(work / "one.zarr", work / name) for k, name in
             (("local, 2 torchrun ranks", "ranks.zarr"), ("ray, 1 model actor", "ray1.zarr"),
              ("ray, 2 model actors", "ray2.zarr"))}
    base = t["local, 1 process"]
    rows = [{"engine": k, "seconds": v, "videos/s": args.videos / v, "speed-up vs 1 process": ratio(base, v),
             "store == 1 process": equal.get(k, True)} for k, v in t.items()]
    title = (f"Extraction of {args.videos} real clips (T = {args.frames}, MobileNetV2 @ 112 + Lite0), "
             f"{os.cpu_count()} CPUs; Ray cluster start {ray_start:.1f} s not included")
    print_table(rows, title)
    print_line(f"scaling 1 -> 2 model actors (ray): {ratio(t['ray, 1 model actor'], t['ray, 2 model actors']):.2f}x; "
               f"1 -> 2 ranks (torchrun): {ratio(base, t['local, 2 torchrun ranks']):.2f}x")
    costs = stage_costs(replace(cfg, out=work / "one.zarr"), work / "one.zarr")
    print_table([{"stage": k, "ms per video": 1000 * v} for k, v in costs.items()], "Per-stage cost, one CPU process")
    proj = projection(costs, args.frames, args.project_videos, args.gpu_frames_per_s, args.cpus_per_gpu,
                      [1, 4, 16, 64])
    print_table(proj, f"Projection: {args.project_videos:,} videos at T = {args.frames}; GPU model throughput "
                      f"ASSUMED {args.gpu_frames_per_s:.0f} frames/s, {args.cpus_per_gpu} decode CPUs per GPU")
    abl = ablation_scaling(work, args.ablation_entries, args.ablation_videos, args.ablation_epochs)
    print_table(abl, f"nsnet ablate: {args.ablation_entries} NSNet entries ({args.ablation_epochs} epochs, width 128) on "
                     f"a planted store of {args.ablation_videos} + {args.ablation_videos} videos x 50 frames x 1280-d")
    print_line(f"machine: {machine()}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "command": "python " + " ".join(sys.argv), "machine": machine(), "ray_start_s": ray_start,
            "settings": {k: str(v) for k, v in vars(args).items()}, "extraction": rows,
            "stage_seconds_per_video": costs, "projection": proj, "ablation": abl,
            "projection_assumptions": {"gpu_frames_per_s": args.gpu_frames_per_s, "measured": False,
                                       "cpus_per_gpu": args.cpus_per_gpu}}, indent=2))


if __name__ == "__main__":
    main()
