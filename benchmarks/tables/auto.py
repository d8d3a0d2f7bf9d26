"""Renderers of ``<name>_auto.json`` (``benchmarks/run_auto.py``): Table 1 with intervals, the automatic
choice per seed with its cost, and the targets of issue 19."""

from __future__ import annotations

from typing import Any

from benchmarks.tables.stats import Results, pct, pm, table, wrap

NAME = "ctrl400_auto"
NON_ORACLE = ("uniform", "random", "dense", "topk", "maxconf-l", "scsampler")


def _ci(iv: dict[str, float] | None) -> str:
    """Returns "+d [lo, hi]" of a paired bootstrap interval ("" when absent)."""
    return "" if not iv else f"{iv['diff']:+.1f} [{iv['low']:+.1f}, {iv['high']:+.1f}]"


def _seed_ci(iv: list[float] | None) -> str:
    """Returns "[lo, hi]" of an over-seeds t-interval ("" when absent)."""
    return "" if not iv else f"[{iv[0]:+.1f}, {iv[1]:+.1f}]"


def _row(method: str, results: Results, name: str = NAME) -> dict[str, Any]:
    """Returns the row of ``method`` in the JSON ``name``."""
    return next(r for r in results[name]["rows"] if r["method"] == method)


def auto_table1(results: Results, name: str = NAME) -> str:
    """Returns Table 1 of the store: mAP ± sample std over seeds, the difference to Uniform and to the
    best baseline with the paired bootstrap interval over val videos and the t-interval over seeds, the
    runs at Uniform's level, the frame shares and GFLOPs."""
    data = results[name]
    rows = []
    for r in data["rows"]:
        flat = "" if r["method"] == "uniform" else f"{r['at_uniform_level']}/{r['seeds']}"
        best = "" if "vs_best" not in r else f"{r['best_baseline']}: {_ci(r['vs_best'])}"
        rows.append([r["method"], pm(r["mAP"], r["mAP_std"]), str(r["seeds"]), _ci(r.get("vs_uniform")),
                     _seed_ci(r.get("vs_uniform_seeds")), best, _seed_ci(r.get("vs_best_seeds")), flat,
                     pct(r["shares"]["event"]), pct(r["shares"]["distractor"]), pct(r["shares"]["background"]),
                     pct(r["first_k_share"]), f"{r['gflops']:.2f}"])
    return table(["method", "mAP (%)", "seeds", "- uniform [95% CI, videos]", "[95% CI, seeds]",
                  "- best baseline [95% CI, videos]", "[95% CI, seeds]", "at uniform level", "event", "distractor",
                  "background", "first K positions", "GFLOPs"], ["l"] + ["r"] * 12, rows)


def auto_choices(results: Results, name: str = NAME, key: str = "auto") -> str:
    """Returns one row per auto seed (``key``: ``auto``, or ``auto_grouped`` for the grouped holdout): its
    choice, every candidate's mean holdout mAP, the cost of the choice next to one NSNet run."""
    data = results[name]
    labels = list(data[key][0]["candidates"]) if data[key] else []
    rows = []
    for a in data[key]:
        cells = [f"{a['candidates'][c]['mean']:.1f}" if a["candidates"][c].get("mean") is not None else "diverged"
                 for c in labels]
        final = sum(t["seconds"] for t in a["final"] or [])
        rows.append([str(a["seed"]), a["choice"], f"{a['uniform_holdout_mAP']:.1f}", *cells,
                     f"{a['candidate_seconds'] + final:.0f}", f"{a['nsnet_run_seconds']:.0f}",
                     f"{(a['candidate_seconds'] + final) / a['nsnet_run_seconds']:.1f}x"])
    return table(["auto seed", "choice", "uniform", *labels, "auto s (train)", "one NSNet run s", "ratio"],
                 ["l", "l"] + ["r"] * (len(labels) + 4), rows)


