"""End-to-end latency (batch 1) and throughput (batch 32) from the video file: NSNet (K of T) vs
uniform (K) vs dense (T) -- the analogue of the paper's Table 5, in one run.

Setup (as ``bench_evaluate.py``): a small store of real clips (seeded sample of the Surveillance
Camera Fight dataset) is extracted in a temporary directory, the recognizer head fitted and an
NSNet sampler (paper defaults: width 512, 2 layers, 8 heads) trained, so the models are the ones
`nsnet predict` rebuilds. Then :class:`nsnet.evaluate.predict.VideoPipeline` runs from the mp4:

* ``nsnet``: decode the T planned frames, light extractor on T, sampler network, recognizer on K;
* ``uniform``: decode only the K uniform frames, recognizer on K;
* ``dense``: decode T frames, recognizer on T.

Latency = median wall time per video at batch 1 (decoding in-process) over ``--latency-videos``
videos after one warm-up; throughput = videos/s for one batch of ``--batch`` videos (decoding in
``--workers`` DataLoader workers). Targets: NSNet >= 4x faster than dense; the sampler network's
forward <= 5 % of the recognizer's time on its K frames.

Usage: ``python benchmarks/bench_latency.py [--clips 32] [--frames 50] [--k 5]
[--recognizer tf_efficientnet_lite0] [--batch 32] [--workers 1]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
from pathlib import Path

from _common import SHARED_DATA, ensure_repo_on_path, machine, print_line, print_table, ratio

ensure_repo_on_path()

import nsnet._compat  # noqa: E402,F401  (before timm)

from bench_evaluate import pick_clips, prepare  # noqa: E402
from nsnet.evaluate.costs import measure_costs  # noqa: E402
from nsnet.evaluate.methods import method_spec  # noqa: E402
from nsnet.evaluate.predict import VideoPipeline  # noqa: E402

METHODS = ("nsnet", "uniform", "dense")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=SHARED_DATA / "fight-surv")
    p.add_argument("--clips", type=int, default=32, help="Clips for the throughput batch (the store uses 6).")
    p.add_argument("--store-clips", type=int, default=6)
    p.add_argument("--latency-videos", type=int, default=4)
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--recognizer", default="tf_efficientnet_lite0")
    p.add_argument("--extractor-size", type=int, default=112)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=None, help="Keep the store here (default: a temp dir, removed).")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()

    print_line(f"machine: {machine()}")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_latency_"))
    try:
        clips = pick_clips(args.data, max(args.clips, args.store_clips), args.seed)
        store_clips = clips[: args.store_clips // 2] + clips[-(args.store_clips - args.store_clips // 2):]
        setup = prepare(work, store_clips, args.frames, args.recognizer, args.extractor_size)
        pipe = VideoPipeline.from_run(setup.run, setup.store, device="cpu")
        costs = measure_costs(pipe.store.recognizer_spec, pipe.store.extractor_spec, pipe.store.num_classes,
                              {"nsnet": pipe.run}, pipe.T, pipe.run.model.cfg.in_dim, recognizer=pipe.recognizer)
        lat_videos = [str(c) for c in clips[: args.latency_videos]]
        batch_videos = [str(c) for c in clips[: args.batch]]
        rows, parts = [], {}
        for method in METHODS:
            pipe.predict(lat_videos[0], args.k, method)  # warm-up
            preds = [pipe.predict(v, args.k, method) for v in lat_videos]
            med = {key: statistics.median(pr.seconds[key] for pr in preds)
                   for key in ("total", "decode", "light", "sampler", "recognizer")}
            parts[method] = med
            batch = pipe.predict_batch(batch_videos, args.k, method, workers=args.workers)
            throughput = len(batch_videos) / batch[0].seconds["total"]
            k = pipe.T if method == "dense" else args.k
            rows.append({"method": method, "frames to recognizer": k, "latency ms (bs=1)": 1000 * med["total"],
                         "decode ms": 1000 * med["decode"], "light ms": 1000 * med["light"],
                         "sampler ms": 1000 * med["sampler"], "recognizer ms": 1000 * med["recognizer"],
                         f"videos/s (bs={len(batch_videos)})": throughput,
                         "GFLOPs": costs.per_video(method_spec(method), k, pipe.T)})
        print_table(rows, title=f"end to end from the mp4, T={pipe.T}, K={args.k}, {args.recognizer} recognizer, "
                                f"mobilenetv2_100@{args.extractor_size} light extractor")
        speed = ratio(parts["dense"]["total"], parts["nsnet"]["total"])
        tp = {r["method"]: r[f"videos/s (bs={len(batch_videos)})"] for r in rows}
        share = ratio(parts["nsnet"]["sampler"], parts["nsnet"]["recognizer"])
        print_line(f"NSNet vs dense: {speed:.2f}x lower latency, {ratio(tp['nsnet'], tp['dense']):.2f}x throughput "
                   f"(target >= 4x); vs uniform: {ratio(parts['uniform']['total'], parts['nsnet']['total']):.2f}x latency")
        print_line(f"sampler network forward = {100 * share:.1f} % of the recognizer's time on its {args.k} frames "
                   f"(target <= 5 %); light extractor on T = {1000 * parts['nsnet']['light']:.0f} ms")
        if args.json:
            args.json.write_text(json.dumps({"rows": rows, "parts": parts, "speedup_vs_dense": speed,
                                             "sampler_share": share, "machine": machine()}, indent=2))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
