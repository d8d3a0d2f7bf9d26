"""AdaFocus benchmark on controlled stores with candidate patches (the AdaFocus issue).

Prerequisites (commands and timings in benchmarks/RESULTS.md): controlled videos built with
``build_controlled.py`` (full-frame events, and ``--pip`` picture-in-picture events), each extracted
with ``nsnet extract ... --frames 16 --patches 6 --patch-size P`` for P = 96 and 128.

    python benchmarks/run_adafocus.py --store full-96=STORE --store full-128=STORE \\
        --store pip-96=STORE --store pip-128=STORE --seeds 0 1 2 --work WORK --out benchmarks/results

For every store and seed: fit the recognizer head (event frames, once per store), train NSNet and
AdaFocus (stages I-III; AdaFocus+ as a second run with the skip policy), then score on val, cached
path: the full-frame recognizer on all T frames (dense), Uniform and NSNet at K, AdaFocus, random
and centre patches, NSNet + AdaFocus at K, AdaFocus+. mAP and GFLOPs per video, mean +- std over the
seeds, seconds per training stage; ``--reload-check`` also scores AdaFocus on the reload path for
seed 0 and reports the largest difference to the cached path; ``--tsqnet`` also trains TSQNet and
adds its rows (TSQNet at K, TSQNet + AdaFocus); ``--full-frame-fc`` adds a diagnostic row, f_C
trained and scored on the whole frame's recognizer features instead of a patch (added to cached
seeds without retraining the rest); ``--paired A:B`` adds a paired bootstrap of mAP(A) - mAP(B) over
the val videos and where AdaFocus's policy looked (top candidate share, entropy). Writes ``PREFIX_table.json`` and
``PREFIX_gflops.png`` into ``--out`` (``--prefix``, default ``adafocus``) and prints the Markdown table.

The real fight/noFight rows (RESULTS.md) come from the same script on a patch store of that set:

    python benchmarks/run_adafocus.py --store real-128=STORE --spans real-128=SPANS --tsqnet --plus \\
        --full-frame-fc --paired adafocus:random-patch adafocus:centre-patch --reload-check \\
        --prefix real_adafocus --title "real fight/noFight" --seeds 0 1 2 --work WORK --out benchmarks/results
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nsnet.evaluate.config import EvaluateConfig  # noqa: E402
from nsnet.evaluate.run import evaluate  # noqa: E402
from nsnet.extract.fit_recognizer import FitRecognizerConfig, fit_recognizer  # noqa: E402
from nsnet.metrics import mean_average_precision, paired_bootstrap_map, top1_accuracy  # noqa: E402
from nsnet.sampler.config import SamplerConfig, sampler_config  # noqa: E402
from nsnet.sampler.data import SamplerArrays, load_sampler_arrays  # noqa: E402
from nsnet.sampler.train import fit_sampler, train_sampler  # noqa: E402
from nsnet.store import FeatureStore  # noqa: E402

METHODS = ["dense", "uniform", "nsnet", "adafocus", "random-patch", "centre-patch", "nsnet+adafocus"]
PLUS_METHODS = ["adafocus+"]
TSQNET_METHODS = ["tsqnet", "tsqnet+adafocus"]
FULL_FRAME_FC = "full-frame f_C"  # the diagnostic row of --full-frame-fc


def parse_stores(items: list[str]) -> dict[str, Path]:
    """Returns {name: store path} from ``NAME=PATH`` items."""
    out = {}
    for item in items:
        name, _, path = item.partition("=")
        if not path:
            raise SystemExit(f"--store expects NAME=PATH, got {item!r}")
        out[name] = Path(path)
    return out


def ensure_head(store_path: Path, spans: Path | None) -> None:
    """Fits the recognizer head (on the event frames of ``spans`` when given) unless fitted already."""
    store = FeatureStore.open(store_path)
    if not store.has_logits:
        fit_recognizer(store_path, FitRecognizerConfig(segments=spans, quiet=True))


def train(store: Path, run_dir: Path, cfg: SamplerConfig) -> Path:
    """Trains ``cfg`` into ``run_dir`` unless a finished run is there; returns the run directory."""
    if not (run_dir / "config.json").is_file():
        fit_sampler(store, run_dir, cfg, progress=False)
    return run_dir


def stage_seconds(run_dir: Path) -> dict[str, float]:
    """Returns the seconds of each AdaFocus training stage recorded in the run's config.json."""
    meta = json.loads((run_dir / "config.json").read_text())
    for key in ("stage_seconds", "stages"):
        for holder in (meta, meta.get("run", {}), meta.get("meta", {})):
            value = holder.get(key) if isinstance(holder, dict) else None
            if isinstance(value, dict):
                return {str(k): float(v) for k, v in value.items() if isinstance(v, (int, float))}
    return {}


