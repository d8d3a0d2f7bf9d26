"""Renderers of ``<name>_auto.json`` (``benchmarks/run_auto.py``): Table 1 with intervals, the automatic
choice per seed with its cost, the linear probe, and the targets of issue 19."""

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


def _row(name: str, results: Results) -> dict[str, Any]:
    """Returns the row of method ``name``."""
    return next(r for r in results[NAME]["rows"] if r["method"] == name)


def auto_table1(results: Results) -> str:
    """Returns Table 1 of the store: mAP ± sample std over seeds, the difference to Uniform and to the
    best baseline with the paired bootstrap interval over val videos and the t-interval over seeds, the
    runs at Uniform's level, the frame shares and GFLOPs."""
    data = results[NAME]
    rows = []
    for r in data["rows"]:
        flat = "" if r["method"] == "uniform" else f"{r['at_uniform_level']}/{r['seeds']}"
        best = "" if "vs_best" not in r else f"{r['best_baseline']}: {_ci(r['vs_best'])}"
        rows.append([r["method"], pm(r["mAP"], r["mAP_std"]), str(r["seeds"]), _ci(r.get("vs_uniform")),
                     _seed_ci(r.get("vs_uniform_seeds")), best, _seed_ci(r.get("vs_best_seeds")), flat,
                     pct(r["shares"]["event"]), pct(r["shares"]["distractor"]), pct(r["shares"]["background"]),
                     f"{r['gflops']:.2f}"])
    return table(["method", "mAP (%)", "seeds", "- uniform [95% CI, videos]", "[95% CI, seeds]",
                  "- best baseline [95% CI, videos]", "[95% CI, seeds]", "at uniform level", "event", "distractor",
                  "background", "GFLOPs"], ["l"] + ["r"] * 11, rows)


def auto_choices(results: Results) -> str:
    """Returns one row per auto seed: its choice, every candidate's mean holdout mAP, the cost of the
    choice next to one NSNet run."""
    data = results[NAME]
    labels = list(data["auto"][0]["candidates"]) if data["auto"] else []
    rows = []
    for a in data["auto"]:
        cells = [f"{a['candidates'][c]['mean']:.1f}" if a["candidates"][c].get("mean") is not None else "diverged"
                 for c in labels]
        final = sum(t["seconds"] for t in a["final"] or [])
        rows.append([str(a["seed"]), a["choice"], f"{a['uniform_holdout_mAP']:.1f}", *cells,
                     f"{a['candidate_seconds'] + final:.0f}", f"{a['nsnet_run_seconds']:.0f}",
                     f"{(a['candidate_seconds'] + final) / a['nsnet_run_seconds']:.1f}x"])
    return table(["auto seed", "choice", "uniform", *labels, "auto s (train)", "one NSNet run s", "ratio"],
                 ["l", "l"] + ["r"] * (len(labels) + 4), rows)


def auto_probe(results: Results) -> str:
    """Returns the linear probe: can a linear classifier tell event photos from distractor photos in the
    cached features (5-fold ROC-AUC on the train frames)?"""
    rows = [[name, f"{p['auc']:.3f} ± {p['auc_std']:.3f}", str(p["event_frames"]), str(p["distractor_frames"])]
            for name, p in results[NAME]["probe"].items()]
    return table(["cached array", "ROC-AUC event vs distractor (5-fold, train)", "event frames", "distractor frames"],
                 ["l", "r", "r", "r"], rows)


def auto_targets(results: Results) -> str:
    """Returns the issue's targets for the recommended sampler (auto), each verdict computed here."""
    data = results[NAME]
    auto, uni, orc = _row("auto", results), _row("uniform", results), _row("oracle", results)
    base = [_row(m, results) for m in NON_ORACLE if any(r["method"] == m for r in data["rows"])]
    best = max(base, key=lambda r: r["mAP"])
    topk = _row("topk", results)
    gap = (auto["mAP"] - uni["mAP"]) / (orc["mAP"] - uni["mAP"])
    margin = auto["mAP"] - best["mAP"]
    lines = [
        ["auto >= every non-oracle baseline by more than its sample std",
         f"{pm(auto['mAP'], auto['mAP_std'])} vs best baseline {best['method']} {pm(best['mAP'], best['mAP_std'])}: "
         f"margin {margin:+.2f} {'>' if margin > auto['mAP_std'] else '<='} std {auto['mAP_std']:.2f} -> "
         f"**{'met' if margin > auto['mAP_std'] else 'not met'}**"],
        [">= 50 % of the Uniform -> Oracle gap",
         f"{100 * gap:.0f} % (Uniform {uni['mAP']:.2f}, Oracle {orc['mAP']:.2f}) -> **{'met' if gap >= 0.5 else 'not met'}**"],
        ["distractor share below Top-K's",
         f"{pct(auto['shares']['distractor'])} vs {pct(topk['shares']['distractor'])} -> "
         f"**{'met' if auto['shares']['distractor'] < topk['shares']['distractor'] else 'not met'}**"],
        ["sample std over seeds <= 3 mAP",
         f"{auto['mAP_std']:.2f} over {auto['seeds']} seeds -> **{'met' if auto['mAP_std'] <= 3 else 'not met'}**"],
        ["no collapsed run unreported",
         f"runs at Uniform's level on val: auto {auto['at_uniform_level']}/{auto['seeds']}; every method's count is in "
         f"the table above"],
    ]
    return table(["target", "result"], ["l", "l"], lines)


def auto_summary_line(results: Results) -> str:
    """Returns one generated sentence: the store, its size and the settings."""
    d = results[NAME]
    s = d["settings"]
    return wrap(f"{d['val_videos']} val videos, K = {d['k']}, seeds {', '.join(map(str, d['seeds']))}; every "
                f"candidate at epochs {s['epochs']}, width {s['width']}, lr {s['lr']}; auto with "
                f"{s['auto_seeds']} seeds per candidate on the holdout.")
