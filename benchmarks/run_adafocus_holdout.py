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
from nsnet.sampler.auto.select import holdout_cut  # noqa: E402
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
    """Returns the holdout mAP (%) and photo share of a trained AdaFocus ``model``; for AdaFocus+
    (``skip=true``) f_C sees only the frames π' keeps at the run's threshold (as ``nsnet evaluate``'s
    ``adafocus+``), and the shares of event frames and of the other frames kept are added."""
    maps = torch.from_numpy(hold.light_maps)
    choice = model.choose_patches(maps).numpy()
    local = np.take_along_axis(hold.patch_features, choice[..., None, None], axis=2)[:, :, 0]
    keep = model.keep_mask(maps) if model.skip is not None else None
    probs = model.classify(torch.from_numpy(hold.light).float(), torch.from_numpy(local).float(), keep)
    out = {"mAP": 100 * mean_average_precision(probs.double().numpy(), hold.labels)}
    if cover is not None:
        ev = ~np.isnan(cover[..., 0])
        out["photo_share"] = float(np.take_along_axis(cover, choice[..., None], axis=2)[..., 0][ev].mean())
        if keep is not None:
            kept = keep.numpy().astype(bool)
            out["kept_event"], out["kept_others"] = float(kept[ev].mean()), float(kept[~ev].mean())
    return out


def previous_runs(path: Path, store: str, options: dict[str, object]) -> dict[tuple[str, int], dict[str, object]]:
    """Returns {(setting, seed): run} already written to ``path`` by the same store and common options
    (empty when there is none), so that a rerun of the same command only trains what is missing."""
    if not path.is_file():
        return {}
    old = json.loads(path.read_text())
    if old.get("store") != store or old.get("options") != options:
        return {}
    return {(row["setting"], run["seed"]): run for row in old["rows"] for run in row["runs"]}


def compare_with_first(rows: list[dict[str, object]]) -> None:
    """Adds to every row after the first ``vs_first``: its holdout mAP minus the first setting's, paired
    by seed (mean over the shared seeds and their 95 % t-interval)."""
    from benchmarks.run_auto import t_interval

    first = {r["seed"]: r["mAP"] for r in rows[0]["runs"]}
    for row in rows[1:]:
        diffs = [r["mAP"] - first[r["seed"]] for r in row["runs"] if r["seed"] in first]
        row["vs_first"] = {"diff": float(np.mean(diffs)), "seeds": len(diffs), "seeds_ci": t_interval(diffs)}


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
    cut = holdout_cut(n, args.holdout)  # auto's own split rule
    fit, hold = train.subset(np.arange(cut)), train.subset(np.arange(cut, n))
    cover = None
    if args.spans is not None:
        spans = json.loads(args.spans.read_text())
        cover = coverage(np.asarray(store.patches["boxes"], float), photo_boxes(store, hold, spans, *args.frame_size))
    common = parse(args.adafocus)
    done = previous_runs(args.out, str(args.store), common)
    rows = []
    for setting in args.settings:
        opts = {**common, **parse(setting.split(","))}
        runs = []
        for seed in args.seeds:
            if (setting, seed) in done:  # resumed: this run is in --out already
                runs.append(done[setting, seed])
                continue
            tic = time.perf_counter()
            result = train_sampler(fit, sampler_config("adafocus", name="holdout", seed=seed, **opts))
            runs.append({"seed": seed, **score(result.model, hold, cover), "seconds": round(time.perf_counter() - tic, 1)})
            saturated = result.extra["stage_history"].get("2", {}).get("keep_saturated")
            if saturated:  # AdaFocus+: π''s saturated share in stage II's last epoch, and whether the run warned
                runs[-1]["keep_saturated"], runs[-1]["warned"] = saturated[-1], bool(result.extra.get("warnings"))
            print(setting, runs[-1], flush=True)
        row = {"setting": setting, "runs": runs}
        for key in [k for k in runs[0] if k not in ("seed", "seconds", "warned")]:
            vals = np.asarray([r[key] for r in runs])
            row[key] = float(vals.mean())
            row[f"{key}_std"] = float(vals.std(ddof=1)) if vals.size > 1 else 0.0
        rows.append(row)
    compare_with_first(rows)
    out = {"std_ddof": 1, "store": str(args.store), "fit_videos": cut, "holdout_videos": n - cut,
           "options": common, "rows": rows, "command": " ".join(sys.argv)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    for r in rows:
        print(r["setting"], {k: round(v, 3) for k, v in r.items() if isinstance(v, float)})


if __name__ == "__main__":
    main()
