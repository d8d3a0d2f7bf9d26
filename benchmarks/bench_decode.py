"""Decoders side by side, in one run (issue 17): speed and exactness of each backend, end-to-end
extraction with the default decoder vs today's decord path, and frozen vs eager inference.

1. **decode**: frames per CPU second of each backend (``pyav``, the default ``auto``; ``decord``'s raw
   ``get_batch``; ``torchcodec`` where it loads) decoding the T planned frames of each video at the
   extraction's decode short side, on the decode corpus (tests/decode_corpus.py, built in a temp
   folder) and on real fight clips, at T = 16 and 50. Timings are CPU seconds of this process (the
   machine is shared: wall time swings 2x with other jobs, CPU time much less), median of
   ``--repeats`` passes, the backends interleaved pass by pass. ``wrong`` counts frames that differ from a
   sequential decode of the same file (the reference; decord runs unchecked here so that its
   wrong frames show).
2. **extract**: ``nsnet extract`` (the library call) on ``--extract-clips`` H.264 fight clips with
   (a) today's path: ``--decoder decord --no-jit``, (b) ``--decoder auto --no-jit``, (c) the
   default ``--decoder auto`` with frozen inference; median of ``--repeats`` whole calls each,
   interleaved (model building included; random-init weights, same cost). Throughput is videos per
   CPU second (this process + its DataLoader workers), the ratio is over (a); wall seconds are shown
   too. Target >= 0.9 for (b) and (c). Tracing + freezing the two models is a one-off cost per call (seconds),
   measured inside the call and also shown subtracted (what a long extraction approaches).
3. **jit**: MobileNetV2 @ 112 and EfficientNet-Lite0 @ 224 on 50 frames, eager vs frozen (median
   of 5 interleaved forwards, CPU time of this process's threads) and max |frozen - eager|.

Usage: ``python benchmarks/bench_decode.py [--data ../shared/data/fight-surv] [--clips 24]
[--extract-clips 12] [--repeats 3] [--json benchmarks/results/decode_bench.json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from _common import REPO, SHARED_DATA, ensure_repo_on_path, machine, print_line, print_table, ratio

ensure_repo_on_path()
sys.path.insert(0, str(REPO / "tests"))  # the decode corpus builder lives with the tests

import nsnet.extract.pipeline as pipeline  # noqa: E402  (first: it sets the OpenMP defaults)
import torch  # noqa: E402

from bench_extract import cpu_seconds, pick_clips, write_csv  # noqa: E402
from decode_corpus import build_corpus  # noqa: E402
from nsnet.extract import inference  # noqa: E402
from nsnet.extract.config import ExtractConfig  # noqa: E402
from nsnet.extract.decode.base import InexactDecodeError, VideoReadError, scaled_size  # noqa: E402
from nsnet.extract.decode.decord_backend import DecordBackend  # noqa: E402
from nsnet.extract.decode.index import packet_index  # noqa: E402
from nsnet.extract.decode.policy import get_backend  # noqa: E402
from nsnet.extract.decode.sequential import read_sequential  # noqa: E402
from nsnet.extract.frames import plan_frame_indices  # noqa: E402
from nsnet.extract.models import create_frame_model  # noqa: E402
from nsnet.extract.transforms import FrameTransform, decode_short_side  # noqa: E402

EXTRACTOR, EXTRACTOR_SIZE, RECOGNIZER = "mobilenetv2_100", 112, "tf_efficientnet_lite0"  # bench-real's models


def backends() -> dict[str, Any]:
    """Returns {name: backend} of every backend that loads here (decord unchecked)."""
    out: dict[str, Any] = {"pyav (auto)": get_backend("pyav"), "decord": DecordBackend(checked=False)}
    try:
        out["torchcodec"] = get_backend("torchcodec")
    except Exception as err:  # noqa: BLE001 -- reported, not fatal
        print_line(f"torchcodec: {err}")
    return out


def _plan(path: Path, T: int, short: int) -> tuple[Any, np.ndarray, int, int] | None:
    try:
        info = packet_index(path).info
    except VideoReadError:
        return None
    w, h = scaled_size(info.width, info.height, short)
    return info, np.unique(plan_frame_indices(info.num_frames, T)), w, h


def decode_rows(videos: list[Path], T: int, short: int, named: dict[str, Any], repeats: int, label: str
                ) -> list[dict[str, Any]]:
    """Returns one row per backend: frames per CPU second over ``videos`` and frames that differ from a sequential decode."""
    plans = [(p, plan) for p in videos if (plan := _plan(p, T, short)) is not None]
    reference = {}
    for p, (info, idx, w, h) in plans:
        try:
            reference[p] = read_sequential(p, idx, w, h, info)
        except VideoReadError:
            pass  # undecodable: no backend is scored on it
    plans = [(p, plan) for p, plan in plans if p in reference]
    times: dict[str, list[float]] = {n: [] for n in named}
    wrong = {n: 0 for n in named}
    failed = {n: 0 for n in named}
    for rep in range(repeats):
        for name, backend in named.items():
            start = time.process_time()
            for p, (info, idx, w, h) in plans:
                try:
                    got = backend.read(p, idx, w, h, info)
                except (InexactDecodeError, VideoReadError):
                    failed[name] += rep == 0
                    continue
                if rep == 0:
                    wrong[name] += int(sum(not np.array_equal(g, r) for g, r in zip(got, reference[p])))
            times[name].append(time.process_time() - start)
    frames = sum(len(plan[1]) for _, plan in plans)
    base = frames / statistics.median(times["decord"])
    return [{"set": label, "T": T, "videos": len(plans), "backend": n, "frames/CPU-s": frames / statistics.median(t),
             "x decord": ratio(frames / statistics.median(t), base), "wrong frames": wrong[n], "failed videos": failed[n]}
            for n, t in times.items()]


def extract_rows(clips: list[Path], T: int, repeats: int, workers: int, batch: int) -> list[dict[str, Any]]:
    """Returns one row per extraction variant: median CPU and wall seconds of a whole call, videos per
    CPU second and its ratio over today's path (decord, eager)."""
    variants = [("today: decord, eager", "decord", False), ("auto, eager", "auto", False),
                ("auto + frozen (default)", "auto", True)]
    runs: dict[str, list[tuple[float, float, float]]] = {v[0]: [] for v in variants}
    freeze_s = [0.0]
    untimed = inference._freeze

    def timed_freeze(module: Any, x: Any) -> Any:  # CPU seconds of the one-off tracing inside each call
        start = time.process_time()
        try:
            return untimed(module, x)
        finally:
            freeze_s[0] += time.process_time() - start

    inference._freeze = timed_freeze
    with tempfile.TemporaryDirectory(prefix="bench_decode_") as tmp:
        write_csv(clips, Path(tmp) / "clips.csv")
        for rep in range(repeats):
            for label, decoder, jit in variants:
                inference.use_jit(jit)
                cfg = ExtractConfig(annotations=Path(tmp) / "clips.csv", out=Path(tmp) / f"s{rep}{decoder}{jit}",
                                    format="csv", frames=T, extractor=EXTRACTOR, extractor_size=EXTRACTOR_SIZE,
                                    recognizer=RECOGNIZER, weights="none", recognizer_weights="none", batch_size=batch, workers=workers, device="cpu",
                                    quiet=True, decoder=decoder, command="bench_decode")
                freeze_s[0], start, cpu = 0.0, time.perf_counter(), cpu_seconds()
                store = pipeline.extract(cfg)
                runs[label].append((cpu_seconds() - cpu, time.perf_counter() - start, freeze_s[0]))
                if store.status_counts()["done"] != len(clips):
                    raise SystemExit(f"{label}: {store.status_counts()}")
    inference.use_jit(True)
    inference._freeze = untimed
    n = len(clips)
    med = {k: [statistics.median(col) for col in zip(*r)] for k, r in runs.items()}
    base = n / med[variants[0][0]][0]
    return [{"variant": k, "CPU s": cpu, "wall s": wall, "of it freezing CPU s": fr, "videos/CPU-s": n / cpu,
             "x today": ratio(n / cpu, base), "x today, minus freezing": ratio(n / (cpu - fr), base)}
            for k, (cpu, wall, fr) in med.items()]


