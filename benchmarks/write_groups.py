"""Write the video -> group table of a benchmark build for ``fit-sampler --variant auto -o groups=TABLE``.

Auto's holdout must not share sources with its fit part (issue 19: on the controlled store 97 % of the
holdout's event photos were fit-split events). The group of a video is the source of its event:

* ``--by event-photo`` (``build_controlled.py`` builds): the ImageNet photo its event shot shows;
* ``--by event-source`` (``build_untrimmed.py`` builds): the YouTube source (``videos.txt``, merged as the
  build merges them) of its fight clip; a noFight video has no event and is its own group.

Writes a ``video_id,group`` CSV keyed by the store's video ids (train and val; auto reads train only).

    python benchmarks/write_groups.py --store ../bench/ctrl1000/store.zarr --spans ../bench/ctrl1000/data/spans.json \\
        --by event-photo --out ../bench/ctrl1000/holdout_groups.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.build_untrimmed import parse_source_groups  # noqa: E402
from nsnet.store import FeatureStore  # noqa: E402
from nsnet.store import schema as S  # noqa: E402


def event_photo(span: dict[str, Any]) -> str:
    """Returns ``photo:<ImageNet index>`` of the video's event shot (a controlled build has exactly one)."""
    events = [s for s in span["shots"] if s["kind"] == "event"]
    if len(events) != 1:
        raise SystemExit(f"error: expected one event shot, found {len(events)}")
    return f"photo:{events[0]['imagenet_index']}"


def event_source(span: dict[str, Any], video_id: str, sources: dict[str, str]) -> str:
    """Returns ``source:<key>`` of the video's fight clip, or ``video:<id>`` for a video without one."""
    fights = [Path(c["src"]).stem for c in span["clips"] if c["src"].startswith("fight/")]
    if not fights:
        return f"video:{video_id}"
    return "source:" + sources.get(fights[0], f"clip:{fights[0]}")  # unlisted clips: their own source


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--spans", type=Path, required=True)
    ap.add_argument("--by", choices=("event-photo", "event-source"), required=True)
    ap.add_argument("--src", type=Path, default=Path("../shared/data/fight-surv"),
                    help="the fight-surv folder (its videos.txt), for --by event-source")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    store, spans = FeatureStore.open(args.store), json.loads(args.spans.read_text())
    sources = {}
    if args.by == "event-source":
        sources = parse_source_groups((args.src / "videos.txt").read_text(errors="replace"))
    ids = [str(v) for v in store.read(S.VIDEO_ID, store.valid_indices(None))]
    rows = []
    for vid in ids:
        span = spans[vid.split("/")[-1]]
        rows.append((vid, event_photo(span) if args.by == "event-photo" else event_source(span, vid, sources)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["video_id", "group"])
        writer.writerows(rows)
    print(f"wrote {args.out}: {len(rows)} videos in {len({g for _, g in rows})} groups")


if __name__ == "__main__":
    main()
