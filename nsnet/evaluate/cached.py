"""The cached path: score a selection from the store's per-frame recognizer logits (no decoding).

Gives the same predictions as the reload path up to float tolerance (the store's logits came from
the same recognizer on the same pixels; a fitted head was applied to float16-cached features).
"""

from __future__ import annotations

import numpy as np

from nsnet.errors import ConfigError


class CachedPathError(ConfigError):
    """The store cannot serve the cached path (no logits, shape mismatch)."""


def gather_frames(per_frame: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Returns ``per_frame[n, positions[n]]`` for every video: [N, K, ...] from [N, T, ...] and [N, K]."""
    per_frame = np.asarray(per_frame)
    positions = np.asarray(positions, dtype=np.int64)
    if positions.ndim != 2 or positions.shape[0] != per_frame.shape[0]:
        raise CachedPathError(f"positions must be [N={per_frame.shape[0]}, K], got shape {positions.shape}")
    if positions.size and (positions.min() < 0 or positions.max() >= per_frame.shape[1]):
        raise CachedPathError(f"positions must lie in 0..{per_frame.shape[1] - 1}")
    return np.take_along_axis(per_frame, positions.reshape(positions.shape + (1,) * (per_frame.ndim - 2)), axis=1)


def cached_logits(rec_logits: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Returns the cached recognizer logits [N, K, C] of the chosen positions [N, K].

    Raises CachedPathError when a chosen frame has no logits (NaN: the store was never scored).
    """
    out = gather_frames(rec_logits, positions).astype(np.float32)
    if not np.all(np.isfinite(out)):
        raise CachedPathError("the store's recognizer logits are missing (NaN) for some chosen frames; "
                              "run `nsnet fit-recognizer` or use --path reload")
    return out
