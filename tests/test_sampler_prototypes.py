"""Prototypes, guiding scores and NS pseudo labels against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nsnet.sampler.nsnet.losses import ns_pseudo_labels
from nsnet.sampler.prototypes import (
    PrototypeError,
    Prototypes,
    build_prototypes,
    compute_guide,
    guiding_scores,
    guiding_video_feature,
    prototype_class_probs,
    top_eps_count,
)


def _protos(features: list[list[float]], valid: list[bool] | None = None) -> Prototypes:
    f = np.asarray(features, np.float32)
    v = np.ones(len(f), bool) if valid is None else np.asarray(valid)
    return Prototypes(features=f, valid=v, num_videos=np.ones(len(f), np.int64), fallback=np.zeros(len(f), bool))


def _toy_train() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """3 classes, T=4, 2-D recognizer features; see test_build_prototypes_by_hand."""
    feats = np.array([
        [[0, 0], [2, 0], [4, 0], [100, 100]],  # A, class 0
        [[1, 2], [50, 50], [50, 50], [50, 50]],  # B, class 0
        [[0, 6], [0, 4], [9, 9], [9, 9]],  # C, class 1, no correct frame
        [[0, 0], [0, 0], [12, 0], [10, 0]],  # D, class 2
    ], np.float32)
    logits = np.array([
        [[2, 0, 0], [5, 0, 0], [3, 0, 0], [0, 4, 0]],
        [[1, 0, 0], [0, 0, 1], [0, 0, 1], [0, 0, 1]],
        [[0, 1, 3], [0, 2, 3], [0, 0, 3], [0, -1, 3]],
        [[0, 0, 1], [0, 0, 2], [0, 0, 3], [0, 0, 4]],
    ], np.float32)
    labels = np.eye(3, dtype=np.float32)[[0, 0, 1, 2]]
    return feats, logits, labels


def test_top_eps_count() -> None:
    assert [top_eps_count(n, 0.3) for n in (1, 3, 4, 10, 50)] == [1, 1, 1, 3, 15]
    assert top_eps_count(3, 0.7) == 2


def test_guiding_video_feature_uses_top_correct_frames() -> None:
    feats, logits, _ = _toy_train()
    # video A: correct frames 0, 1, 2; by confidence 1 > 2 > 0; eps=0.7 -> 2 frames -> (2+4)/2
    np.testing.assert_allclose(guiding_video_feature(feats[0], logits[0], 0, eps=0.7), [3, 0])
    assert guiding_video_feature(feats[2], logits[2], 1, eps=0.7) is None
    np.testing.assert_allclose(guiding_video_feature(feats[2], logits[2], 1, eps=0.7, require_correct=False), [0, 5])


def test_build_prototypes_by_hand() -> None:
    feats, logits, labels = _toy_train()
    p = build_prototypes(feats, logits, labels, eps=0.7)
    # class 0: mean of A's (3, 0) and B's single correct frame (1, 2)
    # class 1: C has no correct frame -> fallback: top-2 frames by class-1 confidence (frames 1, 0)
    # class 2: D's correct frames 0..3, top-2 by confidence are frames 3, 2 -> (11, 0)
    np.testing.assert_allclose(p.features, [[2, 1], [0, 5], [11, 0]])
    assert p.valid.tolist() == [True, True, True]
    assert p.fallback.tolist() == [False, True, False]
    assert p.num_videos.tolist() == [2, 1, 1]


def test_video_without_correct_frame_is_skipped_when_class_has_others() -> None:
    feats, logits, labels = _toy_train()
    labels = labels.copy()
    labels[2] = [1, 0, 0]  # C now claims class 0 but has no frame predicted as 0
    p = build_prototypes(feats, logits, labels, eps=0.7)
    np.testing.assert_allclose(p.features[0], [2, 1])  # unchanged: C skipped
    assert not p.fallback[0] and p.num_videos[0] == 2
    assert not p.valid[1]  # class 1 has no video left
    probs = prototype_class_probs(feats[:1], p)
    assert np.all(probs[..., 1] == 0)  # no prototype -> left out of the softmax
    np.testing.assert_allclose(probs.sum(-1), 1, rtol=1e-6)


def test_guiding_score_eq1_by_hand() -> None:
    protos = _protos([[0, 0], [3, 0], [0, 4]])
    feats = np.array([[[0, 0], [3, 4]]], np.float32)  # one video, two frames
    probs = prototype_class_probs(feats, protos)
    z0 = 1 + math.exp(-3) + math.exp(-4)  # distances 0, 3, 4
    z1 = math.exp(-5) + math.exp(-4) + math.exp(-3)  # distances 5, 4, 3
    np.testing.assert_allclose(probs[0, 0], [1 / z0, math.exp(-3) / z0, math.exp(-4) / z0], rtol=1e-6)
    guide = guiding_scores(probs, np.array([[1, 0, 0]], np.float32))
    np.testing.assert_allclose(guide.g[0], [1 / z0, math.exp(-5) / z1], rtol=1e-6)
    assert guide.class_weights is None
    labels = ns_pseudo_labels(guide.g, np.array([[1, 0, 0]], np.float32))
    g0 = 1 / z0
    np.testing.assert_allclose(labels[0, 0], [g0, 0, 0, 1 - g0], rtol=1e-6)
    np.testing.assert_allclose(labels.sum(-1), 1, rtol=1e-6)


def test_temperature_scales_distances() -> None:
    protos = _protos([[0, 0], [3, 0]])
    probs = prototype_class_probs(np.zeros((1, 1, 2), np.float32), protos, temperature=3.0)
    np.testing.assert_allclose(probs[0, 0, 0], 1 / (1 + math.exp(-1)), rtol=1e-6)


def test_response_guide_is_recognizer_confidence() -> None:
    logits = np.log(np.array([[[1, 3, 6], [6, 3, 1]]], np.float32))
    guide = compute_guide(np.array([[0, 0, 1]], np.float32), mode="response", rec_logits=logits)
    np.testing.assert_allclose(guide.g, [[0.6, 0.1]], rtol=1e-6)


def test_multilabel_rule() -> None:
    probs = np.array([[[0.5, 0.3, 0.2]]], np.float32)
    labels = np.array([[1, 1, 0]], np.float32)
    guide = guiding_scores(probs, labels)
    np.testing.assert_allclose(guide.g, [[0.5]])
    np.testing.assert_allclose(guide.class_weights, [[[0.625, 0.375, 0.0]]], rtol=1e-6)
    y = ns_pseudo_labels(guide.g, labels, guide.class_weights)
    np.testing.assert_allclose(y, [[[0.3125, 0.1875, 0.0, 0.5]]], rtol=1e-6)


def test_multilabel_prototypes_per_positive_class() -> None:
    feats = np.array([[[1, 0], [0, 1]]], np.float32)
    logits = np.array([[[3, 0], [0, 3]]], np.float32)  # frame 0 -> class 0, frame 1 -> class 1
    p = build_prototypes(feats, logits, np.array([[1, 1]], np.float32))
    np.testing.assert_allclose(p.features, [[1, 0], [0, 1]])


def test_compute_guide_mixes_single_and_multilabel_chunks() -> None:
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((600, 3, 4)).astype(np.float32)
    labels = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 600)]
    labels[-1, :2] = 1  # one multi-label video in the last chunk only
    guide = compute_guide(labels, mode="response", rec_logits=logits)
    assert guide.class_weights is not None and guide.class_weights.shape == (600, 3, 4)
    np.testing.assert_allclose(guide.class_weights[:-1], np.broadcast_to(labels[:-1, None], (599, 3, 4)))


def test_bad_inputs_raise() -> None:
    with pytest.raises(PrototypeError):
        build_prototypes(np.zeros((2, 3, 4)), np.zeros((2, 3, 5)), np.zeros((2, 4)))
    with pytest.raises(PrototypeError):
        compute_guide(np.zeros((1, 2)), mode="prototype")
    with pytest.raises(PrototypeError):
        compute_guide(np.zeros((1, 2)), mode="nearest", rec_logits=np.zeros((1, 2, 2)))
    with pytest.raises(PrototypeError):
        prototype_class_probs(np.zeros((1, 2, 3), np.float32), _protos([[0, 0]]))
