"""Choose an AdaFocus setting on a train holdout (issue 19): each setting trains on ``train[:80%]`` and
is scored on ``train[80%:]`` (the last train videos in store order, as ``--variant auto`` holds out);
val is never read.

    python benchmarks/run_adafocus_holdout.py --store STORE --spans DATA/spans.json --seeds 0 1 \\
        --adafocus stage1_epochs=60 stage3_epochs=20 policy_input=candidates shared_critic=false \\
        --settings stage2_epochs=30 stage2_epochs=90 --out benchmarks/results/NAME.json

Per setting and seed, on the holdout videos (all T frames, π's argmax candidate per frame as in
``nsnet evaluate``): f_C's mAP and, on a picture-in-picture set, the mean share of the chosen
patch's area on the event photo. Mean ± sample std (ddof = 1) over the seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.run_adafocus_policy import coverage, photo_boxes  # noqa: E402
from nsnet.metrics import mean_average_precision  # noqa: E402
from nsnet.sampler.config import sampler_config  # noqa: E402
from nsnet.sampler.data import load_sampler_arrays  # noqa: E402
from nsnet.sampler.train import train_sampler  # noqa: E402
from nsnet.store import FeatureStore  # noqa: E402


def parse(items: list[str]) -> dict[str, object]:
    """Returns {key: value} of KEY=VALUE items, each value read as JSON when it is JSON, else a string."""
    def value(text: str) -> object:
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text

    return {k: value(v) for k, _, v in (i.partition("=") for i in items)}


def score(model, hold, cover: np.ndarray | None) -> dict[str, float]:
    """Returns the holdout mAP (%) and photo share of a trained AdaFocus ``model``."""
    maps = torch.from_numpy(hold.light_maps)
    choice = model.choose_patches(maps).numpy()
    local = np.take_along_axis(hold.patch_features, choice[..., None, None], axis=2)[:, :, 0]
    probs = model.classify(torch.from_numpy(hold.light).float(), torch.from_numpy(local).float())
    out = {"mAP": 100 * mean_average_precision(probs.double().numpy(), hold.labels)}
    if cover is not None:
        ev = ~np.isnan(cover[..., 0])
        out["photo_share"] = float(np.take_along_axis(cover, choice[..., None], axis=2)[..., 0][ev].mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--spans", type=Path, default=None, help="spans.json with pip photos (photo share)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--adafocus", nargs="*", default=[], help="KEY=VALUE options of every setting")
    ap.add_argument("--settings", nargs="+", required=True, help="KEY=VALUE[,KEY=VALUE] per setting")
    ap.add_argument("--holdout", type=float, default=0.2)
    ap.add_argument("--frame-size", type=int, nargs=2, default=[320, 180])
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    store = FeatureStore.open(args.store)
    train = load_sampler_arrays(store, "train", rec_logits=False, rec_features=False, patches=True)
    n = len(train.labels)
    cut = int(round(n * (1 - args.holdout)))
    fit, hold = train.subset(np.arange(cut)), train.subset(np.arange(cut, n))
    cover = None
    if args.spans is not None:
        spans = json.loads(args.spans.read_text())
        cover = coverage(np.asarray(store.patches["boxes"], float), photo_boxes(store, hold, spans, *args.frame_size))
    common = parse(args.adafocus)
    rows = []
    for setting in args.settings:
        opts = {**common, **parse(setting.split(","))}
        runs = []
        for seed in args.seeds:
            tic = time.perf_counter()
            model = train_sampler(fit, sampler_config("adafocus", name="holdout", seed=seed, **opts)).model
            runs.append({"seed": seed, **score(model, hold, cover), "seconds": round(time.perf_counter() - tic, 1)})
            print(setting, runs[-1], flush=True)
        row = {"setting": setting, "runs": runs}
        for key in [k for k in runs[0] if k not in ("seed", "seconds")]:
            vals = np.asarray([r[key] for r in runs])
            row[key] = float(vals.mean())
            row[f"{key}_std"] = float(vals.std(ddof=1)) if vals.size > 1 else 0.0
        rows.append(row)
    out = {"std_ddof": 1, "store": str(args.store), "fit_videos": cut, "holdout_videos": n - cut,
           "options": common, "rows": rows, "command": " ".join(sys.argv)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    for r in rows:
        print(r["setting"], {k: round(v, 3) for k, v in r.items() if isinstance(v, float)})


if __name__ == "__main__":
    main()
