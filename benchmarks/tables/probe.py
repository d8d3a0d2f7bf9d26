"""Renderers of ``<name>_event_probe.json`` (``benchmarks/run_event_probe.py``): can the features tell event
photos from distractor photos (frames of the store, and the photos at several light input sizes), and
what a perfect localiser scores next to the samplers and the label oracle."""

from __future__ import annotations

from benchmarks.tables.stats import Results, pm, table

NAME = "ctrl400_event_probe"
TABLE1 = "ctrl400_ownlr_5seeds_auto"


def _ci(value: float, iv: list[float]) -> str:
    """Returns "v [lo, hi]" with three decimals."""
    return f"{value:.3f} [{iv[0]:.3f}, {iv[1]:.3f}]"


def event_probe_frames(results: Results, name: str = NAME) -> str:
    """Returns the frame probe: event-vs-distractor ROC-AUC of each cached feature array, with the folds
    grouped by video, grouped by photo, and fitted on train then scored on val."""
    rows = []
    for array, p in results[name]["frame_probe"].items():
        rows.append([array, f"{p['by_video']:.3f} ± {p['by_video_std']:.3f}", f"{p['by_photo']:.3f} ± {p['by_photo_std']:.3f}",
                     _ci(p["train_to_val"], p["train_to_val_ci"]),
                     f"{p['train_photos']['event']} / {p['train_photos']['distractor']}",
                     f"{p['val_photos']['event']} / {p['val_photos']['distractor']}"])
    return table(["cached array", "train, 5 folds grouped by video", "train, 5 folds grouped by photo",
                  "fit on train, scored on val [95% CI, val photos]", "train photos event / distractor",
                  "val photos event / distractor"], ["l", "r", "r", "r", "r", "r"], rows)


def event_probe_photos(results: Results, name: str = NAME) -> str:
    """Returns the photo probe: val-photo ROC-AUC of a probe fitted on the train photos, per model and
    input size."""
    rows = [[r["model"], str(r["input_size"]), _ci(r["auc"], r["auc_ci"]),
             f"{r['train_photos']['event']} / {r['train_photos']['distractor']}",
             f"{r['val_photos']['event']} / {r['val_photos']['distractor']}"]
            for r in results[name]["photo_probe"]]
    return table(["backbone", "input px", "val AUC [95% CI, photos]", "train photos event / distractor",
                  "val photos event / distractor"], ["l", "r", "r", "r", "r"], rows)


def localiser_ceiling(results: Results, name: str = NAME, table1: str = TABLE1) -> str:
    """Returns the val mAP of the samplers of Table 1, of a perfect localiser (every event frame, alone or
    topped up to K with random frames of one kind) and of the label oracle, each with its share of the
    Uniform -> Oracle gap."""
    loc = results[name]["localiser"]
    t1 = {r["method"]: r for r in results[table1]["rows"]}
    uni, orc = t1["uniform"]["mAP"], t1["oracle"]["mAP"]
    best = max((r for m, r in t1.items() if m not in ("oracle", "auto")), key=lambda r: r["mAP"])
    entries = [("uniform (Table 1)", uni, None), (f"{best['method']} (Table 1, best single method)", best["mAP"],
               best["mAP_std"]), ("auto (Table 1)", t1["auto"]["mAP"], t1["auto"]["mAP_std"])]
    entries += [(f"every event frame + random {f} frames up to K", loc[f"fill_{f}"]["mAP"], loc[f"fill_{f}"]["mAP_std"])
                for f in ("any", "background", "distractor")]
    entries += [("every event frame alone (fewer than K)", loc["events_only"], None),
                ("label oracle (Table 1: top K of the recognizer's true-class score)", orc, None)]
    rows = [[label, pm(m, s) if s is not None else f"{m:.2f}", f"{100 * (m - uni) / (orc - uni):.0f} %"]
            for label, m, s in entries]
    return table(["frames given to the recognizer (val, K = 5)", "mAP (%)", "share of the Uniform -> Oracle gap"],
                 ["l", "r", "r"], rows)


def store_compare(results: Results, name: str = "ctrl400_light224") -> str:
    """Returns the same samplers on two stores (``benchmarks/compare_stores.py``): mAP ± sample std on each,
    B - A with its intervals over val videos and over seeds, and the event / distractor shares."""
    d = results[name]
    a, b = d["a"], d["b"]
    rows = []
    for r in d["rows"]:
        iv, seeds = r["b_minus_a"], r["b_minus_a_seeds"]
        rows.append([r["method"], pm(r[a]["mAP"], r[a]["mAP_std"]), pm(r[b]["mAP"], r[b]["mAP_std"]),
                     f"{iv['diff']:+.1f} [{iv['low']:+.1f}, {iv['high']:+.1f}]",
                     "" if seeds is None else f"[{seeds[0]:+.1f}, {seeds[1]:+.1f}]",
                     f"{100 * r[a]['shares']['event']:.1f}% -> {100 * r[b]['shares']['event']:.1f}%",
                     f"{100 * r[a]['shares']['distractor']:.1f}% -> {100 * r[b]['shares']['distractor']:.1f}%"])
    return table(["method", f"mAP (%), {a}", f"mAP (%), {b}", f"{b} - {a} [95% CI, videos]", "[95% CI, seeds]",
                  "event share", "distractor share"], ["l", "r", "r", "r", "r", "r", "r"], rows)
