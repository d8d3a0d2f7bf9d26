"""Renderers of the issue-19 fix attempts: AdaFocus's fixed policy (``pip96_policy.json``,
``benchmarks/run_adafocus_policy.py``) and the distractor share (``ctrl400_distractor_fixes.json``,
``benchmarks/run_distractor_fixes.py``)."""

from __future__ import annotations

from typing import Any

from benchmarks.tables.stats import Results, pct, pm, table

POLICY = "pip96_policy"
DISTRACTOR = "ctrl400_distractor_fixes"


def _ci(iv: dict[str, float] | None) -> str:
    """Returns "+d [lo, hi]" of a paired bootstrap interval ("" when absent)."""
    return "" if not iv else f"{iv['diff']:+.2f} [{iv['low']:+.2f}, {iv['high']:+.2f}]"


def adafocus_policy(results: Results, name: str = POLICY) -> str:
    """Returns the arms table: mAP ± sample std, paired intervals against random / centre patches and
    the paper's π, where π looks on the event frames (a set with picture-in-picture photos only), and
    how alive its input layer is."""
    data = results[name]
    photo = "best_candidate_photo_share" in data
    refs = ["random-patch", "centre-patch"]
    refs += [c for c in ("random-patch+III", "centre-patch+III") if any(r["method"] == c for r in data["rows"])]
    rows = []
    for r in data["rows"]:
        alive = "" if "alive_channels" not in r else " / ".join(f"{100 * a:.0f}%" for a in r["alive_channels"])
        top = "" if "top_share" not in r else pct(r["top_share"])
        distinct = "" if "distinct_per_video" not in r else f"{r['distinct_per_video']:.1f}"
        where = [pct(r["photo_share"]), pct(r["centred_on_photo"]), f"{r['r_x']:+.2f} / {r['r_y']:+.2f}"] if photo else []
        rows.append([r["method"], pm(r["mAP"], r["mAP_std"]), *(_ci(r.get(f"vs_{ref}")) for ref in refs),
                     _ci(r.get("vs_paper")), *where, top, distinct, alive])
    if photo:
        rows.append(["best candidate (reference)", *[""] * (len(refs) + 2), pct(data["best_candidate_photo_share"]),
                     "", "", "", "", ""])
    where_head = ["photo in patch", "patch centred on photo", "r (x / y)"] if photo else []
    return table(["method", "mAP (%)", *(f"- {ref.replace('-', ' ')} [95% CI]" for ref in refs), "- paper π [95% CI]",
                  *where_head, "top candidate", "distinct / video", "π conv channels alive (per seed)"],
                 "l" + "r" * (5 + len(refs) + len(where_head)), rows)


def adafocus_cause(results: Results, name: str = POLICY) -> str:
    """Returns the cause table, per seed of the paper's runs: what f_C (the reward's source) gains from
    the photo, and how well the light map (π's input) locates it."""
    rows = []
    data = results[name]
    pick = int(all("probe_pick_photo_share" in d for d in data["diagnosis"]))
    for i, d in enumerate(data["diagnosis"]):
        alive = next(r["alive_channels"][i] for r in data["rows"] if r["method"] == "paper") \
            if "paper" in [r["method"] for r in data["rows"]] else None
        rows.append([str(d["seed"]), f"{pct(d['alive_channels_after_stage1'], 0)} -> {pct(alive, 0)}",
                     f"{d['fc_map_random_patch']:.2f}", f"{d['fc_map_best_photo_patch']:.2f}",
                     f"{d['fc_trained_on_best_photo']:.2f}", f"{d['fc_photo_gap']:+.4f} (p_ty {d['fc_mean_confidence']:.3f})",
                     f"{pct(d['fc_best_is_photo'])} (chance {pct(d['chance_best'])})", f"{d['map_probe_auc']:.3f}"]
                    + ([pct(d["probe_pick_photo_share"])] if pick else []))
    return table(["seed", "π conv channels alive: initialised -> after stage II", "f_C mAP, random patches", "f_C mAP, best photo patch", "f_C trained + scored on best photo patch",
                  "f_C confidence gap photo - other patches", "photo patch has f_C's top confidence",
                  "map probe AUC (photo in candidate)", *(["probe's first pick: photo in patch (val)"] if pick else [])],
                 "lrrrrrrr" + "r" * pick, rows)


def _shares(r: dict[str, Any]) -> list[str]:
    return [f"{r['frames']:.2f}", pct(r["event"]), pct(r["distractor"]), pct(r["background"])]


def distractor_stop(results: Results) -> str:
    """Returns the stop-at-threshold rule per candidate: the holdout curve's best tau, val top-K vs the
    rule, the paired interval, and how close the picked distractors score to the top."""
    rows = []
    for label, c in results[DISTRACTOR]["candidates"].items():
        curve = ", ".join(f"{r['tau']:.1f}: {r['mAP']:.1f}" for r in c["holdout_curve"])
        for rule, r in c["val"].items():
            tau = c["tau"] if rule == "stop" else 0.0
            rows.append([label, f"{rule} (tau {tau:.1f})", pm(r["mAP"], r["mAP_std"]), *_shares(r),
                         f"{r['norm_event']:.2f} / {r['norm_distractor']:.2f} / {r['norm_background']:.2f}",
                         _ci(c["stop_minus_topk"]) if rule == "stop" else "", curve if rule == "top-k" else ""])
    return table(["candidate", "rule", "val mAP (%)", "frames", "event", "distractor", "background",
                  "n(s) of picked event / distractor / background", "stop - top-K [95% CI]", "holdout mAP by tau"],
                 "llrrrrrrrl", rows)


