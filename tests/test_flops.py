"""Tests for nsnet.evaluate.flops: FlopCounterMode-based counts vs hand computation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import nsnet._compat  # noqa: F401  (before timm)
from nsnet.evaluate.flops import CostBreakdown, CostError, count_flops, count_gflops, count_macs


def test_linear_hand_computed() -> None:
    # Linear(10, 20) on one sample: 10 * 20 = 200 multiply-adds = 400 FlopCounterMode FLOPs
    lin = nn.Linear(10, 20)
    x = torch.randn(1, 10)
    assert count_flops(lin, x) == 400
    assert count_macs(lin, x) == 200
    assert count_gflops(lin, x) == pytest.approx(200e-9)
    # batch of 3 -> 3x
    assert count_macs(lin, torch.randn(3, 10)) == 600


def test_conv_hand_computed() -> None:
    # Conv2d(3 -> 8, 3x3, pad 1) on 5x5: out 8x5x5 positions, each 3*3*3 MACs -> 5400 MACs
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert count_macs(conv, torch.randn(1, 3, 5, 5)) == 8 * 5 * 5 * 27
    # stride 2, no padding on 7x7: out 3x3 -> 8*9*27 = 1944 MACs
    conv2 = nn.Conv2d(3, 8, 3, stride=2)
    assert count_macs(conv2, torch.randn(1, 3, 7, 7)) == 1944


def test_sequential_sums_and_elementwise_free() -> None:
    # conv (5400 MACs) + ReLU/flatten (free) + Linear(200 -> 4) (800 MACs)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(200, 4))
    assert count_macs(model, torch.randn(1, 3, 5, 5)) == 5400 + 800


def test_restores_training_mode_and_no_grad() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    model.train()
    count_flops(model, torch.randn(2, 4))
    assert model.training
    model.eval()
    count_flops(model, torch.randn(2, 4))
    assert not model.training


def test_mobilenetv2_at_224_matches_paper() -> None:
    timm = nsnet._compat.import_timm()
    model = timm.create_model("mobilenetv2_100", pretrained=False, num_classes=0)
    g = count_gflops(model, torch.zeros(1, 3, 224, 224))
    # paper: 0.31-0.32 G for MobileNetV2 (feature extractor without classifier: ~0.2995)
    assert 0.29 <= g <= 0.33


def test_cost_breakdown_paper_example() -> None:
    # paper §4.1: 4.109*5 + (0.320*16 + 0.315) + 0.004 + 0.002 = 25.986 ~= 25.99 G
    cost = CostBreakdown(
        rec_per_frame=4.109, light_per_frame=0.320, fem=0.315, fsm=0.004, vgm=0.002
    )
    assert cost.per_video(5, 16) == pytest.approx(25.986)
    assert cost.per_video(5, 16, uses_sampler=False) == pytest.approx(4.109 * 5)
    assert cost.sampler_cost(16) == pytest.approx(0.320 * 16 + 0.321)
    assert cost.to_dict() == {
        "rec_per_frame": 4.109,
        "light_per_frame": 0.320,
        "fem": 0.315,
        "fsm": 0.004,
        "vgm": 0.002,
    }


def test_cost_breakdown_bad_input() -> None:
    with pytest.raises(CostError):
        CostBreakdown(rec_per_frame=-1.0, light_per_frame=0.3, fem=0.0, fsm=0.0, vgm=0.0)
    cost = CostBreakdown(1.0, 0.3, 0.1, 0.0, 0.0)
    with pytest.raises(ValueError, match="k must be"):
        cost.per_video(-1, 10)
    with pytest.raises(ValueError, match="t must be"):
        cost.per_video(2, 1.5)
