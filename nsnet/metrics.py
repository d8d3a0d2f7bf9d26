"""Video-level recognition metrics: mAP (ActivityNet, FCVID) and top-1 accuracy (Mini-Kinetics,
UCF101), plus the recognizer's video prediction from its K per-frame outputs.

All metrics return fractions in [0, 1]; callers print percentages.

``labels`` may be given either as a multi-hot array [N, C] (any value > 0 is a positive) or as
integer class ids [N] for single-label data (converted to one-hot with C = ``scores.shape[1]``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nsnet.errors import UserError


class MetricError(UserError, ValueError):
    """Raised for invalid metric inputs (bad shapes, non-finite scores, no positive labels)."""


def _check_scores(scores: Any) -> np.ndarray:
    """Returns ``scores`` as a float64 [N, C] array after checking its shape and finiteness."""
    arr = _to_numpy(scores)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise MetricError(f"scores must be a non-empty [N, C] array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise MetricError("scores contain NaN or infinite values")
    return arr


def _to_numpy(x: Any) -> np.ndarray:
    """Returns ``x`` (numpy array, torch tensor or nested sequence) as a float64 numpy array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _multi_hot(labels: Any, shape: tuple[int, int]) -> np.ndarray:
    """Returns a boolean [N, C] positives mask from multi-hot [N, C] or class-id [N] labels."""
    lab = _to_numpy(labels)
    n, c = shape
    if lab.ndim == 1:
        if lab.shape[0] != n:
            raise MetricError(f"labels has {lab.shape[0]} entries but scores has {n} rows")
        if np.any(lab != np.round(lab)) or np.any(lab < 0) or np.any(lab >= c):
            raise MetricError(f"class-id labels must be integers in [0, {c}), got {labels!r}")
        out = np.zeros(shape, dtype=bool)
        out[np.arange(n), lab.astype(np.int64)] = True
        return out
    if lab.shape != shape:
        raise MetricError(f"labels shape {lab.shape} does not match scores shape {shape}")
    if not np.all(np.isfinite(lab)):
        raise MetricError("labels contain NaN or infinite values")
    return lab > 0


def per_class_average_precision(scores: Any, labels: Any) -> np.ndarray:
    """Returns a float64 [C] array: scikit-learn's ``average_precision_score`` of each class
    over the N videos, NaN for a class with no positive video in the evaluated set (its AP is
    undefined)."""
    from sklearn.metrics import average_precision_score  # here: scikit-learn takes ~2 s to import

    s = _check_scores(scores)
    pos = _multi_hot(labels, s.shape)
    ap = np.full(s.shape[1], np.nan, dtype=np.float64)
    for c in range(s.shape[1]):
        if pos[:, c].any():
            ap[c] = average_precision_score(pos[:, c].astype(np.int64), s[:, c])
    return ap


def mean_average_precision(scores: Any, labels: Any) -> float:
    """Returns the mean over classes of the per-class average precision, in [0, 1].

    ``scores`` [N, C] are per-class confidences, ``labels`` multi-hot [N, C] (or class ids [N]).
    Classes with no positive video in the evaluated set are EXCLUDED from the mean (their AP is
    undefined); see :func:`per_class_average_precision`. Raises :class:`MetricError` when no
    class has a positive.
    """
    ap = per_class_average_precision(scores, labels)
    if np.all(np.isnan(ap)):
        raise MetricError("no class has a positive video; mAP is undefined")
    return float(np.nanmean(ap))


def top1_accuracy(scores: Any, labels: Any) -> float:
    """Returns the fraction of videos, in [0, 1], whose highest-scoring class (argmax, lowest
    class index on ties) is one of their positive labels (multi-hot [N, C] or class ids [N])."""
    s = _check_scores(scores)
    pos = _multi_hot(labels, s.shape)
    pred = np.argmax(s, axis=1)
    return float(np.mean(pos[np.arange(s.shape[0]), pred]))


def average_frame_predictions(frame_logits: Any, multilabel: bool) -> np.ndarray:
    """Returns the video predictions as a float64 [N, C] numpy array: the mean over the K frames
    of the per-frame softmax over classes (per-class sigmoid when ``multilabel``) of
    ``frame_logits`` [N, K, C] (numpy array or torch tensor)."""
    logits = torch.as_tensor(_to_numpy(frame_logits), dtype=torch.float64)
    if logits.ndim != 3 or min(logits.shape) < 1:
        raise MetricError(
            f"frame_logits must be a non-empty [N, K, C] array, got shape {tuple(logits.shape)}"
        )
    if not torch.isfinite(logits).all():
        raise MetricError("frame_logits contain NaN or infinite values")
    probs = torch.sigmoid(logits) if multilabel else torch.softmax(logits, dim=-1)
    return probs.mean(dim=1).numpy()


