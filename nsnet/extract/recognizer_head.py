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

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from nsnet.progress import console
from nsnet.store import FeatureStore, StoreError
from nsnet.store import schema as S

HEAD_FILE = "recognizer_head.pt"


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


def head_state_sha256(state: dict[str, torch.Tensor]) -> str:
    """Returns a sha256 of the head's tensors (stable across saves)."""
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def load_head(store: FeatureStore) -> torch.nn.Linear | None:
    """Returns the fitted head saved in the store, or None when the store has none."""
    meta = store.attrs.get("recognizer_head")
    if not meta:
        return None
    path = store.path / meta["file"]
    if not path.is_file():
        raise StoreError(f"{store.path}: recognizer head file {meta['file']} is missing; run `nsnet fit-recognizer` again")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if head_state_sha256(state) != meta["sha256"]:
        raise StoreError(f"{path}: recognizer head does not match the hash recorded in the store")
    head = torch.nn.Linear(state["weight"].shape[1], state["weight"].shape[0])
    head.load_state_dict(state)
    return head.eval()


def load_segments(path: str | Path) -> dict[str, list[tuple[float, float, str]]]:
    """Returns {video key: [(start, end, unit), ...]} from a segment annotation file.

    Two formats: ActivityNet v1.3 JSON (``database[id].annotations[*].segment`` in seconds; unit
    "s") and the ``spans.json`` our untrimmed builder writes (``{id: {"event": [start, end) or
    null}}`` in frames; unit "f"). A video listed with no segment (``event: null``) maps to [].
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise StoreError(f"{path}: cannot read segment annotations ({err})") from err
    out: dict[str, list[tuple[float, float, str]]] = {}
    if isinstance(data, dict) and isinstance(data.get("database"), dict):
        for vid, entry in data["database"].items():
            out[vid] = [(float(a["segment"][0]), float(a["segment"][1]), "s") for a in entry.get("annotations", [])]
        return out
    if isinstance(data, dict) and all(isinstance(v, dict) and "event" in v for v in data.values()):
        for vid, entry in data.items():
            ev = entry["event"]
            out[vid] = [] if not ev else [(float(ev[0]), float(ev[1]), "f")]
        return out
    raise StoreError(f"{path}: neither ActivityNet JSON (database/annotations/segment) nor spans.json ({{id: {{event}}}})")


def _segment_keys(video_id: str) -> list[str]:
    name = Path(video_id).name
    return [video_id, name, name[2:] if name.startswith("v_") else name]


def segment_frame_mask(store: FeatureStore, rows: np.ndarray, segments: dict) -> np.ndarray:
    """Returns a bool mask [len(rows), T]: the frames a segment-aware head trains on.

    A video with segments keeps only the frames inside one of them (the others show something
    else, e.g. background); a video with no segment, or not listed, keeps all frames (its label
    covers the whole video).
    """
    frame_idx = store.read(S.FRAME_INDICES, rows)
    fps = store.read(S.FPS, rows)
    vids = store.read(S.VIDEO_ID, rows)
    mask = np.ones(frame_idx.shape, dtype=bool)
    for i, vid in enumerate(vids):
        segs = next((segments[k] for k in _segment_keys(str(vid)) if k in segments), [])
        if not segs:
            continue
        inside = np.zeros(frame_idx.shape[1], dtype=bool)
        for start, end, unit in segs:
            scale = float(fps[i]) if unit == "s" else 1.0
            inside |= (frame_idx[i] >= start * scale) & (frame_idx[i] < end * scale)
        mask[i] = inside
    return mask


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
        keep = torch.from_numpy(segment_frame_mask(store, train, load_segments(cfg.segments)).reshape(-1))
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
    (store.path / HEAD_FILE).write_bytes(buf.getvalue())
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
    log.print(f"head saved to {store.path / HEAD_FILE}; train frame accuracy {100 * frame_acc:.1f}%")
    return summary
