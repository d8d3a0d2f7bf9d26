"""The real untrimmed benchmark: paper Table 1, Table 6a/6c/6d and supp. B.1/B.2 analogues, and the
budget sweep (Fig. 3) on composed surveillance videos, all from ONE extracted store.

Prerequisites (documented with their timings in benchmarks/RESULTS.md):

    python benchmarks/build_untrimmed.py --src ../shared/data/fight-surv --out DATA --seed 0
    nsnet extract DATA/annotations.csv --out STORE --frames 50 --extractor-size 112 \
        --recognizer tf_efficientnet_lite0 --workers 1 --batch-size 50
    (this script runs `nsnet fit-recognizer STORE --segments DATA/spans.json` itself unless the
    store's head was fitted that way already; `--tsn-head` trains it on every frame instead)

Then:

    python benchmarks/run_real.py --store STORE --spans DATA/spans.json --out benchmarks/results

Every sampler figure is mean ± std over ``--seeds`` (the store is extracted once). Table 1 uses
the reload path (decode only the chosen frames) for NSNet, TSQNet and Uniform and the cached path for the
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
from nsnet.extract.fit_recognizer import FitRecognizerConfig, fit_recognizer  # noqa: E402
from nsnet.sampler.ablate import ablate  # noqa: E402
from nsnet.sampler.config import sampler_config  # noqa: E402
from nsnet.sampler.train import fit_sampler  # noqa: E402
from nsnet.store import FeatureStore  # noqa: E402
from nsnet.store import schema as S  # noqa: E402

TABLE1_METHODS = ["uniform", "random", "dense", "topk", "maxconf-l", "scsampler", "nsnet", "tsqnet", "vqm", "tqm",
                  "oracle"]
RELOAD_METHODS = ["nsnet", "tsqnet", "uniform"]
SWEEP_METHODS = ["nsnet", "tsqnet", "uniform", "maxconf-l", "oracle"]
TRAINED_VARIANTS = ("nsnet", "maxconf-l", "scsampler", "tsqnet")
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
    {"name": "enc-conv1d-lr0.01", "variant": "nsnet", "encoder": "conv1d", "lr": 0.01},  # diverges at 0.03
    {"name": "enc-transformer", "variant": "nsnet", "encoder": "transformer"},
]

# What was tried when NSNet fell short (see RESULTS.md): schedule and size, pseudo-label sharpness
# (guide temperature), prototype coverage (proto_eps), guide source, NS weight, regularisation, and
# the FSM saliency rule. Each entry overrides the shared training settings of the Table 1 runs.
INVESTIGATION_GRID: list[dict[str, Any]] = [
    {"name": "paper-schedule", "width": 512, "epochs": 120, "lr": 0.01},
    {"name": "lr0.01", "lr": 0.01},
    {"name": "epochs60", "epochs": 60},
    {"name": "temp0.25", "guide_temperature": 0.25},
    {"name": "temp4", "guide_temperature": 4.0},
    {"name": "eps0.1", "proto_eps": 0.1},
    {"name": "eps1.0", "proto_eps": 1.0},
    {"name": "gamma1", "gamma": 1.0},
    {"name": "wd1e-3", "weight_decay": 1e-3},
    {"name": "cls-dropout0.5", "cls_dropout": 0.5},
    {"name": "response", "guide": "response"},
    {"name": "salient", "fsm_saliency": "salient"},
    {"name": "response-salient", "guide": "response", "fsm_saliency": "salient"},
]


def mean_std(values: list[float]) -> tuple[float, float]:
    """Returns (mean, sample std) of a list of numbers: the std with ddof = 1 (0.0 for one value);
    the JSON files record this as ``"std_ddof": 1``."""
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def average_dicts(items: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Returns the element-wise mean of equally keyed {name: {metric: value}} dicts."""
    return {name: {m: float(np.mean([d[name][m] for d in items])) for m in items[0][name]} for name in items[0]}


def event_hit_rate(result: EvaluationResult, method: str, k: int, store: FeatureStore, spans: dict) -> float | None:
    """Returns the fraction of the chosen frames of fight videos that fall inside the fight clip."""
    positions = result.selections.get((method, k))
    ctx = result.context
    if positions is None or ctx is None:
        return None
    inside, fight = event_frames(store, ctx.rows, spans)
    return float(np.take_along_axis(inside, np.asarray(positions), 1)[fight].mean()) if fight.any() else None


