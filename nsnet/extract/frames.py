"""Which frames of a video to decode: the T uniformly pre-sampled frames (supp. A.1)."""

from __future__ import annotations

import numpy as np


def plan_frame_indices(num_frames: int, T: int) -> np.ndarray:
    """Returns the T frame indices (int64) to decode from a video of ``num_frames`` frames.

    Videos with at least T frames: the centre frame of each of T equal segments,
    ``floor((i + 0.5) * n / T)``. Shorter videos are repeated and spliced to T frames (supp. A.1):
    ``0, 1, ..., n-1, 0, 1, ...`` cut after T entries.
    """
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    if num_frames < 1:
        raise ValueError(f"a video needs at least one frame, got {num_frames}")
    if num_frames < T:
        return np.arange(T, dtype=np.int64) % num_frames
    return np.floor((np.arange(T) + 0.5) * num_frames / T).astype(np.int64)


def uniform_positions(T: int, k: int) -> np.ndarray:
    """Returns K evenly spaced positions among T pre-sampled frames (segment centres), int64."""
    if not 1 <= k <= T:
        raise ValueError(f"budget K must be in 1..{T}, got {k}")
    return np.floor((np.arange(k) + 0.5) * T / k).astype(np.int64)