def whole_frame(arrays: SamplerArrays) -> SamplerArrays:
    """Returns ``arrays`` with one 'candidate' per frame: the full frame's recognizer feature as ē^L."""
    return dataclasses.replace(arrays, patch_features=arrays.rec_features[:, :, None, :].astype(np.float16))


def full_frame_fc(store: Path, seed: int, af_opts: dict[str, Any], costs: Any) -> dict[str, Any]:
    """Diagnostic row (not a product method): AdaFocus's classifier f_C trained (stage I) and scored
    with the whole frame's recognizer feature in place of the patch, on all T frames. It separates
    what f_C (a GRU trained on video labels) adds from what the patch choice costs; GFLOPs = light x T
    + recognizer x T + f_C step x T. Returns the row (mAP, top-1 as fractions, GFLOPs, seconds)."""
    tic = time.perf_counter()
    cfg = sampler_config("adafocus", name="fc-full-frame", seed=seed, **af_opts)
    train_arrays = whole_frame(load_sampler_arrays(store, "train", rec_logits=False, patches=True))
    model = train_sampler(train_arrays, cfg, stages=(1,)).model
    val = load_sampler_arrays(store, "val", rec_logits=False, patches=True)
    with torch.no_grad():
        probs = model.classify(torch.from_numpy(val.light), torch.from_numpy(val.rec_features)).double().numpy()
    gflops = val.T * (costs.light_per_frame + costs.rec_per_frame + costs.samplers["adafocus"]["classifier_step"])
    return {"method": FULL_FRAME_FC, "K": val.T, "mAP": mean_average_precision(probs, val.labels),
            "top1": top1_accuracy(probs, val.labels),
            "gflops": float(gflops), "seconds": time.perf_counter() - tic}


def run_store(args: argparse.Namespace, name: str, store: Path, seed: int) -> dict[str, Any]:
    """Trains and scores one store at one seed; returns (and caches) its rows."""
    cache, work = args.work / name / f"seed{seed}.json", args.work / name / f"seed{seed}"
    out = json.loads(cache.read_text()) if cache.is_file() else train_and_score(args, store, seed, work)
    if args.full_frame_fc and not any(r["method"] == FULL_FRAME_FC for r in out["rows"]):
        costs = evaluate(EvaluateConfig(store=store, runs=[work / "adafocus"],
                                        budgets=[args.k], methods=["dense"], seed=seed, quiet=True, split="val",
                                        path="cached").validate()).costs
        out["rows"].append(full_frame_fc(store, seed, dict(args.adafocus), costs))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(out, indent=1))
    return out


def train_and_score(args: argparse.Namespace, store: Path, seed: int, work: Path) -> dict[str, Any]:
    """Trains the runs of one store and seed under ``work`` (reusing finished ones) and scores them;
    returns {"rows", "stage_seconds"} (and "reload_check" with ``--reload-check`` on the first seed)."""
    base = {"epochs": args.epochs, "width": args.width, "lr": args.lr, "seed": seed}
    nsnet = train(store, work / "nsnet", sampler_config("nsnet", name="nsnet", **base))
    tsqnet = train(store, work / "tsqnet", sampler_config("tsqnet", name="tsqnet", **base)) if args.tsqnet else None
    af_opts = dict(args.adafocus)
    ada = train(store, work / "adafocus", sampler_config("adafocus", name="adafocus", seed=seed, **af_opts))
    plus = None
    if args.plus:
        plus = train(store, work / "adafocus-plus", sampler_config(
            "adafocus", name="adafocus-plus", seed=seed, **{**af_opts, "skip": True}))
    common = dict(store=store, runs=[r for r in (nsnet, ada, tsqnet) if r], seed=seed, quiet=True, split="val",
                  path="cached")
    methods = METHODS + (TSQNET_METHODS if args.tsqnet else [])
    res = evaluate(EvaluateConfig(budgets=[args.k], methods=methods, **common).validate())
    rows = [dict(r.to_dict(), method="nsnet" if r.method.startswith("fused:") else r.method) for r in res.rows]
    if plus is not None:
        res_plus = evaluate(EvaluateConfig(budgets=[args.k], methods=PLUS_METHODS,
                                           **{**common, "runs": [r for r in (nsnet, plus, tsqnet) if r]}).validate())
        rows += [r.to_dict() for r in res_plus.rows]
    out: dict[str, Any] = {"rows": rows, "stage_seconds": stage_seconds(ada)}
    if args.reload_check and seed == args.seeds[0]:
        t = time.perf_counter()
        checked = ["adafocus", "nsnet+adafocus"] + (["tsqnet+adafocus"] if args.tsqnet else [])
        reload = evaluate(EvaluateConfig(budgets=[args.k], methods=checked,
                                         **{**common, "path": "reload", "workers": 1}).validate())
        cached = {r.method: r for r in res.rows}
        out["reload_check"] = {r.method: {"mAP_reload": r.mAP, "mAP_cached": cached[r.method].mAP,
                                          "choices_equal": bool(np.array_equal(
                                              reload.patches[(r.method, r.K)].choices,
                                              res.patches[(r.method, r.K)].choices)),
                                          "max_prob_diff": float(np.nanmax(np.abs(
                                              reload.patches[(r.method, r.K)].probs - res.patches[(r.method, r.K)].probs))),
                                          "seconds": r.seconds}
                               for r in reload.rows}
        out["reload_check_s"] = time.perf_counter() - t
    return out


