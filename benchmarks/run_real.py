"""The real untrimmed benchmark: paper Table 1, Table 6a/6c/6d and supp. B.1/B.2 analogues, and the
budget sweep (Fig. 3) on composed surveillance videos, all from ONE extracted store.

Prerequisites (documented with their timings in benchmarks/RESULTS.md):

    python benchmarks/build_untrimmed.py --src ../shared/data/fight-surv --out DATA --seed 0
    nsnet extract DATA/annotations.csv --out STORE --frames 50 --extractor-size 112 \
        --recognizer tf_efficientnet_lite0 --workers 1 --batch-size 50
    (this script runs `nsnet fit-recognizer STORE` itself when the store has no logits yet)

Then:

    python benchmarks/run_real.py --store STORE --spans DATA/spans.json --out benchmarks/results

Every sampler figure is mean ± std over ``--seeds`` (the store is extracted once). Table 1 uses
the reload path (decode only the chosen frames) for NSNet and Uniform and the cached path for the
rest; the ablations, fusions and sweep use the cached path (the equivalence of both paths is a test).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nsnet.evaluate.config import EvaluateConfig  # noqa: E402
from nsnet.evaluate.run import EvaluationResult, evaluate  # noqa: E402
from nsnet.extract.recognizer_head import fit_recognizer  # noqa: E402
from nsnet.sampler.ablate import ablate  # noqa: E402
from nsnet.sampler.config import SamplerConfig  # noqa: E402
from nsnet.sampler.train import fit_sampler  # noqa: E402
from nsnet.store import FeatureStore  # noqa: E402
from nsnet.store import schema as S  # noqa: E402

TABLE1_METHODS = ["uniform", "random", "dense", "topk", "maxconf-l", "scsampler", "nsnet", "oracle"]
RELOAD_METHODS = ["nsnet", "uniform"]
SWEEP_METHODS = ["nsnet", "uniform", "maxconf-l", "oracle"]
FUSIONS = ["union", "intersection", "join", "sum", "max", "mul"]

# Table 6a (VGM, FSM), 6d (FSM objectives), supp. B.1 (guide), Table 6c (encoders).
ABLATION_GRID: list[dict[str, Any]] = [
    {"name": "vgm-baseline", "variant": "nsnet", "branches": "vgm", "vgm": "baseline"},
    {"name": "vgm-nonsalient", "variant": "nsnet", "branches": "vgm", "vgm": "nonsalient"},
    {"name": "vgm-ns", "variant": "nsnet", "branches": "vgm", "vgm": "ns"},
    {"name": "fsm-video", "variant": "nsnet", "branches": "fsm", "fsm": "video"},
    {"name": "fsm-nonsalient", "variant": "nsnet", "branches": "fsm", "fsm": "nonsalient"},
    {"name": "fsm-regression", "variant": "nsnet", "branches": "fsm", "fsm": "regression"},
    {"name": "fsm-ranking", "variant": "nsnet", "branches": "fsm", "fsm": "ranking"},
    {"name": "fsm-baseline+", "variant": "nsnet", "branches": "fsm", "fsm": "baseline+"},
    {"name": "fsm-ns", "variant": "nsnet", "branches": "fsm", "fsm": "ns"},
    {"name": "fsm-ns-response", "variant": "nsnet", "branches": "fsm", "fsm": "ns", "guide": "response"},
    {"name": "enc-lstm", "variant": "nsnet", "encoder": "lstm"},
    {"name": "enc-mlp", "variant": "nsnet", "encoder": "mlp"},
    {"name": "enc-conv1d", "variant": "nsnet", "encoder": "conv1d"},
    {"name": "enc-transformer", "variant": "nsnet", "encoder": "transformer"},
]


def mean_std(values: list[float]) -> tuple[float, float]:
    """Returns (mean, population std) of a list of numbers."""
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std())


def event_hit_rate(result: EvaluationResult, method: str, k: int, store: FeatureStore, spans: dict) -> float | None:
    """Returns the fraction of the chosen frames of fight videos that fall inside the fight clip."""
    positions = result.selections.get((method, k))
    ctx = result.context
    if positions is None or ctx is None:
        return None
    rows = ctx.rows
    frame_idx = store.read(S.FRAME_INDICES, rows)
    vids = store.read(S.VIDEO_ID, rows)
    hits, total = 0, 0
    for i, vid in enumerate(vids):
        span = spans.get(Path(str(vid)).name, {}).get("event")
        if not span:
            continue
        chosen = frame_idx[i, positions[i]]
        hits += int(((chosen >= span[0]) & (chosen < span[1])).sum())
        total += chosen.size
    return hits / total if total else None


def write_grid(path: Path, seed: int, base: dict[str, Any]) -> Path:
    """Writes the ablation grid (one seed, shared training settings) as an `nsnet ablate` grid file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([dict(e, seed=seed, **base) for e in ABLATION_GRID], indent=1))
    return path


