"""Class prototypes, guiding saliency scores g_i and NS pseudo labels (paper §3.4, supp. A.1, B.1).

Prototypes (train split only). For a video v with ground-truth class c, the recognizer's correctly
predicted frames are those whose argmax over classes is c. The top ``eps`` fraction of them by
softmax confidence on c -- ``max(1, floor(eps * n_correct))`` frames -- are average-pooled into the
guiding video feature. The prototype p_c is the mean of the guiding features of c's videos.

* A video with no correctly predicted frame for c is skipped for p_c.
* If that leaves class c without any video, p_c falls back to the mean over c's videos of the top
  ``max(1, floor(eps * T))`` frames by confidence on c (correct or not); ``Prototypes.fallback``
  records this. A class with no training video at all has no prototype (``valid`` False) and is
  left out of the softmax in Eq. 1.
* Multi-label videos contribute to the prototype of each of their positive classes, each time
  with the frames judged for that class.

Guiding score (Eq. 1): q_ij = softmax_j(phi(x_i, p_j) / temperature) over the classes with a
prototype, phi = negative Euclidean distance (``guide="prototype"``); or the recognizer's softmax
over its logits (``guide="response"``, supp. B.1). For a single-label video g_i = q_ic. For a
multi-label video with positives P: g_i = max_{c in P} q_ic, and the class part of the pseudo
label spreads g_i over P proportionally to q_ic (``class_weights``). NS pseudo label:
y_i = [g_i * w_i, 1 - g_i] in R^{C+1}, w_i = y_v for single-label videos.

Calibrated guide (``guide="calibrated"``, an extension; the paper's rule stays the default). Eq. 1
normalises over the classes only, so a frame far from *every* prototype (background footage, a
photo of an unlabelled object) still gets q_ic near 1 whenever p_c happens to be its nearest
prototype: about 1/C of the background frames of each video become "salient" pseudo labels. The
calibrated guide also asks whether the frame is closer to p_c than the frames of videos *without*
class c, which by construction are non-salient for c (their background, their distractors, other
classes' events): with u_ic the fraction of those negative frames closer to p_c than frame i,
cal_ic = clip(1 - u_ic / rho, 0, 1) and q_ic is replaced by q_ic * cal_ic (``rho`` =
``guide_quantile``, default 0.02). A look-alike frame that occurs in other classes' videos too
(the non-salient frames NS suppression is about) is thereby pushed to g = 0. The negative distance
quantiles are computed on the train split and stored with the prototypes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from nsnet.errors import UserError
from nsnet.numeric import softmax

_CHUNK = 128
GUIDES_WITH_PROTOTYPES = ("prototype", "calibrated")  # guides computed from prototype distances


class PrototypeError(UserError, ValueError):
    """Prototype or guiding-score inputs are inconsistent (shapes, missing prototypes)."""


@dataclass
class Prototypes:
    """Class prototypes in the recognizer's feature space.

    ``features`` [C, D2] float32 (rows of invalid classes are zero), ``valid`` [C] bool,
    ``num_videos`` [C] int64 (videos pooled), ``fallback`` [C] bool (built without correct frames).
    """

    features: np.ndarray
    valid: np.ndarray
    num_videos: np.ndarray
    fallback: np.ndarray
    # [C, Q] quantiles (levels linspace(0, 1, Q)) of the distance to p_c of the frames of train
    # videos without class c; NaN rows where a class has no prototype or no negative frame.
    # Only the calibrated guide needs them (see the module docstring).
    negative_quantiles: np.ndarray | None = None


@dataclass
class GuideTargets:
    """Guiding saliency per frame ``g`` [N, T] in [0, 1] and, for multi-label data, the
    distribution of g over each video's positive classes ``class_weights`` [N, T, C] (None for
    single-label data, where it is the one-hot video label)."""

    g: np.ndarray
    class_weights: np.ndarray | None = None


def top_eps_count(n: int, eps: float) -> int:
    """Returns how many of ``n`` frames make the top-``eps`` fraction: max(1, floor(eps*n))."""
    return max(1, int(math.floor(eps * n + 1e-9)))


def guiding_video_feature(
    rec_features: np.ndarray, rec_logits: np.ndarray, cls: int, eps: float = 0.3, *, require_correct: bool = True
) -> np.ndarray | None:
    """Returns the guiding video feature [D2] for class ``cls`` of one video, or None.

    With ``require_correct`` the candidates are the frames whose recognizer argmax is ``cls``
    (None when there is none); otherwise all T frames. The top ``eps`` fraction of candidates by
    softmax confidence on ``cls`` are averaged.
    """
    conf = softmax(rec_logits).astype(np.float32)[:, cls]
    candidates = np.arange(rec_logits.shape[0])
    if require_correct:
        candidates = candidates[np.argmax(rec_logits, axis=1) == cls]
        if candidates.size == 0:
            return None
    order = candidates[np.argsort(-conf[candidates], kind="stable")]
    top = order[: top_eps_count(candidates.size, eps)]
    return rec_features[top].astype(np.float64).mean(axis=0)


def build_prototypes(
    rec_features: np.ndarray, rec_logits: np.ndarray, labels: np.ndarray, eps: float = 0.3
) -> Prototypes:
    """Returns the class prototypes built from training videos (see the module docstring).

    ``rec_features`` [N, T, D2], ``rec_logits`` [N, T, C], ``labels`` [N, C] multi-hot.
    """
    if rec_features.ndim != 3 or rec_logits.ndim != 3 or rec_features.shape[:2] != rec_logits.shape[:2]:
        raise PrototypeError(
            f"recognizer features {rec_features.shape} and logits {rec_logits.shape} must be [N, T, *] alike"
        )
    n, _, c = rec_logits.shape
    if labels.shape != (n, c):
        raise PrototypeError(f"labels must be [N={n}, C={c}], got {labels.shape}")
    d2 = rec_features.shape[2]
    sums = np.zeros((c, d2), np.float64)
    counts = np.zeros(c, np.int64)
    fb_sums = np.zeros((c, d2), np.float64)
    fb_counts = np.zeros(c, np.int64)
    for v in range(n):
        for cls in np.nonzero(labels[v] > 0)[0]:
            feat = guiding_video_feature(rec_features[v], rec_logits[v], int(cls), eps)
            if feat is not None:
                sums[cls] += feat
                counts[cls] += 1
            fb_sums[cls] += guiding_video_feature(rec_features[v], rec_logits[v], int(cls), eps, require_correct=False)
            fb_counts[cls] += 1
    fallback = (counts == 0) & (fb_counts > 0)
    valid = (counts > 0) | fallback
    feats = np.zeros((c, d2), np.float64)
    feats[counts > 0] = sums[counts > 0] / counts[counts > 0, None]
    feats[fallback] = fb_sums[fallback] / fb_counts[fallback, None]
    num_videos = np.where(counts > 0, counts, fb_counts)
    return Prototypes(features=feats.astype(np.float32), valid=valid, num_videos=num_videos, fallback=fallback)


def prototype_class_probs(
    rec_features: np.ndarray, prototypes: Prototypes, temperature: float = 1.0
) -> np.ndarray:
    """Returns q [N, T, C] float32: softmax over the classes with a prototype of the negative
    Euclidean distance between each frame's recognizer feature and the prototypes (divided by
    ``temperature``); classes without a prototype get probability 0."""
    if rec_features.shape[-1] != prototypes.features.shape[1]:
        raise PrototypeError(
            f"recognizer feature dim {rec_features.shape[-1]} != prototype dim {prototypes.features.shape[1]}"
        )
    if not prototypes.valid.any():
        raise PrototypeError("no class has a prototype")
    n, t, _ = rec_features.shape
    protos = torch.from_numpy(prototypes.features[prototypes.valid]).double()
    out = np.zeros((n, t, prototypes.valid.size), np.float32)
    for lo in range(0, n, _CHUNK):
        x = torch.from_numpy(np.ascontiguousarray(rec_features[lo : lo + _CHUNK])).double()
        dist = torch.cdist(x.reshape(-1, x.shape[-1]), protos)  # [b*T, C_valid]
        q = torch.softmax(-dist / temperature, dim=-1).reshape(x.shape[0], t, -1)
        out[lo : lo + x.shape[0]][..., prototypes.valid] = q.float().numpy()
    return out


def _distances(rec_features: np.ndarray, prototypes: Prototypes) -> np.ndarray:
    """Returns d [N, T, C] float64: the Euclidean distance of every frame to every valid prototype
    (NaN for classes without one), computed in chunks of videos."""
    n, t, _ = rec_features.shape
    protos = torch.from_numpy(prototypes.features[prototypes.valid]).double()
    out = np.full((n, t, prototypes.valid.size), np.nan)
    for lo in range(0, n, _CHUNK):
        x = torch.from_numpy(np.ascontiguousarray(rec_features[lo : lo + _CHUNK])).double()
        dist = torch.cdist(x.reshape(-1, x.shape[-1]), protos).reshape(x.shape[0], t, -1)
        out[lo : lo + x.shape[0]][..., prototypes.valid] = dist.numpy()
    return out


def with_negative_quantiles(
    prototypes: Prototypes, rec_features: np.ndarray, labels: np.ndarray, num_quantiles: int = 1001
) -> Prototypes:
    """Returns a copy of ``prototypes`` with ``negative_quantiles`` [C, Q]: per class c, the
    quantiles of the distance to p_c over every frame of the videos (``rec_features`` [N, T, D2],
    multi-hot ``labels`` [N, C], train split) that do not have label c."""
    dist = _distances(rec_features, prototypes)
    levels = np.linspace(0.0, 1.0, num_quantiles)
    quantiles = np.full((prototypes.valid.size, num_quantiles), np.nan)
    for c in np.nonzero(prototypes.valid)[0]:
        negatives = dist[labels[:, c] == 0][..., c].ravel()
        if negatives.size:
            quantiles[c] = np.quantile(negatives, levels)
    return dataclasses.replace(prototypes, negative_quantiles=quantiles.astype(np.float32))


def negative_calibration(rec_features: np.ndarray, prototypes: Prototypes, rho: float = 0.02) -> np.ndarray:
    """Returns cal [N, T, C] in [0, 1]: clip(1 - u_ic / rho, 0, 1), u_ic = the fraction of negative
    train frames of class c that lie closer to p_c than frame i (interpolated in the stored
    quantiles). Classes without quantiles get 1 (no calibration)."""
    if prototypes.negative_quantiles is None:
        raise PrototypeError("the calibrated guide needs the prototypes' negative distance quantiles")
    if not 0.0 < rho <= 1.0:
        raise PrototypeError(f"guide quantile rho must lie in (0, 1], got {rho}")
    dist = _distances(rec_features, prototypes)
    quantiles = prototypes.negative_quantiles.astype(np.float64)
    levels = np.linspace(0.0, 1.0, quantiles.shape[1])
    cal = np.ones(dist.shape, np.float32)
    for c in range(quantiles.shape[0]):
        if np.isnan(quantiles[c]).any():
            continue
        u = np.interp(dist[..., c], quantiles[c], levels)  # below the closest negative -> 0
        cal[..., c] = np.clip(1.0 - u / rho, 0.0, 1.0)
    return cal


def response_class_probs(rec_logits: np.ndarray) -> np.ndarray:
    """Returns q [N, T, C] float32: the recognizer's softmax confidence per frame (supp. B.1)."""
    return softmax(rec_logits).astype(np.float32)


