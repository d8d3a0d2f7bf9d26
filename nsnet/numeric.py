"""Small NumPy helpers shared by every layer: the budget check, segment centres, top-K and the
per-frame class probabilities. Each is defined here once."""

from __future__ import annotations

import numpy as np

from nsnet.errors import ConfigError

__all__ = ["BudgetError", "check_budget", "class_probabilities", "rank", "segment_centres", "softmax",
           "top_k", "uniform_positions"]


class BudgetError(ConfigError):
    """The frame budget K is not an integer with 1 <= K <= T."""


def check_budget(k: int, t: int) -> int:
    """Returns ``k`` as int after checking it is an integer with 1 <= k <= t (raises BudgetError)."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise BudgetError(f"budget K must be an integer, got {k!r}")
    if not 1 <= int(k) <= t:
        raise BudgetError(f"budget K must satisfy 1 <= K <= T={t}, got K={k}")
    return int(k)


def segment_centres(n: int, k: int) -> np.ndarray:
    """Returns int64 [k]: the centre of each of k equal segments of 0..n-1, ``floor((i + 0.5) * n / k)``."""
    return np.floor((np.arange(k) + 0.5) * n / k).astype(np.int64)


def uniform_positions(t: int, k: int) -> np.ndarray:
    """Returns K evenly spaced positions among T pre-sampled frames (segment centres), int64."""
    return segment_centres(t, check_budget(k, t))


def rank(scores: np.ndarray) -> np.ndarray:
    """Returns all indices of ``scores`` ([..., T]) sorted by descending score along the last axis;
    stable, so equal scores keep ascending index order."""
    return np.argsort(-scores, axis=-1, kind="stable").astype(np.int64)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Returns np.int64 [..., K]: along the last axis the indices of the K highest scores, highest
    first; ties go to the lower index."""
    arr = np.asarray(scores, dtype=np.float64)
    return rank(arr)[..., : check_budget(k, arr.shape[-1])]


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Returns the softmax of ``logits`` along ``axis`` as float64."""
    z = np.asarray(logits).astype(np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def class_probabilities(logits: np.ndarray, multilabel: bool) -> np.ndarray:
    """Returns float64 per-class probabilities of ``logits`` [..., C]: the softmax over classes, or
    the per-class sigmoid when ``multilabel``."""
    if multilabel:
        return 1.0 / (1.0 + np.exp(-np.asarray(logits).astype(np.float64)))
    return softmax(logits, axis=-1)
