"""Tests for the generated demo set (nsnet.demo) and the test-video helpers."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import av
import decord
import numpy as np
import pytest

from nsnet.demo import (
    CLASS_PHOTOS,
    DemoConfig,
    DemoConfigError,
    InvalidFramesError,
    default_codec,
    make_demo_dataset,
    write_video,
)
from utils import (  # tests/utils.py; pytest puts tests/ on sys.path
    CORRUPT_KINDS,
    DECODE_ERROR_KINDS,
    decode_index,
    index_frame,
    make_corrupt_files,
    make_csv_dataset,
    make_video,
)

DECORD_ERRORS = (RuntimeError, decord.DECORDError)  # DECORDError is not a RuntimeError


def _tiny(out_dir: Path, **overrides: object) -> DemoConfig:
    """Returns a demo config small enough to generate in about a second."""
    kwargs: dict[str, object] = dict(
        num_classes=3, videos_per_class=4, seconds=3.0, fps=10, width=96, height=64, val_fraction=0.5, seed=1
    )
    kwargs.update(overrides)
    return DemoConfig(out_dir=out_dir, **kwargs)  # type: ignore[arg-type]


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoConfig, Path]:
    cfg = _tiny(tmp_path_factory.mktemp("demo"))
    return cfg, make_demo_dataset(cfg)


# ---------------------------------------------------------------------------------- demo set


def test_class_photos_are_real_rgb_images() -> None:
    assert len(CLASS_PHOTOS) >= 5
    for name, load in CLASS_PHOTOS.items():
        photo = load()
        assert photo.ndim == 3 and photo.shape[2] == 3 and photo.dtype == np.uint8, name
        assert min(photo.shape[:2]) >= 200 and photo.std() > 20, name


def test_demo_csv_counts_and_balanced_split(demo: tuple[DemoConfig, Path]) -> None:
    cfg, csv_path = demo
    assert csv_path == cfg.out_dir / "annotations.csv"
    header, rows = _read_csv(csv_path)
    assert header == ["path", "label", "split"]
    assert len(rows) == 12
    assert Counter(r["label"] for r in rows) == {"cat": 4, "coffee": 4, "rocket": 4}
    assert Counter((r["label"], r["split"]) for r in rows) == {
        (label, split): 2 for label in ("cat", "coffee", "rocket") for split in ("train", "val")
    }
    for r in rows:
        assert not Path(r["path"]).is_absolute()
        assert (csv_path.parent / r["path"]).is_file()
    assert len({r["path"] for r in rows}) == len(rows)


def test_demo_spans_have_one_short_event(demo: tuple[DemoConfig, Path]) -> None:
    cfg, csv_path = demo
    spans = json.loads((cfg.out_dir / "spans.json").read_text())
    _, rows = _read_csv(csv_path)
    assert set(spans) == {Path(r["path"]).stem for r in rows}
    for r in rows:
        span = spans[Path(r["path"]).stem]
        assert span["label"] == r["label"]
        assert span["num_frames"] == 30 and span["fps"] == 10
        assert 0 <= span["start_frame"] < span["end_frame"] <= span["num_frames"]
        length = span["end_frame"] - span["start_frame"]
        assert 1 <= length <= 0.2 * span["num_frames"]
    assert len({s["start_frame"] for s in spans.values()}) > 1  # positions are random


def test_demo_videos_decode_with_decord_and_event_is_a_cut(demo: tuple[DemoConfig, Path]) -> None:
    cfg, csv_path = demo
    spans = json.loads((cfg.out_dir / "spans.json").read_text())
    _, rows = _read_csv(csv_path)
    for r in rows:
        vr = decord.VideoReader(str(csv_path.parent / r["path"]))
        assert len(vr) == cfg.num_frames
        frames = vr.get_batch(list(range(len(vr)))).asnumpy().astype(np.float32)
        assert frames.shape == (cfg.num_frames, cfg.height, cfg.width, 3)
        assert vr.get_avg_fps() == pytest.approx(cfg.fps)
        # Background drifts slowly; the event starts/ends with a hard cut, so each cut changes
        # the picture far more than any background-to-background step.
        diffs = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))  # diffs[i]: frame i -> i+1
        start, end = spans[Path(r["path"]).stem]["start_frame"], spans[Path(r["path"]).stem]["end_frame"]
        cuts = [i for i in (start - 1, end - 1) if 0 <= i < len(diffs)]
        background = [diffs[i] for i in range(len(diffs)) if i + 1 < start or i >= end]
        assert cuts and background
        assert min(diffs[i] for i in cuts) > 2 * max(background)


@pytest.mark.slow
def test_demo_is_deterministic_and_skips_when_complete(demo: tuple[DemoConfig, Path], tmp_path: Path) -> None:
    cfg, csv_path = demo
    video = csv_path.parent / _read_csv(csv_path)[1][0]["path"]
    mtime = video.stat().st_mtime_ns
    assert make_demo_dataset(_tiny(cfg.out_dir)) == csv_path
    assert video.stat().st_mtime_ns == mtime  # not regenerated

    other = make_demo_dataset(_tiny(tmp_path))
    assert _read_csv(other) == _read_csv(csv_path)
    assert (tmp_path / "spans.json").read_text() == (cfg.out_dir / "spans.json").read_text()


def test_demo_regenerates_when_config_changes(tmp_path: Path) -> None:
    make_demo_dataset(_tiny(tmp_path, num_classes=2, videos_per_class=2))
    csv_path = make_demo_dataset(_tiny(tmp_path, num_classes=1, videos_per_class=3, seed=5))
    _, rows = _read_csv(csv_path)
    assert [r["label"] for r in rows] == ["cat"] * 3
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == ["cat"]  # stale class gone
    assert json.loads((tmp_path / "demo_config.json").read_text())["seed"] == 5


@pytest.mark.parametrize(
    "overrides",
    [
        {"num_classes": 0},
        {"num_classes": len(CLASS_PHOTOS) + 1},
        {"videos_per_class": 0},
        {"width": 95},
        {"event_fraction": 0.0},
        {"val_fraction": 1.0},
        {"seconds": 0.1},
    ],
)
def test_demo_rejects_bad_config(tmp_path: Path, overrides: dict[str, object]) -> None:
    with pytest.raises(DemoConfigError):
        make_demo_dataset(_tiny(tmp_path, **overrides))
    assert not (tmp_path / "annotations.csv").exists()


# ------------------------------------------------------------------------------- write_video


def test_write_video_keyframe_interval_and_codec(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", num_frames=40, pattern="random")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == ("h264" if default_codec() == "libx264" else "mpeg4")
        assert stream.codec_context.pix_fmt == "yuv420p"
        keyframes = [i for i, p in enumerate(container.demux(stream)) if p.is_keyframe]
    assert keyframes[0] == 0
    assert max(np.diff(keyframes + [40])) <= 25


@pytest.mark.parametrize(
    "frames",
    [
        np.zeros((0, 16, 16, 3), np.uint8),
        np.zeros((2, 16, 16), np.uint8),
        np.zeros((2, 16, 16, 3), np.float32),
        np.zeros((2, 15, 16, 3), np.uint8),
    ],
)
def test_write_video_rejects_bad_frames(tmp_path: Path, frames: np.ndarray) -> None:
    with pytest.raises(InvalidFramesError):
        write_video(tmp_path / "bad.mp4", frames, fps=10)
    assert not (tmp_path / "bad.mp4").exists()


# ---------------------------------------------------------------------- index-encoded videos


def test_decode_index_roundtrip_without_coding() -> None:
    for i in (0, 1, 7, 8, 63, 64, 300, 511):
        assert decode_index(index_frame(i)) == i


@pytest.mark.parametrize("codec", [None, "mpeg4"])
def test_decord_get_batch_returns_the_requested_frames(tmp_path: Path, codec: str | None) -> None:
    n = 70
    path = make_video(tmp_path / "index.mp4", num_frames=n, size=(64, 48), codec=codec)
    vr = decord.VideoReader(str(path))
    assert len(vr) == n
    rng = np.random.default_rng(0)
    index_lists = [
        list(range(n)),
        [0],
        [n - 1],
        list(range(n - 1, -1, -7)),  # backwards
        [5, 5, 5, 40, 40, 2],  # duplicates and a backward seek
        rng.integers(0, n, size=25).tolist(),
        sorted(rng.choice(n, size=8, replace=False).tolist()),
    ]
    for indices in index_lists:
        batch = vr.get_batch(indices).asnumpy()
        assert batch.shape == (len(indices), 48, 64, 3)
        assert [decode_index(f) for f in batch] == indices


def test_make_video_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_video(tmp_path / "x.mp4", pattern="nope")
    with pytest.raises(ValueError):
        make_video(tmp_path / "x.mp4", num_frames=513)


# ------------------------------------------------------------------------------ bad files


@pytest.fixture(scope="module")
def corrupt(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_corrupt_files(tmp_path_factory.mktemp("corrupt"), include_decode_errors=True)


def test_corrupt_files_are_what_they_claim(corrupt: dict[str, Path]) -> None:
    assert set(corrupt) == set(CORRUPT_KINDS) | set(DECODE_ERROR_KINDS)
    assert not corrupt["missing"].exists()
    assert corrupt["zero_byte"].stat().st_size == 0
    assert all(p.suffix == ".mp4" for p in corrupt.values())
    assert sorted(p.name for p in corrupt["garbage"].parent.iterdir()) == sorted(
        f"{k}.mp4" for k in corrupt if k != "missing"
    )  # no leftovers


@pytest.mark.parametrize("kind", CORRUPT_KINDS + ("truncated_data",))
def test_decord_fails_to_open_corrupt_file(corrupt: dict[str, Path], kind: str) -> None:
    with pytest.raises(DECORD_ERRORS):
        decord.VideoReader(str(corrupt[kind]))


def test_decord_opens_scrambled_file_but_fails_to_decode_it(corrupt: dict[str, Path]) -> None:
    vr = decord.VideoReader(str(corrupt["scrambled"]))
    assert len(vr) == 60
    assert vr.get_batch([0, 1]).shape == (2, 120, 160, 3)  # before the damage
    with pytest.raises(DECORD_ERRORS):
        vr.get_batch(list(range(len(vr))))
    assert vr.get_batch([0]).shape == (1, 120, 160, 3)  # the reader survives the error


# ---------------------------------------------------------------------------- csv dataset


def test_make_csv_dataset(tmp_path: Path) -> None:
    csv_path = make_csv_dataset(tmp_path, num_videos=8, classes=("a", "b"), num_frames=12, val_fraction=0.25)
    header, rows = _read_csv(csv_path)
    assert header == ["path", "label", "split"]
    assert Counter((r["label"], r["split"]) for r in rows) == {
        ("a", "train"): 3, ("a", "val"): 1, ("b", "train"): 3, ("b", "val"): 1
    }
    frames = []
    for r in rows:
        vr = decord.VideoReader(str(csv_path.parent / r["path"]))
        assert len(vr) == 12 and vr[0].shape == (48, 64, 3)
        frames.append(vr[0].asnumpy())
    assert not np.array_equal(frames[0], frames[2])  # videos differ
