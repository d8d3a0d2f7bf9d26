"""Tables of the controlled benchmark (``controlled_table1.json``, ``controlled_summary.json``,
written by ``benchmarks/run_controlled.py summary``)."""

from __future__ import annotations

from typing import Any

from benchmarks.tables.stats import Results, ddof_of, pct, pm, sample_std, std_of, table, wrap


def _n_ablation(summary: dict[str, Any]) -> int:
    return len(summary.get("ablation_seeds", []))


def table1_rows(res: Results) -> dict[str, dict[str, Any]]:
    """Returns the controlled Table 1 rows by method, each with ``std`` = the sample std of its mAP
    over its seeds (Random's recomputed from its per-seed values) and its frame ``shares``."""
    summary = res["controlled_summary"]
    shares = {r["method"]: r.get("shares", {}) for r in summary["table1"]}
    rows = {}
    for r in res["controlled_table1"]:
        std = sample_std(r["mAP_std"], r["seeds"], ddof_of(r))
        if r["method"] == "random" and "values" in summary.get("random_seeds", {}):
            std = std_of(summary["random_seeds"]["values"])
        rows[r["method"]] = {**r, "std": std, "shares": shares.get(r["method"], {})}
    return rows


def controlled_table1(res: Results) -> str:
    """Returns the controlled Table 1 analogue (mAP mean ± sample std, top-1, GFLOPs, frame shares)."""
    out = []
    for r in table1_rows(res).values():
        s = r["shares"]
        out.append([r["method"], str(r["K"]), pm(r["mAP"], r["std"]), f"{r['top1']:.2f}", f"{r['gflops']:.2f}",
                    pct(s.get("event")), pct(s.get("distractor")), pct(s.get("background"))])
    return table(["method", "K", "mAP (%)", "top-1 (%)", "GFLOPs", "event", "distractor", "background"],
                 "lrrrrrrr", out)


def gap_closed(m: float, uniform: float, oracle: float) -> float:
    """Returns the share (%) of the Uniform -> Oracle mAP gap that ``m`` closes."""
    return 100 * (m - uniform) / (oracle - uniform)


def controlled_gap(res: Results) -> str:
    """Returns the prose block under Table 1: gap closed per sampler, Random's seed spread and the
    trained samplers' seed stds, all from the JSON."""
    rows = table1_rows(res)
    summary = res["controlled_summary"]
    u, o = rows["uniform"]["mAP"], rows["oracle"]["mAP"]
    gaps = ", ".join(f"{name} {gap_closed(rows[m]['mAP'], u, o):.0f} %" for name, m in
                     (("nsnet-paper", "nsnet-paper"), ("nsnet-tuned", "nsnet-tuned"), ("TSQNet", "tsqnet"),
                      ("TQM alone", "tqm")) if m in rows)
    text = f"Gap closed (Uniform {u:.1f} -> Oracle {o:.1f}): {gaps}"
    abl = summary.get("ablation", {})
    if "fsm-ns" in abl:
        text += (f"; FSM-only NSNet (ablation below, {_n_ablation(summary)} seed) "
                 f"{gap_closed(abl['fsm-ns']['mAP'], u, o):.0f} %")
    rnd = summary["random_seeds"]
    trained = [r["std"] for m, r in rows.items() if r["std"] > 0 and m != "random"]
    vals = ", ".join(f"{v:.1f}" for v in rnd["values"])
    text += (f". The random sampler's std over its {len(rnd['values'])} seeds is {rows['random']['std']:.2f} mAP "
             f"(values {vals}): for the random sampler the set resolves about one point, as asked; the trained "
             f"samplers' seed stds are larger ({min(trained):.1f}-{max(trained):.1f} mAP over "
             f"{len(summary['seeds'])} seeds), so differences between them need that margin.")
    return wrap(text)


def controlled_reload(res: Results) -> str:
    """Returns the reload-vs-cached table (seed 0, the same val videos)."""
    out = [[r["method"], r["path"], str(r["videos"]), f"{r['mAP']:.2f}", f"{r['top1']:.2f}", f"{r['seconds']:.1f}"]
           for r in res["controlled_summary"]["reload"]]
    return table(["seed 0, same videos", "path", "videos", "mAP (%)", "top-1 (%)", "seconds"], "llrrrr", out)


def controlled_fusions(res: Results) -> str:
    """Returns the fusions of the tuned NSNet (mean ± sample std over seeds)."""
    summary = res["controlled_summary"]
    ddof = ddof_of(summary)
    out = [[f, pm(v["mAP"], sample_std(v["mAP_std"], v["seeds"], ddof))] for f, v in summary["fusions"].items()]
    return table(["fusion (chosen NSNet)", "mAP (%)"], "lr", out)


def controlled_guide(res: Results) -> str:
    """Returns the guide-quality table on the train videos (means, ROC-AUCs, top-5 shares)."""
    gq = res["controlled_summary"]["guide_quality"]
    cols = list(next(iter(gq.values())))
    out = [[name] + [f"{v[c]:.3f}" for c in cols] for name, v in gq.items()]
    return table(["guiding score (train)"] + cols, "l" + "r" * len(cols), out)


