"""AdaFocus's rewards (Eq. 7 and Eq. 10) and the sampling it trains with (stage II)."""

from __future__ import annotations

import math

import numpy as np
import torch

from nsnet.sampler.adafocus.model import PatchClassifier, label_confidence


def rollout_rewards(
    classifier: PatchClassifier, global_feats: torch.Tensor, chosen: torch.Tensor, alternative: torch.Tensor,
    labels: torch.Tensor, multilabel: bool, keep: torch.Tensor | None = None, penalty: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Returns (r [B, T], r' [B, T] or None): π's reward Eq. 7, p_ty(chosen at t | h_{t-1}) -
    p_ty(alternative at t | h_{t-1}), and with ``keep`` b [B, T] (AdaFocus+) π''s reward Eq. 10,
    b_t (p_ty(chosen kept | h_{t-1}) - p_ty(local zeroed | h_{t-1}) - ``penalty``).

    ``global_feats`` [B, T, D], ``chosen`` local features [B, T, D2], ``alternative`` [B, T, D2]
    (the paper: one random candidate) or [B, T, M, D2] (the baseline is the mean p_ty over the M
    alternatives, e.g. every candidate), ``labels`` [B, C]. h_{t-1} is f_C's state after the chosen
    history (with b ē^L when ``keep`` is given); the GRU runs once over that sequence and every
    alternative at every t is one batched step from h_{t-1}.
    """
    b, t = chosen.shape[:2]
    logits, states = classifier(classifier.inputs(global_feats, chosen, keep))
    h_prev = torch.cat([torch.zeros_like(states[:, :1]), states[:, :-1]], dim=1)  # [B, T, H]
    alts = alternative if alternative.dim() == 4 else alternative[:, :, None]
    m0 = alts.shape[2]
    if keep is not None:
        alts = torch.cat([alts, chosen[:, :, None], torch.zeros_like(chosen[:, :, None])], dim=2)
    m = alts.shape[2]
    x = classifier.inputs(global_feats[:, :, None].expand(b, t, m, global_feats.shape[-1]), alts)  # [B, T, M, D + D2]
    h = h_prev.unsqueeze(2).expand(b, t, m, h_prev.shape[-1])
    alt_logits = classifier.step(x.reshape(b * t * m, -1), h.reshape(b * t * m, -1)).reshape(b, t, m, -1)
    p_alt = label_confidence(alt_logits, labels[:, None, None, :], multilabel)  # [B, T, M]
    baseline = p_alt[..., :m0].mean(dim=-1)
    if keep is None:
        p_chosen = label_confidence(logits, labels[:, None, :], multilabel)
        return p_chosen - baseline, None
    r = p_alt[..., m0] - baseline
    r_skip = keep.to(r.dtype) * (p_alt[..., m0] - p_alt[..., m0 + 1] - penalty)
    return r, r_skip


def sample_categorical(logits: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Returns LongTensor [...] drawn from softmax(``logits`` [..., A]) with the CPU generator ``gen``
    (inverse CDF of one uniform per row, so it works on any device)."""
    u = torch.rand(logits.shape[:-1] + (1,), generator=gen).to(logits.device)
    cdf = torch.softmax(logits.float(), dim=-1).cumsum(dim=-1)
    return (cdf < u).sum(dim=-1).clamp_max(logits.shape[-1] - 1)


def sample_bernoulli(logits: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Returns float 0/1 [...] drawn with Pr(1) = sigmoid(``logits``), using the CPU generator ``gen``."""
    u = torch.rand(logits.shape, generator=gen).to(logits.device)
    return (u < torch.sigmoid(logits.float())).float()


def bernoulli_log_prob(logits: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Returns log Pr(b) [...] under Bernoulli(sigmoid(``logits``)) for 0/1 ``b``."""
    return b * torch.nn.functional.logsigmoid(logits) + (1 - b) * torch.nn.functional.logsigmoid(-logits)


def bernoulli_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Returns the entropy [...] of Bernoulli(sigmoid(``logits``))."""
    p = torch.sigmoid(logits)
    return -(p * torch.nn.functional.logsigmoid(logits) + (1 - p) * torch.nn.functional.logsigmoid(-logits))


def solve_threshold(keep_probs: torch.Tensor | np.ndarray, keep_ratio: float) -> float | None:
    """Returns ρ such that the frames with p^B >= ρ are the top ``keep_ratio`` share of ``keep_probs``
    (at least ceil(η n) of the n values; ties keep more); None when ``keep_ratio`` >= 1."""
    if keep_ratio >= 1.0:
        return None
    flat = np.sort(np.asarray(keep_probs, dtype=np.float64).ravel())[::-1]
    if flat.size == 0:
        return None
    n_keep = min(flat.size, max(1, math.ceil(keep_ratio * flat.size - 1e-9)))
    return float(flat[n_keep - 1])
