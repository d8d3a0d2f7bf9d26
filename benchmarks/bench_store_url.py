"""A store at an S3 URL vs the same store in a local folder: write, full read and random read, one run.

The S3 endpoint is moto's server started by this script on 127.0.0.1 (real HTTP through s3fs and
zarr's FsspecStore; moto keeps objects in its own process's memory). So the ratio is the software
and loopback-HTTP overhead of object storage, *not* the network latency of a cloud bucket: a real
bucket adds its round-trip time per request (zarr reads the touched chunks concurrently, which hides
much of it for whole-array reads).

Data: N videos x T frames x D features, float16, random (default 512 x 50 x 1280 = 64 MB), in
stores of ``--chunk-videos`` videos per chunk, written chunk by chunk through the real
:meth:`nsnet.store.FeatureStore.write_chunk` (data first, ``done`` last). Local and S3 are timed
alternately (local, s3, local, s3, ...), medians of ``--repeats``; ratio = S3 time / local time.

Usage: ``python benchmarks/bench_store_url.py [--videos 512] [--frames 50] [--dim 1280] [--repeats 3]
[--json benchmarks/results/store_url.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import numpy as np

from _common import ensure_repo_on_path, machine, print_line, print_table, ratio

ensure_repo_on_path()

import zarr  # noqa: E402

from nsnet.store import FeatureStore, StoreLocation  # noqa: E402
from nsnet.store import schema as S  # noqa: E402

BUCKET = "nsnet-bench"


def start_s3() -> tuple[subprocess.Popen, str]:
    """Starts moto's S3 server on a free loopback port with bucket BUCKET; returns (process, endpoint)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_DEFAULT_REGION": "us-east-1"}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("moto's S3 server did not start within 30 s")
            time.sleep(0.2)
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")}, AWS_ENDPOINT_URL=endpoint)
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    return proc, endpoint


def create_store(where: str, shape: tuple[int, int, int], chunk_videos: int) -> FeatureStore:
    """Returns a minimal store (features + done) at a folder or URL, with FeatureStore's array settings."""
    n = shape[0]
    location = StoreLocation.parse(where)
    group = zarr.open_group(store=location.zarr_store(read_only=False), mode="w-", attributes={
        "schema_version": S.SCHEMA_VERSION, "num_videos": n, "chunk_videos": chunk_videos})
    group.create_array(S.LIGHT_FEATURES, shape=shape, chunks=(chunk_videos,) + shape[1:], dtype="float16",
                       compressors=None, fill_value=0)
    group.create_array(S.DONE, shape=(n,), chunks=(chunk_videos,), dtype="bool", fill_value=False)
    return FeatureStore(location, group)


def alternate(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Returns the median seconds of each function, timed in turns (a, b, a, b, ...)."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--videos", type=int, default=512)
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--dim", type=int, default=1280)
    p.add_argument("--chunk-videos", type=int, default=32)
    p.add_argument("--batch", type=int, default=64, help="videos per random read")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--tmp", default=tempfile.gettempdir())
    p.add_argument("--json", type=Path, default=None, help="write the table and the settings here")
    args = p.parse_args()

    shape = (args.videos, args.frames, args.dim)
    data = np.random.default_rng(0).standard_normal(shape, dtype=np.float32).astype(np.float16)
    proc, endpoint = start_s3()
    try:
        tmp = Path(tempfile.mkdtemp(dir=args.tmp, prefix="bench_store_url_"))
        stores: dict[str, list[FeatureStore]] = {"local": [], "s3": []}

        def writer(kind: str) -> Callable[[], None]:
            def write() -> None:
                name = uuid.uuid4().hex
                where = str(tmp / f"{name}.zarr") if kind == "local" else f"s3://{BUCKET}/{name}.zarr"
                store = create_store(where, shape, args.chunk_videos)
                for cid, (lo, hi) in enumerate(store.chunk_ranges()):
                    store.write_chunk(cid, {S.LIGHT_FEATURES: data[lo:hi]})
                stores[kind].append(store)
            return write

        write = alternate({"local": writer("local"), "s3": writer("s3")}, args.repeats)
        readers = {k: FeatureStore.open(v[-1].path) for k, v in stores.items()}
        for kind, store in readers.items():  # the written data reads back identical
            assert np.array_equal(store.read(S.LIGHT_FEATURES), data), kind
        full = alternate({k: (lambda s=s: s.read(S.LIGHT_FEATURES)) for k, s in readers.items()}, args.repeats)
        rng = np.random.default_rng(1)
        draws = [np.sort(rng.choice(args.videos, args.batch, replace=False)) for _ in range(args.repeats)]
        rand = alternate({k: (lambda s=s: [s.read(S.LIGHT_FEATURES, d) for d in draws])
                          for k, s in readers.items()}, args.repeats)
        opened = alternate({k: (lambda s=s: FeatureStore.open(s.path)) for k, s in readers.items()}, args.repeats)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    mb = data.nbytes / 1e6
    rows = []
    for op, t in (("open", opened), ("write (create + every chunk)", write), ("full read", full),
                  (f"random read ({args.repeats} x {args.batch} videos)", rand)):
        rows.append({"operation": op, "local s": t["local"], "s3 s": t["s3"], "s3 / local": ratio(t["s3"], t["local"]),
                     "local MB/s": mb / t["local"] if op.startswith(("write", "full")) else None,
                     "s3 MB/s": mb / t["s3"] if op.startswith(("write", "full")) else None})
    title = (f"Store at s3:// (moto on 127.0.0.1) vs local folder: {args.videos} x {args.frames} x {args.dim} fp16 "
             f"({mb:.0f} MB), {args.chunk_videos} videos per chunk, median of {args.repeats}")
    print_table(rows, title)
    print_line(f"machine: {machine()}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"command": "python " + " ".join(sys.argv), "machine": machine(),
                                         "settings": vars(args) | {"json": str(args.json), "MB": mb},
                                         "rows": rows}, indent=2, default=str))


if __name__ == "__main__":
    main()