def auto_targets(results: Results, name: str = NAME, method: str = "auto") -> str:
    """Returns the issue's targets for the recommended sampler (``method``: auto, or auto-grouped), each
    verdict computed here."""
    data = results[name]
    auto, uni, orc = _row(method, results, name), _row("uniform", results, name), _row("oracle", results, name)
    base = [_row(m, results, name) for m in NON_ORACLE if any(r["method"] == m for r in data["rows"])]
    best = max(base, key=lambda r: r["mAP"])
    topk = _row("topk", results, name)
    gap = (auto["mAP"] - uni["mAP"]) / (orc["mAP"] - uni["mAP"])
    margin = auto["mAP"] - best["mAP"]
    lines = [
        [f"{method} >= every non-oracle baseline by more than its sample std",
         f"{pm(auto['mAP'], auto['mAP_std'])} vs best baseline {best['method']} {pm(best['mAP'], best['mAP_std'])}: "
         f"margin {margin:+.2f} {'>' if margin > auto['mAP_std'] else '<='} std {auto['mAP_std']:.2f} -> "
         f"**{'met' if margin > auto['mAP_std'] else 'not met'}**"],
        [">= 50 % of the Uniform -> Oracle gap",
         f"{100 * gap:.0f} % (Uniform {uni['mAP']:.2f}, Oracle {orc['mAP']:.2f}) -> **{'met' if gap >= 0.5 else 'not met'}**"],
        ["distractor share below Top-K's",
         "n/a: this set has no distractor shots" if not any(r["shares"]["distractor"] for r in data["rows"]) else
         f"{pct(auto['shares']['distractor'])} vs {pct(topk['shares']['distractor'])} -> "
         f"**{'met' if auto['shares']['distractor'] < topk['shares']['distractor'] else 'not met'}**"],
        ["sample std over seeds <= 3 mAP",
         f"{auto['mAP_std']:.2f} over {auto['seeds']} seeds -> **{'met' if auto['mAP_std'] <= 3 else 'not met'}**"],
        ["no collapsed run unreported",
         f"runs at Uniform's level on val: {method} {auto['at_uniform_level']}/{auto['seeds']}; every method's count is in "
         f"the table above"],
    ]
    return table(["target", "result"], ["l", "l"], lines)


def auto_summary_line(results: Results, name: str = NAME) -> str:
    """Returns one generated sentence: the store, its size and the settings."""
    d = results[name]
    s = d["settings"]
    return wrap(f"{d['val_videos']} val videos, K = {d['k']}, seeds {', '.join(map(str, d['seeds']))}; every "
                f"candidate at epochs {s['epochs']}, width {s['width']}, lr {s['lr']}; auto with "
                f"{s['auto_seeds']} seeds per candidate on the holdout.")


def auto_pairs(results: Results, name: str = NAME) -> str:
    """Returns the paired comparisons (A - B, points): one branch alone vs the paper's two-branch model,
    and auto vs every candidate, with the bootstrap interval over val videos and the t-interval over seeds."""
    rows = [[p["a"], p["b"], _ci(p), _seed_ci(p["diff_seeds"])] for p in results[name]["pairs"]]
    return table(["A", "B", "A - B [95% CI, videos]", "[95% CI, seeds]"], ["l", "l", "r", "r"], rows)


def auto_fusions(results: Results, name: str = NAME) -> str:
    """Returns NSNet's (paper rules) fusions over the seeds: mean ± sample std."""
    rows = [[f, pm(v["mAP"], v["mAP_std"])] for f, v in results[name]["fusions"].items()]
    return table(["fusion (nsnet, paper rules)", "mAP (%)"], ["l", "r"], rows)


def _cell(entry: dict[str, Any] | None) -> str:
    """Returns "mean ± std" of an aggregate_ablation cell ("" when absent)."""
    return "" if not entry else pm(entry["mean"], entry["std"])


def _table6(data: dict[str, Any]) -> str:
    """Returns an aggregate_ablation table: run, mAP, FSM alone, VGM alone (mean ± sample std over seeds)."""
    rows = [[r["name"], _cell(r.get("mAP")), _cell(r.get("mAP_fsm")), _cell(r.get("mAP_vgm")),
             "" if not r.get("final_loss") else f"{min(r['final_loss']['values']):.2f}-{max(r['final_loss']['values']):.2f}"]
            for r in data["rows"]]
    return table(["run (3 seeds)", "mAP (%)", "FSM alone", "VGM alone", "final training loss (range)"],
                 ["l", "r", "r", "r", "r"], rows)


def ctrl400_table6(results: Results) -> str:
    """Returns Table 6 on the 400 + 600 store (val): branch-only objectives and the VGM pooling fix."""
    return _table6(results["ctrl400_table6"])


def ctrl400_table6_holdout(results: Results) -> str:
    """Returns the fix attempt judged on the train holdout (train[:80%] -> train[80%:])."""
    return _table6(results["ctrl400_holdout"])


