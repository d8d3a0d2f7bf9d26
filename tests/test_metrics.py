"""Tests for nsnet.metrics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nsnet.metrics import (
    paired_bootstrap_map,
    MetricError,
    average_frame_predictions,
    mean_average_precision,
    per_class_average_precision,
    top1_accuracy,
)

# 4 videos x 3 classes.
SCORES = np.array(
    [
        [0.9, 0.1, 0.3],
        [0.8, 0.7, 0.2],
        [0.2, 0.6, 0.9],
        [0.4, 0.2, 0.1],
    ]
)
LABELS = np.array(
    [
        [1, 0, 0],
        [0, 1, 1],
        [0, 1, 0],
        [1, 0, 1],
    ]
)
# AP by hand = mean over positives of the precision at that positive's rank (no score ties):
#   class 0: ranking v0(+) .9, v1(-) .8, v3(+) .4, v2(-) .2 -> (1/1 + 2/3) / 2 = 5/6
#   class 1: ranking v1(+) .7, v2(+) .6, v3(-) .2, v0(-) .1 -> (1/1 + 2/2) / 2 = 1
#   class 2: ranking v2(-) .9, v0(-) .3, v1(+) .2, v3(+) .1 -> (1/3 + 2/4) / 2 = 5/12
#   mAP = (10/12 + 12/12 + 5/12) / 3 = 27/36 = 0.75
HAND_AP = np.array([5 / 6, 1.0, 5 / 12])


def test_per_class_ap_hand_computed() -> None:
    np.testing.assert_allclose(per_class_average_precision(SCORES, LABELS), HAND_AP)


def test_map_hand_computed() -> None:
    assert mean_average_precision(SCORES, LABELS) == pytest.approx(0.75)


def test_class_without_positives_is_excluded() -> None:
    scores = np.concatenate([SCORES, np.array([[0.5], [0.1], [0.2], [0.3]])], axis=1)
    labels = np.concatenate([LABELS, np.zeros((4, 1), dtype=int)], axis=1)
    ap = per_class_average_precision(scores, labels)
    assert np.isnan(ap[3])
    np.testing.assert_allclose(ap[:3], HAND_AP)
    assert mean_average_precision(scores, labels) == pytest.approx(0.75)  # not 27/48


def test_map_accepts_class_ids_and_torch() -> None:
    # class ids [0, 1, 1, 0] == one-hot; class 2 then has no positive and is excluded
    ids = np.array([0, 1, 1, 0])
    # class 0: v0(+), v1(-), v3(+), v2(-) -> 5/6; class 1: v1(+), v2(+) -> 1
    assert mean_average_precision(torch.tensor(SCORES), ids) == pytest.approx((5 / 6 + 1) / 2)


def test_map_perfect_is_one() -> None:
    labels = np.eye(3)
    assert mean_average_precision(np.eye(3) + 0.1, labels) == pytest.approx(1.0)


def test_top1_multilabel() -> None:
    # argmax per video: 0, 0, 2, 0 -> v0 ok (label 0), v1 wrong (labels 1, 2),
    # v2 wrong (label 1), v3 ok (labels 0, 2) -> 2/4
    assert top1_accuracy(SCORES, LABELS) == pytest.approx(0.5)
    # a hit on the second positive label of a multi-label video counts
    assert top1_accuracy(np.array([[0.1, 0.2, 0.7]]), np.array([[1, 0, 1]])) == 1.0


def test_top1_class_ids_and_ties() -> None:
    # class ids [0, 1, 2, 0]: argmax 0, 0, 2, 0 -> 3/4
    assert top1_accuracy(SCORES, np.array([0, 1, 2, 0])) == pytest.approx(0.75)
    # tie -> lowest class index is the prediction
    assert top1_accuracy(np.array([[0.5, 0.5]]), np.array([1])) == 0.0


def test_average_frame_predictions_softmax_vs_sigmoid() -> None:
    # one video, two frames: logits [0, 0] and [ln 3, 0]
    logits = np.array([[[0.0, 0.0], [np.log(3.0), 0.0]]])
    # softmax: [.5, .5] and [.75, .25] -> mean [.625, .375]
    soft = average_frame_predictions(logits, multilabel=False)
    np.testing.assert_allclose(soft, [[0.625, 0.375]])
    assert soft.dtype == np.float64 and soft.shape == (1, 2)
    # sigmoid: [.5, .5] and [.75, .5] -> mean [.625, .5]
    np.testing.assert_allclose(average_frame_predictions(logits, multilabel=True), [[0.625, 0.5]])


def test_average_frame_predictions_torch_input() -> None:
    logits = torch.randn(3, 4, 5, requires_grad=True)
    out = average_frame_predictions(logits, multilabel=False)
    assert isinstance(out, np.ndarray) and out.shape == (3, 5) and out.dtype == np.float64
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    expected = torch.softmax(logits.detach().double(), -1).mean(1).numpy()
    np.testing.assert_allclose(out, expected)


def test_bad_inputs() -> None:
    with pytest.raises(MetricError, match="shape"):
        mean_average_precision(SCORES, LABELS[:, :2])
    with pytest.raises(MetricError, match="NaN"):
        top1_accuracy(np.array([[np.nan, 1.0]]), np.array([[1, 0]]))
    with pytest.raises(MetricError, match="no class"):
        mean_average_precision(SCORES, np.zeros_like(LABELS))
    with pytest.raises(MetricError, match="class-id"):
        top1_accuracy(SCORES, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"\[N, K, C\]"):
        average_frame_predictions(np.zeros((2, 3)), multilabel=False)


def test_paired_bootstrap_identical_methods_differ_by_nothing() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 40)
    scores = rng.random((40, 3))
    out = paired_bootstrap_map(scores, scores.copy(), labels, resamples=50)
    assert out == {"diff": 0.0, "low": 0.0, "high": 0.0, "p_a_better": 0.0}


def test_paired_bootstrap_perfect_beats_reversed() -> None:
    labels = np.array([0, 1] * 10)
    perfect = np.eye(2)[labels]  # mAP 1
    reversed_ = 1.0 - perfect  # every positive ranked below every negative
    expected = 1.0 - mean_average_precision(reversed_, labels)
    out = paired_bootstrap_map(perfect, reversed_, labels, resamples=100, seed=1)
    assert out["diff"] == pytest.approx(expected)
    assert 0 < out["low"] <= out["diff"] <= out["high"] <= 1.0
    assert out["p_a_better"] == 1.0


def test_paired_bootstrap_runs_are_averaged() -> None:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 30)
    a, b = rng.random((2, 30, 2)), rng.random((2, 30, 2))
    out = paired_bootstrap_map(a, b, labels, resamples=20)
    per_run = [mean_average_precision(a[s], labels) - mean_average_precision(b[s], labels) for s in range(2)]
    assert out["diff"] == pytest.approx(np.mean(per_run))
    assert out["low"] <= out["high"]


def test_paired_bootstrap_bad_input() -> None:
    with pytest.raises(MetricError, match="one shape"):
        paired_bootstrap_map(np.zeros((4, 2)), np.zeros((5, 2)), [0, 1, 0, 1])
    with pytest.raises(MetricError, match="confidence"):
        paired_bootstrap_map(np.zeros((4, 2)), np.zeros((4, 2)), [0, 1, 0, 1], confidence=1.5)
