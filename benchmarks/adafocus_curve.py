"""What finding the photo is worth to AdaFocus's f_C, against the number of train videos (issue 19).

On a picture-in-picture store, f_C (stage I, the default options) is trained on the first N train
videos twice: on random candidates (stage I as the product runs it; scored on random val patches)
and on a perfect policy's candidates (the one showing most of the event photo on every event
frame, random elsewhere; scored on the same kind of val patches). The difference is about what a
perfect π adds once f_C is trained on its patches: if it is small, no policy can beat random by
more than the val noise. Every size gets the same number of updates (``epochs x videos`` is held
at ``--updates``), so only the data changes. Writes ``OUT/<prefix>.json``; mean ± sample std
(ddof = 1) over the seeds.

    python benchmarks/adafocus_curve.py --store STORE --spans DATA/spans.json --sizes 160 320 640 \\
        --seeds 0 1 --prefix pip640_curve --out benchmarks/results
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.run_adafocus_policy import best_photo_arrays, coverage, photo_boxes  # noqa: E402
from nsnet.metrics import mean_average_precision  # noqa: E402
from nsnet.sampler.config import sampler_config  # noqa: E402
from nsnet.sampler.data import SamplerArrays, load_sampler_arrays  # noqa: E402
from nsnet.sampler.train import train_sampler  # noqa: E402
from nsnet.store import FeatureStore  # noqa: E402


def stage1_map(train: SamplerArrays, val: SamplerArrays, epochs: int, seed: int) -> float:
    """Returns the val mAP (%) of f_C after stage I on ``train`` (every candidate: a random one per
    frame, drawn anew each epoch, as the product's stage I does; or one per frame: the perfect
    policy's), scored on ``val``'s single candidate per frame."""
    model = train_sampler(train, sampler_config("adafocus", seed=seed, stage1_epochs=epochs), stages=(1,)).model
    probs = model.classify(torch.from_numpy(val.light), torch.from_numpy(val.patch_features[:, :, 0]).float())
    return 100 * mean_average_precision(probs.double().numpy(), val.labels)


def random_arrays(arrays: SamplerArrays, seed: int) -> SamplerArrays:
    """Returns ``arrays`` with one random candidate per frame (a random-patch policy's val choices)."""
    n, t, a = arrays.patch_features.shape[:3]
    pick = np.random.default_rng(seed).integers(0, a, (n, t))
    return dataclasses.replace(arrays, patch_features=np.take_along_axis(arrays.patch_features, pick[..., None, None], axis=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--spans", type=Path, required=True)
    ap.add_argument("--sizes", type=int, nargs="+", required=True, help="numbers of train videos (the first N)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--updates", type=int, default=9600, help="epochs x videos of stage I (60 x 160: the benchmark's)")
    ap.add_argument("--frame-size", type=int, nargs=2, default=[320, 180], help="the videos' W H (build_controlled's)")
    ap.add_argument("--prefix", default="pip_curve")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    spans = json.loads(args.spans.read_text())
    store = FeatureStore.open(args.store)
    grid = np.asarray(store.patches["boxes"], dtype=np.float64)
    arrays = {s: load_sampler_arrays(store, s, rec_logits=False, rec_features=False, patches=True) for s in ("train", "val")}
    cover = {s: coverage(grid, photo_boxes(store, arrays[s], spans, *args.frame_size)) for s in arrays}
    total = arrays["train"].labels.shape[0]
    if max(args.sizes) > total:
        raise SystemExit(f"--sizes: the store has {total} train videos, asked for {max(args.sizes)}")
    rows = []
    for n in args.sizes:
        epochs = max(1, round(args.updates / n))
        runs = []
        for seed in args.seeds:
            idx = np.arange(n)
            train, cov = arrays["train"].subset(idx), cover["train"][idx]
            best = stage1_map(best_photo_arrays(train, cov, seed), best_photo_arrays(arrays["val"], cover["val"], seed + 1),
                              epochs, seed)
            rand = stage1_map(train, random_arrays(arrays["val"], seed + 1), epochs, seed)  # stage I's own random draws
            runs.append({"seed": seed, "best_photo": best, "random": rand})
            print(f"N={n} seed {seed}: random {rand:.2f}, best photo {best:.2f}", flush=True)
        stat = {k: np.asarray([r[k] for r in runs]) for k in ("best_photo", "random")}
        gap = stat["best_photo"] - stat["random"]
        rows.append({"train_videos": n, "epochs": epochs, "runs": runs,
                     **{f"{k}_mAP": float(v.mean()) for k, v in stat.items()},
                     **{f"{k}_std": float(v.std(ddof=1)) if v.size > 1 else 0.0 for k, v in stat.items()},
                     "gap": float(gap.mean()), "gap_std": float(gap.std(ddof=1)) if gap.size > 1 else 0.0})
    out = {"std_ddof": 1, "store": str(args.store), "val_videos": int(arrays["val"].labels.shape[0]),
           "seeds": args.seeds, "updates": args.updates, "rows": rows, "command": " ".join(sys.argv)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.prefix}.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
