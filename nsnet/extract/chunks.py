"""Whole store chunks assembled in memory and written in one go (data first, ``done`` flags last)."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import numpy as np

from nsnet.store import FeatureStore
from nsnet.store import schema as S


def empty_chunk(n: int, T: int, d_light: int, d_rec: int, c: int | None,
                patches: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """Returns the arrays of ``n`` videos not yet filled (the store's fill values)."""
    out = {
        S.LIGHT_FEATURES: np.zeros((n, T, d_light), np.float16),
        S.REC_FEATURES: np.zeros((n, T, d_rec), np.float16),
        S.FRAME_INDICES: np.full((n, T), -1, np.int32),
        S.NUM_FRAMES: np.zeros(n, np.int64),
        S.FPS: np.zeros(n, np.float32),
        S.ERROR: np.full(n, "", dtype=object),
        S.DECODE_BACKEND: np.full(n, "", dtype=object),
    }
    if c:
        out[S.REC_LOGITS] = np.full((n, T, c), np.nan, np.float32)
    if patches:
        out[S.LIGHT_MAPS] = np.zeros((n, T, *patches["map_shape"]), np.float16)
        out[S.PATCH_FEATURES] = np.zeros((n, T, len(patches["boxes"]), d_rec), np.float16)
    return out


class ChunkWriter:
    """Collects the videos of the given chunks in any order and writes each chunk when its last video
    arrives, so a chunk on disk is always whole (what makes a killed run resumable)."""

    def __init__(self, store: FeatureStore, chunk_ids: Iterable[int], d_light: int, d_rec: int,
                 num_logit_classes: int | None) -> None:
        self.store = store
        self.ranges = store.chunk_ranges()
        self.chunk_of_row = {r: c for c in chunk_ids for r in range(*self.ranges[c])}
        self.remaining = {c: self.ranges[c][1] - self.ranges[c][0] for c in chunk_ids}
        self.dims = (store.T, d_light, d_rec, num_logit_classes, store.patches)
        self.buffers: dict[int, dict[str, np.ndarray]] = {}

    @property
    def rows(self) -> list[int]:
        """Returns the store rows (videos) this writer waits for, in store order."""
        return sorted(self.chunk_of_row)

    def add(self, row: int, outputs: Mapping[str, Any] | None = None, error: str = "") -> int | None:
        """Records one video (its arrays, or the reason it failed); returns the chunk id written, if any."""
        c = self.chunk_of_row[row]
        lo, hi = self.ranges[c]
        buf = self.buffers.setdefault(c, empty_chunk(hi - lo, *self.dims))
        if error:
            buf[S.ERROR][row - lo] = error
        else:
            for name, value in (outputs or {}).items():
                buf[name][row - lo] = value
        self.remaining[c] -= 1
        if self.remaining[c]:
            return None
        data = self.buffers.pop(c)
        data[S.ERROR] = data[S.ERROR].astype(str)
        data[S.DECODE_BACKEND] = data[S.DECODE_BACKEND].astype(str)
        if S.DECODE_BACKEND not in self.store.group:  # a store from before decoders were recorded
            del data[S.DECODE_BACKEND]
        self.store.write_chunk(c, data)
        return c
