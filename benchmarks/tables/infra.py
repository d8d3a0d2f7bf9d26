"""Tables of the infrastructure benchmarks: exact decoding (``decode_bench.json``,
``decode_unchanged.json``), stores at a URL (``store_url.json``), extraction scaling (``scale.json``)."""

from __future__ import annotations

from typing import Any

from benchmarks.tables.stats import Results, table


def _num(v: Any, prec: int) -> str:
    return "" if v is None else f"{v:.{prec}f}"


def decode_speed(res: Results) -> str:
    """Returns the decode-alone table (frames per CPU-second per backend, wrong frames)."""
    out = []
    for r in res["decode_bench"]["decode"]:
        wrong = str(r["wrong frames"]) + (f" (+ {r['failed videos']} unreadable)" if r.get("failed videos") else "")
        out.append([r["set"], str(r["T"]), str(r["videos"]), r["backend"], f"{r['frames/CPU-s']:.0f}",
                    f"{r['x decord']:.2f}", wrong])
    return table(["set", "T", "videos", "backend", "frames / CPU-s", "x decord", "wrong frames"], "lrrlrrr", out)


def decode_extract(res: Results) -> str:
    """Returns the end-to-end extract table (CPU / wall seconds, freezing, speed vs today)."""
    out = [[r["variant"], f"{r['CPU s']:.1f}", f"{r['wall s']:.1f}", f"{r['of it freezing CPU s']:.2f}",
            f"{r['videos/CPU-s']:.3f}", f"{r['x today']:.2f}", f"{r['x today, minus freezing']:.2f}"]
           for r in res["decode_bench"]["extract"]]
    return table(["variant", "CPU s", "wall s", "of it freezing CPU s", "videos / CPU-s", "x today",
                  "x today minus freezing"], "lrrrrrr", out)


def decode_jit(res: Results) -> str:
    """Returns the eager vs frozen inference table."""
    out = [[r["model"], f"{r['eager CPU ms']:.0f}", f"{r['frozen CPU ms']:.0f}", f"{r['x eager']:.2f}",
            f"{r['max |diff|']:.1e}"] for r in res["decode_bench"]["jit"]]
    return table(["model", "eager CPU ms", "frozen CPU ms", "x eager", "max abs diff"], "lrrrr", out)


def decode_unchanged(res: Results) -> str:
    """Returns the frames-unchanged table (default decoder vs decord) per set and T."""
    out = [[r["set"], str(r["T"]), str(r["videos"]), str(r["frames"]), str(r["count differs"]),
            str(r["differing frames"]), f"{r['max |diff|']:g}"] for r in res["decode_unchanged"]["sets"]]
    return table(["set", "T", "videos", "frames", "frame count differs from decord's", "differing frames",
                  "max abs diff"], "lrrrrrr", out)


def store_url(res: Results) -> str:
    """Returns the local vs S3 store table (seconds, ratio, MB/s)."""
    out = [[r["operation"], f"{r['local s']:.4f}", f"{r['s3 s']:.3f}", f"{r['s3 / local']:.1f}",
            _num(r["local MB/s"], 0), _num(r["s3 MB/s"], 0)] for r in res["store_url"]["rows"]]
    return table(["operation", "local s", "s3 s", "s3 / local", "local MB/s", "s3 MB/s"], "lrrrrr", out)


def scale_extraction(res: Results) -> str:
    """Returns the extraction-engines table (seconds, videos/s, speed-up, store equality)."""
    out = [[r["engine"], f"{r['seconds']:.1f}", f"{r['videos/s']:.2f}", f"{r['speed-up vs 1 process']:.2f}",
            "yes" if r["store == 1 process"] else "no"] for r in res["scale"]["extraction"]]
    return table(["engine", "seconds", "videos / s", "x 1 process", "store == 1 process"], "lrrrl", out)


def scale_stages(res: Results) -> str:
    """Returns the per-stage cost of one video (ms)."""
    out = [[k, f"{1000 * v:.1f}" if v < 0.01 else f"{1000 * v:.0f}"]
           for k, v in res["scale"]["stage_seconds_per_video"].items()]
    return table(["stage", "ms per video"], "lr", out)


def scale_projection(res: Results) -> str:
    """Returns the 100k-video projection table (hours for GPU and CPU workers)."""
    def hours(h: float) -> str:
        return f"{h:.2f}" if h >= 0.1 else f"{h:.3f}"

    out = [[str(r["workers"]), hours(r["GPU workers: hours"]), r["GPU bound by"],
            hours(r["CPU workers (as measured here): hours"])] for r in res["scale"]["projection"]]
    return table(["workers", "GPU workers: hours", "GPU bound by", "CPU workers: hours"], "rrlr", out)
