"""Does the `fit-recognizer` head need more regularisation? Source-clip-grouped cross-validation.

The composed train videos reuse the same source clips, so a video-level split leaks (every probe
scores ~99 %). This script labels every train frame with its *source clip* (from spans.json: fight
clip -> 1, noFight clip -> 0), splits the clips into 3 folds, fits the head exactly as
`nsnet fit-recognizer` does (standardised features, full-batch L-BFGS, L2 weight decay) on two folds
and reports frame accuracy and class-balanced accuracy on the held-out clips, per weight decay:

    python benchmarks/check_recognizer_head.py --store STORE --spans DATA/spans.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nsnet.extract.fit_recognizer import FitRecognizerConfig, _standardise, _train_head  # noqa: E402
from nsnet.store import FeatureStore  # noqa: E402
from nsnet.store import schema as S  # noqa: E402


def frames_by_source_clip(store: FeatureStore, spans: dict) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Returns (features [M, D], fight label [M], source-clip id [M]) of every train frame."""
    rows = store.valid_indices("train")
    feats = store.read(S.REC_FEATURES, rows).astype(np.float32)
    frame_idx, vids = store.read(S.FRAME_INDICES, rows), store.read(S.VIDEO_ID, rows)
    label, group, ids = [], [], {}
    for i, vid in enumerate(vids):
        clips = spans[Path(str(vid)).name]["clips"]
        for f in frame_idx[i]:
            clip = next(c for c in clips if c["start_frame"] <= f < c["end_frame"])
            label.append(int(clip["src"].startswith("fight")))
            group.append(ids.setdefault(clip["src"], len(ids)))
    return torch.from_numpy(feats.reshape(-1, feats.shape[-1])), np.array(label), np.array(group)


def held_out_accuracy(x: torch.Tensor, y: np.ndarray, group: np.ndarray, weight_decay: float,
                      folds: int = 3, seed: int = 0) -> tuple[float, float]:
    """Returns (frame accuracy, class-balanced accuracy) on held-out source clips, mean over folds."""
    fold = np.random.default_rng(seed).permutation(group.max() + 1)[group] % folds
    acc, bal = [], []
    for f in range(folds):
        tr, te = fold != f, fold == f
        mean, std = x[tr].mean(0), x[tr].std(0).clamp_min(1e-3)
        head = _train_head(_standardise(x[tr], mean, std), torch.from_numpy(np.eye(2)[y[tr]]), False,
                           FitRecognizerConfig(weight_decay=weight_decay))
        with torch.no_grad():
            pred = head(_standardise(x[te], mean, std)).argmax(1).numpy()
        acc.append((pred == y[te]).mean())
        bal.append(np.mean([(pred[y[te] == c] == c).mean() for c in (0, 1)]))
    return float(np.mean(acc)), float(np.mean(bal))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--spans", type=Path, required=True)
    ap.add_argument("--weight-decay", type=float, nargs="+", default=[1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 3e-1])
    args = ap.parse_args()
    x, y, group = frames_by_source_clip(FeatureStore.open(args.store), json.loads(args.spans.read_text()))
    print(f"{x.shape[0]} train frames from {group.max() + 1} source clips, {100 * y.mean():.1f}% fight frames")
    print("| weight decay | held-out-clip frame accuracy (%) | balanced accuracy (%) |\n|---|---|---|")
    for wd in args.weight_decay:
        acc, bal = held_out_accuracy(x, y, group, wd)
        print(f"| {wd:g} | {100 * acc:.1f} | {100 * bal:.1f} |", flush=True)


if __name__ == "__main__":
    main()
