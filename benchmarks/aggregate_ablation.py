"""Aggregate `nsnet ablate` tables of several seeds: mean ± std (over seeds) of every score column.

Each ``--seed`` is ``SEED=DIR[,DIR...]``: the ablation directories (each with ``ablation.csv``)
that together hold that seed's grid (a grid may be split into parts run side by side). Prints a
Markdown table with one row per run name (in the order of ``--order GRID``), and writes it as
JSON with ``--json``:

    python benchmarks/aggregate_ablation.py --seed 0=RUNS/part0,RUNS/part1 --seed 1=RUNS/seed1 \\
        --seed 2=RUNS/seed2a,RUNS/seed2b --columns mAP mAP_vqm mAP_tqm train_s
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np


def read_seed(dirs: list[Path]) -> dict[str, dict[str, str]]:
    """Returns {run name: csv row} over the ablation.csv files of one seed's directories."""
    rows: dict[str, dict[str, str]] = {}
    for d in dirs:
        with open(d / "ablation.csv") as fh:
            for row in csv.DictReader(fh):
                rows.setdefault(row["name"], row)
    return rows


def aggregate(seeds: dict[int, dict[str, dict[str, str]]], columns: list[str]) -> list[dict[str, object]]:
    """Returns one dict per run name: for each column its mean, sample std (ddof = 1) and the number of seeds with a value
    (score columns in %, i.e. x100 for mAP/top1)."""
    names: list[str] = []
    for rows in seeds.values():
        names += [n for n in rows if n not in names]
    out = []
    for name in names:
        entry: dict[str, object] = {"name": name}
        for col in columns:
            vals = [float(rows[name][col]) for rows in seeds.values() if name in rows and rows[name].get(col)]
            if not vals:
                continue
            scale = 100.0 if col.startswith(("mAP", "top1")) else 1.0
            arr = scale * np.asarray(vals)
            std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0  # sample std, recorded as "std_ddof": 1
            entry[col] = {"mean": float(arr.mean()), "std": std, "seeds": len(vals), "values": arr.tolist()}
        out.append(entry)
    return out


def render(rows: list[dict[str, object]], columns: list[str]) -> str:
    """Returns the Markdown table of :func:`aggregate`'s rows."""
    lines = ["| run | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for r in rows:
        cells = []
        for col in columns:
            v = r.get(col)
            if not isinstance(v, dict):
                cells.append("")
            else:
                prec = 0 if col.endswith("_s") else 2
                cells.append(f"{v['mean']:.{prec}f} ± {v['std']:.{prec}f}" + (f" ({v['seeds']})" if v["seeds"] < 3 else ""))
        lines.append(f"| {r['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", action="append", required=True, help="SEED=DIR[,DIR...]")
    ap.add_argument("--columns", nargs="+", default=["mAP", "top1"])
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--order", type=Path, default=None, help="a grid file: rows in its order (others after)")
    args = ap.parse_args()
    seeds = {}
    for item in args.seed:
        seed, _, dirs = item.partition("=")
        seeds[int(seed)] = read_seed([Path(d) for d in dirs.split(",") if d])
    rows = aggregate(seeds, args.columns)
    if args.order:
        names = [e["name"] for e in json.loads(args.order.read_text())]
        rows.sort(key=lambda r: names.index(r["name"]) if r["name"] in names else -1)
    if args.json:
        args.json.write_text(json.dumps({"seeds": sorted(seeds), "std_ddof": 1, "rows": rows}, indent=1))
    print(render(rows, args.columns))


if __name__ == "__main__":
    main()