def write_grid(path: Path, seed: int, base: dict[str, Any], grid: list[dict[str, Any]]) -> Path:
    """Writes ``grid`` (one seed, shared training settings under each entry's own) as an
    `nsnet ablate` grid file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([{**base, **e, "seed": seed} for e in grid], indent=1))
    return path


def guide_quality(store: FeatureStore, spans: dict, proto_eps: float = 0.3) -> dict[str, float]:
    """Returns how well each guiding score locates the fight clip inside the train fight videos:
    ROC-AUC of g (frame inside vs outside the clip) and the mean g inside / outside."""
    from sklearn.metrics import roc_auc_score

    from nsnet.sampler.data import load_sampler_arrays
    from nsnet.sampler.prototypes import build_prototypes, compute_guide

    arrays = load_sampler_arrays(store, "train")
    inside, fight = event_frames(store, store.valid_indices("train"), spans)
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


def event_frames(store: FeatureStore, rows: np.ndarray, spans: dict) -> tuple[np.ndarray, np.ndarray]:
    """Returns (inside [N, T] bool: frame lies in the fight clip, fight [N] bool: video has a fight clip)."""
    frame_idx, vids = store.read(S.FRAME_INDICES, rows), store.read(S.VIDEO_ID, rows)
    inside = np.zeros(frame_idx.shape, bool)
    fight = np.zeros(len(rows), bool)
    for i, vid in enumerate(vids):
        span = spans.get(Path(str(vid)).name, {}).get("event")
        if span:
            inside[i] = (frame_idx[i] >= span[0]) & (frame_idx[i] < span[1])
            fight[i] = True
    return inside, fight


def localisation_ceiling(store: FeatureStore, spans: dict, k: int) -> dict[str, dict[str, float]]:
    """Returns, per feature kind, what a frame scorer trained on the TRUE fight-clip frames achieves
    on val: frame ROC-AUC inside fight videos, top-K hit rate and the recognizer's mAP on its top-K.

    A logistic-regression probe (balanced classes, standardised features) sees every train frame
    with label 1 inside the fight clip and 0 elsewhere: ground truth no sampler gets. Its numbers
    bound what any frame-wise sampler on the same features can reach; ``light`` is the input the
    samplers get, ``recognizer`` the big model's features (dense cost, for reference).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    from nsnet.evaluate.cached import cached_logits
    from nsnet.metrics import average_frame_predictions, mean_average_precision
    from nsnet.numeric import top_k

    train, val = store.valid_indices("train"), store.valid_indices("val")
    y_train, _ = event_frames(store, train, spans)
    y_val, fight_val = event_frames(store, val, spans)
    labels = store.read(S.LABELS, val)
    logits = store.read(S.REC_LOGITS, val)
    out = {}
    for name, key in (("light", S.LIGHT_FEATURES), ("recognizer", S.REC_FEATURES)):
        x_tr = store.read(key, train).astype(np.float32)
        x_va = store.read(key, val).astype(np.float32)
        scaler = StandardScaler().fit(x_tr.reshape(-1, x_tr.shape[-1]))
        probe = LogisticRegression(C=1e-3, max_iter=300, class_weight="balanced")
        probe.fit(scaler.transform(x_tr.reshape(-1, x_tr.shape[-1])), y_train.ravel())
        score = probe.decision_function(scaler.transform(x_va.reshape(-1, x_va.shape[-1]))).reshape(y_val.shape)
        top = top_k(score, k)
        pred = average_frame_predictions(cached_logits(logits, top), store.multilabel)
        out[name] = {"auc": float(roc_auc_score(y_val[fight_val].ravel(), score[fight_val].ravel())),
                     "hit_rate": float(np.take_along_axis(y_val, top, 1)[fight_val].mean()),
                     "mAP": 100 * mean_average_precision(pred, labels)}
    return out


def sampler_localisation(store: FeatureStore, spans: dict, run_dir: Path, k: int) -> dict[str, dict[str, float]]:
    """Returns how well a trained NSNet run's saliency finds the fight clip, on train and on val:
    ``{"<split> <score>": {"auc", "hit_rate"}}`` for s^f, s^v, their convex combination
    alpha * s^f + (1 - alpha) * s^v (the sum fusion's score; union fusion has no per-frame score)
    and s^f by the FSM's alternative rule 1 - p(non-salient) (the paper's s^f is the max over the
    C real classes). AUC pools the frames of all fight videos; hit rate is per-video top-K."""
    import torch
    from sklearn.metrics import roc_auc_score

    from nsnet.numeric import top_k
    from nsnet.sampler.base import SamplerInputs
    from nsnet.sampler.nsnet.samplers import NSNetSampler

    sampler = NSNetSampler(run_dir, store=store)
    out = {}
    for split in ("train", "val"):
        rows = store.valid_indices(split)
        inside, fight = event_frames(store, rows, spans)
        inputs = SamplerInputs(light=store.read(S.LIGHT_FEATURES, rows))
        scores = sampler.branch_scores(inputs)
        scores[f"fused sum (alpha {sampler.alpha:g})"] = sampler.scores(inputs)
        model = sampler.run.model
        with torch.no_grad():
            fsm_out = model(torch.from_numpy(inputs.light))[0]["fsm"]
            scores["fsm 1-p(non-salient)"] = model.fsm.saliency(fsm_out, rule="salient").double().numpy()
        for name, sc in scores.items():
            out[f"{split} {name}"] = {
                "auc": float(roc_auc_score(inside[fight].ravel(), sc[fight].ravel())),
                "hit_rate": float(np.take_along_axis(inside, top_k(sc, k), 1)[fight].mean()),
            }
    return out


