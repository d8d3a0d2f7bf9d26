"""Classification losses every variant shares (one definition of the soft cross-entropy).

Multi-hot video labels are used as a distribution, ``y / |y|``, wherever a cross-entropy target is
needed (a video without a positive label gets the all-zero target); multi-label stores use the
binary cross-entropy instead.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def label_distribution(labels: torch.Tensor) -> torch.Tensor:
    """Returns multi-hot ``labels`` [..., C] normalised to sum to 1 over the last axis (zeros stay 0)."""
    return labels / labels.sum(dim=-1, keepdim=True).clamp_min(1.0)


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Returns the mean over all leading positions of -sum_j target_j * log softmax(logits)_j."""
    return -(target * F.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """Returns the mean classification loss of ``logits`` [..., C] against multi-hot ``labels`` of the
    same shape: soft cross-entropy against :func:`label_distribution`, or BCE when ``multilabel``."""
    if multilabel:
        return F.binary_cross_entropy_with_logits(logits, labels)
    return soft_cross_entropy(logits, label_distribution(labels))
