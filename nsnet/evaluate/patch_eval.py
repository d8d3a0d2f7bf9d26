"""Scoring the patch methods (AdaFocus and its baselines) on the cached and the reload path.

Both paths run the same three steps for the K frames a method looks at (all T, or the K an NSNet /
TSQNet run picks): the method chooses one candidate per frame from the light extractor's feature
maps, the local CNN's feature of that candidate is fetched, and f_C classifies the video from the
global (pooled light) and local features.

* ``cached``: maps, pooled light features and candidate features are read from the store
  (``light/feature_maps``, ``light/features``, ``patches/features``).
* ``reload``: only the K frames are decoded; the light extractor runs on the whole frames (maps and
  pooled features), the method chooses, the chosen P x P patch is cropped from the recognizer's
  preprocessed frame and only that patch goes through the local CNN (the recognizer backbone).
  Every recomputed feature is rounded through float16 as the store keeps it, so both paths choose
  the same patches and give the same predictions up to float tolerance (a test proves it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from nsnet.evaluate.config import EvaluateError
from nsnet.evaluate.reload import FrameListDataset
from nsnet.extract.models import FrameModel
from nsnet.extract.patches import PatchGrid, feature_maps, patch_features
from nsnet.extract.transforms import FrameTransform
from nsnet.extract.video import decode_worker_init
from nsnet.progress import progress_bar
from nsnet.store import schema as S

VIDEOS_PER_BATCH = 64  # cached path: videos whose maps are in memory at once


@dataclass
class PatchScore:
    """What one patch method produced on N videos: frame ``positions`` [N, K], ``choices`` [N, K]
    (candidate index per frame), ``keep`` [N, K] (local CNN ran), ``probs`` [N, C] and ``ok`` [N]
    (decoded; reload path)."""

    positions: np.ndarray
    choices: np.ndarray
    keep: np.ndarray
    probs: np.ndarray
    ok: np.ndarray
    errors: dict[int, str] = field(default_factory=dict)


def require_patch_arrays(store: Any) -> PatchGrid:
    """Returns the store's candidate geometry; raises EvaluateError when it has no patch arrays."""
    if not store.patches:
        raise EvaluateError(f"{store.path}: the store has no AdaFocus patch arrays; extract it with "
                            "`nsnet extract ... --patches G --patch-size P`")
    return PatchGrid.from_attrs(store.patches)


def score_cached(store: Any, rows: np.ndarray, method: Any, inputs: Any, k: int) -> PatchScore:
    """Returns the PatchScore of ``method`` on the store's ``rows`` from cached tensors only."""
    require_patch_arrays(store)
    positions = method.frames(inputs, k)
    n, kk = positions.shape
    choices = np.zeros((n, kk), dtype=np.int64)
    keep = np.ones((n, kk), dtype=bool)
    probs = []
    for lo in range(0, n, VIDEOS_PER_BATCH):
        hi = min(lo + VIDEOS_PER_BATCH, n)
        choices[lo:hi], keep[lo:hi], p = method.score_arrays(
            inputs.light[lo:hi], store.read(S.LIGHT_MAPS, rows[lo:hi]),
            store.read(S.PATCH_FEATURES, rows[lo:hi]), positions[lo:hi], videos=np.arange(lo, hi))
        probs.append(p)
    return PatchScore(positions, choices, keep, np.concatenate(probs), np.ones(n, dtype=bool))


def score_reload(
    paths: list[str], frame_indices: np.ndarray, grid: PatchGrid, method: Any, inputs: Any, k: int, *,
    extractor: FrameModel, local: FrameModel, light_tf: FrameTransform, rec_tf: FrameTransform, short_side: int,
    batch_size: int = 64, workers: int = 0, quiet: bool = True, desc: str = "reload patches",
    map_stride: int | None = None,
) -> PatchScore:
    """Returns the PatchScore of ``method`` recomputed from the videos: decode the K frames, light
    CNN on whole frames, choose, local CNN on the chosen patches only.

    ``frame_indices`` [N, T] maps positions to frame numbers (the store's); ``inputs`` are the
    cached sampler inputs (a frame sampler such as NSNet selects from the cached light features, as
    on the NSNet reload path). Videos that fail to decode get ``ok`` False and NaN probabilities.
    ``map_stride`` is the store's light-map stride (its ``patches`` attrs; None: the last map).
    """
    positions = method.frames(inputs, k)
    n, kk = positions.shape
    frame_numbers = np.take_along_axis(np.asarray(frame_indices, dtype=np.int64), positions, axis=1)
    device = next(extractor.parameters()).device
    choices = np.zeros((n, kk), dtype=np.int64)
    keep = np.zeros((n, kk), dtype=bool)
    probs: np.ndarray | None = None
    ok = np.ones(n, dtype=bool)
    errors: dict[int, str] = {}
    dataset = FrameListDataset(list(paths), list(frame_numbers), light_tf, short_side, extra_transform=rec_tf)
    loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers,
                        worker_init_fn=decode_worker_init if workers else None,
                        prefetch_factor=4 if workers else None)
    with progress_bar(disable=quiet, transient=True) as bar:
        task = bar.add_task(desc, total=n)
        for item in loader:
            i = int(item["i"])
            bar.advance(task)
            if "error" in item:
                ok[i], errors[i] = False, str(item["error"])
                continue
            maps, pooled = feature_maps(extractor, item["x"], batch_size, device, map_stride)
            choices[i], keep[i], p = classify_frames(method, as_stored(maps)[None], as_stored(pooled)[None],
                                                     item["x2"], local, grid, batch_size, device, video=i)
            if probs is None:
                probs = np.full((n, p.shape[1]), np.nan, dtype=np.float64)
            probs[i] = p[0]
    if probs is None:
        raise EvaluateError("no video could be scored (every video failed to decode)")
    return PatchScore(positions, choices, keep, probs, ok, errors)


