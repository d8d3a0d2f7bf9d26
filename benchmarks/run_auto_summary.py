"""The summary of ``run_auto.py``: per-method means, sample stds, frame shares, paired bootstrap and
over-seed intervals against Uniform and the best baseline, runs at Uniform's level, and the auto record."""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from benchmarks.run_auto import BASELINES, predictions, t_interval
from benchmarks.run_controlled import CATEGORIES, frame_categories
from nsnet.metrics import mean_average_precision, paired_bootstrap_map
from nsnet.sampler.data import load_sampler_arrays
from nsnet.store import FeatureStore

ORDER = ["uniform", "random", "dense", "topk", "maxconf-l", "scsampler", "nsnet", "fsm-only", "vgm", "vgm-guided",
         "tsqnet", "vqm", "tqm", "auto", "auto-grouped", "oracle"]
NO_SEED = {"uniform", "dense", "topk"}  # deterministic given the store
PAIRS = [("fsm-only", "nsnet"), ("tqm", "tsqnet"), ("nsnet", "vgm")]  # one branch alone vs the paper's model
CANDIDATES = ["nsnet", "fsm-only", "vgm-guided", "maxconf-l", "scsampler", "tsqnet", "tqm"]


def _collect(per_seed: dict[int, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Returns {method: [one entry per seed]} (random: its 5 sampler seeds; fixed methods: one entry)."""
    out: dict[str, list[dict[str, Any]]] = {}
    first = per_seed[min(per_seed)]
    for name in NO_SEED:
        out[name] = [first[name]]
    out["random"] = [v for k, v in first.items() if k.startswith("random-")]
    for seed in sorted(per_seed):
        for name, entry in per_seed[seed].items():
            if name in NO_SEED or name.startswith("random-") or name == "fusions":
                continue
            out.setdefault(name, []).append(entry)
    return out


def _interval(a: np.ndarray, b: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Returns the paired bootstrap difference of a [S, N, C] to b [S', N, C] in points (S' = 1 broadcast;
    otherwise the first min(S, S') seeds of each are paired)."""
    if b.shape[0] == 1:
        b = np.broadcast_to(b, a.shape)
    else:
        n = min(a.shape[0], b.shape[0])
        a, b = a[:n], b[:n]
    res = paired_bootstrap_map(a, b, labels, resamples=2000, seed=seed)
    return {"diff": 100 * res["diff"], "low": 100 * res["low"], "high": 100 * res["high"]}


def summarise(args: argparse.Namespace, store: FeatureStore, spans: dict, per_seed: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Returns the JSON-able summary of every method over the seeds (see the module docstring)."""
    val = load_sampler_arrays(store, "val")
    cats = frame_categories(store, store.valid_indices("val"), spans)
    entries = _collect(per_seed)
    preds = {m: np.stack([predictions(val.rec_logits, e["positions"]) for e in es]) for m, es in entries.items()}
    maps = {m: [100 * e["mAP"] for e in es] for m, es in entries.items()}
    for m in preds:  # the evaluation's mAP is what the stored positions give
        assert abs(100 * mean_average_precision(preds[m][0], val.labels) - maps[m][0]) < 1e-6, m
    uniform = preds["uniform"]
    rows = []
    for m in [m for m in ORDER if m in entries]:
        es, vals = entries[m], maps[m]
        baselines = [b for b in BASELINES if b in entries and b != m]
        best = max(baselines, key=lambda b: np.mean(maps[b]))
        shares = np.mean([[float((np.take_along_axis(cats, np.asarray(e["positions"]), 1) == i).mean())
                           for i in range(len(CATEGORIES))] for e in es], axis=0)
        row: dict[str, Any] = {
            "method": m, "K": args.k, "mAP": float(np.mean(vals)), "mAP_std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
            "seeds": len(vals), "per_seed": vals, "top1": float(np.mean([100 * e["top1"] for e in es])),
            "gflops": float(es[0]["gflops"]), "shares": dict(zip(CATEGORIES, map(float, shares))),
            "best_baseline": best,
            # positional collapse: the share of the chosen frames among the first K positions (Uniform: 0)
            "first_k_share": float(np.mean([(np.asarray(e["positions"]) < args.k).mean() for e in es])),
        }
        if m != "uniform":
            row["vs_uniform"] = _interval(preds[m], uniform, val.labels)
            row["vs_uniform_seeds"] = t_interval([v - maps["uniform"][0] for v in vals])
            row["at_uniform_level"] = sum(_interval(p[None], uniform, val.labels)["low"] <= 0 for p in preds[m])
        if m not in BASELINES or m != best:
            row["vs_best"] = _interval(preds[m], preds[best], val.labels)
            other = maps[best] if len(maps[best]) == len(vals) else [np.mean(maps[best])] * len(vals)
            row["vs_best_seeds"] = t_interval([v - o for v, o in zip(vals, other)])
        rows.append(row)
    pairs = [(a, b) for a, b in PAIRS if a in preds and b in preds]
    for auto in ("auto", "auto-grouped"):  # the holdout in store order; whole groups held out (--groups)
        pairs += [(auto, c) for c in CANDIDATES if auto in preds and c in preds]
    pairs += [("auto-grouped", "auto")] if {"auto", "auto-grouped"} <= set(preds) else []
    compared = [{"a": a, "b": b, "diff_seeds": t_interval([x - y for x, y in zip(maps[a], maps[b])]),
                 **_interval(preds[a], preds[b], val.labels)} for a, b in pairs]
    fusions = {}
    for f in per_seed[min(per_seed)].get("fusions", {}):
        vals = [100 * per_seed[s]["fusions"][f]["mAP"] for s in sorted(per_seed)]
        fusions[f] = {"mAP": float(np.mean(vals)), "mAP_std": float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0,
                      "per_seed": vals}
    records = {name: [e.get("record") for e in entries.get(name, [])] for name in ("auto", "auto-grouped")}
    return {"std_ddof": 1, "store": str(args.store), "val_videos": int(val.N), "k": args.k, "seeds": sorted(per_seed),
            "settings": {"epochs": args.epochs, "width": args.width, "lr": args.lr if args.lr is not None else "own", "auto_seeds": args.auto_seeds},
            "rows": rows, "pairs": compared, "fusions": fusions,
            **{key.replace("-", "_"): [_auto_summary(r, args, s) for r, s in zip(recs, sorted(per_seed)) if r]
               for key, recs in records.items() if recs or key == "auto"}}


def _auto_summary(record: dict[str, Any], args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """Returns the choice of one auto seed: holdout scores of each candidate, cost next to one NSNet run."""
    nsnet_run = json.loads((args.work / f"seed{seed}" / "nsnet" / "config.json").read_text())["run"]
    return {"seed": seed, "choice": record["choice"], "method": record["method"], "beats_uniform": record["beats_uniform"],
            "uniform_holdout_mAP": record["uniform_holdout_mAP"], "holdout": record["holdout"],
            "candidates": {c["label"]: {k: c.get(k) for k in ("mean", "std", "holdout_mAP", "vs_uniform",
                                                              "at_uniform_level", "train_seconds")}
                           for c in record["candidates"]},
            "final": record.get("final"), "total_seconds": record["total_seconds"],
            "candidate_seconds": record["candidate_seconds"], "nsnet_run_seconds": nsnet_run["train_seconds"]}
