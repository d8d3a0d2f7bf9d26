"""Does the default decoder change any frame of the benchmark stores? (issue 17, item 7)

For every video of each named set, decodes the T planned frames (the store's sampling rule) at the
extraction's decode short side twice: with today's default (``--decoder auto``: pyav) and with the
path the stores were made with (decord's ``get_batch``, unchecked), and counts frames that differ
(and their max |diff|), and videos whose frame count (which sets the planned frames) differs from
decord's ``len()``. Zero everywhere means the stores, tables and figures stay as they are.

Usage: ``python benchmarks/check_frames_unchanged.py --set NAME=VIDEO_OR_ANNOTATIONS[,...] ...
[--frames 16,50] [--short-side 256] [--json benchmarks/results/decode_unchanged.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from _common import ensure_repo_on_path, machine, print_line, print_table

ensure_repo_on_path()

from nsnet.extract.decode.base import VideoReadError, scaled_size  # noqa: E402
from nsnet.extract.decode.check import list_videos  # noqa: E402
from nsnet.extract.decode.decord_backend import DecordBackend  # noqa: E402
from nsnet.extract.decode.index import packet_index  # noqa: E402
from nsnet.extract.decode.policy import choose_backend  # noqa: E402
from nsnet.extract.frames import plan_frame_indices  # noqa: E402


def compare(videos: list[Path], T: int, short: int) -> dict:
    """Returns counts for one set: videos, frames compared, frames that differ, max |diff|, failures."""
    decord = DecordBackend(checked=False)
    import decord as decord_lib

    out = {"videos": 0, "frames": 0, "count differs": 0, "differing frames": 0, "videos with a difference": 0,
           "max |diff|": 0, "undecodable": 0, "backends": {}}
    for path in videos:
        try:
            info = packet_index(path).info
            idx = np.unique(plan_frame_indices(info.num_frames, T))
            w, h = scaled_size(info.width, info.height, short)
            backend = choose_backend("auto", info)
            new = backend.read(path, idx, w, h, info)
            old = decord.read(path, idx, w, h, info)
            out["count differs"] += len(decord_lib.VideoReader(str(path), num_threads=1)) != info.num_frames
        except (VideoReadError, decord_lib.DECORDError):
            out["undecodable"] += 1
            continue
        diff = np.abs(new.astype(np.int16) - old.astype(np.int16)).reshape(len(idx), -1).max(1)
        out["videos"] += 1
        out["frames"] += len(idx)
        out["differing frames"] += int((diff > 0).sum())
        out["videos with a difference"] += int((diff > 0).any())
        out["max |diff|"] = max(out["max |diff|"], int(diff.max()))
        key = f"{info.codec}/{backend.name}"
        out["backends"][key] = out["backends"].get(key, 0) + 1
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--set", action="append", required=True, help="NAME=PATH[,PATH...] (videos or annotations)")
    p.add_argument("--frames", default="16,50", help="T values, comma-separated (the benchmarks use 16 and 50)")
    p.add_argument("--short-side", type=int, default=256)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    rows = []
    for spec in args.set:
        name, _, paths = spec.partition("=")
        videos = list_videos([Path(x) for x in paths.split(",") if x])
        for T in (int(t) for t in args.frames.split(",")):
            rows.append({"set": name, "T": T, **compare(videos, T, args.short_side)})
    print_line(f"machine: {machine()}; short side {args.short_side}")
    print_table([{k: v for k, v in r.items() if k != "backends"} | {"codec/backend": ", ".join(
        f"{k} x{v}" for k, v in r["backends"].items())} for r in rows],
        "Default decoder (auto) vs the stores' decord path: frames that differ")
    if args.json:
        args.json.write_text(json.dumps({"command": "python " + " ".join(sys.argv), "machine": machine(),
                                         "short_side": args.short_side, "sets": rows},
                                        indent=2) + "\n")
        print_line(f"wrote {args.json}")


if __name__ == "__main__":
    main()