def classify_frames(method: Any, maps: np.ndarray, pooled: np.ndarray, rec_frames: torch.Tensor, local: FrameModel,
                    grid: PatchGrid, batch_size: int, device: torch.device, video: int = 0
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (choices [K], keep [K], probs [1, C]) of one video's K frames recomputed from pixels:
    ``method`` chooses from the maps [1, K, D, h, w], the local CNN runs on the chosen patch of each
    kept frame of the recognizer-preprocessed ``rec_frames`` [K, 3, S, S] only (features rounded
    through float16, as the store keeps them) and f_C classifies with the pooled [1, K, D]."""
    choices = method.choose(maps, videos=np.array([video]))[0]
    keep = method.keep(maps)[0]
    local_feats = np.zeros((1, choices.size, local.spec.feature_dim), dtype=np.float32)
    kept = np.nonzero(keep)[0]
    if kept.size:
        local_feats[0, kept] = as_stored(patch_features(local, rec_frames[torch.from_numpy(kept)], grid, batch_size,
                                                        device, index=choices[kept]))
    return choices, keep, method.predict(pooled, local_feats, keep[None])


def policy_usage(choices: np.ndarray, num_candidates: int) -> dict[str, float | int]:
    """Returns how adaptive a patch method's choices [N, K] (candidate per frame) are:
    ``top_candidate`` and its ``top_share`` of all frames, ``entropy_bits`` of the candidate histogram
    and ``distinct_per_video`` (mean number of different candidates in a video's K frames). A policy
    that looks at one fixed place gives top_share 1 and one distinct candidate per video."""
    choices = np.asarray(choices, dtype=np.int64)
    if choices.ndim != 2 or choices.size == 0:
        raise EvaluateError(f"choices must be a non-empty [N, K] array, got shape {choices.shape}")
    hist = np.bincount(choices.ravel(), minlength=num_candidates) / choices.size
    used = hist[hist > 0]
    return {"top_candidate": int(hist.argmax()), "top_share": float(hist.max()),
            "entropy_bits": abs(float((used * np.log2(used)).sum())),
            "distinct_per_video": float(np.mean([np.unique(row).size for row in choices]))}


FIXED_POLICY_SHARE = 0.95  # a learned policy choosing one candidate on this share of frames gets a note


def fixed_policy_notes(usage: dict[tuple[str, int], dict[str, Any]], labels: dict[str, str]) -> list[str]:
    """Returns one note per method whose learned policy looks at one place (one candidate on >= 95 %
    of the frames) at some budget: ``usage`` maps (method, K) to :func:`policy_usage`, ``labels``
    method names to their display labels."""
    fixed: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for (name, k), u in sorted(usage.items()):
        if u["top_share"] >= FIXED_POLICY_SHARE:
            fixed.setdefault(name, []).append((k, u))
    notes = []
    for name, found in fixed.items():
        k, u = found[-1]
        budgets = ", ".join(str(b) for b, _ in found)
        notes.append(f"{labels.get(name, name)} (K={budgets}): the policy chose candidate {u['top_candidate']} on "
                     f"{100 * u['top_share']:.0f}% of the frames (K={k}) -- one fixed place, not per-video focus; "
                     "compare it with centre-patch and random-patch (the paper's π, -o policy_input=map "
                     "-o shared_critic=true, tends to this; the default candidate policy follows the content)")
    return notes


def as_stored(x: np.ndarray) -> np.ndarray:
    """Returns float32 ``x`` rounded through float16, the precision the store keeps."""
    return np.asarray(x, dtype=np.float32).astype(np.float16).astype(np.float32)


def patch_method_gflops(costs: Any, spec: Any, score: PatchScore, T: int, frame_key: str | None) -> float:
    """Returns the mean GFLOPs per video of a patch method: light CNN on all T frames (its maps
    feed π; NSNet / TSQNet need them anyway) + the frame sampler (if any) + π on the K frames (not
    for the random / centre baselines) + the local CNN on every kept patch + f_C on the K steps."""
    k = score.positions.shape[1]
    kept = float(score.keep[score.ok].sum(axis=1).mean()) if score.ok.any() else float(k)
    parts = costs.samplers[spec.run_key]
    total = costs.light_per_frame * T + parts["classifier_step"] * k + parts["local_per_patch"] * kept
    if "policy" in spec.branches:
        total += parts["policy_step"] * k
    if "skip" in spec.branches:
        total += parts["skip_step"] * k
    if frame_key:
        total += costs.frame_sampler_cost(frame_key)
    return float(total)
