"""AdaFocus's fixed policy (issue 19, point 3): the measured cause and the fix attempt, on a
picture-in-picture controlled store with candidate patches (``make bench-adafocus-policy``).

    python benchmarks/run_adafocus_policy.py --store STORE --spans DATA/spans.json --work WORK \\
        --seeds 0 1 2 --adafocus stage1_epochs=60 stage2_epochs=30 stage3_epochs=20

Arms (each trained per seed on the train split, scored on val, cached path, all T frames):
``paper`` (the paper's π on the flattened map, Eq. 7 against one random candidate, the critic
sharing π's network), ``detached-critic`` (``shared_critic=false``: the cause removed),
``candidates`` (also ``policy_input=candidates``) and ``candidates+mean`` (also ``reward=mean``:
the fix attempt). For every arm: mAP mean +- sample std over seeds,
the paired bootstrap over val videos (seeds averaged) against random and centre patches (the stage-I
f_C, as ``nsnet evaluate`` scores them; and ``random-patch+III`` / ``centre-patch+III``: the same
fixed policies with f_C given the arms' stage III, ``benchmarks/adafocus_controls.py``) and against
``paper``, where π looks (top candidate share, distinct candidates per video) and, on the event
frames, how much of the chosen patch shows the event photo (mean share of its area; share of
frames whose patch centre lies on the photo; Pearson r between the patch centre and the photo
centre across videos, x and y), with random, centre and the best candidate as references. On a set
without picture-in-picture photos (``spans.json`` without ``pip``, e.g. the real fight/noFight
store) the rows keep mAP, the intervals and the policy usage, and the cause keeps the channel count.

The cause (``diagnosis``, from each seed's paper run): (a) f_C, the reward's source: on val event
frames, its label confidence one step on from a random-patch history for the candidates that
show the photo (>= half of the patch) minus the others, and how often the photo's best candidate
gets f_C's highest confidence; (b) the light map, π's input: a logistic probe on each candidate's
pooled map cells (the candidate policy's input) predicting "shows the photo", AUC over 5 folds
grouped by video on train, and the photo share of the candidate it ranks first on each val event
frame, fitted on all of train (what the map lets a policy reach, taught where the photo is); (c)
per run, the share of π's 1x1-conv channels still alive after stage II (``alive_channels``, on
train maps).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nsnet.evaluate.config import EvaluateConfig  # noqa: E402
from nsnet.evaluate.run import evaluate  # noqa: E402
from nsnet.metrics import mean_average_precision, paired_bootstrap_map  # noqa: E402
from nsnet.sampler.adafocus.candidate_policy import boxes_on_map, candidate_pooling  # noqa: E402
from nsnet.sampler.adafocus.model import label_confidence  # noqa: E402
from nsnet.sampler.config import sampler_config  # noqa: E402
from nsnet.sampler.data import load_sampler_arrays  # noqa: E402
from nsnet.sampler.run import load_run  # noqa: E402
from nsnet.sampler.train import fit_sampler, train_sampler  # noqa: E402
from nsnet.store import FeatureStore  # noqa: E402
from benchmarks.adafocus_controls import CONTROLS, control_probs  # noqa: E402
from benchmarks.run_adafocus import ensure_head  # noqa: E402
from nsnet.extract.patches import PatchGrid  # noqa: E402

PAPER = {"policy_input": "map", "shared_critic": True}  # the paper's π (the product default until issue 19)
ARMS = {"paper": PAPER, "detached-critic": {**PAPER, "shared_critic": False},
        "candidates": {"policy_input": "candidates", "shared_critic": False},
        "candidates+mean": {"policy_input": "candidates", "shared_critic": False, "reward": "mean"}}
REFERENCES = ["random-patch", "centre-patch"]


def photo_boxes(store: FeatureStore, arrays: Any, spans: dict[str, Any], width: int, height: int) -> np.ndarray:
    """Returns float [N, T, 4]: the event photo's box (x0, y0, x1, y1) in the recognizer's input frame
    (a centre crop of the ``width`` x ``height`` video) on each stored frame of the split's videos
    (NaN off the event shot)."""
    spec = store.recognizer_spec
    scale = float(spec["resize_short"]) / min(width, height)
    off_x, off_y = (width * scale - spec["input_size"]) / 2, (height * scale - spec["input_size"]) / 2
    ids = [str(v) for v in store.read("video_id", np.arange(store.num_videos)).tolist()]
    frames = store.read("frame_indices", np.asarray([ids.index(v) for v in arrays.video_ids]))
    out = np.full(frames.shape + (4,), np.nan)
    for i, vid in enumerate(arrays.video_ids):
        shot = next(s for s in spans[Path(vid).name]["shots"] if s["kind"] == "event")
        pip = shot["pip"]
        w, h = round(width * pip["scale"]), round(height * pip["scale"])
        x0, y0 = round(pip["x"] * (width - w)), round(pip["y"] * (height - h))
        box = [x0 * scale - off_x, y0 * scale - off_y, (x0 + w) * scale - off_x, (y0 + h) * scale - off_y]
        on = (frames[i] >= shot["start_frame"]) & (frames[i] < shot["end_frame"])
        out[i, on] = box
    return out


def coverage(cand_boxes: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """Returns [N, T, A]: the share of each candidate's area on the photo (NaN off the event)."""
    ix = np.clip(np.minimum(cand_boxes[:, 2], photo[..., None, 2]) - np.maximum(cand_boxes[:, 0], photo[..., None, 0]), 0, None)
    iy = np.clip(np.minimum(cand_boxes[:, 3], photo[..., None, 3]) - np.maximum(cand_boxes[:, 1], photo[..., None, 1]), 0, None)
    area = (cand_boxes[:, 2] - cand_boxes[:, 0]) * (cand_boxes[:, 3] - cand_boxes[:, 1])
    return ix * iy / area


