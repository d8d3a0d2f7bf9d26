"""A planted toy for AdaFocus: where to look matters (tests, benchmarks, sanity checks).

Every frame has one *focus quadrant* q (drawn per frame, so the policy must read each frame's map)
among the four quadrants of the frame. The light map [D, h, w] shows a class-agnostic "objectness"
direction o in q's cells and clutter (a random direction per cell) elsewhere, plus noise: the map
tells where, not what, and its spatial mean (the global feature ē^G) carries no class. The local
feature of a candidate whose centre lies in q carries the video's class, ``signal * r_y + noise``;
every other candidate is clutter, ``clutter * k + noise`` with k a random direction. A classifier
fed random candidates sees the class on about a quarter of the frames; one fed the focus
quadrant's candidates sees it on every frame. With ``empty`` > 0 that share of the frames has no
focus at all (map and candidates all clutter): the frames AdaFocus+ should skip.

The candidate geometry is the store's (``boxes`` of a G x G grid of P x P patches, top-left
corners at round(linspace(0, S - P, G)), row-major); a candidate belongs to the quadrant its
centre lies in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nsnet.sampler.data import SamplerArrays


@dataclass
class QuadrantSpec:
    """Size and difficulty of the quadrant toy."""

    num_videos: int = 256
    num_classes: int = 4
    num_frames: int = 8
    map_dim: int = 16
    map_size: int = 4  # h = w (even)
    local_dim: int = 16
    grid: int = 6  # G: G*G candidates
    patch_size: int = 96
    frame_size: int = 224
    signal: float = 1.2  # class direction in the focus quadrant's local features
    clutter: float = 1.5  # random direction on the other candidates
    objectness: float = 2.0  # map: objectness direction in the focus quadrant's cells
    map_clutter: float = 1.0  # map: random direction in the other cells
    noise: float = 1.0
    multilabel: bool = False  # two labels per video, each shown in half of the focus frames
    empty: float = 0.0  # share of frames without any focus (nothing to see: AdaFocus+ should skip them)
    seed: int = 0


def grid_geometry(grid: int, patch_size: int, frame_size: int, map_shape: tuple[int, int, int]) -> dict[str, Any]:
    """Returns the store's geometry dict (FeatureStore.patches) for a ``grid`` x ``grid`` set of
    ``patch_size`` patches on a square ``frame_size`` frame (:class:`nsnet.extract.patches.PatchGrid`)."""
    from nsnet.extract.patches import PatchGrid

    return PatchGrid(grid, patch_size, frame_size, frame_size).to_attrs(map_shape)


def candidate_quadrants(boxes: Any, width: int, height: int) -> np.ndarray:
    """Returns int [G*G]: the quadrant (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right) in
    which each box (x0, y0, x1, y1) has its centre."""
    b = np.asarray(boxes, dtype=np.float64)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    return (cy >= height / 2).astype(int) * 2 + (cx >= width / 2).astype(int)


def _unit(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    x = rng.standard_normal(shape)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def quadrant_arrays(spec: QuadrantSpec | None = None, split: str = "train") -> tuple[SamplerArrays, np.ndarray]:
    """Returns (arrays, target): SamplerArrays with AdaFocus arrays (float16 maps [N, T, D, h, w],
    patch features [N, T, G*G, D2], geometry) and pooled light features = the maps' spatial mean,
    and the boolean mask ``target`` [N, T, G*G] of the candidates in each frame's focus quadrant
    (all False on empty frames)."""
    s = spec or QuadrantSpec()
    if s.map_size % 2:
        raise ValueError("the quadrant toy needs an even map size")
    geo = np.random.default_rng(s.seed)  # class geometry: fixed by the seed, shared by the splits
    r = _unit(geo, (s.num_classes, s.local_dim))
    o = _unit(geo, (s.map_dim,))
    rng = np.random.default_rng([s.seed, sum(map(ord, split))])
    n, t, h, c = s.num_videos, s.num_frames, s.map_size, s.num_classes
    geometry = grid_geometry(s.grid, s.patch_size, s.frame_size, (s.map_dim, h, h))
    cand_q = candidate_quadrants(geometry["boxes"], s.frame_size, s.frame_size)  # [A]
    cells = np.arange(h)
    cell_q = ((cells[:, None] >= h // 2) * 2 + (cells[None, :] >= h // 2)).astype(int)  # [h, w]
    quadrant = rng.integers(0, 4, size=(n, t))
    quadrant[rng.random((n, t)) < s.empty] = -1  # empty frames: no cell, no candidate in focus
    labels = np.zeros((n, c), np.float32)
    cls = rng.integers(0, c, size=n)
    labels[np.arange(n), cls] = 1
    shown = np.repeat(cls[:, None], t, axis=1)  # the class shown in each frame's focus quadrant
    if s.multilabel:
        other = (cls + rng.integers(1, c, size=n)) % c
        labels[np.arange(n), other] = 1
        shown = np.where(rng.random((n, t)) < 0.5, cls[:, None], other[:, None])
    in_focus_map = cell_q[None, None] == quadrant[..., None, None]  # [N, T, h, w]
    maps = s.noise * rng.standard_normal((n, t, h, h, s.map_dim))
    maps += np.where(in_focus_map[..., None], s.objectness * o, s.map_clutter * _unit(rng, (n, t, h, h, s.map_dim)))
    maps = maps.transpose(0, 1, 4, 2, 3)  # [N, T, D, h, w]
    target = cand_q[None, None, :] == quadrant[..., None]  # [N, T, A]
    local = s.noise * rng.standard_normal((n, t, cand_q.size, s.local_dim))
    local += np.where(target[..., None], s.signal * r[shown][:, :, None, :],
                      s.clutter * _unit(rng, (n, t, cand_q.size, s.local_dim)))
    arrays = SamplerArrays(
        light=maps.mean(axis=(3, 4)).astype(np.float32), labels=labels,
        class_names=[f"class{i}" for i in range(c)], multilabel=s.multilabel,
        video_ids=[f"{split}{i:05d}" for i in range(n)], split=split, fingerprint=f"quadrant-{s.seed}",
        extractor_spec={"name": "quadrant-light", "feature_dim": s.map_dim},
        recognizer_spec={"name": "quadrant-rec", "feature_dim": s.local_dim},
        light_maps=maps.astype(np.float16), patch_features=local.astype(np.float16), patches=geometry,
    )
    return arrays, target


def write_store(path: str | Path, splits: dict[str, SamplerArrays], *, patches: bool = True, chunk_videos: int = 32) -> Any:
    """Returns a new :class:`nsnet.store.FeatureStore` at ``path`` holding ``splits`` (split name ->
    quadrant arrays, concatenated in that order), every video done; the recognizer features are
    the mean over candidates of the patch features, the logits zeros. ``patches=False`` leaves the
    AdaFocus arrays out (a store extracted without ``--patches``)."""
    from nsnet.store import FeatureStore, StoreLayout
    from nsnet.store import schema as S

    parts = list(splits.items())
    first = parts[0][1]
    cat = lambda name: np.concatenate([getattr(a, name) for _, a in parts])  # noqa: E731
    light, maps, local, labels = cat("light"), cat("light_maps"), cat("patch_features"), cat("labels")
    n, t = light.shape[:2]
    ids = [vid for _, a in parts for vid in a.video_ids]
    layout = StoreLayout(
        video_ids=ids, paths=[f"{vid}.mp4" for vid in ids], splits=[name for name, a in parts for _ in range(a.N)],
        labels=labels.astype(np.uint8), class_names=list(first.class_names), multilabel=first.multilabel, T=t,
        extractor={"name": "quadrant-light", "input_size": 224, "weights_sha256": "1" * 64, "feature_dim": first.D},
        recognizer={"name": "quadrant-rec", "input_size": 224, "weights_sha256": "2" * 64, "num_classes": first.C},
        annotations={"source": "quadrant toy"}, command="synthetic", chunk_videos=chunk_videos,
        patches=dict(first.patches) if patches else None,
    )
    store = FeatureStore.create(path, layout, light_dim=first.D, rec_dim=local.shape[3])
    for chunk_id, (lo, hi) in enumerate(store.chunk_ranges()):
        data = {
            S.LIGHT_FEATURES: light[lo:hi].astype(np.float16),
            S.REC_FEATURES: local[lo:hi].astype(np.float32).mean(axis=2).astype(np.float16),
            S.REC_LOGITS: np.zeros((hi - lo, t, first.C), np.float32),
            S.FRAME_INDICES: np.tile(np.arange(t, dtype=np.int32), (hi - lo, 1)),
            S.NUM_FRAMES: np.full(hi - lo, t, np.int64), S.FPS: np.full(hi - lo, 25.0, np.float32),
            S.ERROR: np.full(hi - lo, "", dtype=str),
        }
        if patches:
            data[S.LIGHT_MAPS] = maps[lo:hi]
            data[S.PATCH_FEATURES] = local[lo:hi]
        store.write_chunk(chunk_id, data)
    return FeatureStore.open(path)
