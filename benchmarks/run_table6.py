"""Table 6 (branch-only objectives) and the VGM pooling fix over several seeds with ``nsnet ablate``.

Each seed's grid is ``benchmarks/table6_grid.json`` on top of the CPU setting (epochs 30, width 128,
lr 0.03) and that seed; ``--holdout`` trains on ``train[:80%]`` and scores on ``train[80%:]`` (where a
change of default is judged) and keeps only the entries named by ``--only``. The seeds' tables are
aggregated by ``aggregate_ablation.py`` (mean ± sample std, per-seed values) into ``--json``:

    python benchmarks/run_table6.py --store STORE --work WORK/t6 --seeds 0 1 2 --json benchmarks/results/ctrl400_table6.json
    python benchmarks/run_table6.py --store STORE --work WORK/t6-holdout --seeds 0 1 2 --holdout \\
        --only nsnet nsnet-complement vgm-ns vgm-ns-complement --json benchmarks/results/ctrl400_holdout.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE = {"epochs": 30, "width": 128, "lr": 0.03}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--holdout", action="store_true")
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    grid = json.loads((HERE / "table6_grid.json").read_text())
    if args.only:
        grid = [e for e in grid if e["name"] in args.only]
    split = {"train_split": "train[:80%]", "val_split": "train[80%:]"} if args.holdout else {}
    args.work.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        path = args.work / f"grid{seed}.json"
        path.write_text(json.dumps([{**e, **BASE, **split, "seed": seed} for e in grid], indent=1))
        subprocess.run([sys.executable, "-m", "nsnet.cli", "ablate", args.store, "--grid", str(path), "--out",
                        str(args.work / f"seed{seed}"), "--jobs", str(args.jobs), "--threads", "1", "-q"], check=True)
    subprocess.run([sys.executable, str(HERE / "aggregate_ablation.py"),
                    *[f"--seed={s}={args.work / f'seed{s}'}" for s in args.seeds],
                    "--columns", "mAP", "mAP_fsm", "mAP_vgm", "final_loss", "train_s", "--order", str(HERE / "table6_grid.json"),
                    "--json", str(args.json)], check=True)


if __name__ == "__main__":
    main()