def looks(choices: np.ndarray, cand_boxes: np.ndarray, photo: np.ndarray, cover: np.ndarray) -> dict[str, float]:
    """Returns where ``choices`` [N, T] look on the event frames: mean photo share of the patch,
    share of patches centred on the photo, Pearson r of patch vs photo centre (x, y)."""
    ev = ~np.isnan(photo[..., 0])
    share = np.take_along_axis(cover, choices[..., None], axis=2)[..., 0][ev]
    cx, cy = (cand_boxes[choices, 0] + cand_boxes[choices, 2]) / 2, (cand_boxes[choices, 1] + cand_boxes[choices, 3]) / 2
    on = (cx >= photo[..., 0]) & (cx < photo[..., 2]) & (cy >= photo[..., 1]) & (cy < photo[..., 3])
    px, py = (photo[..., 0] + photo[..., 2]) / 2, (photo[..., 1] + photo[..., 3]) / 2

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0

    return {"photo_share": float(share.mean()), "centred_on_photo": float(on[ev].mean()),
            "r_x": corr(cx[ev], px[ev]), "r_y": corr(cy[ev], py[ev])}


def best_photo_arrays(arrays: Any, cover: np.ndarray, seed: int) -> Any:
    """Returns ``arrays`` with one candidate per frame: the one showing most of the event photo on
    the event frames, a random one elsewhere (the choices of a perfect policy)."""
    n, t, a = arrays.patch_features.shape[:3]
    rand = np.random.default_rng(seed).integers(0, a, (n, t))
    best = np.where(~np.isnan(cover[..., 0]), np.argmax(np.nan_to_num(cover, nan=-1.0), -1), rand)
    chosen = np.take_along_axis(arrays.patch_features, best[..., None, None], axis=2)
    return dataclasses.replace(arrays, patch_features=chosen)


def oracle_classifier(train: Any, val: Any, cover_train: np.ndarray, cover_val: np.ndarray, run_dir: Path,
                      seed: int) -> float:
    """Returns the val mAP (%) of f_C trained (stage I, the run's options) and scored on a perfect
    policy's patches: the ceiling of what finding the photo can give with this classifier."""
    cfg = load_run(run_dir).config
    model = train_sampler(best_photo_arrays(train, cover_train, seed), cfg, stages=(1,)).model
    best = best_photo_arrays(val, cover_val, seed + 1)
    probs = model.classify(torch.from_numpy(best.light), torch.from_numpy(best.patch_features[:, :, 0]).float())
    return 100 * mean_average_precision(probs.double().numpy(), val.labels)