def paired_bootstrap_map(scores_a: Any, scores_b: Any, labels: Any, *, resamples: int = 2000, seed: int = 0,
                         confidence: float = 0.95) -> dict[str, float]:
    """Returns how sure the data are that method A's mAP beats method B's on the same videos:
    {"diff", "low", "high", "p_a_better"} -- the observed mAP(A) - mAP(B) (fractions), the
    ``confidence`` percentile interval of that difference over ``resamples`` bootstrap resamples of
    the videos (the same resampled videos scored for both: paired; scipy.stats.bootstrap), and the
    fraction of resamples where A's mAP is higher.

    ``scores_a`` / ``scores_b`` are [N, C] or, for several runs each (e.g. training seeds), [S, N, C]:
    the difference is then the mean over the S runs, resampled with one set of videos for all runs.
    Resamples where a class has no positive video use the remaining classes (as in
    :func:`mean_average_precision`).
    """
    from scipy.stats import bootstrap

    a, b = _to_numpy(scores_a), _to_numpy(scores_b)
    a = a[None] if a.ndim == 2 else a
    b = b[None] if b.ndim == 2 else b
    if a.ndim != 3 or a.shape != b.shape:
        raise MetricError(f"scores of A and B must both be [N, C] or [S, N, C] of one shape, got {a.shape} and {b.shape}")
    if not 0 < confidence < 1:
        raise MetricError(f"confidence must be in (0, 1), got {confidence}")
    if resamples < 1:
        raise MetricError(f"resamples must be >= 1, got {resamples}")
    pos = _multi_hot(labels, a.shape[1:])
    for run in range(a.shape[0]):
        _check_scores(a[run])
        _check_scores(b[run])

    def diff(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        rows = np.atleast_2d(idx).astype(np.int64)  # [B, N]: B resamples of the video indices at once
        out = np.mean([resampled_map(a[s], pos, rows) - resampled_map(b[s], pos, rows) for s in range(a.shape[0])],
                      axis=0)
        return out if np.ndim(idx) > 1 else out[0]

    videos = np.arange(a.shape[1])
    res = bootstrap((videos,), diff, n_resamples=resamples, confidence_level=confidence, method="percentile",
                    vectorized=True, batch=max(1, min(resamples, 2_000_000 // max(1, a.shape[1] * a.shape[2]))),
                    random_state=np.random.default_rng(seed))
    dist = np.asarray(res.bootstrap_distribution, dtype=np.float64)
    observed = float(np.mean([mean_average_precision(a[s], pos) - mean_average_precision(b[s], pos)
                              for s in range(a.shape[0])]))
    return {"diff": observed, "low": float(res.confidence_interval.low), "high": float(res.confidence_interval.high),
            "p_a_better": float(np.mean(dist > 0))}


def resampled_map(scores: np.ndarray, positives: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Returns float64 [B]: the mAP of ``scores`` [N, C] against the boolean ``positives`` [N, C] on each of
    the B resampled video sets ``rows`` [B, N] (indices, repeats allowed), vectorised over the resamples.

    Each class's AP is scikit-learn's ``average_precision_score`` (the sum over score thresholds of
    the recall gained times the precision there, tied scores forming one threshold) on the resampled
    videos; a class with no positive in a resample is left out of that resample's mean, as in
    :func:`mean_average_precision` (a resample with none at all gives NaN)."""
    b, n = rows.shape
    aps = np.full((b, scores.shape[1]), np.nan, dtype=np.float64)
    for c in range(scores.shape[1]):
        s = scores[rows, c]
        y = positives[rows, c].astype(np.float64)
        order = np.argsort(-s, axis=1, kind="stable")
        s, y = np.take_along_axis(s, order, 1), np.take_along_axis(y, order, 1)
        last = np.ones(s.shape, dtype=bool)  # the last position of each group of tied scores
        last[:, :-1] = s[:, :-1] != s[:, 1:]
        end = np.minimum.accumulate(np.where(last, np.arange(n), n)[:, ::-1], axis=1)[:, ::-1]
        precision = np.take_along_axis(np.cumsum(y, axis=1), end, 1) / (end + 1)
        npos = y.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            aps[:, c] = np.where(npos > 0, (y * precision).sum(axis=1) / npos, np.nan)
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(aps, axis=1)