def jit_rows() -> list[dict[str, Any]]:
    """Returns eager vs frozen forward times on 50 frames for the two default models."""
    rows = []
    for name, size in ((EXTRACTOR, 112), (RECOGNIZER, 224)):
        model = create_frame_model(name, "none", input_size=size, resize_short=size).eval()
        x = torch.randn(50, 3, size, size).contiguous(memory_format=torch.channels_last)
        times: dict[bool, list[float]] = {False: [], True: []}
        outs = {}
        for rep in range(6):
            for jit in (False, True):
                inference.use_jit(jit)
                with torch.inference_mode():
                    start = time.process_time()
                    outs[jit] = model(x)[0]
                    if rep:  # the first pass builds the trace / kernels
                        times[jit].append(time.process_time() - start)
        inference.use_jit(True)
        eager, frozen = statistics.median(times[False]), statistics.median(times[True])
        rows.append({"model": f"{name} @ {size}, 50 frames", "eager CPU ms": 1000 * eager, "frozen CPU ms": 1000 * frozen,
                     "x eager": ratio(eager, frozen), "max |diff|": float((outs[True] - outs[False]).abs().max())})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=SHARED_DATA / "fight-surv")
    p.add_argument("--clips", type=int, default=24)
    p.add_argument("--extract-clips", type=int, default=12)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    light = FrameTransform.from_spec(asdict(create_frame_model(EXTRACTOR, "none", input_size=EXTRACTOR_SIZE,
                                                               resize_short=EXTRACTOR_SIZE).spec))
    rec = FrameTransform.from_spec(asdict(create_frame_model(RECOGNIZER, "none").spec))
    short = decode_short_side(light, rec)
    print_line(f"machine: {machine()}; decode short side {short} ({EXTRACTOR} @ {EXTRACTOR_SIZE} + {RECOGNIZER})")
    named = backends()
    clips = pick_clips(args.data.resolve(), args.clips, 0)
    with tempfile.TemporaryDirectory(prefix="decode_corpus_") as tmp:
        corpus = sorted(build_corpus(Path(tmp)).values())
        decode = [row for T in (16, 50) for row in
                  decode_rows(corpus, T, short, named, args.repeats, "corpus")
                  + decode_rows(clips, T, short, named, args.repeats, "fight clips")]
    print_table(decode, "Decode: frames per CPU second of each backend (median of passes), frames unlike a sequential decode")
    ext = extract_rows(pick_clips(args.data.resolve(), args.extract_clips, 1), 50, args.repeats, args.workers,
                       args.batch_size)
    print_table(ext, f"nsnet extract on {args.extract_clips} H.264 fight clips, T=50 (median of {args.repeats} calls)")
    jit = jit_rows()
    print_table(jit, "Frozen (torch.jit.freeze) vs eager forward")
    print_line(f"extract, default / today = {ext[2]['x today']:.2f} ({ext[2]['x today, minus freezing']:.2f} minus the "
               f"one-off freezing); auto (eager) / today = {ext[1]['x today']:.2f}; "
               f"target >= 0.9 -> {'MET' if min(ext[1]['x today'], ext[2]['x today']) >= 0.9 else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps({"command": "python " + " ".join(sys.argv), "machine": machine(),
                                         "short_side": short, "decode": decode, "extract": ext, "jit": jit},
                                        indent=2) + "\n")
        print_line(f"wrote {args.json}")


if __name__ == "__main__":
    main()
