"""The controlled untrimmed benchmark (built by ``build_controlled.py``): paper Table 1, Table 6 /
supp. B analogues, the budget sweep, where each method's frames fall (event / distractor /
background) and the difficulty grid, all from extracted stores.

Prerequisites (commands and timings in benchmarks/RESULTS.md; ``make bench-controlled`` runs all):

    python benchmarks/build_controlled.py --out DATA --seed 0
    nsnet extract DATA/annotations.csv --out STORE --frames 50 --extractor-size 112 \\
        --recognizer tf_efficientnet_lite0 --batch-size 50
    (this script fits the recognizer head on the train events itself: fit-recognizer --segments)

Stages (each caches its results under ``--work``; run them in any order, in parallel processes):

    python benchmarks/run_controlled.py tune     --store STORE --spans DATA/spans.json
    python benchmarks/run_controlled.py table1   --store STORE --spans DATA/spans.json --seed 0
    python benchmarks/run_controlled.py ablation --store STORE --spans DATA/spans.json --seed 0
    python benchmarks/run_controlled.py grid     --store GRID_STORE --spans GRID_DATA/spans.json --seed 0
    python benchmarks/run_controlled.py summary  --store STORE --spans DATA/spans.json [--grid-store ...]

``tune`` trains NSNet variants on ``train[:80%]`` and scores them on ``train[80%:]`` (never on val);
the best of them is the "tuned" NSNet of Table 1, shown next to the paper's rules. Sampler
figures are mean ± std over the seeds; the reload path (decode only the chosen frames) is run for
NSNet and Uniform on seed 0 and checked against the cached path, which the other seeds use.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.run_real import (  # noqa: E402
    ABLATION_GRID,
    FUSIONS,
    aggregate_ablation,
    ensure_recognizer_head,
    mean_std,
    plot_sweep,
    write_grid,
)
from nsnet.evaluate.cached import cached_logits  # noqa: E402
from nsnet.evaluate.config import EvaluateConfig  # noqa: E402
from nsnet.metrics import average_frame_predictions, mean_average_precision  # noqa: E402
from nsnet.evaluate.run import EvaluationResult, evaluate  # noqa: E402
from nsnet.sampler.ablate import ablate  # noqa: E402
from nsnet.sampler.config import SamplerConfig, sampler_config  # noqa: E402
from nsnet.sampler.train import fit_sampler  # noqa: E402
from nsnet.store import FeatureStore  # noqa: E402
from nsnet.store import schema as S  # noqa: E402

TABLE1_METHODS = ["uniform", "random", "dense", "topk", "maxconf-l", "scsampler", "nsnet", "oracle"]
SWEEP_METHODS = ["nsnet", "uniform", "maxconf-l", "oracle"]
RANDOM_SEEDS = [0, 1, 2, 3, 4]
CATEGORIES = ("event", "distractor", "background", "confuser")
TUNE_SPLITS = {"train_split": "train[:80%]", "val_split": "train[80%:]"}

# What was tried on the held-out part of train (see RESULTS.md): the paper's rules, the calibrated
# guide and its quantile, guide sharpness, the FSM saliency rule, the NS weight and the schedule.
TUNE_GRID: list[dict[str, Any]] = [
    {"name": "paper"},
    {"name": "calibrated", "guide": "calibrated"},
    {"name": "predicted-class", "fsm_saliency": "predicted-class"},
    {"name": "temp0.25", "guide_temperature": 0.25},
    {"name": "gamma1", "gamma": 1.0},
]

# Table 6 / supp. B analogues, run on top of the chosen NSNet settings; the guide rows compare the
# paper's prototype guide, the response guide and the calibrated one.
CONTROLLED_ABLATION = [e for e in ABLATION_GRID if e["name"].startswith(("vgm-", "fsm-")) and e["name"] != "fsm-ns-response"] + [
    {"name": "guide-prototype", "variant": "nsnet", "guide": "prototype"},
    {"name": "guide-response", "variant": "nsnet", "guide": "response"},
    {"name": "guide-calibrated", "variant": "nsnet", "guide": "calibrated"},
] + [e for e in ABLATION_GRID if e["name"].startswith("enc-") and e["name"] != "enc-conv1d"]  # conv1d diverges at lr 0.03


# --------------------------------------------------------------------------- frames and spans


def frame_categories(store: FeatureStore, rows: np.ndarray, spans: dict) -> np.ndarray:
    """Returns [N, T] int8: the category (index into CATEGORIES) of every pre-sampled frame."""
    frame_idx, vids = store.read(S.FRAME_INDICES, rows), store.read(S.VIDEO_ID, rows)
    cats = np.full(frame_idx.shape, CATEGORIES.index("background"), np.int8)
    for i, vid in enumerate(vids):
        entry = spans[Path(str(vid)).stem]
        for key, cat in (("distractors", "distractor"), ("confusers", "confuser")):
            for lo, hi in entry.get(key, []):
                cats[i][(frame_idx[i] >= lo) & (frame_idx[i] < hi)] = CATEGORIES.index(cat)
        if entry.get("event"):  # the real benchmark's noFight videos have none
            lo, hi = entry["event"]
            cats[i][(frame_idx[i] >= lo) & (frame_idx[i] < hi)] = CATEGORIES.index("event")
    return cats


def frame_shares(cats: np.ndarray, positions: np.ndarray) -> dict[str, float]:
    """Returns the share of the chosen frames (``positions`` [N, K]) in each category."""
    chosen = np.take_along_axis(cats, np.asarray(positions, np.int64), 1)
    return {c: float((chosen == i).mean()) for i, c in enumerate(CATEGORIES)}


def cells_of(store: FeatureStore, rows: np.ndarray, spans: dict) -> list[tuple[float, int]]:
    """Returns the (event fraction, distractors) cell of every video (difficulty-grid builds)."""
    vids = store.read(S.VIDEO_ID, rows)
    return [(spans[Path(str(v)).stem]["cell"]["event_frac"], spans[Path(str(v)).stem]["cell"]["distractors"])
            for v in vids]


def subset_map(logits: np.ndarray, labels: np.ndarray, positions: np.ndarray, mask: np.ndarray) -> float:
    """Returns the mAP of the videos in ``mask`` from their chosen frames' cached logits."""
    probs = average_frame_predictions(cached_logits(logits[mask], positions[mask]), False)
    return mean_average_precision(probs, labels[mask])


