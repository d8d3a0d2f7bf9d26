"""Table 1 with intervals, the automatic choice and the collapse count on a controlled store (issue 19).

For each seed S: every candidate of ``fit-sampler --variant auto`` (nsnet, fsm-only, maxconf-l,
scsampler, tsqnet, tqm) trained on the whole train split, the response oracle (the recognizer's score
of the true class per frame: top-K of it), and ``--variant auto``
itself (its candidate runs on ``train[:80%]`` shared between the auto seeds under ``WORK/auto/candidates``);
with ``--groups TABLE`` the auto stage holds out whole groups instead (``-o groups=TABLE``, runs under
``WORK/auto-grouped``), and the summary has both.
Every method is scored with ``nsnet evaluate`` on the cached path (val, K frames); the per-video
predictions of the chosen frames give, per method:

* mean ± sample std (ddof = 1) over the seeds and the frame shares (event / distractor / background);
* the paired bootstrap 95 % interval (over val videos, seeds averaged) of its difference to Uniform
  and to the best non-oracle baseline, and a t-interval of that difference over the seeds;
* how many of its seeds are at Uniform's level on val (their own paired interval vs Uniform not above 0).

Plus the auto runs' choices, holdout scores and cost. Writes ``OUT/<name>_auto.json``. Resumable: trained
runs and per-seed evaluations are cached under ``--work``.

    python benchmarks/run_auto.py table --store STORE --spans DATA/spans.json --work WORK --seeds 0 1 2
    python benchmarks/run_auto.py auto  --store STORE --spans DATA/spans.json --work WORK --seeds 0 1 2
    python benchmarks/run_auto.py summary --store STORE --spans DATA/spans.json --work WORK --seeds 0 1 2 \\
        --name ctrl400 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.run_real import ensure_recognizer_head  # noqa: E402
from nsnet.evaluate.cached import cached_logits  # noqa: E402
from nsnet.evaluate.config import EvaluateConfig  # noqa: E402
from nsnet.evaluate.methods import method_spec  # noqa: E402
from nsnet.evaluate.run import evaluate  # noqa: E402
from nsnet.metrics import average_frame_predictions  # noqa: E402
from nsnet.sampler.candidates import parse_candidates, training_config  # noqa: E402
from nsnet.sampler.config import sampler_config  # noqa: E402
from nsnet.sampler.fusion import FUSIONS  # noqa: E402
from nsnet.sampler.train import fit_sampler  # noqa: E402
from nsnet.store import FeatureStore  # noqa: E402

BASELINES = ["uniform", "random", "dense", "topk", "maxconf-l", "scsampler"]
EXTRA_METHODS = {"nsnet": ["vgm"], "tsqnet": ["vqm"]}  # branches scored from the same run, as in Table 1
RANDOM_SEEDS = [0, 1, 2, 3, 4]


def shared(args: argparse.Namespace) -> dict[str, Any]:
    """Returns the training options every candidate gets (the CPU setting of the benchmarks; with
    ``--lr own`` each candidate keeps its own learning rate, as the README's command does)."""
    return {"epochs": args.epochs, "width": args.width, **({"lr": args.lr} if args.lr is not None else {})}


def train_table_runs(args: argparse.Namespace, seed: int) -> dict[str, Path]:
    """Returns {candidate label: run dir} of one seed, trained on the whole train split (resumable)."""
    runs = {}
    for cand in parse_candidates("all"):
        out = args.work / f"seed{seed}" / cand.label
        if not (out / "config.json").is_file():
            fit_sampler(args.store, out, training_config(cand, shared(args), seed=seed, device="cpu"), progress=False)
        runs[cand.label] = out
    return runs


def auto_name(args: argparse.Namespace) -> str:
    """Returns the name of this invocation's auto runs: ``auto``, or ``auto-grouped`` with ``--groups``."""
    return "auto-grouped" if args.groups else "auto"


def train_auto(args: argparse.Namespace, seed: int) -> Path:
    """Returns the auto run of ``seed`` under ``WORK/<auto_name>/`` (trained unless there); candidate runs
    shared between seeds."""
    out = args.work / auto_name(args) / f"seed{seed}"
    if not (out / "config.json").is_file():
        shared_dir = args.work / auto_name(args) / "candidates"
        shared_dir.mkdir(parents=True, exist_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        if not (out / "candidates").exists():
            (out / "candidates").symlink_to(shared_dir.resolve(), target_is_directory=True)
        grouped = {"groups": str(args.groups)} if args.groups else {}
        cfg = sampler_config("auto", seed=seed, device="cpu", seeds=args.auto_seeds, **shared(args), **grouped)
        fit_sampler(args.store, out, cfg, progress=False)
    return out


def score(args: argparse.Namespace, run: Path | None, methods: list[str], seed: int = 0) -> dict[str, Any]:
    """Returns {method: {"mAP", "top1", "gflops", "positions"}} of ``nsnet evaluate`` (cached, val)."""
    cfg = EvaluateConfig(store=args.store, runs=[run] if run else [], budgets=[args.k], methods=methods,
                         path="cached", split="val", seed=seed, quiet=True, workers=1, device="cpu")
    res = evaluate(cfg.validate())
    rows = {r.method: {"mAP": r.mAP, "top1": r.top1, "gflops": r.gflops,
                       "positions": res.selections[(r.method, r.K)].tolist()} for r in res.rows}
    # keyed by the requested name (a fusing sampler's row is "fused:<fusion>"; auto's is "auto")
    return {m: rows["auto" if m == "auto" else method_spec(m).name] for m in methods}


def seed_scores(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """Returns (cached in WORK/seed<S>/scores.json, completed when candidates or the auto run are added)
    every method's val scores and positions of ``seed``."""
    cache = args.work / f"seed{seed}" / "scores.json"
    out: dict[str, Any] = json.loads(cache.read_text()) if cache.is_file() else {}
    runs = train_table_runs(args, seed)
    if seed == 0 and "uniform" not in out:
        out.update(score(args, None, ["uniform", "dense", "topk"]))
        for r in RANDOM_SEEDS:
            out[f"random-{r}"] = score(args, None, ["random"], seed=r)["random"]
    if "fusions" not in out:
        fused = score(args, runs["nsnet"], [f"fused:{f}" for f in FUSIONS])
        out["fusions"] = {name.split(":", 1)[1]: entry for name, entry in fused.items()}
    for cand in parse_candidates("all"):
        if cand.label in out:
            continue
        got = score(args, runs[cand.label], [cand.method] + EXTRA_METHODS.get(cand.label, []))
        out[cand.label] = got[cand.method]
        for extra in EXTRA_METHODS.get(cand.label, []):
            out[extra] = got[extra]
    if "oracle" not in out:
        # the response oracle: the recognizer's score of the true class per frame, with no run (what every
        # committed <name>_auto.json measured: the oracle run this script trained then was ignored by evaluate)
        out["oracle"] = score(args, None, ["oracle"])["oracle"]
    for name in ("auto", "auto-grouped"):  # the holdout in store order, and by group (--groups)
        auto = args.work / name / f"seed{seed}"
        if (auto / "config.json").is_file() and name not in out:
            out[name] = score(args, auto, ["auto"])["auto"]
            out[name]["record"] = json.loads((auto / "config.json").read_text())["run"]["auto"]
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(out))
    return out


def predictions(logits: np.ndarray, positions: Any) -> np.ndarray:
    """Returns [N, C] video scores from the cached logits of the chosen ``positions`` [N, K]."""
    return average_frame_predictions(cached_logits(logits, np.asarray(positions, np.int64)), False)


def t_interval(diffs: list[float]) -> list[float] | None:
    """Returns the 95 % t-interval [low, high] of the mean of per-seed differences (None below 2 seeds)."""
    from scipy import stats

    if len(diffs) < 2:
        return None
    arr = np.asarray(diffs, dtype=np.float64)
    half = stats.t.ppf(0.975, len(arr) - 1) * arr.std(ddof=1) / np.sqrt(len(arr))
    return [float(arr.mean() - half), float(arr.mean() + half)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("table", "auto", "summary"))
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--spans", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--lr", type=lambda v: None if v == "own" else float(v), default=0.03,
                        help="every candidate's lr (the benchmarks' 0.03), or 'own': each keeps its default")
    parser.add_argument("--auto-seeds", type=int, default=2)
    parser.add_argument("--groups", type=Path, default=None,
                        help="auto stage: a video -> group table (write_groups.py); runs go to WORK/auto-grouped")
    parser.add_argument("--name", default="ctrl")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--tsn-head", action="store_true", help="fit the head on all train frames, not the events")
    args = parser.parse_args()
    store = FeatureStore.open(args.store)
    ensure_recognizer_head(store, args)
    if args.stage == "table":
        for seed in args.seeds:
            train_table_runs(args, seed)
    elif args.stage == "auto":
        for seed in args.seeds:
            train_auto(args, seed)
    else:
        from benchmarks.run_auto_summary import summarise

        spans = json.loads(args.spans.read_text())
        result = summarise(args, store, spans, {s: seed_scores(args, s) for s in args.seeds})
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"{args.name}_auto.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
