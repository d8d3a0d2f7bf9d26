"""Feature-store layout benchmark: Zarr v3 chunkings (with/without shards, compressor) vs a raw .npy memmap.

Data: N videos x T frames x D features, float16, random (default 2,000 x 50 x 1280 = 256 MB). For
every Zarr layout and for the memmap, in one run:

* **write**: whole extraction units (one chunk, or one shard when sharded) written one after the
  other through the real :meth:`nsnet.store.FeatureStore.write_chunk` (data first, ``done`` last);
  the memmap gets the same blocks and a flush. Writes go to the page cache (no fsync), as extraction's do.
* **sequential read**: the whole array into memory (zarr ``arr[:]``; memmap ``np.array(mm)``).
* **random read**: 64 random videos (sorted indices; the same draws for every format), through
  :meth:`FeatureStore.read` (one read per touched chunk, what the code base does) and through
  zarr's ``arr.oindex[idx]`` (one call, zarr reads the touched chunks concurrently); memmap ``mm[idx]``.

The memmap is opened afresh (``np.load(mmap_mode="r")``) for every read, as a reader process would
and as zarr re-reads its chunk files on every access; nothing is cached between reads except by the OS.

Page cache: every file is read once before timing (warm-up), so all numbers are *warm* (files in
the OS page cache) for every format alike; the benchmark measures the store's software overhead,
not the disk. The memmap baseline is re-timed alternately with each Zarr layout (m, z, m, z, ...)
and each ratio uses those neighbouring memmap timings, so load drift from other processes cancels.
Ratios are ``memmap time / zarr time`` (1.0 = as fast as the memmap; target >= 0.8).

Usage: ``python benchmarks/bench_store.py [--videos 2000] [--frames 50] [--dim 1280] [--repeats 3] [--draws 10]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from _common import ensure_repo_on_path, machine, print_line, print_table, ratio

ensure_repo_on_path()

import zarr  # noqa: E402
from zarr.codecs import BloscCodec, ZstdCodec  # noqa: E402

from nsnet.store import DEFAULT_CHUNK_VIDEOS, FeatureStore  # noqa: E402
from nsnet.store import schema as S  # noqa: E402


@dataclass(frozen=True)
class Layout:
    """One Zarr layout of the [N, T, D] feature array."""

    name: str
    chunk: int  # videos per (inner) chunk
    shard: int | None = None  # videos per shard (the write unit) or None
    compressor: str | None = None  # None, "zstd" (zarr's default codec) or "blosc-lz4"

    @property
    def unit(self) -> int:
        """Returns the videos a writer owns at a time: the shard if sharded, else the chunk."""
        return self.shard or self.chunk


LAYOUTS = [
    Layout("chunk 1", 1),
    Layout("chunk 8", 8),
    Layout("chunk 16", 16),
    Layout("chunk 32", 32),
    Layout("chunk 64", 64),
    Layout("chunk 64 + zstd", 64, compressor="zstd"),
    Layout("chunk 64 + blosc-lz4", 64, compressor="blosc-lz4"),
    Layout("shard 64 / chunk 1", 1, 64),
    Layout("shard 64 / chunk 8", 8, 64),
]


def _compressors(name: str | None) -> Any:
    if name is None:
        return None
    if name == "zstd":
        return ZstdCodec(level=0)
    if name == "blosc-lz4":
        return BloscCodec(cname="lz4", clevel=1, shuffle="shuffle", typesize=2)
    raise ValueError(f"unknown compressor {name!r}")


def make_data(n: int, t: int, d: int, seed: int) -> np.ndarray:
    """Returns random float16 features [n, t, d] (made in blocks to bound memory)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, t, d), np.float16)
    for lo in range(0, n, 256):
        out[lo : lo + 256] = rng.standard_normal((min(256, n - lo), t, d), dtype=np.float32)
    return out