def paired_comparisons(args: argparse.Namespace, name: str, store: Path) -> dict[str, Any]:
    """Returns {"pairs": for each ``--paired A:B`` of patch methods the paired bootstrap of mAP(A) -
    mAP(B) over the val videos (mean over the seeds' runs; :func:`nsnet.metrics.paired_bootstrap_map`),
    "policy": per seed, where AdaFocus's policy looked on val (:func:`nsnet.evaluate.patch_eval.policy_usage`)}."""
    pairs = [tuple(item.split(":")) for item in args.paired]
    methods = sorted({m for pair in pairs for m in pair} | {"adafocus"})
    probs: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    labels, usage = None, []
    for seed in args.seeds:
        work = args.work / name / f"seed{seed}"
        res = evaluate(EvaluateConfig(store=store, runs=[work / "nsnet", work / "adafocus"], budgets=[args.k],
                                      methods=methods, seed=seed, quiet=True, split="val", path="cached").validate())
        for r in res.rows:
            probs[r.method].append(res.patches[(r.method, r.K)].probs)
            if r.method == "adafocus":
                usage.append({"seed": seed, **res.patch_policy[(r.method, r.K)]})
        labels = res.context.labels
    out: dict[str, Any] = {"pairs": [], "policy": usage}
    for a, b in pairs:
        stats = paired_bootstrap_map(np.stack(probs[a]), np.stack(probs[b]), labels, resamples=args.resamples, seed=0)
        out["pairs"].append({"a": a, "b": b, **stats})
    return out


