"""Fusion of the two NSNet saliency branches into K selected frames (supplementary A.3).

NSNet produces two saliency scores per observed frame: ``s_f`` from the frame-level
saliency module (FSM) and ``s_v`` from the video-level guidance module (VGM). This module
turns them into K distinct frame indices with one of six strategies:

Score combination (fuse the scores, then take the top-K of the fused score). The two branches
live on very different scales (s_f is a softmax over time of probabilities, so its frames differ by
at most a factor e; s_v is a sharp attention), so each branch is first **min-max normalised over
the video's T frames** (``n(s) = (s - min s) / (max s - min s)``, 0 for a constant score) and
the fusion combines ``n(s_f)`` and ``n(s_v)``. Min-max rather than ranks: it keeps how far a peak
stands out, and it leaves each branch's own top-K unchanged.

* ``sum``  -- ``alpha * n(s_f) + (1 - alpha) * n(s_v)`` (convex combination).
* ``max``  -- ``max(n(s_f), n(s_v))`` elementwise (``alpha`` ignored).
* ``mul``  -- ``n(s_f) * n(s_v)`` elementwise (``alpha`` ignored).

Index combination (rank each branch, ``pi_f = argsort(-s_f)``, ``pi_v = argsort(-s_v)``):

* ``intersection`` -- ``I(m_f, m_v) = pi_f[:m_f] ∩ pi_v[:m_v]``, starting from ``m_f = m_v = K``.
  While ``|I| < K`` the two windows are widened by one frame *by turns* (FSM first), which is
  supp. A.3's ``I(K + i')`` grown until ``|I(K + i')| = K``. Each widening adds at most one frame
  to ``I``, so it stops at exactly K frames, all of them ranked high by both branches. Result
  order: ``pi_f`` order.
* ``union`` (the paper's default, ``alpha = 0.6``) -- ``U = pi_f[:ceil(K*alpha)]`` followed by the
  frames of ``pi_v[:ceil(K*(1-alpha))]`` not already in ``U`` (in ``pi_v`` order). If ``|U| > K``
  (ceil can over-count by one, e.g. K=1) ``U`` is cut to its first K entries, so FSM frames are
  kept first. While ``|U| < K`` the next frame of ``pi_f`` not in ``U`` is appended.
* ``join`` -- the 2T scores ``concat(s_f, s_v)`` are visited from highest to lowest and a frame
  is taken the first time one of its two scores is visited, until K distinct frames.

Ties are deterministic everywhere: sorts are stable and, among equal scores, the lower frame
index comes first (for ``join``: lower frame index first, then the FSM score before the VGM
score of the same frame). Every function returns the indices in selection/priority order as an
``np.int64`` array of K distinct frame indices.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from nsnet.errors import UserError
from nsnet.numeric import check_budget
from nsnet.numeric import rank as _rank

FUSIONS: tuple[str, ...] = ("union", "intersection", "join", "sum", "max", "mul")
SCORE_FUSIONS: tuple[str, ...] = ("sum", "max", "mul")
INDEX_FUSIONS: tuple[str, ...] = ("union", "intersection", "join")
DEFAULT_FUSION = "union"
DEFAULT_ALPHA = 0.6  # supp. A.3: the share of the K frames the FSM picks in a union

# Tolerance for ceil(K * alpha): e.g. 10 * (1 - 0.7) is 3.0000000000000004 in floating point
# and must give 3, not 4. Products within this tolerance above an integer count as that
# integer.
_CEIL_TOL = 1e-9


class FusionError(UserError, ValueError):
    """Raised for invalid fusion inputs: unknown strategy, bad scores or alpha (a bad K is a BudgetError)."""


def _check_scores(scores: np.ndarray, name: str, ndim: int) -> np.ndarray:
    """Returns ``scores`` as a float64 array after checking its rank and finiteness."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != ndim:
        raise FusionError(f"{name} must be a {ndim}-D array, got shape {arr.shape}")
    if arr.shape[-1] < 1:
        raise FusionError(f"{name} must hold at least one frame, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise FusionError(f"{name} contains NaN or infinite values")
    return arr


def _check_alpha(alpha: float) -> float:
    """Returns ``alpha`` as a float after checking ``0 <= alpha <= 1``."""
    a = float(alpha)
    if not (0.0 <= a <= 1.0):
        raise FusionError(f"alpha must lie in [0, 1], got {alpha!r}")
    return a


def _check_strategy(strategy: str) -> str:
    """Returns ``strategy`` after checking it is one of :data:`FUSIONS`."""
    if strategy not in FUSIONS:
        raise FusionError(f"unknown fusion strategy {strategy!r}; expected one of {FUSIONS}")
    return strategy


def _ceil(x: float) -> int:
    """Returns ceil(x), treating values within a tiny tolerance of an integer as that integer."""
    return int(math.ceil(x - _CEIL_TOL))


def minmax_normalise(scores: np.ndarray) -> np.ndarray:
    """Returns ``scores`` ([..., T]) min-max normalised over the last axis to [0, 1] (float64);
    a row whose scores are all equal becomes all zeros."""
    arr = np.asarray(scores, dtype=np.float64)
    lo = arr.min(axis=-1, keepdims=True)
    span = arr.max(axis=-1, keepdims=True) - lo
    return np.where(span > 0, (arr - lo) / np.where(span > 0, span, 1.0), 0.0)


def fused_scores(s_f: np.ndarray, s_v: np.ndarray, strategy: str = "sum", alpha: float = DEFAULT_ALPHA) -> np.ndarray:
    """Returns the fused score array ([..., T], same shape as the inputs) of a score-combination
    strategy (``sum``, ``max`` or ``mul``), computed on the min-max normalised branch scores."""
    if strategy not in SCORE_FUSIONS:
        raise FusionError(f"{strategy!r} is not a score fusion; expected one of {SCORE_FUSIONS}")
    s_f, s_v = minmax_normalise(s_f), minmax_normalise(s_v)
    if strategy == "sum":
        return alpha * s_f + (1.0 - alpha) * s_v
    if strategy == "max":
        return np.maximum(s_f, s_v)
    return s_f * s_v  # "mul"


def _intersection(s_f: np.ndarray, s_v: np.ndarray, k: int) -> list[int]:
    """Returns the ``intersection`` selection (see module docstring) as a list of K frames."""
    pi_f, pi_v = _rank(s_f), _rank(s_v)
    rank_f = np.empty_like(pi_f)
    rank_f[pi_f] = np.arange(pi_f.size)
    rank_v = np.empty_like(pi_v)
    rank_v[pi_v] = np.arange(pi_v.size)
    m_f = m_v = k
    in_both = int(np.count_nonzero((rank_f < m_f) & (rank_v < m_v)))
    turn_f = True
    while in_both < k:  # widening one window adds at most one frame to the intersection
        if turn_f:
            frame = pi_f[m_f]
            m_f += 1
            in_both += int(rank_v[frame] < m_v)
        else:
            frame = pi_v[m_v]
            m_v += 1
            in_both += int(rank_f[frame] < m_f)
        turn_f = not turn_f
    return [int(i) for i in pi_f[:m_f] if rank_v[i] < m_v]


def _union(s_f: np.ndarray, s_v: np.ndarray, k: int, alpha: float) -> list[int]:
    """Returns the ``union`` selection (see module docstring) as a list of K frames."""
    pi_f, pi_v = _rank(s_f), _rank(s_v)
    n_f, n_v = _ceil(k * alpha), _ceil(k * (1.0 - alpha))
    chosen = [int(i) for i in pi_f[:n_f]]
    taken = set(chosen)
    for idx in pi_v[:n_v].tolist():
        if idx not in taken:
            chosen.append(idx)
            taken.add(idx)
    chosen = chosen[:k]  # trim: FSM frames first, then VGM frames in pi_v order
    taken = set(chosen)
    for idx in pi_f.tolist():
        if len(chosen) >= k:
            break
        if idx not in taken:
            chosen.append(idx)
            taken.add(idx)
    return chosen


def _join(s_f: np.ndarray, s_v: np.ndarray, k: int) -> list[int]:
    """Returns the ``join`` selection (see module docstring) as a list of K frames."""
    t = s_f.shape[0]
    scores = np.concatenate([s_f, s_v])
    frames = np.concatenate([np.arange(t), np.arange(t)])
    branch = np.concatenate([np.zeros(t, np.int64), np.ones(t, np.int64)])
    # lexsort: last key is primary -> descending score, then lower frame, then FSM before VGM.
    order = np.lexsort((branch, frames, -scores))
    chosen: list[int] = []
    taken: set[int] = set()
    for idx in frames[order].tolist():
        if idx not in taken:
            chosen.append(idx)
            taken.add(idx)
            if len(chosen) == k:
                break
    return chosen


_INDEX_FUSERS: dict[str, Callable[[np.ndarray, np.ndarray, int, float], list[int]]] = {
    "intersection": lambda f, v, k, a: _intersection(f, v, k),
    "union": _union,
    "join": lambda f, v, k, a: _join(f, v, k),
}


def fuse_select(
    s_f: np.ndarray,
    s_v: np.ndarray,
    k: int,
    strategy: str = DEFAULT_FUSION,
    alpha: float = DEFAULT_ALPHA,
) -> np.ndarray:
    """Returns K distinct frame indices (np.int64, selection/priority order) chosen by fusing
    the FSM saliency ``s_f`` [T] and VGM saliency ``s_v`` [T] with ``strategy`` (one of
    :data:`FUSIONS`, see the module docstring). ``alpha`` is used by ``sum`` and ``union``.

    Raises BudgetError for K outside [1, T] and :class:`FusionError` for an unknown strategy,
    mismatched/non-finite scores, or alpha outside [0, 1].
    """
    f = _check_scores(s_f, "s_f", 1)
    v = _check_scores(s_v, "s_v", 1)
    return fuse_select_batch(f[None], v[None], k, strategy, alpha)[0]


def fuse_select_batch(
    s_f: np.ndarray,
    s_v: np.ndarray,
    k: int,
    strategy: str = DEFAULT_FUSION,
    alpha: float = DEFAULT_ALPHA,
) -> np.ndarray:
    """Returns an np.int64 array [N, K]: row n is ``fuse_select(s_f[n], s_v[n], k, strategy,
    alpha)`` for saliency arrays ``s_f``, ``s_v`` of shape [N, T]."""
    strategy = _check_strategy(strategy)
    f = _check_scores(s_f, "s_f", 2)
    v = _check_scores(s_v, "s_v", 2)
    if f.shape != v.shape:
        raise FusionError(f"s_f and s_v must have the same shape, got {f.shape} and {v.shape}")
    k = check_budget(k, f.shape[1])
    alpha = _check_alpha(alpha)
    if strategy in SCORE_FUSIONS:
        return _rank(fused_scores(f, v, strategy, alpha))[:, :k]
    out = np.empty((f.shape[0], k), dtype=np.int64)
    fuser = _INDEX_FUSERS[strategy]
    for n in range(f.shape[0]):
        out[n] = fuser(f[n], v[n], k, alpha)
    return out
