"""Frame planning, decoding of generated videos, and the per-model pixel transform."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nsnet.extract import transforms as transforms_mod
from nsnet.extract.frames import plan_frame_indices
from nsnet.numeric import uniform_positions
from nsnet.extract.transforms import FrameTransform, decode_short_side
from nsnet.extract.video import VideoReadError, probe_video, read_frames, scaled_size
from utils import decode_index, make_corrupt_files, make_video


# ------------------------------------------------------------------------------------ planning
@pytest.mark.parametrize(
    ("n", "T", "expected"),
    [
        (20, 8, [1, 3, 6, 8, 11, 13, 16, 18]),  # floor((i + 0.5) * 20 / 8)
        (10, 4, [1, 3, 6, 8]),  # floor(1.25), floor(3.75), floor(6.25), floor(8.75)
        (100, 5, [10, 30, 50, 70, 90]),
        (9, 3, [1, 4, 7]),
        (7, 1, [3]),
        (8, 8, list(range(8))),  # n == T: every frame once
        (1, 1, [0]),
        (5, 8, [0, 1, 2, 3, 4, 0, 1, 2]),  # n < T: looped and cut to T (supp. A.1)
        (3, 7, [0, 1, 2, 0, 1, 2, 0]),
        (1, 4, [0, 0, 0, 0]),
    ],
)
def test_plan_frame_indices_hand_computed(n: int, T: int, expected: list[int]) -> None:
    got = plan_frame_indices(n, T)
    assert got.dtype == np.int64 and got.shape == (T,)
    assert got.tolist() == expected


@pytest.mark.parametrize("n", [8, 9, 50, 51, 1000, 12345])
def test_plan_frame_indices_long_videos_are_strictly_increasing_segment_centres(n: int) -> None:
    got = plan_frame_indices(n, 8)
    assert np.all(np.diff(got) > 0) and got.min() >= 0 and got.max() < n
    # each index lies in its own segment [i*n/T, (i+1)*n/T)
    i = np.arange(8)
    assert np.all(got >= np.floor(i * n / 8)) and np.all(got < np.ceil((i + 1) * n / 8))


@pytest.mark.parametrize(("n", "T"), [(0, 8), (-3, 8), (10, 0), (10, -1)])
def test_plan_frame_indices_bad_input_raises(n: int, T: int) -> None:
    with pytest.raises(ValueError):
        plan_frame_indices(n, T)


@pytest.mark.parametrize(
    ("T", "k", "expected"),
    [(10, 5, [1, 3, 5, 7, 9]), (8, 8, list(range(8))), (10, 1, [5]), (50, 4, [6, 18, 31, 43]), (5, 2, [1, 3])],
)
def test_uniform_positions_hand_computed(T: int, k: int, expected: list[int]) -> None:
    got = uniform_positions(T, k)
    assert got.dtype == np.int64
    assert got.tolist() == expected


@pytest.mark.parametrize(("T", "k"), [(8, 0), (8, 9), (8, -1)])
def test_uniform_positions_bad_budget_raises(T: int, k: int) -> None:
    with pytest.raises(ValueError, match="budget"):
        uniform_positions(T, k)


# ------------------------------------------------------------------------------------ decoding
@pytest.fixture(scope="module")
def index_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 40-frame 64x48 video whose frame i encodes i."""
    return make_video(tmp_path_factory.mktemp("video") / "index.mp4", num_frames=40, pattern="index")


def test_probe_video(index_video: Path) -> None:
    info = probe_video(index_video)
    assert (info.num_frames, info.width, info.height) == (40, 64, 48)
    assert info.fps == pytest.approx(10.0)


@pytest.mark.parametrize("T", [8, 40, 50])
@pytest.mark.parametrize("short_side", [48, 73, 96])
def test_read_frames_returns_the_planned_frames_at_the_requested_size(index_video: Path, T: int,
                                                                      short_side: int) -> None:
    plan = plan_frame_indices(40, T)
    frames = read_frames(index_video, plan, short_side)
    width, height = scaled_size(64, 48, short_side)
    assert frames.dtype == np.uint8 and frames.shape == (T, height, width, 3)
    assert height == short_side and abs(width / height - 64 / 48) < 0.03  # aspect kept
    assert [decode_index(f) for f in frames] == plan.tolist()


def test_read_frames_unsorted_and_repeated_indices(index_video: Path) -> None:
    wanted = np.array([39, 0, 5, 5, 20, 0])
    frames = read_frames(index_video, wanted, 48)
    assert [decode_index(f) for f in frames] == wanted.tolist()


def test_read_frames_portrait_video(tmp_path: Path) -> None:
    path = make_video(tmp_path / "portrait.mp4", num_frames=12, size=(48, 64), pattern="index")
    frames = read_frames(path, np.arange(12), 73)
    assert frames.shape[1:] == (98, 73, 3)  # width is the short side now
    assert [decode_index(f) for f in frames] == list(range(12))


def test_read_frames_at_native_size_is_not_resized(index_video: Path) -> None:
    assert scaled_size(64, 48, 48) == (64, 48)
    assert scaled_size(48, 64, 48) == (48, 64)
    frames = read_frames(index_video, np.array([0, 7]), 48)
    assert frames.shape == (2, 48, 64, 3)


@pytest.mark.parametrize(("w", "h", "short", "expected"),
                         [(64, 48, 96, (128, 96)), (320, 240, 128, (170, 128)), (240, 320, 128, (128, 170)),
                          (100, 100, 64, (64, 64)), (1920, 1080, 256, (456, 256))])