def aggregate(per_store: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Returns one row per (store, method, K): mAP mean +- sample std (ddof = 1) over seeds (in %), GFLOPs, seeds."""
    rows = []
    for name, seeds in per_store.items():
        acc: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for res in seeds:
            for r in res["rows"]:
                method = "nsnet" if r["method"].startswith("fused:") else r["method"]
                acc.setdefault((method, r["K"]), []).append(r)
        for (method, k), entries in acc.items():
            maps = 100 * np.asarray([e["mAP"] for e in entries])
            rows.append({"store": name, "method": method, "K": k, "mAP": float(maps.mean()), "mAP_std": float(maps.std(ddof=1)) if maps.size > 1 else 0.0,
                         "top1": float(100 * np.mean([e["top1"] for e in entries])),
                         "gflops": float(np.mean([e["gflops"] for e in entries])), "seeds": len(entries)})
    return rows


def plot(rows: list[dict[str, Any]], path: Path, title: str = "controlled") -> None:
    """Draws mAP vs GFLOPs per video, one panel per store kind (the store name's part before its first '-':
    full frame / picture-in-picture events on the controlled sets), titled ``title``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted({r["store"].split("-")[0] for r in rows})
    fig, axes = plt.subplots(1, len(kinds), figsize=(6.2 * len(kinds), 4.4), squeeze=False)
    markers = {"dense": "s", "uniform": "v", "nsnet": "o", "adafocus": "*", "random-patch": "x", "centre-patch": "+",
               "nsnet+adafocus": "P", "adafocus+": "D", "tsqnet": "h", "tsqnet+adafocus": "X", FULL_FRAME_FC: "d"}
    for ax, kind in zip(axes[0], kinds):
        for r in [r for r in rows if r["store"].split("-")[0] == kind]:
            size = r["store"].split("-")[-1]
            ax.errorbar(r["gflops"], r["mAP"], yerr=r["mAP_std"], marker=markers.get(r["method"], "o"), ms=7,
                        capsize=2, ls="none", label=f"{r['method']} ({size})")
            ax.annotate(f"{r['method']} {size}", (r["gflops"], r["mAP"]), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel("GFLOPs per video (log)")
        ax.set_ylabel("mAP (%)")
        shown = {"pip": ", events picture-in-picture", "full": ", events full frame"}.get(kind, "")
        ax.set_title(f"{title}{shown}")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def render(rows: list[dict[str, Any]], seeds_out: dict[str, list[dict[str, Any]]]) -> str:
    """Returns the Markdown table of the rows, the stage timings and the reload checks."""
    lines = ["| store | method | K | mAP (%) | top-1 (%) | GFLOPs / video | seeds |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['store']} | {r['method']} | {r['K']} | {r['mAP']:.2f} ± {r['mAP_std']:.2f} | "
                     f"{r['top1']:.1f} | {r['gflops']:.2f} | {r['seeds']} |")
    lines += ["", "| store | seconds per AdaFocus stage (mean over seeds) |", "|---|---|"]
    for name, seeds in seeds_out.items():
        stages: dict[str, list[float]] = {}
        for res in seeds:
            for k, v in res.get("stage_seconds", {}).items():
                stages.setdefault(k, []).append(v)
        lines.append(f"| {name} | " + ", ".join(f"{k}: {np.mean(v):.1f} s" for k, v in stages.items()) + " |")
    for name, seeds in seeds_out.items():
        for res in seeds:
            for method, chk in (res.get("reload_check") or {}).items():
                lines.append(f"\nreload check {name} {method}: mAP reload {100 * chk['mAP_reload']:.2f} vs cached "
                             f"{100 * chk['mAP_cached']:.2f}, same patches: {chk['choices_equal']}, max |Δp| "
                             f"{chk['max_prob_diff']:.2e}, {chk['seconds']:.1f} s")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", action="append", required=True, help="NAME=PATH (name: full-96, pip-128, ...)")
    ap.add_argument("--spans", action="append", default=[], help="NAME=spans.json (event frames for the head)")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.03)
    ap.add_argument("--adafocus", nargs="*", default=[], help="KEY=VALUE AdaFocus options (values as JSON)")
    ap.add_argument("--plus", action="store_true", help="also train AdaFocus+ (skip policy) runs")
    ap.add_argument("--reload-check", action="store_true")
    ap.add_argument("--tsqnet", action="store_true", help="also train TSQNet; add TSQNet and TSQNet + AdaFocus rows")
    ap.add_argument("--full-frame-fc", action="store_true",
                    help="also the diagnostic row: f_C trained and scored on the whole frame's recognizer features")
    ap.add_argument("--paired", nargs="*", default=[], metavar="A:B",
                    help="patch methods A:B: paired bootstrap of mAP(A) - mAP(B) over the val videos, seeds averaged")
    ap.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples of --paired")
    ap.add_argument("--prefix", default="adafocus", help="output files PREFIX_table.json and PREFIX_gflops.png")
    ap.add_argument("--title", default="controlled", help="the plot's title")
    args = ap.parse_args()
    args.adafocus = {k: json.loads(v) for k, _, v in (item.partition("=") for item in args.adafocus)}
    stores = parse_stores(args.store)
    spans = {k: Path(v) for k, v in parse_stores(args.spans).items()}
    for name, path in stores.items():
        ensure_head(path, spans.get(name))
    per_store = {name: [run_store(args, name, path, s) for s in args.seeds] for name, path in stores.items()}
    rows = aggregate(per_store)
    paired = {name: paired_comparisons(args, name, path) for name, path in stores.items()} if args.paired else {}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.prefix}_table.json").write_text(json.dumps({"std_ddof": 1, "rows": rows, "runs": per_store, "paired": paired},
                                                                   indent=1))
    plot(rows, args.out / f"{args.prefix}_gflops.png", args.title)
    print(render(rows, per_store))
    for name, found in paired.items():
        for u in found["policy"]:
            print(f"policy {name} seed {u['seed']}: candidate {u['top_candidate']} in {100 * u['top_share']:.1f}% of "
                  f"frames, {u['entropy_bits']:.2f} bits, {u['distinct_per_video']:.2f} distinct candidates per video")
        for c in found["pairs"]:
            print(f"paired {name} {c['a']} - {c['b']}: {100 * c['diff']:+.2f} mAP, 95% CI [{100 * c['low']:+.2f}, "
                  f"{100 * c['high']:+.2f}], A better in {100 * c['p_a_better']:.0f}% of resamples")


if __name__ == "__main__":
    main()
