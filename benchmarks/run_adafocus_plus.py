"""AdaFocus+ (``skip=true``) with the paper's π and with the candidate policy (issue 19): does π',
which trains next to π in stage II, still keep the frames that matter?

Per setting and seed, one AdaFocus+ run on the train split, scored on val (cached path, all T
frames, method ``adafocus+``: π's argmax candidate and π''s keep mask at the run's threshold):
mAP, the share of frames whose patch goes through the local CNN on the event frames and on the
others (π' should keep the event frames), and, on a picture-in-picture set, the share of the
chosen patch on the photo. Mean ± sample std (ddof = 1) over the seeds; the paired bootstrap over
val videos (seeds averaged) of each setting against the first. Writes ``--out``.

    python benchmarks/run_adafocus_plus.py --store STORE --spans DATA/spans.json --work WORK --seeds 0 1 \\
        --adafocus stage1_epochs=15 stage2_epochs=8 stage3_epochs=5 \\
        --settings policy_input=map,shared_critic=true policy_input=candidates,shared_critic=false \\
        --out benchmarks/results/NAME.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.run_adafocus import ensure_head  # noqa: E402
from benchmarks.run_adafocus_holdout import parse  # noqa: E402
from benchmarks.run_adafocus_policy import coverage, photo_boxes  # noqa: E402
from nsnet.evaluate.config import EvaluateConfig  # noqa: E402
from nsnet.evaluate.run import evaluate  # noqa: E402
from nsnet.metrics import paired_bootstrap_map  # noqa: E402
from nsnet.sampler.config import sampler_config  # noqa: E402
from nsnet.sampler.data import load_sampler_arrays  # noqa: E402
from nsnet.sampler.train import fit_sampler  # noqa: E402
from nsnet.store import FeatureStore  # noqa: E402


def score_run(store: Path, T: int, run: Path, seed: int, cover: np.ndarray) -> dict[str, Any]:
    """Returns one run's val figures on all ``T`` frames: mAP (%), keep shares on the event frames and
    on the others, the photo share of the chosen patches on the event frames, and the class probabilities."""
    res = evaluate(EvaluateConfig(store=store, runs=[run], budgets=[T], methods=["adafocus+"], seed=seed, quiet=True,
                                  split="val", path="cached").validate())
    row, score = res.rows[0], res.patches[("adafocus+", T)]
    event = ~np.isnan(cover[..., 0])  # [N, T]: all T frames are scored, in order
    share = np.take_along_axis(np.nan_to_num(cover), score.choices[..., None], axis=2)[..., 0]
    return {"mAP": 100 * row.mAP, "keep_event": float(score.keep[event].mean()),
            "keep_other": float(score.keep[~event].mean()), "photo_share": float(share[event].mean()),
            "probs": score.probs, "labels": res.context.labels}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--spans", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--adafocus", nargs="*", default=[], help="KEY=VALUE options of every setting (values as JSON)")
    ap.add_argument("--settings", nargs="+", required=True, help="KEY=VALUE[,KEY=VALUE] per setting")
    ap.add_argument("--frame-size", type=int, nargs=2, default=[320, 180], help="the videos' W H (build_controlled's)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    ensure_head(args.store, args.spans)
    store = FeatureStore.open(args.store)
    val = load_sampler_arrays(store, "val", rec_logits=False, rec_features=False, patches=True)
    cover = coverage(np.asarray(store.patches["boxes"], dtype=np.float64),
                     photo_boxes(store, val, json.loads(args.spans.read_text()), *args.frame_size))
    common = {"skip": True, **parse(args.adafocus)}
    rows, probs, labels = [], {}, None
    for setting in args.settings:
        runs = []
        for seed in args.seeds:
            run = args.work / f"seed{seed}" / setting.replace(",", "+").replace("=", "-")
            if not (run / "config.json").is_file():
                fit_sampler(args.store, run, sampler_config("adafocus", seed=seed, **{**common, **parse(setting.split(","))}),
                            progress=False)
            got = score_run(args.store, store.T, run, seed, cover)
            probs.setdefault(setting, []).append(got.pop("probs"))
            labels = got.pop("labels")
            runs.append({"seed": seed, **got})
            print(setting, runs[-1], flush=True)
        row = {"setting": setting, "runs": runs}
        for key in ("mAP", "keep_event", "keep_other", "photo_share"):
            v = np.asarray([r[key] for r in runs])
            row[key], row[f"{key}_std"] = float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0
        if setting != args.settings[0]:
            stats = paired_bootstrap_map(np.stack(probs[setting]), np.stack(probs[args.settings[0]]), labels, seed=0)
            row["vs_first"] = {k: 100 * stats[k] for k in ("diff", "low", "high")}
        rows.append(row)
    out = {"std_ddof": 1, "store": str(args.store), "seeds": args.seeds, "options": common, "rows": rows,
           "command": " ".join(sys.argv)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
