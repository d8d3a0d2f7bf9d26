"""Tests for nsnet.sampler.fusion: each strategy against hand-computed indices."""

from __future__ import annotations

import numpy as np
import pytest

from nsnet.sampler.fusion import (
    FUSIONS,
    FusionError,
    fuse_select,
    fuse_select_batch,
    fused_scores,
    minmax_normalise,
)
from nsnet.numeric import BudgetError, top_k

# Shared example, T = 6 (integer scores: exact arithmetic, no accidental float ties).
#   s_f -> pi_f = [0, 2, 4, 3, 5, 1]
#   s_v -> pi_v = [1, 3, 2, 5, 4, 0]
S_F = np.array([9.0, 1.0, 8.0, 3.0, 7.0, 2.0])
S_V = np.array([1.0, 9.0, 7.0, 8.0, 2.0, 3.0])


def _sel(strategy: str, k: int, alpha: float = 0.6, s_f=S_F, s_v=S_V) -> list[int]:
    out = fuse_select(s_f, s_v, k, strategy, alpha)
    assert out.dtype == np.int64 and out.shape == (k,)
    assert len(set(out.tolist())) == k
    return out.tolist()


def test_fusions_tuple() -> None:
    assert FUSIONS == ("union", "intersection", "join", "sum", "max", "mul")


def test_top_k_stable_ties() -> None:
    # 3 and 3 tie -> lower index (1) first; 1 and 1 tie -> index 2 before 4.
    assert top_k(np.array([0.0, 3.0, 1.0, 3.0, 1.0]), 4).tolist() == [1, 3, 2, 4]
    assert top_k(np.array([2.0, 2.0, 2.0]), 2).tolist() == [0, 1]
    assert top_k(np.array([-1.0, -0.5]), 1).dtype == np.int64
    assert top_k(np.array([[0.0, 2.0, 1.0], [5.0, 5.0, 4.0]]), 2).tolist() == [[1, 2], [0, 1]]


# ---------------------------------------------------------------- score combination
def test_sum() -> None:
    # 0.75*s_f + 0.25*s_v = [7.0, 3.0, 7.75, 4.25, 5.75, 2.25] -> order 2, 0, 4, 3, 1, 5
    assert _sel("sum", 3, alpha=0.75) == [2, 0, 4]
    # alpha = 0.5 -> [5, 5, 7.5, 5.5, 4.5, 2.5]: frames 0 and 1 tie -> 0 first
    assert _sel("sum", 4, alpha=0.5) == [2, 3, 0, 1]


def test_max_with_ties() -> None:
    # max = [9, 9, 8, 8, 7, 3]: ties resolved by lower frame index
    assert _sel("max", 3) == [0, 1, 2]
    assert _sel("max", 6) == [0, 1, 2, 3, 4, 5]


def test_mul() -> None:
    # min-max: n(s_f) = [8, 0, 7, 2, 6, 1] / 8, n(s_v) = [0, 8, 6, 7, 1, 2] / 8
    # product * 64 = [0, 0, 42, 14, 6, 2] -> 2, 3, 4, 5, then tie 0/1 -> 0
    assert _sel("mul", 3) == [2, 3, 4]
    assert _sel("mul", 5) == [2, 3, 4, 5, 0]
    assert _sel("mul", 5, alpha=0.1) == [2, 3, 4, 5, 0]  # alpha ignored


def test_minmax_normalise() -> None:
    out = minmax_normalise(np.array([[2.0, 4.0, 3.0], [5.0, 5.0, 5.0]]))
    assert out.tolist() == [[0.0, 1.0, 0.5], [0.0, 0.0, 0.0]]


def test_score_fusions_see_both_branches_on_their_own_scale() -> None:
    # s_f is a softmax over time of probabilities (nearly flat), s_v a sharp attention.
    # Raw: 0.6 * 0.30 + 0.4 * 0.01 = 0.184 for frame 0 < 0.6 * 0.20 + 0.4 * 0.96 = 0.504 for
    # frame 2, so the VGM would win although alpha favours the FSM. Min-max:
    # n(s_f) = [1, .5, 0, .5], n(s_v) = [0, 1/95, 1, 0] -> 0.6 for frame 0 > 0.4 for frame 2.
    s_f = np.array([0.30, 0.25, 0.20, 0.25])
    s_v = np.array([0.01, 0.02, 0.96, 0.01])
    assert _sel("sum", 1, alpha=0.6, s_f=s_f, s_v=s_v) == [0]
    assert _sel("sum", 1, alpha=0.3, s_f=s_f, s_v=s_v) == [2]
    np.testing.assert_allclose(fused_scores(s_f, s_v, "sum", 0.6), [0.6, 0.3 + 0.4 / 95, 0.4, 0.3])
    with pytest.raises(FusionError, match="not a score fusion"):
        fused_scores(s_f, s_v, "union")