def alive_channels(run_dir: Path, store: Path, train: Any, stage: int | None = None) -> float:
    """Returns the share of π's 1x1-conv channels that are non-zero (after ReLU) on some of the first
    64 ``train`` videos' frames (arrays with patches) -- 0 means π's input is constant, so its choice
    cannot depend on the frame -- for the finished run, or for its ``stage`` checkpoint (1: π as
    initialised)."""
    import torch.nn.functional as F

    from nsnet.sampler.adafocus.checkpoints import load_stage

    run = load_run(run_dir, store)
    model = run.model if stage is None else load_stage(run_dir, stage, train, dataclasses.asdict(run.config.options))[0]
    maps = torch.from_numpy(train.light_maps[:64]).float()
    with torch.no_grad():
        z = F.relu(model.policy.conv(maps.flatten(0, 1)))
    return float((z.amax(dim=(0, 2, 3)) > 0).float().mean())


def map_probe(train: Any, val: Any, cover_train: np.ndarray, cover_val: np.ndarray) -> dict[str, float]:
    """Returns the light map's figures (module docstring, (b)), which do not depend on any run: the
    probe's AUC over 5 folds grouped by video on train, its positive rate, and the photo share of
    its first pick on each val event frame when fitted on all of train."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    a = train.patch_features.shape[2]
    feats, cover_ev, vid = pooled_candidates(train, cover_train)
    target = (cover_ev >= 0.5).reshape(-1)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=0.1))
    score = cross_val_predict(probe, feats, target, groups=np.repeat(vid, a),
                              cv=GroupKFold(5), method="predict_proba")[:, 1]
    val_feats, val_cover, _ = pooled_candidates(val, cover_val)  # the probe fitted on train, read on val
    pick = probe.fit(feats, target).predict_proba(val_feats)[:, 1].reshape(val_cover.shape).argmax(-1)
    return {"map_probe_auc": float(roc_auc_score(target, score)), "probe_positives": float(target.mean()),
            "probe_pick_photo_share": float(val_cover[np.arange(len(pick)), pick].mean())}


def diagnose(run_dir: Path, store: Path, train: Any, val: Any, cover_train: np.ndarray, cover_val: np.ndarray,
             seed: int) -> dict[str, float]:
    """Returns f_C's cause figures of one paper run (module docstring, (a) and (c)) from the ``train`` /
    ``val`` arrays (with patches): its photo gap, its mAP on random and on the best photo patches,
    and its mAP when trained on the best photo patches."""
    model = load_run(run_dir, store).model
    g, cand = torch.from_numpy(val.light), torch.from_numpy(val.patch_features).float()
    n, t, a = cand.shape[:3]
    rand = torch.randint(a, (n, t), generator=torch.Generator().manual_seed(seed))
    f_c = model.classifier
    with torch.no_grad():
        states = f_c(f_c.inputs(g, cand[torch.arange(n)[:, None], torch.arange(t)[None], rand]))[1]
        h = torch.cat([torch.zeros_like(states[:, :1]), states[:, :-1]], 1)[:, :, None].expand(n, t, a, -1)
        x = f_c.inputs(g[:, :, None].expand(n, t, a, -1), cand)
        logits = f_c.step(x.reshape(n * t * a, -1), h.reshape(n * t * a, -1)).reshape(n, t, a, -1)
        p = label_confidence(logits, torch.from_numpy(val.labels)[:, None, None], False).numpy()
    ev = ~np.isnan(cover_val[..., 0])
    best_cand = torch.from_numpy(np.where(ev, np.argmax(np.nan_to_num(cover_val, nan=-1.0), -1), rand.numpy()))
    rows_, steps_ = torch.arange(n)[:, None], torch.arange(t)[None]
    upper = {name: 100 * mean_average_precision(model.classify(g, cand[rows_, steps_, c]).double().numpy(), val.labels)
             for name, c in (("best_photo", best_cand), ("random", rand))}
    shows = cover_val >= 0.5
    frames = ev & shows.any(-1) & (~shows).any(-1)
    gap = [p[i, j][shows[i, j]].mean() - p[i, j][~shows[i, j]].mean() for i, j in zip(*np.nonzero(frames))]
    best = (np.argmax(np.nan_to_num(cover_val), -1) == p.argmax(-1))[ev]
    upper["trained_on_best_photo"] = oracle_classifier(train, val, cover_train, cover_val, run_dir, seed)
    return {"alive_channels_after_stage1": alive_channels(run_dir, store, train, stage=1),
            "fc_map_best_photo_patch": upper["best_photo"], "fc_map_random_patch": upper["random"],
            "fc_trained_on_best_photo": upper["trained_on_best_photo"],
            "fc_photo_gap": float(np.mean(gap)), "fc_mean_confidence": float(p[ev].mean()),
            "fc_best_is_photo": float(best.mean()), "chance_best": 1.0 / a, "frames": int(frames.sum())}


def pooled_candidates(arrays: Any, cover: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns, on the event frames of ``arrays``: each candidate's light map pooled over its box
    [frames * A, D] (the candidate policy's input), the candidates' photo cover [frames, A] and each
    frame's video index [frames]."""
    boxes = boxes_on_map(arrays.patches, arrays.recognizer_spec, arrays.extractor_spec, *arrays.light_maps.shape[3:])
    pool = candidate_pooling(boxes, *arrays.light_maps.shape[3:]).numpy()  # [A, h*w]
    vid, step = np.nonzero(~np.isnan(cover[..., 0]))
    maps = arrays.light_maps[vid, step].astype(np.float32).reshape(len(vid), arrays.light_maps.shape[2], -1)
    return np.einsum("ap,ndp->nad", pool, maps).reshape(-1, maps.shape[1]), cover[vid, step], vid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--spans", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--prefix", default="pip96_policy")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    ap.add_argument("--adafocus", nargs="*", default=[], help="KEY=VALUE options of every arm (values as JSON)")
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--frame-size", type=int, nargs=2, default=[320, 180], help="the videos' W H (build_controlled's)")
    ap.add_argument("--no-controls", action="store_true", help="skip the random / centre patch rows with stage III")
    args = ap.parse_args()
    common = {k: json.loads(v) for k, _, v in (item.partition("=") for item in args.adafocus)}
    spans = json.loads(args.spans.read_text())
    ensure_head(args.store, args.spans)
    store = FeatureStore.open(args.store)
    grid = np.asarray(store.patches["boxes"], dtype=np.float64)
    covers, photos = {}, {}
    arrays = {split: load_sampler_arrays(store, split, rec_logits=False, rec_features=False, patches=True)
              for split in ("train", "val")}  # read once: the diagnosis and the channel counts use them
    has_photo = any("pip" in shot for v in spans.values() for shot in v.get("shots", []))
    for split in ("train", "val") if has_photo else ():  # a set without picture-in-picture photos: mAP only
        photos[split] = photo_boxes(store, arrays[split], spans, *args.frame_size)
        covers[split] = coverage(grid, photos[split])
    # the light map's probe depends on no run: fitted once, its figures repeated in every seed's diagnosis
    probe = map_probe(arrays["train"], arrays["val"], covers["train"], covers["val"]) if has_photo else {}
    probs: dict[str, list[np.ndarray]] = {}
    centre = PatchGrid.from_attrs(store.patches).centre_index()
    rows: dict[str, Any] = {}
    diagnosis = []
    labels = None
    for seed in args.seeds:
        for arm in args.arms:
            run = args.work / f"seed{seed}" / arm
            if not (run / "config.json").is_file():
                fit_sampler(args.store, run, sampler_config("adafocus", name=arm, seed=seed, **{**common, **ARMS[arm]}),
                            progress=False)
            methods = ["adafocus"] + (REFERENCES if arm == args.arms[0] else [])
            res = evaluate(EvaluateConfig(store=args.store, runs=[run], budgets=[store.T], methods=methods, seed=seed,
                                          quiet=True, split="val", path="cached").validate())
            labels = res.context.labels
            for r in res.rows:
                name = arm if r.method == "adafocus" else r.method
                score = res.patches[(r.method, r.K)]
                probs.setdefault(name, []).append(score.probs)
                entry = rows.setdefault(name, {"mAP": [], "looks": [], "policy": []})
                entry["mAP"].append(100 * r.mAP)
                if has_photo:
                    entry["looks"].append(looks(score.choices, grid, photos["val"], covers["val"]))
                if r.method == "adafocus":
                    entry["policy"].append({**res.patch_policy[(r.method, r.K)],
                                            "alive_channels": alive_channels(run, args.store, arrays["train"])})
            if arm == args.arms[0] and not args.no_controls:  # fixed policies with the arms' stage III
                assert np.array_equal(arrays["val"].labels, labels)  # the same videos in the same order
                for name in CONTROLS:
                    p, choice = control_probs(run, args.store, arrays["train"], arrays["val"], name, centre, seed)
                    probs.setdefault(name, []).append(p)
                    entry = rows.setdefault(name, {"mAP": [], "looks": [], "policy": []})
                    entry["mAP"].append(100 * mean_average_precision(p, labels))
                    if has_photo:
                        entry["looks"].append(looks(choice, grid, photos["val"], covers["val"]))
            if arm == "paper":
                diagnosis.append({"seed": seed, **({**diagnose(run, args.store, arrays["train"], arrays["val"],
                                                               covers["train"], covers["val"], seed), **probe}
                                                   if has_photo else {"alive_channels_after_stage1":
                                                                      alive_channels(run, args.store, arrays["train"], stage=1)})})
    table = []
    for name, entry in rows.items():
        maps = np.asarray(entry["mAP"])
        row = {"method": name, "mAP": float(maps.mean()), "mAP_std": float(maps.std(ddof=1)) if maps.size > 1 else 0.0,
               "seeds": int(maps.size), **{k: float(np.mean([lk[k] for lk in entry["looks"]])) for k in
                                           (entry["looks"][0] if entry["looks"] else [])}}
        if entry["policy"]:
            row["top_share"] = float(np.mean([u["top_share"] for u in entry["policy"]]))
            row["distinct_per_video"] = float(np.mean([u["distinct_per_video"] for u in entry["policy"]]))
            row["alive_channels"] = [u["alive_channels"] for u in entry["policy"]]
        for ref in REFERENCES + list(CONTROLS) + (["paper"] if name in ARMS and name != "paper" and "paper" in probs else []):
            if name in ARMS and ref in probs and ref != name:
                stats = paired_bootstrap_map(np.stack(probs[name]), np.stack(probs[ref]), labels,
                                             resamples=args.resamples, seed=0)
                row[f"vs_{ref}"] = {k: 100 * stats[k] for k in ("diff", "low", "high")}
        table.append(row)
    out = {"std_ddof": 1, "store": str(args.store), "seeds": args.seeds, "options": common, "arms": ARMS,
           "rows": table, "diagnosis": diagnosis, "command": " ".join(sys.argv)}
    if has_photo:
        ev = ~np.isnan(covers["val"][..., 0])
        out["best_candidate_photo_share"] = float(np.nanmax(covers["val"], -1)[ev].mean())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.prefix}.json").write_text(json.dumps(out, indent=1) + "\n")
    report(out)