def train_runs(store: Path, out: Path, seed: int, base: dict[str, Any]) -> dict[str, Path]:
    """Trains (or reuses) the NSNet, MaxConf-L, SCSampler and TSQNet runs of one seed; returns their dirs."""
    runs = {}
    for variant in TRAINED_VARIANTS:
        run_dir = out / f"seed{seed}" / variant
        if not (run_dir / "config.json").is_file():
            fit_sampler(store, run_dir, sampler_config(variant, name=variant, seed=seed, **base), progress=False)
        runs[variant] = run_dir
    return runs


def ensure_recognizer_head(store: FeatureStore, args: argparse.Namespace) -> None:
    """Fits the recognizer head unless the store's head was fitted with the requested frames already."""
    segments = None if args.tsn_head else str(args.spans.resolve())
    head = store.attrs.get("recognizer_head") or {}
    fitted = head.get("config", {}).get("segments")
    fitted = str(Path(fitted).resolve()) if fitted else None
    if not store.has_logits or not head or fitted != segments:
        fit_recognizer(args.store, FitRecognizerConfig(segments=Path(segments) if segments else None, quiet=True))


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
    common = dict(store=args.store, runs=[runs[v] for v in ("nsnet", "maxconf-l", "scsampler", "tsqnet")], seed=seed,
                  quiet=True, split="val")
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
        write_grid(grid, seed, base, ABLATION_GRID)
        ablate(args.store, grid, work / f"seed{seed}" / "ablation", k=args.k, progress=False)  # resumes
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
    ap.add_argument("--investigation-seeds", type=int, nargs="*", default=[],
                    help="seeds whose INVESTIGATION_GRID (NSNet variants tried when it fell short) is trained")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--tsn-head", action="store_true",
                    help="fit the recognizer head on every train frame with the video label (default: only the "
                         "frames inside the --spans event, all frames of noFight videos)")
    args = ap.parse_args()
    if args.ablation_seeds is None:
        args.ablation_seeds = list(args.seeds)

    t0 = time.perf_counter()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    store = FeatureStore.open(args.store)
    ensure_recognizer_head(store, args)
    store = FeatureStore.open(args.store)
    spans = json.loads(args.spans.read_text())
    work = args.work or args.store.parent / "real_runs"
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    base = {"epochs": args.epochs, "width": args.width, "lr": args.lr}
    timings: dict[str, float] = {}

    per_seed = [run_seed(args, seed, work, store, spans, base) for seed in args.seeds]
    for seed in args.investigation_seeds:
        grid = write_grid(work / f"seed{seed}" / "investigation.json", seed, base, INVESTIGATION_GRID)
        ablate(args.store, grid, work / f"seed{seed}" / "investigation", k=args.k, progress=False)
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
                     "event_hit_rate": (float(np.mean(hits[name])) if name in hits else None), "std_ddof": 1})
    order = {m: i for i, m in enumerate(TABLE1_METHODS)}
    rows.sort(key=lambda r: order.get(r["method"], 99))
    (out / "real_table1.json").write_text(json.dumps(rows, indent=1))

    summary = {
        "store": str(args.store), "fingerprint": store.fingerprint, "std_ddof": 1,
        "recognizer_head": {k: v for k, v in (store.attrs.get("recognizer_head") or {}).items() if k != "sha256"},
        "seeds": args.seeds, "sampler": base,
        "K": args.k, "table1": rows,
        "branches": {b: dict(zip(("mAP", "mAP_std"), [100 * v for v in mean_std(vals)])) for b, vals in branch_rows.items()},
        "fusions": {f: dict(zip(("mAP", "mAP_std"), [100 * v for v in mean_std(vals)])) for f, vals in fusion_rows.items()},
        "sweep": {f"{n}@{k}": {"mAP": 100 * mean_std([e["mAP"] for e in v])[0], "mAP_std": 100 * mean_std([e["mAP"] for e in v])[1],
                               "gflops": v[0]["gflops"]} for (n, k), v in sorted(sweep.items())},
        "guide_quality": guide_quality(store, spans),
        "localisation_ceiling": localisation_ceiling(store, spans, args.k),
        "sampler_localisation": average_dicts([sampler_localisation(store, spans, work / f"seed{seed}" / "nsnet", args.k)
                                               for seed in args.seeds]),
        "timings_s": timings,
        "total_s": time.perf_counter() - t0,
    }
    if not args.skip_ablation:
        done = [s for s in args.ablation_seeds if (work / f"seed{s}" / "ablation" / "ablation.csv").is_file()]
        summary["ablation"] = aggregate_ablation(work, done)
        summary["ablation_seeds"] = done
    if args.investigation_seeds:
        summary["investigation"] = aggregate_ablation(work, args.investigation_seeds, "investigation")
        summary["investigation_seeds"] = args.investigation_seeds
    (out / "real_summary.json").write_text(json.dumps(summary, indent=1))
    plot_sweep(sweep, out / "real_sweep.png")
    print(render_markdown(summary))