def guiding_scores(class_probs: np.ndarray, labels: np.ndarray) -> GuideTargets:
    """Returns the guiding scores for videos with per-frame class probabilities ``class_probs``
    [N, T, C] and multi-hot ``labels`` [N, C] (see the module docstring for the multi-label rule).

    Videos without any positive label get g = 0 everywhere.
    """
    if class_probs.ndim != 3 or labels.shape != (class_probs.shape[0], class_probs.shape[2]):
        raise PrototypeError(f"class_probs {class_probs.shape} and labels {labels.shape} do not match")
    pos = (labels > 0)[:, None, :]  # [N, 1, C]
    q_pos = np.where(pos, class_probs, 0.0).astype(np.float32)
    g = q_pos.max(axis=2)
    if (labels > 0).sum(axis=1).max(initial=0) <= 1:  # single-label: w_i = y_v
        return GuideTargets(g=g.astype(np.float32), class_weights=None)
    total = q_pos.sum(axis=2, keepdims=True)
    n_pos = np.maximum(pos.sum(axis=2, keepdims=True), 1)
    weights = np.where(total > 0, q_pos / np.where(total > 0, total, 1.0), pos / n_pos)
    return GuideTargets(g=g.astype(np.float32), class_weights=weights.astype(np.float32))


def compute_guide(
    labels: np.ndarray,
    *,
    mode: str = "prototype",
    rec_features: np.ndarray | None = None,
    rec_logits: np.ndarray | None = None,
    prototypes: Prototypes | None = None,
    temperature: float = 1.0,
    quantile: float = 0.02,
) -> GuideTargets:
    """Returns the guiding scores of videos for ``mode`` "prototype" (needs ``rec_features`` and
    ``prototypes``), "calibrated" (the same, with negative quantiles; ``quantile`` = rho) or
    "response" (needs ``rec_logits``), computed in chunks of videos."""
    if mode in GUIDES_WITH_PROTOTYPES:
        if rec_features is None or prototypes is None:
            raise PrototypeError(f"{mode} guiding scores need recognizer features and prototypes")
        n = rec_features.shape[0]
        if mode == "prototype":
            probs_of = lambda lo, hi: prototype_class_probs(rec_features[lo:hi], prototypes, temperature)  # noqa: E731
        else:
            probs_of = lambda lo, hi: (prototype_class_probs(rec_features[lo:hi], prototypes, temperature)  # noqa: E731
                                       * negative_calibration(rec_features[lo:hi], prototypes, quantile))
    elif mode == "response":
        if rec_logits is None:
            raise PrototypeError("response guiding scores need recognizer logits")
        n = rec_logits.shape[0]
        probs_of = lambda lo, hi: response_class_probs(rec_logits[lo:hi])  # noqa: E731
    else:
        raise PrototypeError(f"unknown guide mode {mode!r}; expected 'prototype', 'calibrated' or 'response'")
    step = 4 * _CHUNK
    starts = range(0, n, step)
    parts = [guiding_scores(probs_of(lo, lo + step), labels[lo : lo + step]) for lo in starts]
    g = np.concatenate([p.g for p in parts])
    if all(p.class_weights is None for p in parts):
        return GuideTargets(g=g)
    weights = []  # some chunk is multi-label: spell out the single-label chunks' weights (= y_v)
    for p, lo in zip(parts, starts):
        if p.class_weights is None:
            p.class_weights = np.repeat(labels[lo : lo + step][:, None, :], p.g.shape[1], axis=1).astype(np.float32)
        weights.append(p.class_weights)
    return GuideTargets(g=g, class_weights=np.concatenate(weights))