def report(out: dict[str, Any]) -> None:
    """Prints the cause figures and one line per row of the benchmark's JSON ``out``."""
    for d in out["diagnosis"] if "best_candidate_photo_share" in out else []:
        print(f"cause seed {d['seed']}: f_C photo gap {d['fc_photo_gap']:+.4f} (mean p_ty {d['fc_mean_confidence']:.3f}), "
              f"best is photo {d['fc_best_is_photo']:.3f} (chance {d['chance_best']:.3f}); map probe AUC {d['map_probe_auc']:.3f} (its pick: photo {d.get('probe_pick_photo_share', float('nan')):.3f}); "
              f"f_C mAP with the best photo patch {d['fc_map_best_photo_patch']:.2f} vs random {d['fc_map_random_patch']:.2f}, "
              f"trained on them {d['fc_trained_on_best_photo']:.2f}")
    for r in out["rows"]:
        vs = "  ".join(f"{k}: {v['diff']:+.2f} [{v['low']:+.2f}, {v['high']:+.2f}]" for k, v in r.items() if k.startswith("vs_"))
        where = (f"photo {r['photo_share']:.3f} centred {r['centred_on_photo']:.3f} r ({r['r_x']:+.2f}, {r['r_y']:+.2f})"
                 if "photo_share" in r else "")
        print(f"{r['method']:>16}: {r['mAP']:.2f} ± {r['mAP_std']:.2f}  {where}  top {r.get('top_share', float('nan')):.2f}  "
              f"alive {r.get('alive_channels', '')}  {vs}")
    if "best_candidate_photo_share" in out:
        print(f"best candidate photo share {out['best_candidate_photo_share']:.3f}")


if __name__ == "__main__":
    main()
