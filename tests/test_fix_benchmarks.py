"""The helpers of the issue-19 fix benchmarks against hand-computed cases: the stop-at-threshold
rule and the holdout's class overlap (run_distractor_fixes), the photo geometry of "where π looks"
(run_adafocus_policy), the perfect localiser and the photo-grouped AUC interval (run_event_probe),
the holdout's paired comparison and resume (run_adafocus_holdout), the photos a holdout shares with
what was learned from (holdout_overlap)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.holdout_overlap import overlap  # noqa: E402
from benchmarks.run_adafocus_holdout import compare_with_first, previous_runs  # noqa: E402
from benchmarks.run_adafocus_policy import coverage, looks  # noqa: E402
from benchmarks.run_distractor_fixes import class_overlap, kept_frames, video_probs  # noqa: E402
from benchmarks.run_event_probe import cluster_bootstrap_auc, localiser_map  # noqa: E402


def test_stop_rule_keeps_the_top_k_above_the_threshold() -> None:
    scores = np.array([[0.0, 1.0, 0.5, 0.9, 0.2], [3.0, 3.0, 3.0, 3.0, 3.0]])
    # video 0: n(s) = [0, 1, .5, .9, .2]; top-3 = frames 1, 3, 2
    assert kept_frames(scores, 3, 0.0).tolist()[0] == [False, True, True, True, False]
    assert kept_frames(scores, 3, 0.6).tolist()[0] == [False, True, False, True, False]
    assert kept_frames(scores, 3, 1.1).tolist()[0] == [False, True, False, False, False]  # the top frame always
    assert kept_frames(scores, 2, 0.5)[1].sum() == 1  # a constant video: n(s) = 0, only the top (first) frame
    probs = np.array([[[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]])
    assert video_probs(probs, np.array([[True, False, True]])).tolist() == [[0.75, 0.25]]


def test_class_overlap_counts_event_classes_seen_by_the_fitted_videos() -> None:
    def video(split: str, event: str, distractor: str) -> dict:
        return {"split": split, "shots": [{"kind": "event", "imagenet_name": event},
                                          {"kind": "distractor", "imagenet_name": distractor}]}

    spans = {f"t{i}": video("train", e, d) for i, (e, d) in enumerate(
        [("a", "x"), ("b", "y"), ("c", "z"), ("d", "w"), ("a", "q"), ("y", "r"), ("n", "s"), ("m", "a"), ("o", "p"), ("b", "b")])}
    spans["v0"] = video("val", "a", "k")
    spans["v1"] = video("val", "new", "k")
    got = class_overlap(spans, 0.2)  # fitted: t0-t7; holdout: t8 (o: unseen), t9 (b: seen)
    assert got == {"holdout_event_class_seen_in_fit": 0.5, "val_event_class_seen_in_train": 0.5}


def test_where_the_patch_looks_against_the_photo() -> None:
    boxes = np.array([[0, 0, 10, 10], [10, 0, 20, 10]], dtype=float)  # two candidates side by side
    photo = np.full((2, 2, 4), np.nan)
    photo[0, 0] = [0, 0, 10, 10]  # video 0, frame 0: the photo is candidate 0
    photo[1, 1] = [16, 0, 20, 10]  # video 1, frame 1: the right 40 % of candidate 1
    cover = coverage(boxes, photo)
    assert cover[0, 0].tolist() == [1.0, 0.0] and cover[1, 1].tolist() == [0.0, 0.4]
    assert np.isnan(cover[0, 1]).all()  # no event on that frame
    follow = looks(np.array([[0, 1], [0, 1]]), boxes, photo, cover)
    assert np.isclose(follow["photo_share"], 0.7) and follow["centred_on_photo"] == 0.5  # centre x = 15 is off [16, 20)
    assert follow["r_x"] > 0.99
    fixed = looks(np.array([[0, 0], [0, 0]]), boxes, photo, cover)
    assert np.isclose(fixed["photo_share"], 0.5) and fixed["r_x"] == 0.0  # one place: no correlation


def test_auto_benchmark_passes_an_lr_only_when_asked() -> None:
    """`run_auto.py --lr own` trains every candidate with its own default lr (the README's command);
    a number is passed to every candidate (the benchmarks' 0.03)."""
    import argparse

    from benchmarks.run_auto import shared

    assert shared(argparse.Namespace(epochs=30, width=128, lr=None)) == {"epochs": 30, "width": 128}
    assert shared(argparse.Namespace(epochs=30, width=128, lr=0.03)) == {"epochs": 30, "width": 128, "lr": 0.03}


def test_curve_patches_are_the_chosen_candidates() -> None:
    """`adafocus_curve.py`: a random policy's patch and a perfect policy's patch are the features of
    the candidate each picked (the perfect one: most of the photo on event frames)."""
    from benchmarks.adafocus_curve import random_arrays
    from benchmarks.run_adafocus_policy import best_photo_arrays
    from nsnet.sampler.data import SamplerArrays

    n, t, a = 3, 2, 4
    feats = np.arange(n * t * a, dtype=np.float32).reshape(n, t, a, 1).repeat(2, axis=3)  # value = flat index
    arrays = SamplerArrays(light=np.zeros((n, t, 5), np.float32), labels=np.eye(3, dtype=np.float32),
                           class_names=["a", "b", "c"], patch_features=feats)
    rand = random_arrays(arrays, seed=0)
    assert rand.patch_features.shape == (n, t, 1, 2)
    pick = (rand.patch_features[:, :, 0, 0] - np.arange(n * t).reshape(n, t) * a).astype(int)
    assert ((pick >= 0) & (pick < a)).all() and (rand.patch_features[..., 0] == rand.patch_features[..., 1]).all()
    cover = np.full((n, t, a), np.nan)
    cover[1, 0] = [0.1, 0.0, 0.9, 0.3]  # the only event frame: candidate 2 shows most of the photo
    best = best_photo_arrays(arrays, cover, seed=0)
    assert best.patch_features[1, 0, 0, 0] == (1 * t + 0) * a + 2


def test_perfect_localiser_against_a_hand_computed_case() -> None:
    """Two videos of classes 0 and 1; frame 0 the event, frame 1 a distractor voting for the other class,
    frames 2-3 footage voting for neither. K = 2."""
    probs = np.array([[[1, 0], [0, 1], [0.5, 0.5], [0.5, 0.5]],
                      [[0, 1], [1, 0], [0.5, 0.5], [0.5, 0.5]]], dtype=float)
    cats = np.array([[0, 1, 2, 2], [0, 1, 2, 2]])  # CATEGORIES: event, distractor, background
    labels = np.eye(2)
    assert localiser_map(probs, cats, labels, 2, None) == [100.0]
    assert localiser_map(probs, cats, labels, 2, "background", draws=3) == [100.0] * 3  # [.75, .25]: still ranked
    assert localiser_map(probs, cats, labels, 2, "distractor", draws=2) == [50.0] * 2  # [.5, .5]: a tie, AP 0.5
    cats[1, 0] = 2  # no event frame in video 1
    with pytest.raises(ValueError, match="no event frame"):
        localiser_map(probs, cats, labels, 2, None)


def test_auc_interval_resamples_whole_photos() -> None:
    y = np.repeat([1, 1, 1, 0, 0, 0], 4)  # 6 photos of 4 frames each
    score = np.repeat([5.0, 4.0, 3.0, 2.0, 1.0, 0.0], 4)
    assert cluster_bootstrap_auc(y, score, np.repeat(np.arange(6), 4), n_boot=200) == [1.0, 1.0]
    score[:4] = -1.0  # one event photo ranked below every distractor photo: AUC 6/9 on the full set
    lo, hi = cluster_bootstrap_auc(y, score, np.repeat(np.arange(6), 4), n_boot=500)
    assert lo < 6 / 9 < hi <= 1.0


def test_holdout_compares_each_setting_with_the_first_paired_by_seed_and_resumes(tmp_path) -> None:
    rows = [{"setting": "a", "runs": [{"seed": 0, "mAP": 30.0}, {"seed": 1, "mAP": 32.0}]},
            {"setting": "b", "runs": [{"seed": 0, "mAP": 31.0}, {"seed": 1, "mAP": 35.0}]}]
    compare_with_first(rows)
    vs = rows[1]["vs_first"]
    # differences 1 and 3: mean 2, sample std sqrt(2), t(0.975, 1) = 12.706 -> half width 12.706 * sqrt(2) / sqrt(2)
    assert vs["diff"] == 2.0 and vs["seeds"] == 2 and "vs_first" not in rows[0]
    assert vs["seeds_ci"] == pytest.approx([2.0 - 12.7062, 2.0 + 12.7062], abs=1e-3)
    out = tmp_path / "h.json"
    out.write_text(json.dumps({"store": "s.zarr", "options": {"skip": True}, "rows": rows}))
    assert previous_runs(out, "s.zarr", {"skip": True})[("b", 1)]["mAP"] == 35.0
    assert previous_runs(out, "s.zarr", {"skip": False}) == {} and previous_runs(out, "t.zarr", {"skip": True}) == {}
    assert previous_runs(tmp_path / "none.json", "s.zarr", {}) == {}


def test_holdout_overlap_counts_photos_seen_before() -> None:
    def video(event: int, *distractors: int) -> dict:
        return {"shots": [{"kind": "event", "imagenet_index": event},
                          *({"kind": "distractor", "imagenet_index": d} for d in distractors)]}

    seen = [video(1, 7, 8), video(2, 9)]
    # events 1 (seen as an event), 7 (seen only as a distractor: not counted), 3 (new);
    # distractors 2 (seen as an event), 8 (seen), 5 (new), 6 (new)
    got = overlap(seen, [video(1, 2, 5), video(7, 8), video(3, 6)])
    assert got == {"videos": 3, "event_photo_seen": pytest.approx(1 / 3), "distractor_photo_seen": pytest.approx(2 / 4)}