def create_zarr(path: Path, layout: Layout, shape: tuple[int, int, int]) -> FeatureStore:
    """Returns a minimal FeatureStore (features + done arrays) with ``layout``'s array settings.

    The feature array is created like ``FeatureStore.create`` does (float16, fill 0), plus the
    layout's shards/compressor; ``chunk_videos`` is the write unit so ``write_chunk`` writes whole shards.
    """
    n = shape[0]
    group = zarr.open_group(str(path), mode="w-", attributes={
        "schema_version": S.SCHEMA_VERSION, "num_videos": n, "chunk_videos": layout.unit})
    group.create_array(S.LIGHT_FEATURES, shape=shape, chunks=(layout.chunk,) + shape[1:],
                       shards=None if layout.shard is None else (layout.shard,) + shape[1:],
                       dtype="float16", compressors=_compressors(layout.compressor), fill_value=0)
    group.create_array(S.DONE, shape=(n,), chunks=(layout.unit,), dtype="bool", fill_value=False)
    return FeatureStore(path, group)


def write_zarr(store: FeatureStore, data: np.ndarray) -> None:
    """Writes ``data`` unit by unit through FeatureStore.write_chunk."""
    for cid, (lo, hi) in enumerate(store.chunk_ranges()):
        store.write_chunk(cid, {S.LIGHT_FEATURES: data[lo:hi]})


def write_memmap(path: Path, data: np.ndarray, unit: int) -> None:
    """Writes ``data`` to a .npy memmap in blocks of ``unit`` videos, then flushes."""
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=data.dtype, shape=data.shape)
    for lo in range(0, data.shape[0], unit):
        mm[lo : lo + unit] = data[lo : lo + unit]
    mm.flush()
    del mm


