"""Each FSM / VGM objective against a hand computation."""

from __future__ import annotations

import math

import pytest
import torch

from nsnet.sampler.nsnet.losses import (
    fsm_loss,
    fsm_targets,
    ranking_loss,
    soft_cross_entropy,
    video_distribution,
    vgm_loss,
)

LN3, LN4 = math.log(3), math.log(4)


def _close(value: torch.Tensor, expected: float) -> None:
    assert float(value) == pytest.approx(expected, rel=1e-6)


def test_soft_cross_entropy() -> None:
    logits = torch.tensor([[0.0, LN3]])  # softmax [0.25, 0.75]
    _close(soft_cross_entropy(logits, torch.tensor([[0.5, 0.5]])), -(0.5 * math.log(0.25) + 0.5 * math.log(0.75)))


def test_video_distribution_normalises_multilabel() -> None:
    torch.testing.assert_close(video_distribution(torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])),
                               torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]))


def test_fsm_video_baseline() -> None:
    out = torch.tensor([[[0.0, LN3], [0.0, LN3]]])  # [B=1, T=2, C=2]
    _close(fsm_loss("video", out, torch.tensor([[0.0, 1.0]])), -math.log(0.75))


def test_fsm_nonsalient_class_keeps_video_label() -> None:
    out = torch.tensor([[[0.0, LN3, LN4]]])  # softmax [1, 3, 4] / 8
    _close(fsm_loss("nonsalient", out, torch.tensor([[0.0, 1.0]])), -math.log(3 / 8))


def test_fsm_ns_pseudo_labels() -> None:
    out = torch.tensor([[[0.0, LN3, LN4], [0.0, LN3, LN4]]])
    g = torch.tensor([[0.8, 0.2]])
    frame0 = -(0.8 * math.log(3 / 8) + 0.2 * math.log(4 / 8))
    frame1 = -(0.2 * math.log(3 / 8) + 0.8 * math.log(4 / 8))
    _close(fsm_loss("ns", out, torch.tensor([[0.0, 1.0]]), g), (frame0 + frame1) / 2)


def test_fsm_baseline_plus_soft_label() -> None:
    out = torch.tensor([[[0.0, LN3]]])
    # target = 0.8 * [0, 1] + 0.2 * [0.5, 0.5] = [0.1, 0.9]
    torch.testing.assert_close(fsm_targets("baseline+", torch.tensor([[0.0, 1.0]]), 1, torch.tensor([[0.8]])),
                               torch.tensor([[[0.1, 0.9]]]))
    _close(fsm_loss("baseline+", out, torch.tensor([[0.0, 1.0]]), torch.tensor([[0.8]])),
           -(0.1 * math.log(0.25) + 0.9 * math.log(0.75)))


def test_fsm_regression_mse_on_sigmoid() -> None:
    out = torch.tensor([[[0.0], [LN3]]])  # sigmoid -> 0.5, 0.75
    _close(fsm_loss("regression", out, torch.tensor([[1.0]]), torch.tensor([[1.0, 0.5]])), (0.25 + 0.0625) / 2)


def test_fsm_ranking_margin_loss() -> None:
    scores = torch.tensor([[0.0, 0.5, 0.2]])
    g = torch.tensor([[0.9, 0.1, 0.5]])
    # ordered pairs with g_i > g_j: (0,1) -> 0.1 + 0.5, (0,2) -> 0.1 + 0.2, (2,1) -> 0.1 + 0.3
    _close(ranking_loss(scores, g, margin=0.1), (0.6 + 0.3 + 0.4) / 3)
    _close(fsm_loss("ranking", scores[..., None], torch.tensor([[1.0]]), g, margin=0.1), 1.3 / 3)


def test_ranking_without_pairs_is_zero_with_gradient() -> None:
    scores = torch.zeros(1, 3, requires_grad=True)
    loss = ranking_loss(scores, torch.full((1, 3), 0.5))
    loss.backward()
    assert float(loss.detach()) == 0.0 and scores.grad is not None


def test_vgm_objectives() -> None:
    y = torch.tensor([[0.0, 1.0]])
    _close(vgm_loss("baseline", torch.tensor([[0.0, LN3]]), None, y), -math.log(0.75))
    sal = torch.tensor([[0.0, LN3, LN4]])
    _close(vgm_loss("nonsalient", sal, None, y), -math.log(3 / 8))
    ns = torch.tensor([[0.0, LN3, LN4]])  # non-salient class prob 4/8
    _close(vgm_loss("ns", sal, ns, y, gamma=0.2), -math.log(3 / 8) - 0.2 * math.log(0.5))


def test_guide_needed_for_guided_objectives() -> None:
    with pytest.raises(ValueError, match="guiding"):
        fsm_loss("ns", torch.zeros(1, 2, 3), torch.tensor([[0.0, 1.0]]))
    with pytest.raises(ValueError, match="unknown"):
        vgm_loss("other", torch.zeros(1, 3), None, torch.tensor([[0.0, 1.0]]))
