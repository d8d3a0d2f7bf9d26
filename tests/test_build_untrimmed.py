"""Tests for benchmarks/build_untrimmed.py: pure planning on fake clip lists, and one tiny
end-to-end build on clips generated with ffmpeg's testsrc (never reads /work/shared)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import benchmarks.build_untrimmed as bu  # noqa: E402
from benchmarks.build_untrimmed import ClipInfo, VideoPlan  # noqa: E402


def fake_clips(n_sources: int = 30, seed: int = 0) -> list[ClipInfo]:
    """Sources of 1-6 clips with mixed labels, plus some ungrouped singletons."""
    import random

    rnd = random.Random(seed)
    clips: list[ClipInfo] = []
    counters = Counter()
    for s in range(n_sources):
        for _ in range(rnd.randint(1, 6)):
            label = rnd.choice(bu.LABELS)
            counters[label] += 1
            stem = ("fi" if label == bu.FIGHT else "nofi") + f"{counters[label]:03d}"
            clips.append(ClipInfo(f"{label}/{stem}.mp4", label, f"https://yt/{s}"))
    for label in bu.LABELS:
        for _ in range(5):
            counters[label] += 1
            stem = ("fi" if label == bu.FIGHT else "nofi") + f"{counters[label]:03d}"
            clips.append(ClipInfo(f"{label}/{stem}.mp4", label, f"clip:{stem}"))
    return clips


@pytest.fixture(scope="module")
def clips() -> list[ClipInfo]:
    return fake_clips()


@pytest.fixture(scope="module")
def plans(clips: list[ClipInfo]) -> list[VideoPlan]:
    return bu.plan_videos(clips, seed=3, n_train=40, n_val=21, clips_min=4, clips_max=7)


# --------------------------------------------------------------------------- parsing


VIDEOS_TXT = (
    "https://www.youtube.com/watch?v=AAA\r\n"
    "fi001: 0.13.50 - 0.15.60\r\n"
    "nofi001: 2.34.70 - 2.37.80\r\n"
    "https://www.youtube.com/watch?v=BBB \r\n"
    "fi002: 0.14.50 - 0.17.50\r\n"
    "https://www.youtube.com/watch?v=CCC\r\n"
    "fi003: 0.58.40 - 1.00.40\r\n"
    "nofi001: 8.43.20 - 8.45.30\r\n"
    "\r\n"
    "nofi062 - nofi064 : CamNet Dataset\r\n"
    "nofi070 - nofi071 : Synopsis dataset"
)


def test_parse_source_groups_urls_ranges_and_merging() -> None:
    groups = bu.parse_source_groups(VIDEOS_TXT)
    a, b = "https://www.youtube.com/watch?v=AAA", "https://www.youtube.com/watch?v=BBB"
    # nofi001 is listed under AAA and CCC, so those two sources merge (key = smallest name)
    assert groups["fi001"] == groups["nofi001"] == groups["fi003"] == a
    assert groups["fi002"] == b
    assert groups["nofi062"] == groups["nofi063"] == groups["nofi064"] == "CamNet Dataset"
    assert groups["nofi070"] == groups["nofi071"] == "Synopsis dataset"
    assert "nofi065" not in groups and len(groups) == 9


def test_discover_clips_falls_back_to_one_group_per_clip(tmp_path: Path) -> None:
    for rel in ["fight/fi001.mp4", "fight/fi009.mp4", "noFight/nofi001.mp4", "noFight/x.txt"]:
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).touch()
    (tmp_path / "videos.txt").write_text(VIDEOS_TXT)
    found = {c.src: c for c in bu.discover_clips(tmp_path)}
    assert sorted(found) == ["fight/fi001.mp4", "fight/fi009.mp4", "noFight/nofi001.mp4"]
    assert found["fight/fi001.mp4"].source == found["noFight/nofi001.mp4"].source
    assert found["fight/fi009.mp4"].source == "clip:fi009"
    assert found["fight/fi009.mp4"].label == "fight" and found["fight/fi009.mp4"].clip_id == "fi009"


def test_discover_clips_missing_dir_is_clear_error(tmp_path: Path) -> None:
    with pytest.raises(bu.BuildError, match="not found"):
        bu.discover_clips(tmp_path / "nope")


# --------------------------------------------------------------------------- split


def test_split_is_disjoint_by_clip_and_by_source(clips: list[ClipInfo]) -> None:
    train, val = bu.split_clips_by_source(clips, seed=0, val_fraction=0.3)
    assert sorted(train + val) == sorted(clips)
    assert not {c.src for c in train} & {c.src for c in val}
    assert not {c.source for c in train} & {c.source for c in val}
    for label in bu.LABELS:
        total = sum(c.label == label for c in clips)
        n_val = sum(c.label == label for c in val)
        assert abs(n_val - 0.3 * total) <= 6, (label, n_val, total)  # within one group size


def test_split_bad_fraction_and_bad_label(clips: list[ClipInfo]) -> None:
    with pytest.raises(bu.PlanError, match="val_fraction"):
        bu.split_clips_by_source(clips, seed=0, val_fraction=1.0)
    with pytest.raises(bu.PlanError, match="label"):
        bu.split_clips_by_source([ClipInfo("x/a.mp4", "violence", "s")], seed=0)


# --------------------------------------------------------------------------- plan


def test_plan_counts_balance_and_clip_range(plans: list[VideoPlan]) -> None:
    by = Counter((p.split, p.label) for p in plans)
    assert by == {("train", "fight"): 20, ("train", "noFight"): 20,
                  ("val", "fight"): 10, ("val", "noFight"): 11}
    assert all(4 <= len(p.clips) <= 7 for p in plans)
    assert {len(p.clips) for p in plans} >= {4, 7}
    assert all(len(set(p.clips)) == len(p.clips) for p in plans)
    ids = [p.video_id for p in plans]
    assert len(set(ids)) == len(ids) and "train_0000" in ids and "val_0020" in ids
    assert all(p.path == f"{p.split}/{p.video_id}.mp4" for p in plans)


def test_plan_exactly_one_fight_clip_in_fight_videos(clips: list[ClipInfo],
                                                     plans: list[VideoPlan]) -> None:
    label_of = {c.src: c.label for c in clips}
    for p in plans:
        fight_positions = [i for i, c in enumerate(p.clips) if label_of[c] == bu.FIGHT]
        if p.label == bu.FIGHT:
            assert fight_positions == [p.event_index]
        else:
            assert fight_positions == [] and p.event_index is None
    positions = {p.event_index for p in plans if p.label == bu.FIGHT}
    assert len(positions) > 2  # the fight clip is not always in the same slot


def test_plan_train_and_val_draw_from_disjoint_pools(clips: list[ClipInfo],
                                                     plans: list[VideoPlan]) -> None:
    train_pool, val_pool = bu.split_clips_by_source(clips, seed=3, val_fraction=0.3)
    used = {s: {c for p in plans if p.split == s for c in p.clips} for s in bu.SPLITS}
    assert used["train"] <= {c.src for c in train_pool}
    assert used["val"] <= {c.src for c in val_pool}
    source_of = {c.src: c.source for c in clips}
    assert not {source_of[c] for c in used["train"]} & {source_of[c] for c in used["val"]}


def test_plan_is_deterministic_and_seed_dependent(clips: list[ClipInfo],
                                                  plans: list[VideoPlan]) -> None:
    again = bu.plan_videos(list(reversed(clips)), seed=3, n_train=40, n_val=21, clips_min=4,
                           clips_max=7)
    assert again == plans
    other = bu.plan_videos(clips, seed=4, n_train=40, n_val=21, clips_min=4, clips_max=7)
    assert other != plans


def test_plan_rejects_bad_parameters_and_small_pools(clips: list[ClipInfo]) -> None:
    with pytest.raises(bu.PlanError, match="clips_min"):
        bu.plan_videos(clips, 0, 4, 2, clips_min=5, clips_max=4)
    with pytest.raises(bu.PlanError, match="noFight clips"):
        bu.plan_videos(clips, 0, 4, 2, clips_min=2, clips_max=500)
    only_calm = [c for c in clips if c.label == bu.NOFIGHT]
    with pytest.raises(bu.PlanError, match="no fight clips"):
        bu.plan_videos(only_calm, 0, 4, 2, clips_min=2, clips_max=3)


def test_compose_spans_hand_computed() -> None:
    plan = VideoPlan("val_0001", "val", "fight", ("noFight/a.mp4", "fight/b.mp4", "noFight/c.mp4"),
                     1)
    frames = {"noFight/a.mp4": 50, "fight/b.mp4": 30, "noFight/c.mp4": 10}
    entry = bu.compose_spans(plan, frames, fps=25, gap_frames=5)
    assert entry["num_frames"] == 50 + 5 + 30 + 5 + 10
    assert entry["event"] == [55, 85]
    assert [(c["start_frame"], c["end_frame"]) for c in entry["clips"]] == [(0, 50), (55, 85),
                                                                            (90, 100)]
    calm = VideoPlan("v", "train", "noFight", ("noFight/a.mp4",), None)
    assert bu.compose_spans(calm, frames, fps=25)["event"] is None


# --------------------------------------------------------------------------- end to end


def _make_clip(ffmpeg: str, dst: Path, size: str, rate: int, seconds: float, src: str) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"{src}=size={size}:rate={rate}", "-t", str(seconds), "-pix_fmt", "yuv420p",
                    "-c:v", "libx264", "-preset", "ultrafast", str(dst)], check=True)


@pytest.fixture(scope="module")
def tiny_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("src")
    ffmpeg = bu.ffmpeg_exe()
    specs = [("fight/fi001.mp4", "160x120", 25, 0.5, "testsrc"),
             ("fight/fi002.mp4", "120x160", 30, 0.6, "testsrc2"),   # portrait, 30 fps
             ("noFight/nofi001.mp4", "160x90", 25, 0.4, "testsrc"),
             ("noFight/nofi002.mp4", "160x120", 20, 0.5, "smptebars"),  # 20 fps
             ("noFight/nofi003.mp4", "160x120", 25, 0.48, "testsrc2"),
             ("noFight/nofi004.mp4", "96x96", 25, 0.32, "rgbtestsrc")]
    for rel, size, rate, seconds, src in specs:
        _make_clip(ffmpeg, root / rel, size, rate, seconds, src)
    (root / "videos.txt").write_text("https://yt/A\nfi001: 0.00 - 0.02\nnofi001: 0.1 - 0.2\n")
    return root


def _tiny_cfg(src: Path, out: Path, **kw: object) -> bu.BuildConfig:
    args: dict = dict(src=src, out=out, seed=0, n_train=2, n_val=2, clips_min=2, clips_max=2,
                      val_fraction=0.5, workers=2,
                      encode=bu.EncodeConfig(width=64, height=48, fps=25, gop=8))
    args.update(kw)
    return bu.BuildConfig(**args)


def _check_output(out: Path, gop: int) -> dict:
    import av
    import decord

    with open(out / "annotations.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["path", "label", "split"]
    spans = json.loads((out / "spans.json").read_text())
    assert len(rows) - 1 == len(spans) == 4
    for path, label, split in rows[1:]:
        vid = Path(path).stem
        entry = spans[vid]
        assert (entry["label"], entry["split"], entry["fps"]) == (label, split, 25)
        assert path == f"{split}/{vid}.mp4"
        vr = decord.VideoReader(str(out / path))
        assert abs(len(vr) - entry["num_frames"]) <= 1
        assert vr[0].shape == (48, 64, 3)
        with av.open(str(out / path)) as c:
            packets = [p for p in c.demux(video=0) if p.size]
        assert len(packets) == entry["num_frames"]
        keys = [i for i, p in enumerate(packets) if p.is_keyframe] + [len(packets)]
        assert keys[0] == 0 and max(b - a for a, b in zip(keys, keys[1:])) <= gop
        clips = entry["clips"]
        assert clips[0]["start_frame"] == 0 and clips[-1]["end_frame"] == entry["num_frames"]
        assert all(a["end_frame"] <= b["start_frame"] for a, b in zip(clips, clips[1:]))
        assert {c["start_frame"] for c in clips} <= set(keys)  # every clip starts on a keyframe
        fights = [c for c in clips if c["src"].startswith("fight/")]
        if label == "fight":
            assert len(fights) == 1
            assert entry["event"] == [fights[0]["start_frame"], fights[0]["end_frame"]]
        else:
            assert fights == [] and entry["event"] is None
    return spans


@pytest.mark.slow
def test_end_to_end_build_and_resume(tiny_src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = bu.build(_tiny_cfg(tiny_src, out))
    assert report.n_videos == report.n_videos_written == 4
    spans = _check_output(out, gop=8)
    # a 0.5 s clip at 25 fps -> ~12 frames; a 0.6 s 30 fps clip is resampled to ~15
    lengths = {c["src"]: c["end_frame"] - c["start_frame"] for e in spans.values()
               for c in e["clips"]}
    seconds = {"fi001": 0.5, "fi002": 0.6, "nofi001": 0.4, "nofi002": 0.5}
    assert all(abs(n - 25 * seconds[Path(src).stem]) <= 1 for src, n in lengths.items()
               if Path(src).stem in seconds)
    first_csv, first_json = (out / "annotations.csv").read_text(), (out / "spans.json").read_text()

    again = bu.build(_tiny_cfg(tiny_src, out, workers=1))
    assert again.n_videos_written == 0 and again.n_clips_normalised == 0
    assert (out / "annotations.csv").read_text() == first_csv
    assert (out / "spans.json").read_text() == first_json
    assert not list(out.rglob("*.part"))

    with pytest.raises(bu.BuildError, match="different settings"):
        bu.build(_tiny_cfg(tiny_src, out, seed=1))


@pytest.mark.slow
def test_end_to_end_black_gap(tiny_src: Path, tmp_path: Path) -> None:
    import decord

    out = tmp_path / "gap"
    bu.build(_tiny_cfg(tiny_src, out, gap_frames=3, workers=1))
    spans = _check_output(out, gop=8)
    entry = next(iter(spans.values()))
    first, second = entry["clips"][:2]
    assert second["start_frame"] - first["end_frame"] == 3
    vr = decord.VideoReader(str(out / f"{entry['split']}/{next(iter(spans))}.mp4"))
    assert vr[first["end_frame"] + 1].asnumpy().mean() < 20  # a black gap frame
    assert vr[first["end_frame"] - 1].asnumpy().mean() > 20  # the clip's last frame
