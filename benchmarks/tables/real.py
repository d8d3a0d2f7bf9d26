"""Tables of the real fight/noFight benchmark (``real_summary.json``: the first run with its
ablation and investigation grids; ``real_table1.json``: the rerun with the TSQNet rows; both
written by ``benchmarks/run_real.py``)."""

from __future__ import annotations

from typing import Any

from benchmarks.tables.controlled import ablation_table
from benchmarks.tables.stats import Results, ddof_of, pct, pm, sample_std, table

SWEEP_METHODS = ("nsnet", "uniform", "maxconf-l", "oracle")


def _table1(rows: list[dict[str, Any]], ddof: int) -> str:
    out = [[r["method"], str(r["K"]), pm(r["mAP"], sample_std(r["mAP_std"], r["seeds"], ddof)), f"{r['top1']:.2f}",
            f"{r['gflops']:.2f}", r["path"], pct(r.get("event_hit_rate"))] for r in rows]
    return table(["method", "K", "mAP (%)", "top-1 (%)", "GFLOPs", "path", "frames in fight clip"], "lllllll", out)


def real_table1(res: Results) -> str:
    """Returns the first real Table 1 (``real_summary.json``, 3 seeds, mean ± sample std)."""
    s = res["real_summary"]
    return _table1(s["table1"], ddof_of(s))


def real_table1_tsqnet(res: Results) -> str:
    """Returns the rerun's Table 1 with the TSQNet rows (``real_table1.json``)."""
    return _table1(res["real_table1"], ddof_of(res["real_table1"]))


def real_fusions(res: Results) -> str:
    """Returns the branch / fusion table of the first real run (mean ± sample std over its seeds)."""
    s = res["real_summary"]
    n, ddof = len(s["seeds"]), ddof_of(s)
    out = [[f"{b} only", pm(v["mAP"], sample_std(v["mAP_std"], n, ddof))] for b, v in s["branches"].items()]
    out += [[f"fused {f}", pm(v["mAP"], sample_std(v["mAP_std"], n, ddof))] for f, v in s["fusions"].items()]
    return table(["branch / fusion", "mAP (%)"], "ll", out)


def real_guide(res: Results) -> str:
    """Returns the guiding-score table (AUC of fight-clip frames vs the rest, mean g in / out)."""
    g = res["real_summary"]["guide_quality"]
    out = [[k, f"{g[k + '_auc']:.3f}", f"{g[k + '_mean_inside']:.3f}", f"{g[k + '_mean_outside']:.3f}"]
           for k in ("prototype", "response")]
    return table(["guiding score", "AUC fight-clip frames vs rest (train fight videos)", "mean g inside",
                  "mean g outside"], "llll", out)


def real_probe(res: Results) -> str:
    """Returns the localisation-ceiling probe table (light / recognizer features)."""
    c = res["real_summary"]["localisation_ceiling"]
    out = [[f"{k} features", f"{v['auc']:.3f}", pct(v["hit_rate"]), f"{v['mAP']:.2f}"] for k, v in c.items()]
    return table(["probe on TRUE fight-clip frames (val)", "frame AUC in fight videos", "top-5 hit rate",
                  "mAP of its top-5 (%)"], "llll", out)


def real_saliency(res: Results) -> str:
    """Returns NSNet's saliency localisation table (mean over seeds)."""
    out = [[k, f"{v['auc']:.3f}", pct(v["hit_rate"])] for k, v in res["real_summary"]["sampler_localisation"].items()]
    return table(["NSNet saliency (mean over seeds)", "frame AUC in fight videos", "top-5 hit rate"], "lll", out)


def real_ablation(res: Results) -> str:
    """Returns the real Table 6 analogue: ``real_summary.json``'s ablation over its seeds."""
    s = res["real_summary"]
    return ablation_table(s["ablation"], len(s["ablation_seeds"]), ddof_of(s), "ablation run")


def real_investigation(res: Results) -> str:
    """Returns the investigation grid over its seeds."""
    s = res["real_summary"]
    return ablation_table(s["investigation"], len(s["investigation_seeds"]), ddof_of(s), "investigation run")


def real_sweep(res: Results) -> str:
    """Returns the budget sweep: mAP mean ± sample std (GFLOPs) per K and method."""
    s = res["real_summary"]
    n, ddof, sweep = len(s["seeds"]), ddof_of(s), s["sweep"]
    ks = sorted({int(key.split("@")[1]) for key in sweep})
    out = []
    for k in ks:
        row = [str(k)]
        for m in SWEEP_METHODS:
            v = sweep[f"{m}@{k}"]
            row.append(f"{pm(v['mAP'], sample_std(v['mAP_std'], n, ddof), 1)} ({v['gflops']:.2f})")
        out.append(row)
    return table(["K", *SWEEP_METHODS], "l" * (1 + len(SWEEP_METHODS)), out)


