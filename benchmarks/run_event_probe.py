"""Can the light features tell an event photo from a distractor photo, and what would a perfect
localiser score? (issue 19, point 3, on a controlled store; the distractor-share failure's cause).

Three measurements, written to one JSON:

* **Frame probe** on the store's cached arrays (light and recognizer features): a logistic regression
  telling event frames from distractor frames, scored three ways: 5-fold ROC-AUC on the train split with
  the folds grouped by video (the probe ``run_auto.py`` used to print; a photo is shown by several train
  videos, so the same photo sits on both sides of a fold), with the folds grouped by photo, and fitted on
  the whole train split then scored on val (photos of ImageNet classes no train video shows: the
  samplers' real task). The val AUC carries a 95 % bootstrap interval over val photos.
* **Photo probe**: the same question on the photos themselves (``groups.json`` of the build gives each
  labelled and distractor group's train / val photos), for the light extractor at several input sizes
  and for the recognizer backbone: fitted on the train photos, scored on the val photos. A proxy for
  "would a larger light input fix it" that needs no new store.
* **Perfect localiser**: val mAP of the recognizer (the store's cached logits) on every event frame
  alone, and on the event frames topped up to K with random frames of one kind (background, distractor,
  any non-event), 20 draws each: what a sampler that finds every event frame, and nothing more, scores.

    python benchmarks/run_event_probe.py --store STORE --build DATA --out benchmarks/results/ctrl400_event_probe.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import SHARED_DATA  # noqa: E402
from benchmarks.run_controlled import CATEGORIES, frame_categories  # noqa: E402
from nsnet.metrics import mean_average_precision  # noqa: E402
from nsnet.numeric import softmax  # noqa: E402
from nsnet.store import FeatureStore  # noqa: E402
from nsnet.store import schema as S  # noqa: E402

EVENT, DISTRACTOR = CATEGORIES.index("event"), CATEGORIES.index("distractor")
FILLS = ("background", "distractor", "any")


def _probe():
    """Returns an unfitted standardised logistic regression (the probe of every measurement here)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))


def cluster_bootstrap_auc(y: np.ndarray, score: np.ndarray, groups: np.ndarray, n_boot: int = 1000,
                          seed: int = 0) -> list[float]:
    """Returns the 95 % percentile interval [lo, hi] of the ROC-AUC of ``score`` for binary ``y``, resampling
    whole ``groups`` (photos) with replacement, so frames of one photo stay together."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    ids = np.unique(groups)
    members = [np.flatnonzero(groups == g) for g in ids]
    aucs = []
    for _ in range(n_boot):
        idx = np.concatenate([members[i] for i in rng.integers(len(ids), size=len(ids))])
        if len(np.unique(y[idx])) == 2:
            aucs.append(roc_auc_score(y[idx], score[idx]))
    return [float(np.percentile(aucs, 2.5)), float(np.percentile(aucs, 97.5))]


def shot_photos(store: FeatureStore, rows: np.ndarray, spans: dict) -> np.ndarray:
    """Returns [N, T] int: the ImageNet index of the photo each pre-sampled frame shows (-1 on footage)."""
    frame_idx, vids = store.read(S.FRAME_INDICES, rows), store.read(S.VIDEO_ID, rows)
    out = np.full(frame_idx.shape, -1, np.int64)
    for i, vid in enumerate(vids):
        for shot in spans[Path(str(vid)).stem]["shots"]:
            out[i][(frame_idx[i] >= shot["start_frame"]) & (frame_idx[i] < shot["end_frame"])] = shot["imagenet_index"]
    return out


def frame_probe(store: FeatureStore, spans: dict) -> dict[str, Any]:
    """Returns, per cached feature array, the event-vs-distractor AUC grouped by video, grouped by photo
    (5 folds on train) and train -> val (with its interval over val photos), and the photo counts."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold, cross_val_score

    parts = {}
    for split in ("train", "val"):
        rows = store.valid_indices(split)
        cats = frame_categories(store, rows, spans)
        keep = (cats == EVENT) | (cats == DISTRACTOR)
        videos = np.broadcast_to(np.arange(len(rows))[:, None], cats.shape)[keep]
        parts[split] = (rows, keep, (cats[keep] == EVENT).astype(int), shot_photos(store, rows, spans)[keep], videos)
    out: dict[str, Any] = {}
    for array in (S.LIGHT_FEATURES, S.REC_FEATURES):
        x = {s: store.read(array, parts[s][0]).astype(np.float32)[parts[s][1]] for s in parts}
        (_, _, y, photos, videos), (_, _, yv, photos_v, _) = parts["train"], parts["val"]
        by_video = cross_val_score(_probe(), x["train"], y, cv=GroupKFold(5), groups=videos, scoring="roc_auc")
        by_photo = cross_val_score(_probe(), x["train"], y, cv=GroupKFold(5), groups=photos, scoring="roc_auc")
        score = _probe().fit(x["train"], y).decision_function(x["val"])
        out[array] = {
            "by_video": float(by_video.mean()), "by_video_std": float(by_video.std(ddof=1)),
            "by_photo": float(by_photo.mean()), "by_photo_std": float(by_photo.std(ddof=1)),
            "train_to_val": float(roc_auc_score(yv, score)), "train_to_val_ci": cluster_bootstrap_auc(yv, score, photos_v),
            "train_frames": {"event": int(y.sum()), "distractor": int((1 - y).sum())},
            "train_photos": {"event": len(set(photos[y == 1])), "distractor": len(set(photos[y == 0]))},
            "val_photos": {"event": len(set(photos_v[yv == 1])), "distractor": len(set(photos_v[yv == 0]))},
        }
    return out


