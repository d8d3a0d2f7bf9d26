"""Training targets and losses of the FSM and VGM objectives (paper §3.4-3.6, Table 6a/6d).

All losses are means over videos (and frames for the FSM); Eq. 2 sums over frames, the mean only
rescales it by 1/T. For multi-label videos the video label y_v is used as a distribution
(``y_v / |y_v|``) wherever a cross-entropy target is needed.

FSM objectives (``mode``):

* ``video``      -- every frame's target is y_v over C classes (the "baseline").
* ``nonsalient`` -- C + 1 classes, every frame's target is [y_v, 0].
* ``regression`` -- one output per frame, sigmoid(output) regresses g_i with MSE.
* ``ranking``    -- one output per frame, margin ranking loss over all frame pairs (i, j) of a
  video with g_i > g_j: max(0, margin - (s_i - s_j)).
* ``baseline+``  -- C classes, target g_i * w_i + (1 - g_i) / C (the hard video label softened by
  the guiding score, label-smoothing style: low-g frames get a near-uniform target).
* ``ns``         -- C + 1 classes, NS pseudo label [g_i * w_i, 1 - g_i] (Eq. 2).

VGM objectives: ``baseline`` CE(sal, y_v) over C classes; ``nonsalient`` CE(sal, [y_v, 0]) over
C + 1; ``ns`` adds gamma * CE(ns, [0, ..., 0, 1]) (Eq. 3).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from nsnet.sampler.losses import label_distribution as video_distribution
from nsnet.sampler.losses import soft_cross_entropy

CLASSIFICATION_FSM = ("video", "nonsalient", "baseline+", "ns")
SCORE_FSM = ("regression", "ranking")


def ns_targets(g: torch.Tensor, labels: torch.Tensor, class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Returns the NS pseudo labels [B, T, C+1] = [g_i * w_i, 1 - g_i]; ``w_i`` is
    ``class_weights`` [B, T, C] or, when None, the normalised video label."""
    w = class_weights
    if w is None:
        w = video_distribution(labels)[:, None, :].expand(-1, g.shape[1], -1)
    return torch.cat([g[..., None] * w, (1.0 - g)[..., None]], dim=-1)


def fsm_targets(
    mode: str, labels: torch.Tensor, num_frames: int, g: torch.Tensor | None = None,
    class_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Returns the per-frame soft targets [B, T, C or C+1] of a classification FSM ``mode``."""
    y = video_distribution(labels)[:, None, :].expand(-1, num_frames, -1)
    if mode == "video":
        return y
    if mode == "nonsalient":
        return torch.cat([y, y.new_zeros(y.shape[:2] + (1,))], dim=-1)
    if g is None:
        raise ValueError(f"FSM mode {mode!r} needs guiding scores")
    w = class_weights if class_weights is not None else y
    if mode == "baseline+":
        return g[..., None] * w + (1.0 - g)[..., None] / w.shape[-1]
    if mode == "ns":
        return ns_targets(g, labels, class_weights)
    raise ValueError(f"unknown classification FSM mode {mode!r}")


def ranking_loss(scores: torch.Tensor, g: torch.Tensor, margin: float = 0.1) -> torch.Tensor:
    """Returns the mean margin ranking loss over frame pairs (i, j) of each video with
    g_i > g_j: max(0, margin - (s_i - s_j)); 0 (with a gradient path) when there is no pair."""
    pairs = (g[:, :, None] - g[:, None, :]) > 0  # [B, T, T]
    hi = scores[:, :, None].expand_as(pairs)[pairs]
    lo = scores[:, None, :].expand_as(pairs)[pairs]
    if hi.numel() == 0:
        return scores.sum() * 0.0
    return F.margin_ranking_loss(hi, lo, torch.ones_like(hi), margin=margin)


def fsm_loss(
    mode: str,
    out: torch.Tensor,
    labels: torch.Tensor,
    g: torch.Tensor | None = None,
    class_weights: torch.Tensor | None = None,
    margin: float = 0.1,
) -> torch.Tensor:
    """Returns the FSM loss L_f of ``mode`` for head outputs ``out`` [B, T, K]."""
    if mode in CLASSIFICATION_FSM:
        return soft_cross_entropy(out, fsm_targets(mode, labels, out.shape[1], g, class_weights))
    if g is None:
        raise ValueError(f"FSM mode {mode!r} needs guiding scores")
    if mode == "regression":
        return F.mse_loss(torch.sigmoid(out[..., 0]), g)
    if mode == "ranking":
        return ranking_loss(out[..., 0], g, margin)
    raise ValueError(f"unknown FSM mode {mode!r}")


def vgm_loss(
    mode: str, sal_logits: torch.Tensor, ns_logits: torch.Tensor | None, labels: torch.Tensor, gamma: float = 0.2
) -> torch.Tensor:
    """Returns the VGM loss L_v of ``mode`` for salient/non-salient logits [B, C or C+1]."""
    y = video_distribution(labels)
    if mode == "baseline":
        return soft_cross_entropy(sal_logits, y)
    y_sal = torch.cat([y, y.new_zeros(y.shape[0], 1)], dim=-1)
    loss = soft_cross_entropy(sal_logits, y_sal)
    if mode == "nonsalient":
        return loss
    if mode != "ns":
        raise ValueError(f"unknown VGM mode {mode!r}")
    if ns_logits is None:
        raise ValueError("the NS loss needs the non-salient logits")
    y_ns = torch.zeros_like(y_sal)
    y_ns[:, -1] = 1.0
    return loss + gamma * soft_cross_entropy(ns_logits, y_ns)


def ns_pseudo_labels(g: np.ndarray, labels: np.ndarray, class_weights: np.ndarray | None = None) -> np.ndarray:
    """Returns the NS pseudo labels [N, T, C+1] = [g_i * w_i, 1 - g_i] (w_i = y_v when
    ``class_weights`` is None) for guiding scores ``g`` [N, T] and multi-hot ``labels`` [N, C]."""
    out = ns_targets(
        torch.from_numpy(np.asarray(g, np.float32)),
        torch.from_numpy(np.asarray(labels, np.float32)),
        None if class_weights is None else torch.from_numpy(np.asarray(class_weights, np.float32)),
    )
    return out.numpy()