# --------------------------------------------------------------------------- training helpers


def base_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Returns the shared sampler training settings (the CPU budget: epochs, width, lr)."""
    return {"epochs": args.epochs, "width": args.width, "lr": args.lr}


def tuned_overrides(work: Path) -> dict[str, Any]:
    """Returns the config overrides of the best NSNet variant of the ``tune`` stage (by held-out mAP);
    {} while the tune stage has not run (then only the paper's NSNet is trained)."""
    table = work / "tune" / "ablation.csv"
    if not table.is_file():
        return {}
    with open(table) as fh:
        names = {e["name"] for e in TUNE_GRID}
        rows = [r for r in csv.DictReader(fh) if not r.get("error") and r["name"] in names]
    best = max(rows, key=lambda r: float(r["mAP"]))
    entry = next(e for e in TUNE_GRID if e["name"] == best["name"])
    return {k: v for k, v in entry.items() if k != "name"}


def train(store: Path, run_dir: Path, cfg: SamplerConfig) -> Path:
    """Trains ``cfg`` into ``run_dir`` unless a run is there already; returns the run directory."""
    if not (run_dir / "config.json").is_file():
        fit_sampler(store, run_dir, cfg, progress=False)
    return run_dir


def seed_runs(args: argparse.Namespace, store: Path, work: Path, seed: int, tuned: bool = True) -> dict[str, Path]:
    """Trains (or reuses) one seed's runs: NSNet with the paper's rules, MaxConf-L, SCSampler and
    (``tuned`` and once the tune stage has run) the tuned NSNet."""
    base = base_settings(args)
    runs = {}
    for name, variant, extra in (("nsnet-paper", "nsnet", {}), ("maxconf-l", "maxconf-l", {}),
                                 ("scsampler", "scsampler", {})):
        runs[name] = train(store, work / f"seed{seed}" / name,
                           sampler_config(variant, name=name, seed=seed, **{**base, **extra}))
    overrides = tuned_overrides(work) if tuned else {}
    if overrides:
        runs["nsnet-tuned"] = train(store, work / f"seed{seed}" / "nsnet-tuned",
                                    sampler_config("nsnet", name="nsnet-tuned", seed=seed, **{**base, **overrides}))
    return runs


# --------------------------------------------------------------------------- stages


def stage_tune(args: argparse.Namespace, work: Path) -> None:
    """Trains TUNE_GRID on train[:80%] and scores it on train[80%:] (`nsnet ablate`, resumable)."""
    grid = [{**base_settings(args), "variant": "nsnet", **TUNE_SPLITS, **e, "seed": args.seed} for e in TUNE_GRID]
    path = work / "tune" / "grid.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(grid, indent=1))
    ablate(args.store, path, work / "tune", k=args.k, progress=False)
    print(f"tuned: {tuned_overrides(work)}")


def _rows_of(res: EvaluationResult, cats: np.ndarray, rename: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for row in res.rows:
        name = rename.get(row.method, row.method)
        positions = res.selections[(row.method, row.K)]
        out.append(dict(row.to_dict(), method=name, shares=frame_shares(cats, positions)))
    return out


def stage_table1(args: argparse.Namespace, work: Path, store: FeatureStore, spans: dict) -> dict[str, Any]:
    """Table 1, branches, fusions and sweep of one seed (cached to ``seed<S>/table1.json``)."""
    seed = args.seed
    cache = work / f"seed{seed}" / "table1.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    t0 = time.perf_counter()
    runs = seed_runs(args, args.store, work, seed)
    t_train = time.perf_counter() - t0
    rows_val = store.valid_indices("val")
    cats = frame_categories(store, rows_val, spans)
    baselines = [runs["maxconf-l"], runs["scsampler"]]
    common = dict(store=args.store, seed=seed,
                  quiet=True, split="val", workers=1)
    out: dict[str, Any] = {"seed": seed, "rows": [], "branches": {}, "fusions": {}, "sweep": [], "random": [],
                           "reload": [], "timings_s": {"train": t_train}}
    t0 = time.perf_counter()
    res = evaluate(EvaluateConfig(runs=[runs["nsnet-paper"], *baselines], budgets=[args.k], methods=TABLE1_METHODS + ["fsm", "vgm"],
                                  path="cached", **common).validate())
    for row in _rows_of(res, cats, {"fused:union": "nsnet-paper", "fsm": "fsm-paper", "vgm": "vgm-paper"}):
        out["rows"].append(row)
    if "nsnet-tuned" in runs:
        res = evaluate(EvaluateConfig(runs=[runs["nsnet-tuned"], *baselines], budgets=[args.k], methods=["nsnet", "fsm", "vgm"],
                                      path="cached", **common).validate())
        out["rows"] += _rows_of(res, cats, {"fused:union": "nsnet-tuned", "fsm": "fsm-tuned", "vgm": "vgm-tuned"})
    default_run = runs.get("nsnet-tuned", runs["nsnet-paper"])
    fused = evaluate(EvaluateConfig(runs=[default_run, *baselines], budgets=[args.k], methods=[f"fused:{f}" for f in FUSIONS],
                                    path="cached", **common).validate())
    out["fusions"] = {row.fusion: row.mAP for row in fused.rows}
    if seed == 0:
        for rseed in RANDOM_SEEDS:
            res = evaluate(EvaluateConfig(runs=baselines, budgets=[args.k], methods=["random"], path="cached",
                                          **{**common, "seed": rseed}).validate())
            out["random"].append(res.rows[0].mAP)
    sw = evaluate(EvaluateConfig(runs=[default_run, *baselines], budgets=[], sweep=list(range(1, 11)), methods=SWEEP_METHODS,
                                 path="cached", **common).validate())
    out["sweep"] = [{"method": "nsnet" if r.method.startswith("fused:") else r.method, "K": r.K, "mAP": r.mAP,
                     "gflops": r.gflops} for r in sw.rows]
    out["timings_s"]["evaluate cached"] = time.perf_counter() - t0
    if seed == 0 and not args.skip_reload:
        # reload (decode the chosen frames, run the recognizer) next to cached on the same videos
        t0 = time.perf_counter()
        sub = {**common, "split": args.reload_split}
        sub_cats = frame_categories(store, store.valid_indices(args.reload_split), spans)
        for name in [n for n in ("nsnet-paper", "nsnet-tuned") if n in runs]:
            methods = ["nsnet"] + (["uniform"] if name == "nsnet-paper" else [])
            for path in ("reload", "cached"):
                res = evaluate(EvaluateConfig(runs=[runs[name], *baselines], budgets=[args.k], path=path, methods=methods,
                                              **sub).validate())
                out["reload"] += [dict(r, split=args.reload_split) for r in _rows_of(res, sub_cats, {"fused:union": name})]
        out["timings_s"]["evaluate reload"] = time.perf_counter() - t0
    cache.write_text(json.dumps(out, indent=1))
    return out


def stage_tsqnet(args: argparse.Namespace, work: Path, store: FeatureStore, spans: dict) -> dict[str, Any]:
    """TSQNet, VQM and TQM rows of one seed (cached to ``seed<S>/tsqnet.json``): a TSQNet run with
    the shared training settings, evaluated on val with the cached path."""
    seed = args.seed
    cache = work / f"seed{seed}" / "tsqnet.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    t0 = time.perf_counter()
    run = train(args.store, work / f"seed{seed}" / "tsqnet",
                sampler_config("tsqnet", name="tsqnet", seed=seed, **base_settings(args)))
    t_train = time.perf_counter() - t0
    cats = frame_categories(store, store.valid_indices("val"), spans)
    res = evaluate(EvaluateConfig(store=args.store, runs=[run], budgets=[args.k], methods=["tsqnet", "vqm", "tqm"],
                                  path="cached", seed=seed, quiet=True, split="val").validate())
    out = {"seed": seed, "rows": _rows_of(res, cats, {}), "timings_s": {"train": t_train}}
    cache.write_text(json.dumps(out, indent=1))
    return out


def stage_ablation(args: argparse.Namespace, work: Path) -> None:
    """Table 6 / supp. B analogues on top of the chosen NSNet settings (`nsnet ablate`, resumable).
    ``--part i/n`` trains every n-th entry from i (parts run side by side; ``merge_ablation_parts``
    joins their tables)."""
    base = {**base_settings(args), **tuned_overrides(work)}
    i, n = (int(x) for x in args.part.split("/"))
    seed_dir = work / f"seed{args.seed}"
    entries = [e for e in CONTROLLED_ABLATION if not args.entries or e["name"] in args.entries.split(",")]
    grid = write_grid(seed_dir / f"ablation_grid{i}.json", args.seed, base, entries if args.entries else entries[i::n])
    ablate(args.store, grid, seed_dir / f"ablation_part{i}", k=args.k, progress=False)


def merge_ablation_parts(seed_dir: Path) -> None:
    """Writes ``seed_dir/ablation/ablation.csv`` from the finished ``ablation_part*`` tables."""
    parts = sorted(seed_dir.glob("ablation_part*/ablation.csv"))
    if not parts:
        return
    rows: list[dict[str, str]] = []
    for part in parts:
        with open(part) as fh:
            rows += [r for r in csv.DictReader(fh) if not r["name"].startswith("uniform")]
    (seed_dir / "ablation").mkdir(exist_ok=True)
    with open(seed_dir / "ablation" / "ablation.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def stage_grid(args: argparse.Namespace, work: Path, store: FeatureStore, spans: dict) -> dict[str, Any]:
    """Difficulty grid of one seed: per (event fraction, distractors) cell, the mAP of NSNet
    (paper and tuned), Uniform, Top-K and MaxConf-L on the grid store's val videos."""
    seed = args.seed
    cache = work / f"seed{seed}" / "grid.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    main_work = args.main_work or work
    tuned = tuned_overrides(main_work)
    base = base_settings(args)
    runs = {"nsnet-paper": train(args.store, work / f"seed{seed}" / "nsnet-paper",
                                 sampler_config(name="nsnet-paper", seed=seed, **base)),
            "maxconf-l": train(args.store, work / f"seed{seed}" / "maxconf-l",
                               sampler_config("maxconf-l", name="maxconf-l", seed=seed, **base))}
    if tuned:
        runs["nsnet-tuned"] = train(args.store, work / f"seed{seed}" / "nsnet-tuned",
                                    sampler_config(name="nsnet-tuned", seed=seed, **{**base, **tuned}))
    rows = store.valid_indices("val")
    cells = cells_of(store, rows, spans)
    cats = frame_categories(store, rows, spans)
    baselines = [runs["maxconf-l"]]
    common = dict(store=args.store, seed=seed, quiet=True, split="val")
    selections: dict[str, np.ndarray] = {}
    for name in [n for n in ("nsnet-paper", "nsnet-tuned") if n in runs]:
        res = evaluate(EvaluateConfig(runs=[runs[name], *baselines], budgets=[args.k], path="cached",
                                      methods=["nsnet"] + (["uniform", "topk", "maxconf-l", "oracle"]
                                                           if name == "nsnet-paper" else []), **common).validate())
        for (method, _), pos in res.selections.items():
            selections[name if method.startswith("fused:") else method] = pos
        ctx = res.context
    logits, labels = ctx.arrays.rec_logits, ctx.labels
    out: dict[str, Any] = {"seed": seed, "cells": {}}
    for cell in sorted(set(cells)):
        mask = np.array([c == cell for c in cells])
        key = f"{100 * cell[0]:g}% x {cell[1]}"
        out["cells"][key] = {
            "videos": int(mask.sum()),
            "mAP": {m: subset_map(logits, labels, pos, mask) for m, pos in selections.items()},
            "shares": {m: frame_shares(cats[mask], pos[mask]) for m, pos in selections.items()},
        }
    cache.write_text(json.dumps(out, indent=1))
    return out


# --------------------------------------------------------------------------- diagnostics


def guide_quality(store: FeatureStore, spans: dict, split: str = "train") -> dict[str, dict[str, float]]:
    """Returns, per guiding score, its mean on event / distractor / background frames of ``split``
    and two ROC-AUCs: event frames vs every other frame, and event frames vs distractor frames."""
    from sklearn.metrics import roc_auc_score

    from nsnet.sampler.data import load_sampler_arrays
    from nsnet.sampler.prototypes import build_prototypes, compute_guide, with_negative_quantiles

    arrays = load_sampler_arrays(store, split)
    cats = frame_categories(store, store.valid_indices(split), spans)
    protos = build_prototypes(arrays.rec_features, arrays.rec_logits, arrays.labels, 0.3)
    protos = with_negative_quantiles(protos, arrays.rec_features, arrays.labels)
    guides = {
        "prototype (paper, T=1)": dict(mode="prototype"),
        "prototype T=0.25": dict(mode="prototype", temperature=0.25),
        "prototype T=4": dict(mode="prototype", temperature=4.0),
        "calibrated rho=0.02": dict(mode="calibrated", quantile=0.02),
        "calibrated rho=0.05": dict(mode="calibrated", quantile=0.05),
        "response": dict(mode="response"),
    }
    event, dis = cats == CATEGORIES.index("event"), cats == CATEGORIES.index("distractor")
    out = {}
    for name, kw in guides.items():
        g = compute_guide(arrays.labels, rec_features=arrays.rec_features, rec_logits=arrays.rec_logits,
                          prototypes=protos, **kw).g
        row = {f"mean {c}": float(g[cats == i].mean()) for i, c in enumerate(CATEGORIES) if (cats == i).any()}
        row["auc event vs rest"] = float(roc_auc_score(event.ravel(), g.ravel()))
        both = event | dis
        row["auc event vs distractor"] = float(roc_auc_score(event[both], g[both]))
        top = np.argsort(-g, axis=1, kind="stable")[:, :5]
        row["top-5 on event"] = float(np.take_along_axis(event, top, 1).mean())
        row["top-5 on distractor"] = float(np.take_along_axis(dis, top, 1).mean())
        out[name] = row
    return out


# --------------------------------------------------------------------------- summary


def _agg(values: list[float]) -> dict[str, float]:
    m, s = mean_std(values)
    return {"mAP": 100 * m, "mAP_std": 100 * s, "seeds": len(values)}


def stage_summary(args: argparse.Namespace, work: Path, store: FeatureStore) -> dict[str, Any]:
    """Aggregates the cached stage results over seeds; writes the JSON files, the sweep PNG and prints
    the Markdown tables for RESULTS.md."""
    seeds = [s for s in args.seeds if (work / f"seed{s}" / "table1.json").is_file()]
    per_seed = [json.loads((work / f"seed{s}" / "table1.json").read_text()) for s in seeds]
    for res, s in zip(per_seed, seeds):  # TSQNet rows (stage tsqnet) join their seed's table
        if (work / f"seed{s}" / "tsqnet.json").is_file():
            res["rows"] += json.loads((work / f"seed{s}" / "tsqnet.json").read_text())["rows"]
    table: dict[str, list[dict[str, Any]]] = {}
    for res in per_seed:
        for row in res["rows"]:
            table.setdefault(row["method"], []).append(row)
    order = ["uniform", "random", "dense", "topk", "maxconf-l", "scsampler", "nsnet-paper", "fsm-paper", "vgm-paper",
             "nsnet-tuned", "fsm-tuned", "vgm-tuned", "tsqnet", "vqm", "tqm", "oracle"]
    rows = []
    for name in sorted(table, key=lambda n: order.index(n) if n in order else 99):
        entries = table[name]
        agg = _agg([e["mAP"] for e in entries])
        if name == "random" and per_seed and per_seed[0]["random"]:
            agg = _agg(per_seed[0]["random"])  # the random sampler's own seeds
        shares = {c: float(np.mean([e["shares"][c] for e in entries])) for c in CATEGORIES}
        rows.append({"method": name, "K": entries[0]["K"], "mAP": agg["mAP"], "mAP_std": agg["mAP_std"],
                     "top1": 100 * float(np.mean([e["top1"] for e in entries])), "seeds": agg["seeds"],
                     "gflops": entries[0]["gflops"], "path": "cached",
                     "seconds": float(np.mean([e["seconds"] for e in entries])),
                     "event_hit_rate": shares["event"], "shares": shares})
    reload_rows = [dict(r, mAP=100 * r["mAP"], top1=100 * r["top1"]) for r in per_seed[0]["reload"]] if per_seed else []
    sweep: dict[tuple[str, int], list[dict[str, float]]] = {}
    for res in per_seed:
        for row in res["sweep"]:
            sweep.setdefault((row["method"], row["K"]), []).append(row)
    summary: dict[str, Any] = {
        "store": str(args.store), "fingerprint": store.fingerprint, "videos": store.status_counts(),
        "seeds": seeds, "sampler": base_settings(args), "K": args.k, "std_ddof": 1,
        "tuned": tuned_overrides(work),
        "table1": rows, "reload": reload_rows,
        "random_seeds": ({"values": [100 * v for v in per_seed[0]["random"]], **_agg(per_seed[0]["random"])}
                         if per_seed and per_seed[0]["random"] else None),
        "fusions": {f: _agg([r["fusions"][f] for r in per_seed]) for f in FUSIONS} if per_seed else {},
        "sweep": {f"{n}@{k}": {**_agg([e["mAP"] for e in v]), "gflops": v[0]["gflops"]} for (n, k), v in sorted(sweep.items())},
    }
    summary["guide_quality"] = guide_quality(store, json.loads(args.spans.read_text()))
    if (work / "tune" / "ablation.csv").is_file():
        with open(work / "tune" / "ablation.csv") as fh:
            summary["tune"] = {r["name"]: {k: r[k] for k in ("mAP", "mAP_fsm", "mAP_vgm", "error") if r.get(k)}
                               for r in csv.DictReader(fh)}
    for s in args.seeds:
        merge_ablation_parts(work / f"seed{s}")
    done = [s for s in args.seeds if (work / f"seed{s}" / "ablation" / "ablation.csv").is_file()]
    if done:
        summary["ablation"], summary["ablation_seeds"] = aggregate_ablation(work, done), done
    grid_work = args.grid_work
    if grid_work is not None:
        grids = [json.loads((grid_work / f"seed{s}" / "grid.json").read_text()) for s in args.seeds
                 if (grid_work / f"seed{s}" / "grid.json").is_file()]
        if grids:
            summary["grid"] = {cell: {"videos": grids[0]["cells"][cell]["videos"],
                                      "mAP": {m: _agg([g["cells"][cell]["mAP"][m] for g in grids])
                                              for m in grids[0]["cells"][cell]["mAP"]},
                                      "diff": {f"{a} - {b}": _agg([g["cells"][cell]["mAP"][a] - g["cells"][cell]["mAP"][b]
                                                                   for g in grids])
                                               for a in ("nsnet-paper", "nsnet-tuned") for b in ("uniform", "maxconf-l", "topk")
                                               if a in grids[0]["cells"][cell]["mAP"]},
                                      "shares": {m: {c: float(np.mean([g["cells"][cell]["shares"][m][c] for g in grids]))
                                                     for c in CATEGORIES} for m in grids[0]["cells"][cell]["shares"]}}
                               for cell in grids[0]["cells"]}
            summary["grid_seeds"] = len(grids)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "controlled_table1.json").write_text(json.dumps(
        [{**{k: v for k, v in r.items() if k != "shares"}, "std_ddof": 1} for r in rows], indent=1))
    (out / "controlled_summary.json").write_text(json.dumps(summary, indent=1))
    plot_sweep(sweep, out / "controlled_sweep.png", title="controlled untrimmed, K = 1..10 of T = 50")
    print(render_markdown(summary))
    return summary


def render_markdown(summary: dict[str, Any]) -> str:
    """Returns the Markdown tables written into benchmarks/RESULTS.md."""
    lines = ["| method | K | mAP (%) | top-1 (%) | GFLOPs | event | distractor | background |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in summary["table1"]:
        sh = r["shares"]
        lines.append(f"| {r['method']} | {r['K']} | {r['mAP']:.2f} ± {r['mAP_std']:.2f} | {r['top1']:.2f} | "
                     f"{r['gflops']:.2f} | {100 * sh['event']:.1f}% | {100 * sh['distractor']:.1f}% | "
                     f"{100 * sh['background']:.1f}% |")
    if summary.get("guide_quality"):
        cols = list(next(iter(summary["guide_quality"].values())))
        lines += ["", "| guiding score (train) | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
        for name, v in summary["guide_quality"].items():
            lines.append(f"| {name} | " + " | ".join(f"{v[c]:.3f}" for c in cols) + " |")
    if summary.get("reload"):
        lines += ["", "| seed 0, same videos | path | videos | mAP (%) | top-1 (%) | seconds |", "|---|---|---:|---:|---:|---:|"]
        for r in summary["reload"]:
            lines.append(f"| {r['method']} | {r['path']} | {r['videos']} | {r['mAP']:.2f} | {r['top1']:.2f} | {r['seconds']:.1f} |")
    if summary.get("fusions"):
        lines += ["", "| fusion (chosen NSNet) | mAP (%) |", "|---|---:|"]
        for f, v in summary["fusions"].items():
            lines.append(f"| {f} | {v['mAP']:.2f} ± {v['mAP_std']:.2f} |")
    if summary.get("tune"):
        lines += ["", "| tune (train[:80%] -> train[80%:]) | mAP (%) | FSM alone | VGM alone |", "|---|---:|---:|---:|"]
        for name, v in summary["tune"].items():
            if v.get("error"):
                lines.append(f"| {name} | {v['error']} | | |")
                continue
            cells = [f"{100 * float(v[k]):.2f}" if v.get(k) else "" for k in ("mAP", "mAP_fsm", "mAP_vgm")]
            lines.append(f"| {name} | {' | '.join(cells)} |")
    if summary.get("ablation"):
        lines += ["", "| ablation run | mAP (%) | FSM alone | VGM alone |", "|---|---:|---:|---:|"]
        for name, v in summary["ablation"].items():
            cell = (lambda col: f"{v[col]:.2f} ± {v[col + '_std']:.2f}" if col in v else "")
            lines.append(f"| {name} | {cell('mAP') or 'diverged'} | {cell('mAP_fsm')} | {cell('mAP_vgm')} |")
    if summary.get("grid"):
        first = next(iter(summary["grid"].values()))
        diffs = list(first["diff"])
        lines += ["", "| event x distractors | videos | " + " | ".join(diffs) + " | NSNet frames on distractors |",
                  "|---|---:|" + "---:|" * (len(diffs) + 1)]
        for cell, v in summary["grid"].items():
            d = " | ".join(f"{v['diff'][k]['mAP']:+.2f} ± {v['diff'][k]['mAP_std']:.2f}" for k in diffs)
            nsn = "nsnet-tuned" if "nsnet-tuned" in v["shares"] else "nsnet-paper"
            lines.append(f"| {cell} | {v['videos']} | {d} | {100 * v['shares'][nsn]['distractor']:.1f}% |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=["tune", "train", "table1", "tsqnet", "ablation", "grid", "summary", "guide"])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--spans", type=Path, required=True, help="spans.json written by build_controlled.py")
    ap.add_argument("--work", type=Path, default=None, help="where runs and caches go (default: STORE/../<name>_runs)")
    ap.add_argument("--main-work", type=Path, default=None, help="grid stage: the main store's work dir (its tune result)")
    ap.add_argument("--grid-work", type=Path, default=None, help="summary: the grid store's work dir")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.03)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: run stages side by side)")
    ap.add_argument("--skip-reload", action="store_true")
    ap.add_argument("--reload-split", default="val[:20%]", help="videos of the reload-vs-cached check (seed 0)")
    ap.add_argument("--part", default="0/1", help="ablation stage: train entries i, i+n, ... of the grid (i/n)")
    ap.add_argument("--entries", default="", help="ablation stage: only these comma-separated entry names (all of them, into part i's folder)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    store = FeatureStore.open(args.store)
    args.tsn_head = False
    ensure_recognizer_head(store, args)
    store = FeatureStore.open(args.store)
    spans = json.loads(args.spans.read_text())
    work = args.work or args.store.parent / f"{args.store.stem}_runs"
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.stage == "tune":
        stage_tune(args, work)
    elif args.stage == "train":
        print(seed_runs(args, args.store, work, args.seed, tuned=False))
    elif args.stage == "table1":
        stage_table1(args, work, store, spans)
    elif args.stage == "tsqnet":
        stage_tsqnet(args, work, store, spans)
    elif args.stage == "ablation":
        stage_ablation(args, work)
    elif args.stage == "grid":
        stage_grid(args, work, store, spans)
    elif args.stage == "guide":
        print(json.dumps(guide_quality(store, spans), indent=1))
    else:
        stage_summary(args, work, store)
    print(f"{args.stage} (seed {args.seed}): {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