def test_scaled_size(w: int, h: int, short: int, expected: tuple[int, int]) -> None:
    assert scaled_size(w, h, short) == expected


def test_read_frames_out_of_range_index(index_video: Path) -> None:
    with pytest.raises(VideoReadError, match="out of range"):
        read_frames(index_video, np.array([0, 40]), 48)


def test_read_frames_no_indices(index_video: Path) -> None:
    with pytest.raises(ValueError):
        read_frames(index_video, np.array([], dtype=np.int64), 48)


@pytest.fixture(scope="module")
def corrupt(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_corrupt_files(tmp_path_factory.mktemp("corrupt"), include_decode_errors=True)


@pytest.mark.parametrize("kind", ["zero_byte", "truncated", "not_video", "missing", "garbage", "truncated_data"])
def test_unreadable_files_raise_one_line_video_read_error(corrupt: dict[str, Path], kind: str) -> None:
    with pytest.raises(VideoReadError) as info:
        read_frames(corrupt[kind], np.arange(4), 48)
    message = str(info.value)
    assert message and "\n" not in message and len(message) <= 250


def test_scrambled_video_fails_when_late_frames_are_decoded(corrupt: dict[str, Path]) -> None:
    info = probe_video(corrupt["scrambled"])
    with pytest.raises(VideoReadError) as err:
        read_frames(corrupt["scrambled"], plan_frame_indices(info.num_frames, 8), 48, info)
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------------------------ transform
MEAN, STD = (0.5, 0.25, 0.0), (0.5, 0.25, 1.0)


def _ramp(k: int, h: int, w: int) -> torch.Tensor:
    """uint8 frames [k, h, w, 3] whose pixel values encode (frame, row, col, channel)."""
    vals = torch.arange(k * h * w * 3) % 251
    return vals.reshape(k, h, w, 3).to(torch.uint8)


def test_transform_crops_the_centre_and_normalises_without_resizing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_resize(*args, **kwargs):
        raise AssertionError("resized although the short side is already right")

    monkeypatch.setattr(transforms_mod.F, "interpolate", no_resize)
    frames = _ramp(2, 10, 14)
    out = FrameTransform(resize_short=10, input_size=8, mean=MEAN, std=STD)(frames)
    assert out.shape == (2, 3, 8, 8) and out.dtype == torch.float32
    assert out.is_contiguous(memory_format=torch.channels_last)
    top, left = 1, 3  # (10 - 8) // 2, (14 - 8) // 2
    crop = frames[:, top : top + 8, left : left + 8].permute(0, 3, 1, 2).double()
    for c in range(3):
        expected = (crop[:, c] / 255.0 - MEAN[c]) / STD[c]
        torch.testing.assert_close(out[:, c].double(), expected, rtol=0, atol=1e-5)


def test_transform_hand_computed_pixel() -> None:
    frame = torch.zeros(1, 4, 4, 3, dtype=torch.uint8)
    frame[..., 0], frame[..., 1], frame[..., 2] = 255, 0, 51
    out = FrameTransform(4, 2, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))(frame)
    expected = [(1.0 - 0.485) / 0.229, (0.0 - 0.456) / 0.224, (0.2 - 0.406) / 0.225]
    for c in range(3):
        assert torch.allclose(out[0, c], torch.full((2, 2), expected[c]), atol=1e-5)


def test_transform_resizes_only_when_needed() -> None:
    calls: list[tuple] = []
    original = F.interpolate

    def spy(x, *args, **kwargs):
        calls.append(tuple(kwargs.get("size") or args[0]))
        return original(x, *args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(transforms_mod.F, "interpolate", spy)
    try:
        frames = _ramp(3, 73, 98)
        out = FrameTransform(resize_short=64, input_size=56, mean=MEAN, std=STD)(frames)
        assert calls == [(64, 86)]  # short side 73 -> 64, aspect kept
        assert out.shape == (3, 3, 56, 56)
        FrameTransform(resize_short=73, input_size=64, mean=MEAN, std=STD)(frames)
        assert len(calls) == 1
    finally:
        mp.undo()


def test_transform_resized_values_stay_on_the_uint8_grid() -> None:
    frames = _ramp(1, 20, 30)
    out = FrameTransform(resize_short=10, input_size=10, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))(frames)
    pixels = out * 255.0
    assert torch.allclose(pixels, pixels.round(), atol=1e-3)
    assert pixels.min() >= 0 and pixels.max() <= 255


def test_transform_uniform_frame_survives_resizing() -> None:
    frames = torch.full((2, 48, 64, 3), 200, dtype=torch.uint8)
    out = FrameTransform(resize_short=24, input_size=24, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))(frames)
    assert torch.allclose(out, torch.full_like(out, 200 / 255), atol=1e-6)


@pytest.mark.parametrize("shape", [(10, 10, 3), (1, 10, 10, 4), (1, 3, 10, 10)])
def test_transform_rejects_bad_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="expected uint8 frames"):
        FrameTransform(10, 8, MEAN, STD)(torch.zeros(shape, dtype=torch.uint8))


def test_transform_rejects_crop_larger_than_frame() -> None:
    with pytest.raises(ValueError, match="smaller than the crop"):
        FrameTransform(10, 12, MEAN, STD)(torch.zeros(1, 10, 10, 3, dtype=torch.uint8))


def test_transform_from_spec_and_decode_short_side() -> None:
    spec = {"resize_short": 73, "input_size": 64, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "name": "x"}
    t = FrameTransform.from_spec(spec)
    assert t == FrameTransform(73, 64, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert decode_short_side(t, FrameTransform(64, 64, MEAN, STD)) == 73