def ctrl400_lr(results: Results) -> str:
    """Returns holdout mAP per learning rate (mean ± sample std, the per-seed values, runs whose loss
    stayed at a constant prediction's)."""
    data = results["ctrl400_lr"]
    rows = []
    for r in data["rows"]:
        stuck = "" if r["stuck"] is None else f"{sum(r['stuck'])}/{r['seeds']}"
        rows.append([r["config"], f"{r['lr']:g}", pm(r["mean"], r["std"]), " / ".join(f"{v:.1f}" for v in r["holdout_mAP"]),
                     " / ".join(f"{v:.2f}" for v in r["final_loss"]), stuck])
    return table(["config (train[:80%] -> train[80%:])", "lr", "holdout mAP (%)", "per seed", "final training loss",
                  "loss stuck at chance"], ["l", "r", "r", "r", "r", "r"], rows)


def auto_lr_compare(results: Results, names: tuple[str, ...] = (NAME, "ctrl400_ownlr_auto")) -> str:
    """Returns auto's val row under each learning-rate setting (``settings.lr`` of each JSON): mAP ±
    sample std, per seed, its choices, the intervals to Uniform and to the best baseline, the shares."""
    rows = []
    for name in names:
        data, r = results[name], _row("auto", results, name)
        choices = " / ".join(a["choice"] for a in data["auto"])
        rows.append([str(data["settings"]["lr"]), pm(r["mAP"], r["mAP_std"]), " / ".join(f"{v:.1f}" for v in r["per_seed"]),
                     choices, _ci(r.get("vs_uniform")), f"{r['best_baseline']}: {_ci(r.get('vs_best'))}",
                     _seed_ci(r.get("vs_best_seeds")), pct(r["shares"]["event"]), pct(r["shares"]["distractor"])])
    return table(["candidates' lr", "auto mAP (%)", "per seed", "choice per seed", "- uniform [95% CI, videos]",
                  "- best baseline [95% CI, videos]", "[95% CI, seeds]", "event", "distractor"],
                 ["l", "r", "r", "l", "r", "r", "r", "r", "r"], rows)


def photo_overlap(results: Results, name: str = "photo_overlap") -> str:
    """Returns per store the share of auto's holdout (and of val) whose photos the videos it learns
    from already showed (``benchmarks/holdout_overlap.py``)."""
    rows = []
    for store, d in results[name].items():
        parts = [("holdout", f"train[80%:] vs train[:80%] ({d['fit_videos']} videos)")]
        if "holdout_grouped" in d:
            parts.append(("holdout_grouped", f"holdout by event photo vs the rest ({d['holdout_grouped']['fit_videos']} videos)"))
        for part, label in parts + [("val", "val vs train")]:
            o = d[part]
            rows.append([store, label, str(o["videos"]), pct(o["event_photo_seen"]), pct(o["distractor_photo_seen"])])
    return table(["store", "scored videos vs the videos learned from", "videos", "event photo seen as an event",
                  "distractor photos seen"], "llrrr", rows)


def grouped_holdout(results: Results, names: tuple[str, ...] = ("ctrl400_auto", "ctrl1000_auto", "real_auto")) -> str:
    """Returns per store auto with the holdout in store order next to auto with whole groups held out
    (``-o groups=``): choices per seed, val mAP ± sample std, the paired difference between the two and
    to the candidate best on val (bootstrap over val videos; t-interval over seeds)."""
    rows = []
    for name in names:
        data = results[name]
        pairs = {(p["a"], p["b"]): p for p in data["pairs"]}
        cands = [r for r in data["rows"] if ("auto-grouped", r["method"]) in pairs]
        best = max(cands, key=lambda r: r["mAP"])
        for method, key in (("auto", "auto"), ("auto-grouped", "auto_grouped")):
            r = _row(method, results, name)
            vs_best = pairs.get((method, best["method"]))
            vs_auto = pairs.get(("auto-grouped", "auto")) if method == "auto-grouped" else None
            rows.append([name.removesuffix("_auto"), method, " / ".join(a["choice"] for a in data[key]),
                         pm(r["mAP"], r["mAP_std"]), f"{best['method']} {pm(best['mAP'], best['mAP_std'])}",
                         _ci(vs_best), _seed_ci(vs_best and vs_best["diff_seeds"]), _ci(vs_auto),
                         _seed_ci(vs_auto and vs_auto["diff_seeds"])])
    return table(["store", "holdout", "choice per seed", "val mAP (%)", "best candidate on val",
                  "- best [95% CI, videos]", "[95% CI, seeds]", "- auto [95% CI, videos]", "[95% CI, seeds]"],
                 ["l", "l", "l", "r", "l", "r", "r", "r", "r"], rows)