def distractor_power(results: Results) -> str:
    """Returns the guide-power attempt: holdout rows per power (the choice), val rows of the chosen power
    and of p = 1, and their paired interval."""
    g = results[DISTRACTOR]["guide_power"]
    rows = [["holdout", f"{r['power']:g}", pm(r["mAP"], r["mAP_std"]), *_shares(r), ""] for r in g["holdout"]]
    diff = _ci(g.get("chosen_minus_p1"))
    rows += [["val", f"{r['power']:g}" + (" (chosen)" if r["power"] == g["chosen"] else ""), pm(r["mAP"], r["mAP_std"]),
              *_shares(r), diff if r["power"] == g["chosen"] and r["power"] != 1.0 else ""] for r in g["val"]]
    return table(["split", "vgm_guide_power", "mAP (%)", "frames", "event", "distractor", "background",
                  "chosen - p 1 [95% CI]"], "llrrrrrr", rows)


def holdout_overlap(results: Results) -> str:
    """Returns how many event photos of the holdout and of val show an ImageNet class that the fitted
    videos already showed (the holdout's optimism on the controlled store)."""
    o = results[DISTRACTOR]["class_overlap"]
    return table(["event photos", "class already shown to the fitted videos"], "lr",
                 [["train holdout (train[80%:]) vs train[:80%]", pct(o["holdout_event_class_seen_in_fit"])],
                  ["val vs the whole train split", pct(o["val_event_class_seen_in_train"])]])


def adafocus_holdout(results: Results, *names: str) -> str:
    """Returns one row per setting of ``run_adafocus_holdout.py`` (the JSONs ``names``, default the
    stage II one): holdout mAP and photo share, mean ± sample std over the seeds, and per seed."""
    names = names or ("pip96s16_stage2_holdout",)
    data = results[names[0]]
    def photo(r: dict[str, Any]) -> list[str]:  # a set without picture-in-picture photos has none
        if r.get("photo_share") is None:
            return ["n/a", ""]
        return [pm(100 * r["photo_share"], 100 * r["photo_share_std"], 1) + " %",
                " / ".join(pct(x["photo_share"]) for x in r["runs"])]

    rows = [[r["setting"], pm(r["mAP"], r["mAP_std"]), " / ".join(f"{x['mAP']:.1f}" for x in r["runs"]), *photo(r)]
            for n in names for r in results[n]["rows"]]
    return table([f"setting ({data['fit_videos']} -> {data['holdout_videos']} train videos)", "holdout mAP (%)",
                  "per seed", "photo in patch (holdout event frames)", "per seed"], "lrrrr", rows)


def adafocus_curve(results: Results, name: str) -> str:
    """Returns one row per train size of ``adafocus_curve.py``: f_C's val mAP on random patches and
    on a perfect policy's patches (each trained on those patches), mean ± sample std over the seeds,
    and their difference: what finding the photo can be worth."""
    data = results[name]
    rows = [[str(r["train_videos"]), str(r["epochs"]), pm(r["random_mAP"], r["random_std"]),
             pm(r["best_photo_mAP"], r["best_photo_std"]), pm(r["gap"], r["gap_std"])] for r in data["rows"]]
    return table(["train videos", "stage I epochs", "f_C on random patches (mAP %)",
                  "f_C on the best photo patch (mAP %)", "difference"], "lrrrr", rows)


def adafocus_plus(results: Results, name: str) -> str:
    """Returns one row per setting of ``run_adafocus_plus.py``: AdaFocus+'s val mAP ± sample std, its
    paired interval against the first setting, and where π' keeps the local CNN (event frames vs the
    others) and π looks."""
    rows = [[r["setting"], pm(r["mAP"], r["mAP_std"]), _ci(r.get("vs_first")),
             pm(100 * r["keep_event"], 100 * r["keep_event_std"], 1) + " %",
             pm(100 * r["keep_other"], 100 * r["keep_other_std"], 1) + " %", pct(r["photo_share"])]
            for r in results[name]["rows"]]
    return table(["AdaFocus+ setting", "mAP (%)", "- first row [95% CI]", "frames kept: event", "frames kept: others",
                  "photo in patch"], "lrrrrr", rows)


def adafocus_plus_holdout(results: Results, name: str) -> str:
    """Returns one row per AdaFocus+ setting of ``run_adafocus_holdout.py`` with ``skip=true``: holdout
    mAP ± sample std over the seeds, its difference to the first setting (t-interval over the seeds,
    paired by seed, as the runner stored it), the event and other frames π' keeps, and π''s saturated
    share at the end of stage II with the runs that warned."""
    data = results[name]
    rows = []
    for r in data["rows"]:
        vs = r.get("vs_first")
        diff = "" if not vs else f"{vs['diff']:+.2f} [{vs['seeds_ci'][0]:+.2f}, {vs['seeds_ci'][1]:+.2f}]"
        warned = sum(bool(x.get("warned")) for x in r["runs"])
        rows.append([r["setting"], pm(r["mAP"], r["mAP_std"]), " / ".join(f"{x['mAP']:.1f}" for x in r["runs"]), diff,
                     pm(100 * r["kept_event"], 100 * r["kept_event_std"], 1) + " %",
                     pm(100 * r["kept_others"], 100 * r["kept_others_std"], 1) + " %",
                     f"{100 * r['keep_saturated']:.1f} %", f"{warned}/{len(r['runs'])}"])
    return table([f"AdaFocus+ setting ({data['fit_videos']} -> {data['holdout_videos']} train videos)",
                  "holdout mAP (%)", "per seed", "- first row [95% CI, seeds]", "kept: event frames",
                  "kept: other frames", "π' saturated (last stage II epoch)", "runs warned"], "lrrrrrrr", rows)
