"""`nsnet fit-recognizer`: a TSN-style linear head on the cached recognizer features.

Used when no dataset checkpoint exists for the recognizer. Every frame of a train video is a
training sample carrying its video's label (frame-level training, video label); single-label data
uses softmax cross-entropy, multi-label data per-class sigmoid. With ``segments`` (temporal
annotations) only the frames inside a labelled segment are used, so that untrimmed videos' background
is not taught as their class (videos with no segment keep all frames). The head is then applied to every
done video's cached features to fill ``recognizer/logits``; from then on the recognizer is the timm
backbone followed by this head (the reload path in evaluation loads it from the store).
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from nsnet.extract.recognizer import HEAD_FILE, head_state_sha256
from nsnet.extract.segments import check_segments_match, load_segments, segment_frame_mask
from nsnet.progress import console
from nsnet.store import FeatureStore, StoreError
from nsnet.store import schema as S


@dataclass
class FitRecognizerConfig:
    """Options of `nsnet fit-recognizer` (full-batch L-BFGS on all train frames)."""

    split: str = "train"
    segments: Path | None = None  # temporal annotations: train only on frames inside labelled segments
    weight_decay: float = 1e-4
    max_iter: int = 200
    seed: int = 0
    quiet: bool = False


def _train_head(x: torch.Tensor, y: torch.Tensor, multilabel: bool, cfg: FitRecognizerConfig) -> torch.nn.Linear:
    """Returns a linear head fitted on frames ``x [M, D]`` with multi-hot frame targets ``y [M, C]``."""
    torch.manual_seed(cfg.seed)
    head = torch.nn.Linear(x.shape[1], y.shape[1])
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    opt = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=cfg.max_iter, history_size=20,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-6, tolerance_change=1e-9)
    target = y.float() if multilabel else y.argmax(1)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        logits = head(x)
        loss = (F.binary_cross_entropy_with_logits(logits, target) if multilabel
                else F.cross_entropy(logits, target))
        loss = loss + cfg.weight_decay * head.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return head


def _standardise(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (x - mean) / std


def fold_standardisation(head: torch.nn.Linear, mean: torch.Tensor, std: torch.Tensor) -> torch.nn.Linear:
    """Returns a head on raw features equal to ``head`` applied to standardised features."""
    folded = torch.nn.Linear(head.in_features, head.out_features)
    with torch.no_grad():
        folded.weight.copy_(head.weight / std)
        folded.bias.copy_(head.bias - (head.weight * mean / std).sum(1))
    return folded


def fit_recognizer(store_path: str | Path, cfg: FitRecognizerConfig | None = None) -> dict:
    """Fits the head on the train split, writes logits for every done video and saves the head.

    Returns a summary dict (train frame accuracy, number of frames, head hash).
    """
    cfg = cfg or FitRecognizerConfig()
    log = console(cfg.quiet)
    store = FeatureStore.open(store_path, mode="r+")
    if store.recognizer_spec.get("num_classes"):
        raise StoreError(f"{store_path}: the recognizer has a dataset head already (logits come from its checkpoint)")
    train = store.valid_indices(cfg.split)
    if train.size == 0:
        raise StoreError(f"{store_path}: no extracted videos in split {cfg.split!r} to fit the head on")
    labels = store.read(S.LABELS)
    feats = torch.from_numpy(store.read(S.REC_FEATURES, train).astype(np.float32))  # [n, T, D]
    n, t, d = feats.shape
    x = feats.reshape(n * t, d)
    y = torch.from_numpy(np.repeat(labels[train], t, axis=0))
    if cfg.segments is not None:
        segments = load_segments(cfg.segments)
        warning = check_segments_match(cfg.segments, store.read(S.VIDEO_ID, train), segments)
        if warning:
            console().print(warning, soft_wrap=True, markup=False, highlight=False)  # shown even with --quiet
        keep = torch.from_numpy(segment_frame_mask(store, train, segments).reshape(-1))
        if not bool(keep.any()):
            raise StoreError(f"{cfg.segments}: no train frame falls inside a segment")
        x, y = x[keep], y[keep]
        log.print(f"segments {cfg.segments}: training on {int(keep.sum())} of {keep.numel()} frames")
    mean, std = x.mean(0), x.std(0).clamp_min(1e-3)
    log.print(f"fitting a linear head on {n} videos x {t} frames ({d}-d features, {store.num_classes} classes)")
    head = fold_standardisation(_train_head(_standardise(x, mean, std), y, store.multilabel, cfg), mean, std)

    with torch.no_grad():
        train_pred = head(x).argmax(1)
        frame_acc = float(y[torch.arange(y.shape[0]), train_pred].float().mean())
    done = store.valid_indices()
    logits = np.full((store.num_videos, t, store.num_classes), np.nan, np.float32)
    for lo in range(0, done.size, 256):
        rows = done[lo : lo + 256]
        f = torch.from_numpy(store.read(S.REC_FEATURES, rows).astype(np.float32))
        with torch.no_grad():
            logits[rows] = head(f).numpy()
    store.array(S.REC_LOGITS)[...] = logits

    state = {k: v.detach().clone() for k, v in head.state_dict().items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    store.write_file(HEAD_FILE, buf.getvalue())
    summary = {
        "file": HEAD_FILE,
        "sha256": head_state_sha256(state),
        "split": cfg.split,
        "train_videos": int(n),
        "train_frames": int(x.shape[0]),
        "train_frame_accuracy": frame_acc,
        "config": {**asdict(cfg), "segments": str(cfg.segments) if cfg.segments else None},
    }
    store.update_attrs(recognizer_head=summary, logits_source="fit-recognizer head")
    log.print(f"head saved to {store.path}/{HEAD_FILE}; train frame accuracy {100 * frame_acc:.1f}%")
    return summary