def guide_quality(store: FeatureStore, spans: dict, proto_eps: float = 0.3) -> dict[str, float]:
    """Returns how well each guiding score locates the fight clip inside the train fight videos:
    ROC-AUC of g (frame inside vs outside the clip) and the mean g inside / outside."""
    from sklearn.metrics import roc_auc_score

    from nsnet.sampler.data import load_sampler_arrays
    from nsnet.sampler.prototypes import build_prototypes, compute_guide

    arrays = load_sampler_arrays(store, "train")
    rows = store.valid_indices("train")
    frame_idx, vids = store.read(S.FRAME_INDICES, rows), store.read(S.VIDEO_ID, rows)
    inside = np.zeros(frame_idx.shape, bool)
    fight = np.zeros(len(rows), bool)
    for i, vid in enumerate(vids):
        span = spans.get(Path(str(vid)).name, {}).get("event")
        if span:
            inside[i] = (frame_idx[i] >= span[0]) & (frame_idx[i] < span[1])
            fight[i] = True
    protos = build_prototypes(arrays.rec_features, arrays.rec_logits, arrays.labels, proto_eps)
    guides = {
        "prototype": compute_guide(arrays.labels, mode="prototype", rec_features=arrays.rec_features, prototypes=protos).g,
        "response": compute_guide(arrays.labels, mode="response", rec_logits=arrays.rec_logits).g,
    }
    out = {}
    for name, g in guides.items():
        gf, inf = g[fight], inside[fight]
        out[f"{name}_auc"] = float(roc_auc_score(inf.ravel(), gf.ravel()))
        out[f"{name}_mean_inside"] = float(gf[inf].mean())
        out[f"{name}_mean_outside"] = float(gf[~inf].mean())
    out["fraction_inside"] = float(inside[fight].mean())
    return out


def train_runs(store: Path, out: Path, seed: int, base: dict[str, Any]) -> dict[str, Path]:
    """Trains (or reuses) the NSNet, MaxConf-L and SCSampler runs of one seed; returns their dirs."""
    runs = {}
    for variant in ("nsnet", "maxconf-l", "scsampler"):
        run_dir = out / f"seed{seed}" / variant
        if not (run_dir / "config.json").is_file():
            fit_sampler(store, run_dir, SamplerConfig(name=variant, variant=variant, seed=seed, **base), progress=False)
        runs[variant] = run_dir
    return runs