def aggregate_ablation(work: Path, seeds: list[int], subdir: str = "ablation") -> dict[str, dict[str, Any]]:
    """Returns per ablation row the mean ± std (in %) of its mAP (and of each branch alone, for
    two-branch runs) over the seeds where it trained, and how many seeds diverged."""
    import csv

    acc: dict[str, dict[str, list[float]]] = {}
    failed: dict[str, int] = {}
    for seed in seeds:
        with open(work / f"seed{seed}" / subdir / "ablation.csv") as fh:
            for row in csv.DictReader(fh):
                if row.get("error"):
                    failed[row["name"]] = failed.get(row["name"], 0) + 1
                    acc.setdefault(row["name"], {})
                    continue
                for col in ("mAP", "mAP_fsm", "mAP_vgm"):
                    if row.get(col):
                        acc.setdefault(row["name"], {}).setdefault(col, []).append(float(row[col]))
    out: dict[str, dict[str, Any]] = {}
    for name, cols in acc.items():
        out[name] = {"diverged": failed.get(name, 0)}
        for col, values in cols.items():
            m, sd = mean_std(values)
            out[name].update({col: 100 * m, col + "_std": 100 * sd})
    return out


def plot_sweep(sweep: dict[tuple[str, int], list[dict[str, float]]], path: Path,
               title: str = "fight-surv untrimmed, K = 1..10 of T = 50") -> None:
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
        s = [100 * mean_std([e["mAP"] for e in sweep[(name, k)]])[1] for k in ks]
        ax.errorbar(g, m, yerr=s, marker="o", ms=3, capsize=2, label=name)
    ax.set_xlabel("GFLOPs per video")
    ax.set_ylabel("mAP (%)")
    ax.set_title(title)
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
    ceil = summary.get("localisation_ceiling")
    if ceil:
        lines += ["", f"| probe on TRUE fight-clip frames (val) | frame AUC in fight videos | top-{summary['K']} hit rate "
                  f"| mAP of its top-{summary['K']} (%) |", "|---|---|---|---|"]
        for name, v in ceil.items():
            lines.append(f"| {name} features | {v['auc']:.3f} | {100 * v['hit_rate']:.1f}% | {v['mAP']:.2f} |")
    loc = summary.get("sampler_localisation")
    if loc:
        lines += ["", f"| NSNet saliency (mean over seeds) | frame AUC in fight videos | top-{summary['K']} hit rate |",
                  "|---|---|---|"]
        for name, v in loc.items():
            lines.append(f"| {name} | {v['auc']:.3f} | {100 * v['hit_rate']:.1f}% |")
    def cell(v: dict[str, Any], col: str) -> str:
        return f"{v[col]:.2f} ± {v[col + '_std']:.2f}" if col in v else ""

    for key in ("ablation", "investigation"):
        if key not in summary:
            continue
        lines += ["", f"| {key} run | mAP (%) | FSM alone | VGM alone |", "|---|---|---|---|"]
        for name, v in summary[key].items():
            main = cell(v, "mAP") or "diverged"
            if v.get("diverged") and "mAP" in v:
                main += f" ({v['diverged']} seed(s) diverged)"
            lines.append(f"| {name} | {main} | {cell(v, 'mAP_fsm')} | {cell(v, 'mAP_vgm')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