def disk_usage(path: Path) -> tuple[float, int]:
    """Returns (MB on disk, number of files) under ``path`` (a file or a directory)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6, len(files)


def alternate(fa: Callable[[], Any], fb: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Returns median seconds of ``fa`` and ``fb`` timed alternately (a, b, a, b, ...) after one warm-up each."""
    fa(), fb()
    ta, tb = [], []
    for _ in range(repeats):
        for f, acc in ((fa, ta), (fb, tb)):
            t0 = time.perf_counter()
            f()
            acc.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--videos", type=int, default=2000)
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--dim", type=int, default=1280)
    p.add_argument("--batch", type=int, default=64, help="videos per random read")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats of each write / full read")
    p.add_argument("--draws", type=int, default=3, help="random index draws per random-read timing")
    p.add_argument("--only", default="", help="comma-separated layout names to run (default: all)")
    p.add_argument("--tmp", default="/tmp")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    shape = (args.videos, args.frames, args.dim)
    mb = np.prod(shape) * 2 / 1e6
    batch_mb = args.batch * args.frames * args.dim * 2 / 1e6
    data = make_data(*shape, seed=args.seed)
    rng = np.random.default_rng(args.seed + 1)
    draws = [np.sort(rng.choice(args.videos, size=args.batch, replace=False)) for _ in range(args.draws)]
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    layouts = [L for L in LAYOUTS if not only or L.name in only]
    print_line(f"machine: {machine()}")
    print_line(f"zarr {zarr.__version__}, numpy {np.__version__}; data {shape} float16 = {mb:.0f} MB; "
               f"random reads of {args.batch} videos ({batch_mb:.1f} MB), {args.draws} draws; warm page cache")

    root = Path(tempfile.mkdtemp(prefix="bench_store_", dir=args.tmp))
    rows: list[dict[str, Any]] = []
    try:
        npy = root / "features.npy"
        write_memmap(npy, data, 64)

        def mm_seq() -> np.ndarray:
            return np.array(np.load(npy, mmap_mode="r"))

        def mm_rand() -> None:
            for idx in draws:
                np.load(npy, mmap_mode="r")[idx]

        for layout in layouts:
            path = root / f"store_{layout.chunk}_{layout.shard}_{layout.compressor}"
            t_wm, t_wz = [], []
            for rep in range(args.repeats):  # alternate memmap and zarr writes, fresh files each time
                shutil.rmtree(path, ignore_errors=True)
                (root / "w.npy").unlink(missing_ok=True)
                t0 = time.perf_counter()
                write_memmap(root / "w.npy", data, layout.unit)
                t_wm.append(time.perf_counter() - t0)
                store = create_zarr(path, layout, shape)
                t0 = time.perf_counter()
                write_zarr(store, data)
                t_wz.append(time.perf_counter() - t0)
            (root / "w.npy").unlink(missing_ok=True)
            store = FeatureStore.open(path)
            arr = store.array(S.LIGHT_FEATURES)
            got = arr[:]
            if not np.array_equal(got, data):
                raise RuntimeError(f"{layout.name}: read-back differs from written data")
            for idx in draws[:2]:
                if not (np.array_equal(store.read(S.LIGHT_FEATURES, idx), data[idx])
                        and np.array_equal(arr.oindex[idx], data[idx])):
                    raise RuntimeError(f"{layout.name}: random read differs")
            size_mb, nfiles = disk_usage(path)

            t_sm, t_sz = alternate(mm_seq, lambda: arr[:], args.repeats)
            t_rm, t_rz = alternate(mm_rand, lambda: [store.read(S.LIGHT_FEATURES, i) for i in draws], args.repeats)
            t_rm2, t_ro = alternate(mm_rand, lambda: [arr.oindex[i] for i in draws], args.repeats)
            w_m, w_z = statistics.median(t_wm), statistics.median(t_wz)
            current = layout.chunk == DEFAULT_CHUNK_VIDEOS and layout.shard is None and layout.compressor is None
            rows.append({
                "layout": layout.name + (" (current default)" if current else ""),
                "write unit": layout.unit,
                "files": nfiles,
                "MB": size_mb,
                "write MB/s": mb / w_z,
                "write x mm": ratio(w_m, w_z),
                "seq MB/s": mb / t_sz,
                "seq x mm": ratio(t_sm, t_sz),
                "rand ms (read)": 1e3 * t_rz / len(draws),
                "rand x mm (read)": ratio(t_rm, t_rz),
                "rand ms (oindex)": 1e3 * t_ro / len(draws),
                "rand x mm (oindex)": ratio(t_rm2, t_ro),
                "_mm": (mb / w_m, mb / t_sm, 1e3 * t_rm / len(draws)),
            })
            print_line(f"  {layout.name}: seq x{rows[-1]['seq x mm']:.2f}, rand(read) x{rows[-1]['rand x mm (read)']:.2f}, "
                       f"rand(oindex) x{rows[-1]['rand x mm (oindex)']:.2f}, write x{rows[-1]['write x mm']:.2f}")
            del store, arr, got
            shutil.rmtree(path, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    mm_w, mm_s, mm_r = (statistics.median(r["_mm"][k] for r in rows) for k in range(3))
    for r in rows:
        r.pop("_mm")
    rows.insert(0, {"layout": "raw .npy memmap (median of its runs)", "write unit": 64, "files": 1, "MB": mb,
                    "write MB/s": mm_w, "write x mm": 1.0, "seq MB/s": mm_s, "seq x mm": 1.0,
                    "rand ms (read)": mm_r, "rand x mm (read)": 1.0, "rand ms (oindex)": mm_r,
                    "rand x mm (oindex)": 1.0})
    print_table(rows, f"Feature store: {shape[0]} x {shape[1]} x {shape[2]} float16, warm page cache "
                      f"(x mm = memmap time / zarr time, measured alternately; target >= 0.8)")
    def worst(r: dict[str, Any]) -> float:  # the weaker of the two read patterns (best random method)
        return min(r["seq x mm"], max(r["rand x mm (read)"], r["rand x mm (oindex)"]))

    ok = [r["layout"] for r in rows[1:] if worst(r) >= 0.8]
    print_line("layouts meeting the target (seq and random >= 0.8 x memmap): " + (", ".join(ok) if ok else "none"))
    best = max(rows[1:], key=worst)
    print_line(f"best for both patterns: {best['layout']} (seq x{best['seq x mm']:.2f}, random "
               f"x{max(best['rand x mm (read)'], best['rand x mm (oindex)']):.2f}); best sequential: "
               f"{max(rows[1:], key=lambda r: r['seq x mm'])['layout']}")


if __name__ == "__main__":
    main()
