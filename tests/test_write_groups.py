"""benchmarks/write_groups.py: the group of a benchmark video is the source of its event (hand cases)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.write_groups import event_photo, event_source  # noqa: E402


def test_a_controlled_video_is_grouped_by_its_event_photo() -> None:
    span = {"shots": [{"kind": "distractor", "imagenet_index": 78}, {"kind": "event", "imagenet_index": 11}]}
    assert event_photo(span) == "photo:11"
    with pytest.raises(SystemExit, match="expected one event shot, found 0"):
        event_photo({"shots": [{"kind": "distractor", "imagenet_index": 78}]})


def test_a_fight_video_is_grouped_by_its_fight_clip_source_and_a_nofight_video_alone() -> None:
    sources = {"fi051": "https://youtu.be/A", "nofi001": "https://youtu.be/B"}
    fight = {"clips": [{"src": "noFight/nofi001.mp4"}, {"src": "fight/fi051.mp4"}]}
    assert event_source(fight, "train/train_0000", sources) == "source:https://youtu.be/A"
    assert event_source({"clips": [{"src": "fight/fi099.mp4"}]}, "v", sources) == "source:clip:fi099"  # unlisted
    assert event_source({"clips": [{"src": "noFight/nofi001.mp4"}]}, "train/train_0001", sources) == "video:train/train_0001"