def _photo_files(photos_dir: Path) -> dict[int, Path]:
    """Returns {ImageNet index: photo file} from the photo set's ``classes.tsv``."""
    lines = (photos_dir / "classes.tsv").read_text().splitlines()[1:]
    return {int(c[0]): photos_dir / c[3] for c in (line.split("\t") for line in lines)}


def photo_probe(groups: dict, photos_dir: Path, models: list[tuple[str, int, int]]) -> list[dict[str, Any]]:
    """Returns one row per (timm model, input size, resize_short): the val-photo AUC (with its bootstrap interval) of a
    probe fitted on the train photos, labelled groups (events) vs distractor groups."""
    import torch
    from PIL import Image
    from sklearn.metrics import roc_auc_score

    from nsnet.extract.models import create_frame_model, run_model
    from nsnet.extract.transforms import FrameTransform

    files = _photo_files(photos_dir)
    items = {s: [(int(m.split(":")[0]), int(kind == "labelled")) for kind in ("labelled", "distractor")
                 for split_of in groups[kind].values() for m in split_of[s]] for s in ("train", "val")}
    images = {i: np.array(Image.open(files[i]).convert("RGB")) for s in items for i, _ in items[s]}
    y = {s: np.array([lab for _, lab in items[s]]) for s in items}
    rows = []
    for name, size, short in models:
        model = create_frame_model(name, "package", input_size=size, resize_short=short)
        transform = FrameTransform.from_spec(model.spec)
        feats = {}
        for s in items:
            x = torch.cat([transform(torch.from_numpy(images[i])[None]) for i, _ in items[s]])
            feats[s] = run_model(model, x, batch_size=64)[0]
        score = _probe().fit(feats["train"], y["train"]).decision_function(feats["val"])
        rows.append({"model": name, "input_size": model.spec.input_size,
                     "auc": float(roc_auc_score(y["val"], score)),
                     "auc_ci": cluster_bootstrap_auc(y["val"], score, np.arange(len(score))),
                     "train_photos": {"event": int(y["train"].sum()), "distractor": int((1 - y["train"]).sum())},
                     "val_photos": {"event": int(y["val"].sum()), "distractor": int((1 - y["val"]).sum())}})
        print(f"photo probe {name} @ {model.spec.input_size}: AUC {rows[-1]['auc']:.3f}", flush=True)
    return rows


def localiser_map(probs: np.ndarray, cats: np.ndarray, labels: np.ndarray, k: int, fill: str | None,
                  draws: int = 20) -> list[float]:
    """Returns the mAP (%) of the mean class probabilities [N, T, C] over every event frame of each video (at
    most ``k``), topped up to ``k`` frames with random frames of kind ``fill`` (a CATEGORIES name or "any"
    non-event; None = no top-up, one value), one value per draw."""
    events = [np.flatnonzero(c == EVENT)[:k] for c in cats]
    if any(len(e) == 0 for e in events):
        raise ValueError("a video has no event frame among its pre-sampled frames")
    scores = []
    for d in range(1 if fill is None else draws):
        rng = np.random.default_rng(d)
        video = []
        for i, e in enumerate(events):
            if fill is not None:
                pool = np.flatnonzero(cats[i] != EVENT if fill == "any" else cats[i] == CATEGORIES.index(fill))
                e = np.concatenate([e, rng.choice(pool, min(k - len(e), len(pool)), replace=False)]).astype(int)
            video.append(probs[i, e].mean(0))
        scores.append(100 * mean_average_precision(np.stack(video), labels))
    return scores


def localiser_ceiling(store: FeatureStore, spans: dict, k: int, draws: int = 20) -> dict[str, Any]:
    """Returns the val mAP (%) of the recognizer's (cached logits) mean class probabilities over every event
    frame alone (``events_only``) and over the event frames topped up to ``k`` with random frames of one kind
    (mean and sample std over ``draws`` draws), with the mean event frames per video."""
    rows = store.valid_indices("val")
    cats = frame_categories(store, rows, spans)
    logits = store.read(S.REC_LOGITS, rows)
    if not np.isfinite(logits).all():
        raise SystemExit("error: the store's recognizer logits are missing (NaN); run `nsnet fit-recognizer` first")
    probs = softmax(logits)
    labels = store.read(S.LABELS, rows)
    out: dict[str, Any] = {"k": k, "videos": len(rows), "event_frames_per_video": float((cats == EVENT).sum(1).mean()),
                           "events_only": localiser_map(probs, cats, labels, k, None)[0]}
    for fill in FILLS:
        scores = localiser_map(probs, cats, labels, k, fill, draws)
        out[f"fill_{fill}"] = {"mAP": float(np.mean(scores)), "mAP_std": float(np.std(scores, ddof=1)), "draws": draws}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", required=True)
    parser.add_argument("--build", type=Path, required=True, help="the controlled build (spans.json, groups.json)")
    parser.add_argument("--photos", type=Path, default=SHARED_DATA / "imagenet-samples")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--light-sizes", type=int, nargs="+", default=[112, 160, 224])
    parser.add_argument("--no-photos", action="store_true", help="skip the photo probe (it does not depend on the store)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    store = FeatureStore.open(args.store)
    spans = json.loads((args.build / "spans.json").read_text())
    groups = json.loads((args.build / "groups.json").read_text())
    light, rec = store.attrs["extractor"], store.attrs["recognizer"]  # the light extractor resizes as the store did
    models = [(light["name"], s, round(s * light["resize_short"] / light["input_size"])) for s in args.light_sizes]
    models.append((rec["name"], rec["input_size"], rec["resize_short"]))
    result = {"store": str(args.store), "light": light, "frame_probe": frame_probe(store, spans),
              "localiser": localiser_ceiling(store, spans, args.k)}
    if not args.no_photos:
        result["photo_probe"] = photo_probe(groups, args.photos, models)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
