"""Which frames of a video to decode: the T uniformly pre-sampled frames (supp. A.1)."""

from __future__ import annotations

import numpy as np

from nsnet.numeric import segment_centres


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
    return segment_centres(num_frames, T)
