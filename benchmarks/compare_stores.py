"""The same samplers on two stores of the same videos that differ in one extraction setting (issue 19:
the light extractor at 112 vs 224 px): per method, mAP ± sample std over seeds and frame shares on each
store, and the difference B - A with the paired bootstrap interval over val videos (seeds averaged) and
the t-interval over seeds.

Both stores must hold the same val videos with the same pre-sampled frames (checked). Every chosen
frame is scored with store A's cached recognizer logits, so the recognizer is the same for both and
only the frames the samplers chose differ. The positions come from ``run_auto.py``'s per-seed caches
(``WORK/seed<S>/scores.json``).

    python benchmarks/compare_stores.py --a 112px=../bench/ctrl400/store.zarr:../bench/ctrl400/work-ownlr \\
        --b 224px=../bench/ctrl400-224/store.zarr:../bench/ctrl400-224/work-ownlr --spans ../bench/ctrl400/data/spans.json \\
        --seeds 0 1 2 --out benchmarks/results/ctrl400_light224.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.run_auto import predictions, t_interval  # noqa: E402
from benchmarks.run_auto_summary import ORDER  # noqa: E402
from benchmarks.run_controlled import CATEGORIES, frame_categories, frame_shares  # noqa: E402
from nsnet.metrics import mean_average_precision, paired_bootstrap_map  # noqa: E402
from nsnet.store import FeatureStore  # noqa: E402
from nsnet.store import schema as S  # noqa: E402

LEARNED = [m for m in ORDER if m not in ("uniform", "random", "dense", "topk", "oracle")]


def _side(spec: str) -> tuple[str, FeatureStore, Path]:
    """Returns (label, store, work dir) of ``LABEL=STORE:WORK``."""
    label, rest = spec.split("=", 1)
    store, work = rest.rsplit(":", 1)
    return label, FeatureStore.open(store), Path(work)


def positions(work: Path, seeds: list[int]) -> dict[str, list[np.ndarray]]:
    """Returns {method: [positions [N, K] per seed]} of the learned methods scored in every seed's cache."""
    caches = [json.loads((work / f"seed{s}" / "scores.json").read_text()) for s in seeds]
    return {m: [np.asarray(c[m]["positions"], np.int64) for c in caches] for m in LEARNED if all(m in c for c in caches)}


def compare(a: tuple[str, FeatureStore, Path], b: tuple[str, FeatureStore, Path], spans: dict,
            seeds: list[int]) -> dict[str, Any]:
    """Returns {"a", "b", "rows"}: per method both stores' mAPs, shares and the B - A intervals."""
    rows_a, rows_b = a[1].valid_indices("val"), b[1].valid_indices("val")
    ids_a, ids_b = a[1].read(S.VIDEO_ID, rows_a), b[1].read(S.VIDEO_ID, rows_b)
    if not np.array_equal(ids_a, ids_b) or not np.array_equal(a[1].read(S.FRAME_INDICES, rows_a),
                                                              b[1].read(S.FRAME_INDICES, rows_b)):
        raise SystemExit("error: the two stores do not hold the same val videos and pre-sampled frames")
    logits, labels = a[1].read(S.REC_LOGITS, rows_a), a[1].read(S.LABELS, rows_a)
    cats = frame_categories(a[1], rows_a, spans)
    pos = {side[0]: positions(side[2], seeds) for side in (a, b)}
    out = []
    for m in [m for m in LEARNED if m in pos[a[0]] and m in pos[b[0]]]:
        row: dict[str, Any] = {"method": m}
        preds = {}
        for label in (a[0], b[0]):
            preds[label] = np.stack([predictions(logits, p) for p in pos[label][m]])
            maps = [100 * mean_average_precision(p, labels) for p in preds[label]]
            per_seed = [frame_shares(cats, p) for p in pos[label][m]]
            row[label] = {"mAP": float(np.mean(maps)), "mAP_std": float(np.std(maps, ddof=1)), "per_seed": maps,
                          "shares": {c: float(np.mean([sh[c] for sh in per_seed])) for c in CATEGORIES}}
        res = paired_bootstrap_map(preds[b[0]], preds[a[0]], labels, resamples=2000, seed=0)
        row["b_minus_a"] = {"diff": 100 * res["diff"], "low": 100 * res["low"], "high": 100 * res["high"]}
        row["b_minus_a_seeds"] = t_interval([x - y for x, y in zip(row[b[0]]["per_seed"], row[a[0]]["per_seed"])])
        out.append(row)
    return {"std_ddof": 1, "a": a[0], "b": b[0], "seeds": seeds, "val_videos": int(len(rows_a)), "rows": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="LABEL=STORE:WORK (the reference)")
    parser.add_argument("--b", required=True, help="LABEL=STORE:WORK")
    parser.add_argument("--spans", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = compare(_side(args.a), _side(args.b), json.loads(args.spans.read_text()), args.seeds)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