def run_seed(args: argparse.Namespace, seed: int, work: Path, store: FeatureStore, spans: dict,
             base: dict[str, Any]) -> dict[str, Any]:
    """Trains and evaluates everything of one sampler seed; returns (and caches) its results."""
    cache = work / f"seed{seed}" / "results.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    timings: dict[str, float] = {}
    t = time.perf_counter()
    runs = train_runs(args.store, work, seed, base)
    timings[f"train seed {seed}"] = time.perf_counter() - t
    common = dict(store=args.store, run=runs["nsnet"], run_maxconf_l=runs["maxconf-l"],
                  run_scsampler=runs["scsampler"], seed=seed, quiet=True, split="val")
    t = time.perf_counter()
    cached = evaluate(EvaluateConfig(budgets=[args.k], methods=TABLE1_METHODS + ["fsm", "vgm"], path="cached",
                                     **common).validate())
    reload = evaluate(EvaluateConfig(budgets=[args.k], methods=RELOAD_METHODS, path="reload", workers=1,
                                     **common).validate())
    timings[f"evaluate seed {seed}"] = time.perf_counter() - t
    out: dict[str, Any] = {"table1": [], "branches": {}, "fusions": {}, "sweep": []}
    for res in (cached, reload):
        for row in res.rows:
            if row.method in ("fsm", "vgm"):
                out["branches"][row.method] = row.mAP
                continue
            name = "nsnet" if row.method.startswith("fused:") else row.method
            if (res is reload) != (name in RELOAD_METHODS):
                continue
            out["table1"].append(dict(row.to_dict(), method=name,
                                      event_hit_rate=event_hit_rate(res, row.method, row.K, store, spans)))
    fused = evaluate(EvaluateConfig(budgets=[args.k], methods=[f"fused:{f}" for f in FUSIONS], path="cached",
                                    **common).validate())
    out["fusions"] = {row.fusion: row.mAP for row in fused.rows}
    sw = evaluate(EvaluateConfig(budgets=[], sweep=list(range(1, 11)), methods=SWEEP_METHODS, path="cached",
                                 **common).validate())
    out["sweep"] = [{"method": "nsnet" if r.method.startswith("fused:") else r.method, "K": r.K, "mAP": r.mAP,
                     "gflops": r.gflops} for r in sw.rows]
    if not args.skip_ablation and seed in args.ablation_seeds:
        t = time.perf_counter()
        grid = work / f"seed{seed}" / "grid.json"
        write_grid(grid, seed, base)
        if not (work / f"seed{seed}" / "ablation" / "ablation.csv").is_file():
            ablate(args.store, grid, work / f"seed{seed}" / "ablation", k=args.k, progress=False)
        timings[f"ablation seed {seed}"] = time.perf_counter() - t
    out["timings_s"] = timings
    cache.write_text(json.dumps(out, indent=1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--spans", type=Path, required=True, help="spans.json written by build_untrimmed.py")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--work", type=Path, default=None, help="where runs go (default: STORE/../real_runs)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--skip-ablation", action="store_true")
    ap.add_argument("--ablation-seeds", type=int, nargs="+", default=None,
                    help="seeds whose ablation grid is trained (default: all of --seeds)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.ablation_seeds is None:
        args.ablation_seeds = list(args.seeds)

    t0 = time.perf_counter()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    store = FeatureStore.open(args.store)
    if not store.has_logits:
        fit_recognizer(args.store)
        store = FeatureStore.open(args.store)
    spans = json.loads(args.spans.read_text())
    work = args.work or args.store.parent / "real_runs"
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    base = {"epochs": args.epochs, "width": args.width, "lr": args.lr}
    timings: dict[str, float] = {}

    per_seed = [run_seed(args, seed, work, store, spans, base) for seed in args.seeds]
    table: dict[tuple[str, str], list[dict[str, Any]]] = {}
    fusion_rows: dict[str, list[float]] = {f: [] for f in FUSIONS}
    branch_rows: dict[str, list[float]] = {"fsm": [], "vgm": []}
    sweep: dict[tuple[str, int], list[dict[str, float]]] = {}
    hits: dict[str, list[float]] = {}
    for res in per_seed:
        for row in res["table1"]:
            table.setdefault((row["method"], row["path"]), []).append(row)
            if row.get("event_hit_rate") is not None:
                hits.setdefault(row["method"], []).append(row["event_hit_rate"])
        for b in branch_rows:
            branch_rows[b].append(res["branches"][b])
        for f in FUSIONS:
            fusion_rows[f].append(res["fusions"][f])
        for row in res["sweep"]:
            sweep.setdefault((row["method"], row["K"]), []).append(row)
        timings.update(res["timings_s"])

    rows = []
    for (name, path), entries in table.items():
        m, s = mean_std([e["mAP"] for e in entries])
        t1, _ = mean_std([e["top1"] for e in entries])
        rows.append({"method": name, "K": entries[0]["K"], "mAP": 100 * m, "mAP_std": 100 * s, "top1": 100 * t1,
                     "seeds": len(entries),
                     "gflops": entries[0]["gflops"], "path": path,
                     "seconds": float(np.mean([e["seconds"] for e in entries])),
                     "event_hit_rate": (float(np.mean(hits[name])) if name in hits else None)})
    order = {m: i for i, m in enumerate(TABLE1_METHODS)}
    rows.sort(key=lambda r: order.get(r["method"], 99))
    (out / "real_table1.json").write_text(json.dumps(rows, indent=1))

    summary = {
        "store": str(args.store), "fingerprint": store.fingerprint, "seeds": args.seeds, "sampler": base,
        "K": args.k, "table1": rows,
        "branches": {b: dict(zip(("mAP", "mAP_std"), [100 * v for v in mean_std(vals)])) for b, vals in branch_rows.items()},
        "fusions": {f: dict(zip(("mAP", "mAP_std"), [100 * v for v in mean_std(vals)])) for f, vals in fusion_rows.items()},
        "sweep": {f"{n}@{k}": {"mAP": 100 * mean_std([e["mAP"] for e in v])[0], "mAP_std": 100 * mean_std([e["mAP"] for e in v])[1],
                               "gflops": v[0]["gflops"]} for (n, k), v in sorted(sweep.items())},
        "guide_quality": guide_quality(store, spans),
        "timings_s": timings,
        "total_s": time.perf_counter() - t0,
    }
    if not args.skip_ablation:
        done = [s for s in args.ablation_seeds if (work / f"seed{s}" / "ablation" / "ablation.csv").is_file()]
        summary["ablation"] = aggregate_ablation(work, done)
        summary["ablation_seeds"] = done
    (out / "real_summary.json").write_text(json.dumps(summary, indent=1))
    plot_sweep(sweep, out / "real_sweep.png")
    print(render_markdown(summary))


def aggregate_ablation(work: Path, seeds: list[int]) -> dict[str, dict[str, float]]:
    """Returns mean ± std (in %) of each ablation row's mAP over seeds."""
    import csv

    acc: dict[str, list[float]] = {}
    for seed in seeds:
        with open(work / f"seed{seed}" / "ablation" / "ablation.csv") as fh:
            for row in csv.DictReader(fh):
                acc.setdefault(row["name"], []).append(float(row["mAP"]))
    return {name: {"mAP": 100 * mean_std(v)[0], "mAP_std": 100 * mean_std(v)[1]} for name, v in acc.items()}


def plot_sweep(sweep: dict[tuple[str, int], list[dict[str, float]]], path: Path) -> None:
    """Draws mAP vs GFLOPs (mean ± std over seeds) for each swept method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for name in SWEEP_METHODS:
        ks = sorted(k for (n, k) in sweep if n == name)
        if not ks:
            continue
        g = [sweep[(name, k)][0]["gflops"] for k in ks]
        m = [100 * np.mean([e["mAP"] for e in sweep[(name, k)]]) for k in ks]
        s = [100 * np.std([e["mAP"] for e in sweep[(name, k)]]) for k in ks]
        ax.errorbar(g, m, yerr=s, marker="o", ms=3, capsize=2, label=name)
    ax.set_xlabel("GFLOPs per video")
    ax.set_ylabel("mAP (%)")
    ax.set_title("fight-surv untrimmed, K = 1..10 of T = 50")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def render_markdown(summary: dict[str, Any]) -> str:
    """Returns the Markdown tables written into benchmarks/RESULTS.md."""
    lines = ["| method | K | mAP (%) | top-1 (%) | GFLOPs | path | frames in fight clip |", "|---|---|---|---|---|---|---|"]
    for r in summary["table1"]:
        hit = "" if r["event_hit_rate"] is None else f"{100 * r['event_hit_rate']:.1f}%"
        lines.append(f"| {r['method']} | {r['K']} | {r['mAP']:.2f} ± {r['mAP_std']:.2f} | {r['top1']:.2f} | "
                     f"{r['gflops']:.2f} | {r['path']} | {hit} |")
    lines += ["", "| branch / fusion | mAP (%) |", "|---|---|"]
    for b, v in summary["branches"].items():
        lines.append(f"| {b} only | {v['mAP']:.2f} ± {v['mAP_std']:.2f} |")
    for f, v in summary["fusions"].items():
        lines.append(f"| fused {f} | {v['mAP']:.2f} ± {v['mAP_std']:.2f} |")
    gq = summary.get("guide_quality")
    if gq:
        lines += ["", "| guiding score | AUC fight-clip frames vs rest (train fight videos) | mean g inside | mean g outside |",
                  "|---|---|---|---|"]
        for name in ("prototype", "response"):
            lines.append(f"| {name} | {gq[name + '_auc']:.3f} | {gq[name + '_mean_inside']:.3f} | {gq[name + '_mean_outside']:.3f} |")
    if "ablation" in summary:
        lines += ["", "| ablation run | mAP (%) |", "|---|---|"]
        for name, v in summary["ablation"].items():
            lines.append(f"| {name} | {v['mAP']:.2f} ± {v['mAP_std']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