def controlled_tune(res: Results) -> str:
    """Returns the tune table (train[:80%] -> train[80%:], seed 0): mAP and each branch alone, in %."""
    cells = (lambda v, c: f"{100 * float(v[c]):.2f}" if c in v else "")
    out = [[name, cells(v, "mAP"), cells(v, "mAP_fsm"), cells(v, "mAP_vgm")]
           for name, v in res["controlled_summary"]["tune"].items()]
    return table(["tune (train[:80%] -> train[80%:])", "mAP (%)", "FSM alone", "VGM alone"], "lrrr", out)


def ablation_table(rows: dict[str, dict[str, Any]], n: int, ddof: int, first: str) -> str:
    """Returns an `nsnet ablate` aggregate (name -> mAP[, _fsm, _vgm] with their stds over ``n``
    seeds) as a table: mean ± sample std, or the value alone for one seed; diverged seeds noted."""
    def cell(v: dict[str, Any], col: str) -> str:
        return pm(v[col], sample_std(v.get(col + "_std", 0.0), n - v.get("diverged", 0), ddof)) if col in v else ""

    out = []
    for name, v in rows.items():
        label = name + (f" ({v['diverged']} of {n} seeds diverged)" if v.get("diverged") else "")
        out.append([label, cell(v, "mAP"), cell(v, "mAP_fsm"), cell(v, "mAP_vgm")])
    return table([first, "mAP (%)", "FSM alone", "VGM alone"], "lrrr", out)


def controlled_ablation(res: Results) -> str:
    """Returns the controlled Table 6 / supp. B ablation (`nsnet ablate`, its seeds)."""
    s = res["controlled_summary"]
    return ablation_table(s["ablation"], _n_ablation(s), ddof_of(s), "ablation run")


GRID_METHODS = ("nsnet-paper", "nsnet-tuned")


def controlled_grid(res: Results) -> str:
    """Returns the difficulty grid: per cell, each NSNet's mAP lead over Uniform / MaxConf-L / Top-K
    (mean ± sample std over seeds) and each NSNet's own share of frames on distractors."""
    s = res["controlled_summary"]
    ddof, grid = ddof_of(s), s["grid"]
    diffs = list(next(iter(grid.values()))["diff"])
    out = []
    for cell, v in grid.items():
        row = [cell, str(v["videos"])]
        row += [pm(v["diff"][d]["mAP"], sample_std(v["diff"][d]["mAP_std"], v["diff"][d]["seeds"], ddof), sign=True)
                for d in diffs]
        row += [pct(v["shares"][m]["distractor"]) for m in GRID_METHODS]
        out.append(row)
    header = ["event x distractors", "videos"] + diffs + [f"{m} frames on distractors" for m in GRID_METHODS]
    return table(header, "lr" + "r" * (len(diffs) + len(GRID_METHODS)), out)


# the old Table 1's rows and the rebuilt store's rows that are the same method (same run, same branch);
# the old fsm-paper / tqm are branches of the two-branch / TSQNet runs, the new fsm-only / tqm trained alone
SAME_METHOD = [("uniform", "uniform"), ("random", "random"), ("dense", "dense"), ("topk", "topk"),
               ("maxconf-l", "maxconf-l"), ("scsampler", "scsampler"), ("nsnet-paper", "nsnet"),
               ("vgm-paper", "vgm"), ("tsqnet", "tsqnet"), ("vqm", "vqm"), ("oracle", "oracle")]


def rebuilt_vs_old(res: Results, name: str = "ctrl1000_auto") -> str:
    """Returns, per method in both, the old Table 1's mAP (the first build of the 1,000 + 1,500 store)
    next to the rebuilt store's (mean ± sample std over seeds, and per seed) and their difference."""
    old = table1_rows(res)
    new = {r["method"]: r for r in res[name]["rows"]}
    rows = []
    for a, b in SAME_METHOD:
        if a in old and b in new:
            o, n = old[a], new[b]
            rows.append([a if a == b else f"{a} / {b}", pm(o["mAP"], o["std"]), pm(n["mAP"], n["mAP_std"]),
                         " / ".join(f"{v:.1f}" for v in n.get("per_seed", [])), f"{n['mAP'] - o['mAP']:+.2f}"])
    return table(["method (old / rebuilt)", "old Table 1 (no intervals)", "rebuilt store", "rebuilt, per seed",
                  "rebuilt - old"], "lrrrr", rows)


def oracle_guides(res: Results, name: str = "ctrl1000_auto", nsnet_oracle: str = "ctrl1000_oracle_nsnet_seed0") -> str:
    """Returns one generated sentence: the old table's oracle, the same oracle (the NSNet run's guide, seed 0,
    ``nsnet evaluate`` results) on the rebuilt store, and the response oracle of ``run_auto.py``."""
    old = table1_rows(res)["oracle"]["mAP"]
    guide = 100 * next(r for r in res[nsnet_oracle]["rows"] if r["method"] == "oracle")["mAP"]
    response = next(r for r in res[name]["rows"] if r["method"] == "oracle")["mAP"]
    return wrap(f"Oracle (val, K = 5): the old table's, the guide of its NSNet run, {old:.2f}; the same oracle on the "
                f"rebuilt store (seed 0's NSNet run) {guide:.2f}; the response oracle of `run_auto.py` {response:.2f}.")
