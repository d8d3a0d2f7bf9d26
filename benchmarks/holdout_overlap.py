"""How much of ``--variant auto``'s train holdout shows photos its fit split already showed (issue 19).

Auto holds out the last 20 % of the train videos in store order (``train[80%:]``); on the controlled
stores a photo appears in several train videos, while val photos are disjoint from train. Per store:
the share of holdout videos whose event photo is the event of a fit video, and the share of holdout
distractor shots whose photo a fit video showed (as event or distractor); val against all of train for
contrast; with ``--groups TABLE`` also the holdout that takes whole groups (``-o groups=TABLE``).
Writes one JSON.

    python benchmarks/holdout_overlap.py --store ../bench/ctrl1000/store.zarr --spans ../bench/ctrl1000/data/spans.json \\
        --name ctrl1000 --groups ../bench/ctrl1000/holdout_groups.csv --out benchmarks/results/photo_overlap.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nsnet.sampler.auto.select import split_holdout  # noqa: E402
from nsnet.sampler.data import load_sampler_arrays  # noqa: E402
from nsnet.store import FeatureStore  # noqa: E402
from nsnet.store import schema as S  # noqa: E402


def photos(span: dict[str, Any], kind: str) -> set[int]:
    """Returns the ImageNet indices of the photos a video's ``kind`` shots (event / distractor) show."""
    return {int(s["imagenet_index"]) for s in span["shots"] if s["kind"] == kind}


def overlap(seen: list[dict[str, Any]], scored: list[dict[str, Any]]) -> dict[str, float]:
    """Returns the share of ``scored`` videos whose event photo is an event of a ``seen`` video, and the
    share of ``scored`` distractor shots whose photo a ``seen`` video showed."""
    events = set().union(*(photos(v, "event") for v in seen))
    shown = events.union(*(photos(v, "distractor") for v in seen))
    distractors = [p for v in scored for p in photos(v, "distractor")]
    return {"videos": len(scored), "event_photo_seen": sum(bool(photos(v, "event") & events) for v in scored) / len(scored),
            "distractor_photo_seen": sum(p in shown for p in distractors) / max(len(distractors), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--spans", type=Path, required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--holdout", type=float, default=0.2)
    ap.add_argument("--groups", help="a video -> group table (write_groups.py): also measure the grouped holdout")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    store, spans = FeatureStore.open(args.store), json.loads(args.spans.read_text())

    train = load_sampler_arrays(store, "train")
    val = [spans[str(v).split("/")[-1]] for v in store.read(S.VIDEO_ID, store.valid_indices("val"))]

    def measure(groups: str = "") -> dict[str, Any]:  # auto's own split rule, in store order or by group
        fit, hold = split_holdout(train, args.holdout, groups)
        return {"fit_videos": fit.N, **overlap([spans[v.split("/")[-1]] for v in fit.video_ids],
                                               [spans[v.split("/")[-1]] for v in hold.video_ids])}

    first = measure()
    out = json.loads(args.out.read_text()) if args.out.is_file() else {}
    out[args.name] = {"store": str(args.store), "fit_videos": first.pop("fit_videos"), "holdout": first,
                      "val": overlap([spans[v.split("/")[-1]] for v in train.video_ids], val),
                      "command": " ".join(sys.argv)}
    if args.groups:
        out[args.name]["holdout_grouped"] = {"groups": args.groups, **measure(args.groups)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out[args.name]))


if __name__ == "__main__":
    main()