# ---------------------------------------------------------------- union
def test_union_trim_when_ceil_overcounts() -> None:
    # K=3, alpha=0.6: ceil(1.8)=2 from pi_f -> [0, 2]; ceil(1.2)=2 from pi_v -> [1, 3]
    # U = [0, 2, 1, 3] has 4 > K -> keep the first K: [0, 2, 1]
    assert _sel("union", 3) == [0, 2, 1]
    # K=4: ceil(2.4)=3 -> [0, 2, 4]; ceil(1.6)=2 -> [1, 3]; trim -> [0, 2, 4, 1]
    assert _sel("union", 4) == [0, 2, 4, 1]
    # K=1: ceil(0.6)=1 -> [0]; ceil(0.4)=1 -> [1]; trim -> [0]
    assert _sel("union", 1) == [0]


def test_union_exact_split() -> None:
    # K=5: 3 from pi_f [0, 2, 4] + 2 from pi_v [1, 3]
    assert _sel("union", 5) == [0, 2, 4, 1, 3]


def test_union_expands_with_pi_f_on_overlap() -> None:
    # identical scores: pi_f = pi_v = [2, 0, 4, 1, 3]; K=3 -> [2, 0] ∪ [2, 0] = [2, 0],
    # expanded with the next pi_f frame not in U: 4
    s = np.array([8.0, 2.0, 9.0, 1.0, 5.0])
    assert _sel("union", 3, s_f=s, s_v=s) == [2, 0, 4]
    # overlap with distinct branches: pi_f = [0, 1, 2, 3], pi_v = [1, 0, 3, 2];
    # K=2, alpha=0.5 -> [0] ∪ [1] = [0, 1]; K=4, alpha=0.5 -> [0, 1] ∪ [1, 0] = [0, 1] -> +2, +3
    s_f = np.array([4.0, 3.0, 2.0, 1.0])
    s_v = np.array([3.0, 4.0, 1.0, 2.0])
    assert _sel("union", 2, 0.5, s_f, s_v) == [0, 1]
    assert _sel("union", 4, 0.5, s_f, s_v) == [0, 1, 2, 3]


def test_union_alpha_extremes() -> None:
    assert _sel("union", 3, alpha=1.0) == [0, 2, 4]  # all from pi_f
    assert _sel("union", 3, alpha=0.0) == [1, 3, 2]  # all from pi_v


def test_union_ceil_float_tolerance() -> None:
    # 10 * (1 - 0.7) = 3.0000000000000004 in floats: must count as 3, not 4.
    # pi_f = 0..19, pi_v = [0, 19, 18, 17, ...]; n_f = 7 -> [0..6]; n_v = 3 -> [0, 19, 18]
    # (0 already in U) -> |U| = 9 -> expand with pi_f: 7. (With n_v = 4 it would add 17.)
    s_f = np.arange(20, 0, -1, dtype=float)
    s_v = np.arange(1, 21, dtype=float)
    s_v[0] = 100.0
    assert _sel("union", 10, 0.7, s_f, s_v) == [0, 1, 2, 3, 4, 5, 6, 19, 18, 7]


# ---------------------------------------------------------------- intersection
def test_intersection_partial_overlap() -> None:
    # pi_f = [0, 2, 4, 3, 5, 1], pi_v = [1, 3, 2, 5, 4, 0], K=3: windows (3,3) -> I = {2};
    # widen f to 4 (adds 3, in v's top 3) -> I = {2, 3}; widen v to 4 (adds 5, not in f's top 4);
    # widen f to 5 (adds 5, in v's top 4) -> I = {2, 3, 5}; pi_f order -> [2, 3, 5]
    assert _sel("intersection", 3) == [2, 3, 5]


def test_intersection_identical_scores_is_topk() -> None:
    s = np.array([0.1, 0.7, 0.3, 0.7, 0.9])
    # pi = [4, 1, 3, 2, 0] (tie 1/3 -> 1 first); I = top-3 in pi_f order
    assert _sel("intersection", 3, s_f=s, s_v=s) == [4, 1, 3]


def test_intersection_disjoint_tops() -> None:
    # pi_f = [0, 1, 2, 3], pi_v = [3, 2, 1, 0], K=2: (2,2) -> {}; f->3 adds 2, which is in
    # v's top 2 -> {2}; v->3 adds 1, in f's top 3 -> {1, 2}; pi_f order -> [1, 2]
    s_f = np.array([4.0, 3.0, 2.0, 1.0])
    s_v = np.array([1.0, 2.0, 3.0, 4.0])
    assert _sel("intersection", 2, s_f=s_f, s_v=s_v) == [1, 2]


