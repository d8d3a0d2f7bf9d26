"""Collapse vs learning rate on the train holdout (issue 19, stable training): TQM alone at lr 0.03 (the
benchmarks' CPU setting) and 0.01 (TSQNet's default, supp. A) over 6 seeds, and NSNet, FSM-only and
VGM-only NSNet at both rates over 3 seeds; 30 epochs, width 128, trained on ``train[:80%]`` and scored
on ``train[80%:]`` (``nsnet ablate``, resumable). A run is "stuck" when its last training loss is
within 5 % of the loss of a constant prediction (ln C for one classifier; NSNet's summed objectives
are not comparable, so only TQM runs are flagged). Writes per-seed holdout mAP, final loss, mean ±
sample std:

    python benchmarks/run_lr_check.py --store STORE --work WORK --json benchmarks/results/ctrl400_lr.json
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

CONFIGS = {"tqm": ("tsqnet", {"modality": "textual"}, 6), "nsnet": ("nsnet", {}, 3),
           "fsm-only": ("nsnet", {"branches": "fsm"}, 3), "vgm-ns": ("nsnet", {"branches": "vgm"}, 3)}
RATES = (0.03, 0.01)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    grid = [{"name": f"{name}-lr{lr}-s{s}", "variant": variant, **extra, "epochs": 30, "width": 128, "lr": lr,
             "seed": s, "train_split": "train[:80%]", "val_split": "train[80%:]"}
            for name, (variant, extra, seeds) in CONFIGS.items() for lr in RATES for s in range(seeds)]
    args.work.mkdir(parents=True, exist_ok=True)
    (args.work / "grid.json").write_text(json.dumps(grid, indent=1))
    subprocess.run([sys.executable, "-m", "nsnet.cli", "ablate", args.store, "--grid", str(args.work / "grid.json"),
                    "--out", str(args.work), "--threads", "1", "-q"], check=True)
    with open(args.work / "ablation.csv") as fh:
        rows = {r["name"]: r for r in csv.DictReader(fh)}
    classes = json.loads((args.work / grid[0]["name"] / "config.json").read_text())["run"]["C"]
    out = {"std_ddof": 1, "uniform_holdout_mAP": 100 * float(rows["uniform (untrained)"]["mAP"]), "rows": []}
    for name, (_, _, seeds) in CONFIGS.items():
        for lr in RATES:
            runs = [rows[f"{name}-lr{lr}-s{s}"] for s in range(seeds)]
            maps = [100 * float(r["mAP"]) for r in runs]
            losses = [float(r["final_loss"]) for r in runs]
            stuck = [loss >= 0.95 * math.log(classes) for loss in losses] if name == "tqm" else None
            out["rows"].append({"config": name, "lr": lr, "seeds": seeds, "holdout_mAP": maps, "final_loss": losses,
                                "mean": float(np.mean(maps)), "std": float(np.std(maps, ddof=1)), "stuck": stuck})
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