def real_rows(res: Results) -> dict[str, dict[str, Any]]:
    """Returns the first run's Table 1 rows by method with ``std`` = sample std."""
    s = res["real_summary"]
    return {r["method"]: {**r, "std": sample_std(r["mAP_std"], r["seeds"], ddof_of(s))} for r in s["table1"]}


def real_targets(res: Results) -> str:
    """Returns the targets table of the first real run, every figure and verdict from the JSON."""
    s = res["real_summary"]
    rows, abl = real_rows(res), s["ablation"]
    ns, u, o = rows["nsnet"], rows["uniform"]["mAP"], rows["oracle"]["mAP"]
    base = [m for m in rows if m not in ("nsnet", "oracle")]
    above = [m for m in base if rows[m]["mAP"] > ns["mAP"]]
    gap = 100 * (ns["mAP"] - u) / (o - u)
    yes = (lambda ok: "yes" if ok else "no")
    fsm = [("fsm-video", "video-label"), ("fsm-nonsalient", "non-salient class"), ("fsm-baseline+", "baseline+"),
           ("fsm-ranking", "ranking"), ("fsm-regression", "regression")]
    vgm = [("vgm-nonsalient", "+non-salient"), ("vgm-baseline", "baseline")]
    br, fu = s["branches"], s["fusions"]
    best = max(fu, key=lambda f: fu[f]["mAP"])
    fr = abl.get("fsm-ns-response", {}).get("mAP")
    inv = s.get("investigation", {}).get("response", {}).get("mAP")
    hits = {m: rows[m].get("event_hit_rate") for m in ("nsnet", "uniform", "dense", "maxconf-l", "oracle")}
    out = [
        ["NSNet (K = 5) ≥ every non-oracle baseline",
         f"{pm(ns['mAP'], ns['std'])} vs " + ", ".join(f"{m} {rows[m]['mAP']:.2f}" for m in above), yes(not above)],
        ["NSNet ≥ Uniform + 3 mAP", f"{ns['mAP'] - u:+.1f}", yes(ns["mAP"] - u >= 3)],
        [f"NSNet closes ≥ 50 % of the Uniform → Oracle gap ({u:.1f} → {o:.1f})", f"{gap:.0f} %", yes(gap >= 50)],
        ["NS beats its ablations, FSM", f"fsm-ns {abl['fsm-ns']['mAP']:.2f}; " + ", ".join(
            f"{label} {abl[r]['mAP']:.2f}" for r, label in fsm), yes(all(abl[r]["mAP"] < abl["fsm-ns"]["mAP"] for r, _ in fsm))],
        ["NS beats its ablations, VGM", f"vgm-ns {abl['vgm-ns']['mAP']:.2f}; " + ", ".join(
            f"{label} {abl[r]['mAP']:.2f}" for r, label in vgm), yes(all(abl[r]["mAP"] < abl["vgm-ns"]["mAP"] for r, _ in vgm))],
        ["fusion beats either branch", f"union {fu['union']['mAP']:.2f} (best fusion: {best} {fu[best]['mAP']:.2f}) vs FSM "
         f"{br['fsm']['mAP']:.2f}, VGM {br['vgm']['mAP']:.2f}",
         yes(fu["union"]["mAP"] > max(br["fsm"]["mAP"], br["vgm"]["mAP"]))
         + (" (beats FSM only)" if br["fsm"]["mAP"] < fu["union"]["mAP"] < br["vgm"]["mAP"] else "")],
        ["prototype guide ≥ response guide", f"NSNet {ns['mAP']:.2f} vs {inv:.2f}; FSM alone "
         f"{abl['fsm-ns']['mAP']:.2f} vs {fr:.2f}",
         f"NSNet {yes(ns['mAP'] >= inv)}, FSM alone {yes(abl['fsm-ns']['mAP'] >= fr)}"],
        ["frames inside the fight clip", f"NSNet {pct(hits['nsnet'])}, Uniform {pct(hits['uniform'])} (the clip is "
         f"{pct(hits['dense'])} of T), MaxConf-L {pct(hits['maxconf-l'])}, oracle {pct(hits['oracle'])}",
         "NSNet " + ("below" if hits["nsnet"] < hits["uniform"] else "at or above") + " Uniform"],
    ]
    return table(["target (paper's claim)", "result", "met"], "lll", out)
