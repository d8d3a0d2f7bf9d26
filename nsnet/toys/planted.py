"""A synthetic planted-saliency data set for tests, benchmarks and sanity checks.

Each video of class c has ``salient`` planted frames at random positions; the rest are
distractors. In the light feature space a planted frame is ``signal * u_c + noise`` and a
distractor is ``busy * b + noise``: every distractor carries the same class-agnostic, strong
"busy" direction b. Optionally (``shortcut`` > 0) distractors also carry a class-specific scene
cue v_c (context that tells the class but that the recognizer does not consider salient), and
``confusers`` distractors per video show another class's direction u_c'.

A frame classifier trained with the video label on every frame (MaxConf-L / the FSM "video"
baseline) is pushed to be confident about the video class on *every* frame; through the temporal
encoder it can be, so its confidence no longer separates planted frames from distractors (it
often prefers the loud busy frames). NS pseudo labels tell the two apart. The recognizer is
consistent with the planted frames: its features are ``rec_signal * r_c + noise`` on planted
frames and ``rec_signal * r_busy + noise`` on distractors, and its logits favour c on planted
frames only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nsnet.sampler.data import SamplerArrays


@dataclass
class PlantedSpec:
    """Size and difficulty of a planted-saliency set."""

    num_videos: int = 256
    num_classes: int = 4
    num_frames: int = 20
    light_dim: int = 32
    rec_dim: int = 32
    salient: int = 5
    signal: float = 2.5
    busy: float = 3.0
    shortcut: float = 0.0
    confusers: int = 0
    noise: float = 1.0
    rec_signal: float = 4.0
    rec_noise: float = 0.5
    logit_signal: float = 4.0
    seed: int = 0


def _directions(rng: np.random.Generator, count: int, dim: int) -> np.ndarray:
    """Returns ``count`` random unit vectors of length ``dim`` (rows)."""
    d = rng.standard_normal((count, dim))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def planted_saliency_arrays(spec: PlantedSpec | None = None, split: str = "train") -> tuple[SamplerArrays, np.ndarray]:
    """Returns (arrays, planted) for ``spec``: float32 :class:`SamplerArrays` (single-label) and
    the boolean mask ``planted`` [N, T] of the planted salient frames."""
    s = spec or PlantedSpec()
    # Class geometry is fixed by spec.seed; the split only changes the videos drawn.
    geo = np.random.default_rng(s.seed)
    u = _directions(geo, s.num_classes, s.light_dim)
    v = _directions(geo, s.num_classes, s.light_dim)
    b = _directions(geo, 1, s.light_dim)[0]
    r = _directions(geo, s.num_classes + 1, s.rec_dim)
    rng = np.random.default_rng([s.seed, sum(map(ord, split))])
    n, t, c = s.num_videos, s.num_frames, s.num_classes
    cls = rng.integers(0, c, size=n)
    planted = np.zeros((n, t), dtype=bool)
    for i in range(n):
        planted[i, rng.choice(t, size=s.salient, replace=False)] = True
    light = s.noise * rng.standard_normal((n, t, s.light_dim))
    light += np.where(planted[..., None], s.signal * u[cls][:, None, :], s.busy * b + s.shortcut * v[cls][:, None, :])
    for i in range(n):  # confusers: distractors that look like another class
        frames = rng.choice(np.nonzero(~planted[i])[0], size=s.confusers, replace=False)
        other = (cls[i] + rng.integers(1, c, size=s.confusers)) % c
        light[i, frames] += s.signal * u[other]
    rec = s.rec_noise * rng.standard_normal((n, t, s.rec_dim))
    rec += s.rec_signal * np.where(planted[..., None], r[cls][:, None, :], r[c])
    logits = rng.standard_normal((n, t, c))
    logits[planted] += s.logit_signal * np.eye(c)[np.repeat(cls, s.salient)]
    labels = np.eye(c, dtype=np.float32)[cls]
    arrays = SamplerArrays(
        light=light.astype(np.float32), labels=labels, class_names=[f"class{i}" for i in range(c)],
        rec_features=rec.astype(np.float32), rec_logits=logits.astype(np.float32),
        video_ids=[f"{split}{i:05d}" for i in range(n)], split=split, fingerprint=f"planted-{s.seed}",
        extractor_spec={"name": "planted", "feature_dim": s.light_dim}, recognizer_spec={"name": "planted-rec"},
    )
    return arrays, planted


def top_k_precision(selected: np.ndarray, planted: np.ndarray) -> float:
    """Returns the mean over videos of |selected ∩ planted| / K for indices ``selected`` [N, K]."""
    hits = np.take_along_axis(planted, selected, axis=1)
    return float(hits.mean())


def write_store(
    path: str | Path,
    splits: dict[str, SamplerArrays],
    *,
    extractor: dict[str, Any] | None = None,
    recognizer: dict[str, Any] | None = None,
    failed: int = 0,
    with_logits: bool = True,
    chunk_videos: int = 32,
) -> Any:
    """Returns a new :class:`nsnet.store.FeatureStore` at ``path`` holding ``splits`` (split name
    -> arrays, concatenated in that order), every video marked done; the first ``failed`` videos
    are marked as failed extractions. ``with_logits=False`` makes a store without recognizer logits."""
    from nsnet.store import FeatureStore, StoreLayout

    parts = list(splits.items())
    first = parts[0][1]
    light = np.concatenate([a.light for _, a in parts]).astype(np.float16)
    rec = np.concatenate([a.rec_features for _, a in parts]).astype(np.float16)
    logits = np.concatenate([a.rec_logits for _, a in parts]).astype(np.float32)
    labels = np.concatenate([a.labels for _, a in parts]).astype(np.uint8)
    n, t = light.shape[:2]
    ids = [vid for name, a in parts for vid in (a.video_ids or [f"{name}{i:06d}" for i in range(a.N)])]
    rec_spec = dict(recognizer or {"name": "synthetic-rec", "weights_sha256": "0" * 64})
    if with_logits:
        rec_spec.setdefault("num_classes", first.C)
    else:
        rec_spec.pop("num_classes", None)
    layout = StoreLayout(
        video_ids=ids, paths=[f"{vid}.mp4" for vid in ids], splits=[name for name, a in parts for _ in range(a.N)],
        labels=labels, class_names=list(first.class_names), multilabel=first.multilabel, T=t,
        extractor=dict(extractor or {"name": "synthetic-light", "input_size": 224, "weights_sha256": "1" * 64,
                                     "feature_dim": first.D}),
        recognizer=rec_spec, annotations={"source": "synthetic"}, command="synthetic", chunk_videos=chunk_videos,
    )
    store = FeatureStore.create(path, layout, light_dim=first.D, rec_dim=rec.shape[2])
    for chunk_id, (lo, hi) in enumerate(store.chunk_ranges()):
        error = np.array(["" if i >= failed else "synthetic failure" for i in range(lo, hi)], dtype=str)
        store.write_chunk(chunk_id, {
            "light/features": light[lo:hi], "recognizer/features": rec[lo:hi], "recognizer/logits": logits[lo:hi],
            "frame_indices": np.tile(np.arange(t, dtype=np.int32), (hi - lo, 1)),
            "num_frames": np.full(hi - lo, t, np.int64), "fps": np.full(hi - lo, 25.0, np.float32), "error": error,
        })
    return FeatureStore.open(path)
