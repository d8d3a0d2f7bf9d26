"""The reload path: decode only the chosen frames of each video and run the recognizer on them.

For every video the chosen positions (0..T-1 among the pre-sampled frames) are mapped to real
frame numbers through the store's ``frame_indices``; decord decodes exactly those frames (at the
same shorter side as extraction, so the recognizer sees the same pixels) inside DataLoader worker
processes, the store's transform module preprocesses them, and the main process runs the
recognizer on batches that mix frames of several videos. Cost follows K, not T.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from nsnet.extract.models import FrameModel, run_model
from nsnet.extract.transforms import FrameTransform
from nsnet.extract.video import VideoReadError, decode_worker_init, read_frames


class FrameListDataset(Dataset):
    """Item i: the frames ``frame_numbers[i]`` of video ``paths[i]``, decoded and preprocessed.

    Returns a dict with ``i``, ``x`` (float32 ``[K, 3, S, S]``; with ``extra_transform`` also
    ``x2``, the same frames through it) and ``decode_s``; or ``i`` and ``error`` (one line) when the
    video cannot be decoded.
    """

    def __init__(self, paths: list[str], frame_numbers: list[np.ndarray], transform: FrameTransform, short_side: int,
                 extra_transform: FrameTransform | None = None):
        if len(paths) != len(frame_numbers):
            raise ValueError(f"{len(paths)} paths but {len(frame_numbers)} frame lists")
        self.paths, self.frame_numbers = paths, frame_numbers
        self.transform, self.short_side = transform, int(short_side)
        self.extra_transform = extra_transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            frames = read_frames(self.paths[i], np.asarray(self.frame_numbers[i], dtype=np.int64), self.short_side)
            x = self.transform(torch.from_numpy(frames))
            x2 = None if self.extra_transform is None else self.extra_transform(torch.from_numpy(frames))
        except VideoReadError as err:  # decoder failures only: anything else is a bug and fails loudly
            return {"i": i, "error": str(err)}
        item = {"i": i, "x": x, "decode_s": time.perf_counter() - start}
        if x2 is not None:
            item["x2"] = x2
        return item




@dataclass
class ReloadOutput:
    """Recognizer outputs on the reloaded frames of N videos.

    ``logits`` [N, K, C] float32 (NaN rows for failed videos); ``features`` [N, K, D] or None;
    ``errors`` {video position: reason}; timing: ``decode_s`` (summed over workers), ``forward_s``
    (recognizer), ``wall_s`` (the whole pass); ``frames`` decoded in total.
    """

    logits: np.ndarray
    features: np.ndarray | None
    errors: dict[int, str] = field(default_factory=dict)
    frames: int = 0
    decode_s: float = 0.0
    forward_s: float = 0.0
    wall_s: float = 0.0

    @property
    def ok(self) -> np.ndarray:
        """Returns the bool [N] mask of videos that were decoded."""
        mask = np.ones(self.logits.shape[0], dtype=bool)
        mask[list(self.errors)] = False
        return mask


def reload_outputs(
    paths: list[str],
    frame_numbers: np.ndarray | list[np.ndarray],
    model: FrameModel,
    transform: FrameTransform,
    short_side: int,
    *,
    batch_size: int = 64,
    workers: int = 0,
    keep_features: bool = False,
    on_video: Callable[[], None] | None = None,
) -> ReloadOutput:
    """Returns the recognizer's per-frame logits (and features) on the listed frames of each video.

    ``frame_numbers`` [N, K] are real frame numbers in each video file (not positions among the
    T). Only those frames are decoded. ``batch_size`` frames (from one or several videos) go
    through the recognizer at a time; decoding runs in ``workers`` DataLoader processes.
    ``on_video`` is called once per finished video (progress bars).
    """
    start = time.perf_counter()
    lists = [np.asarray(f, dtype=np.int64) for f in frame_numbers]
    n = len(lists)
    k = max((f.size for f in lists), default=0)
    device = next(model.parameters()).device
    num_classes = model.spec.num_classes
    logits = np.full((n, k, num_classes), np.nan, dtype=np.float32)
    features = np.full((n, k, model.spec.feature_dim), np.nan, dtype=np.float32) if keep_features else None
    out = ReloadOutput(logits=logits, features=features)
    dataset = FrameListDataset(list(paths), lists, transform, short_side)
    loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers,
                        worker_init_fn=decode_worker_init if workers else None,
                        prefetch_factor=4 if workers else None, pin_memory=device.type == "cuda")
    pending: list[tuple[int, torch.Tensor]] = []
    pending_frames = 0

    def flush() -> None:
        nonlocal pending, pending_frames
        if not pending:
            return
        t0 = time.perf_counter()
        feats, lg = run_model(model, torch.cat([x for _, x in pending]), batch_size, device)
        if lg is None:
            raise ValueError("the recognizer has no classifier head")
        out.forward_s += time.perf_counter() - t0
        lo = 0
        for i, x in pending:
            hi = lo + x.shape[0]
            logits[i, : x.shape[0]] = lg[lo:hi]
            if features is not None:
                features[i, : x.shape[0]] = feats[lo:hi]
            lo = hi
            if on_video is not None:
                on_video()
        pending, pending_frames = [], 0

    for item in loader:
        i = int(item["i"])
        if "error" in item:
            out.errors[i] = str(item["error"])
            if on_video is not None:
                on_video()
            continue
        out.decode_s += float(item["decode_s"])
        out.frames += int(lists[i].size)
        pending.append((i, item["x"]))
        pending_frames += int(item["x"].shape[0])
        if pending_frames >= batch_size:
            flush()
    flush()
    out.wall_s = time.perf_counter() - start
    return out