def test_intersection_frames_ranked_high_by_both() -> None:
    # pi_f = [0..5], pi_v = [4, 5, 2, 3, 0, 1], K=2: (2,2) -> {}; f->3 adds 2 (v rank 2, no);
    # v->3 adds 2 (f rank 2 < 3) -> {2}; f->4 adds 3 (v rank 3, no); v->4 adds 3 (f rank 3 < 4)
    # -> {2, 3}
    s_f = np.array([6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    s_v = np.array([2.0, 1.0, 4.0, 3.0, 6.0, 5.0])
    assert _sel("intersection", 2, s_f=s_f, s_v=s_v) == [2, 3]


def test_intersection_k_equals_t_takes_all() -> None:
    s_f = np.array([4.0, 3.0, 2.0, 1.0])
    s_v = np.array([1.0, 2.0, 3.0, 4.0])
    assert _sel("intersection", 4, s_f=s_f, s_v=s_v) == [0, 1, 2, 3]


# ---------------------------------------------------------------- join
def test_join() -> None:
    # 2T scores descending: 9 (f, frame 0), 9 (v, frame 1), 8 (f, 2), 8 (v, 3), 7 (f, 4) ...
    assert _sel("join", 3) == [0, 1, 2]
    assert _sel("join", 5) == [0, 1, 2, 3, 4]


def test_join_ties_lower_frame_first_and_skip_duplicates() -> None:
    # score 5 for frame 1 (FSM) and frame 0 (VGM): lower frame first -> 0, 1;
    # then 1 (f, frame 0: taken); then zeros: frame 1 (v, taken), frame 2 (f) -> 2
    s_f = np.array([1.0, 5.0, 0.0])
    s_v = np.array([5.0, 0.0, 0.0])
    assert _sel("join", 2, s_f=s_f, s_v=s_v) == [0, 1]
    assert _sel("join", 3, s_f=s_f, s_v=s_v) == [0, 1, 2]


def test_join_identical_scores_is_topk() -> None:
    s = np.array([0.2, 0.9, 0.4, 0.9])
    assert _sel("join", 3, s_f=s, s_v=s) == [1, 3, 2]


# ---------------------------------------------------------------- general properties
@pytest.mark.parametrize("strategy", FUSIONS)
def test_k1_and_k_equals_t(strategy: str) -> None:
    k1 = _sel(strategy, 1)
    assert len(k1) == 1
    assert sorted(_sel(strategy, 6)) == list(range(6))


@pytest.mark.parametrize("strategy", FUSIONS)
def test_always_k_distinct_with_many_ties(strategy: str) -> None:
    rng = np.random.default_rng(0)
    for _ in range(30):
        t = int(rng.integers(1, 12))
        s_f = rng.integers(0, 3, t).astype(float)
        s_v = rng.integers(0, 3, t).astype(float)
        for k in range(1, t + 1):
            for alpha in (0.0, 0.3, 0.6, 1.0):
                out = fuse_select(s_f, s_v, k, strategy, alpha)
                assert out.shape == (k,) and len(set(out.tolist())) == k
                assert out.min() >= 0 and out.max() < t
                # deterministic
                assert np.array_equal(out, fuse_select(s_f, s_v, k, strategy, alpha))


@pytest.mark.parametrize("strategy", FUSIONS)
def test_batch_matches_rows(strategy: str) -> None:
    rng = np.random.default_rng(1)
    s_f = rng.integers(0, 4, (5, 8)).astype(float)
    s_v = rng.random((5, 8))
    out = fuse_select_batch(s_f, s_v, 3, strategy, 0.6)
    assert out.shape == (5, 3) and out.dtype == np.int64
    for n in range(5):
        assert np.array_equal(out[n], fuse_select(s_f[n], s_v[n], 3, strategy, 0.6))


def test_default_strategy_is_union() -> None:
    assert fuse_select(S_F, S_V, 3).tolist() == [0, 2, 1]


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("k", [0, -1, 7, 2.0, True])
def test_invalid_k(k) -> None:
    with pytest.raises(BudgetError):
        fuse_select(S_F, S_V, k)
    with pytest.raises(ValueError):
        fuse_select_batch(S_F[None], S_V[None], k)


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="unknown fusion"):
        fuse_select(S_F, S_V, 2, "average")
    with pytest.raises(FusionError, match="same shape"):
        fuse_select(S_F, S_V[:5], 2)
    with pytest.raises(FusionError, match="NaN"):
        fuse_select(np.array([np.nan, 1.0]), np.array([0.0, 1.0]), 1)
    with pytest.raises(FusionError, match="alpha"):
        fuse_select(S_F, S_V, 2, "sum", 1.5)
    with pytest.raises(FusionError, match="2-D"):
        fuse_select_batch(S_F, S_V, 2)
    with pytest.raises(BudgetError):
        top_k(S_F, 0)
