"""Every backend that claims a file returns exactly the frames of a sequential decode (same scaling
path, so equality), on uniform, random and repeated indices; otherwise it refuses the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from decode_corpus import UNDECODABLE
from nsnet.extract.decode.base import InexactDecodeError, VideoReadError
from nsnet.extract.decode.policy import get_backend
from nsnet.extract.decode.sequential import count_sequential, read_sequential
from nsnet.extract.video import backend_for, probe_video, read_frames, scaled_size

SHORT_SIDE = 48


def _patterns(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(n)
    uniform = np.floor((np.arange(16) + 0.5) * n / 16).astype(np.int64) if n >= 16 else np.arange(n)
    return {"uniform": uniform, "random": np.sort(rng.choice(n, size=min(n, 12), replace=False)),
            "repeated": rng.integers(0, n, size=10)}


def _reference(path: Path, indices: np.ndarray) -> np.ndarray:
    info = probe_video(path)
    w, h = scaled_size(info.width, info.height, SHORT_SIDE)
    unique, inverse = np.unique(indices, return_inverse=True)
    return read_sequential(path, unique, w, h, info)[inverse]


NAMES = ["h264_bframes_long_gop", "h264_short_gop", "hevc_open_gop", "vp8_webm", "vp9_webm", "mpeg4_bframes_short",
         "mpeg4_bframes_long", "xvid_bframes", "mjpeg_avi", "av1", "h264_odd_size", "one_frame", "h264_vfr",
         "h264_rotated", "avi_wrong_count"]


@pytest.mark.parametrize("name", NAMES)
def test_count_is_what_a_sequential_decode_yields(corpus: dict[str, Path], name: str) -> None:
    if name not in corpus:
        pytest.skip(f"no encoder for {name}")
    assert probe_video(corpus[name]).num_frames == count_sequential(corpus[name])


@pytest.mark.parametrize("backend", ["auto", "pyav", "decord"])
@pytest.mark.parametrize("name", NAMES)
def test_backend_is_exact_or_refuses(corpus: dict[str, Path], name: str, backend: str) -> None:
    if name not in corpus:
        pytest.skip(f"no encoder for {name}")
    path = corpus[name]
    info = probe_video(path)
    claimed = backend in ("auto", "pyav") or get_backend(backend).claims(info)
    for pattern, indices in _patterns(info.num_frames).items():
        if not claimed:
            with pytest.raises(InexactDecodeError):
                read_frames(path, indices, SHORT_SIDE, decoder=backend)
            continue
        got = read_frames(path, indices, SHORT_SIDE, decoder=backend)
        np.testing.assert_array_equal(got, _reference(path, indices), err_msg=f"{name} {pattern}")


@pytest.mark.parametrize("backend", ["auto", "pyav", "decord"])
@pytest.mark.parametrize("name", UNDECODABLE)
def test_corrupt_file_is_refused_not_guessed(corpus: dict[str, Path], name: str, backend: str) -> None:
    info = probe_video(corpus[name])
    with pytest.raises(VideoReadError):
        read_frames(corpus[name], _patterns(info.num_frames)["uniform"], SHORT_SIDE, decoder=backend)


def test_auto_is_pyav_and_sequential_where_timestamps_cannot_be_trusted(corpus: dict[str, Path]) -> None:
    for name in ("mpeg4_bframes_short", "hevc_open_gop", "h264_rotated", "h264_bframes_long_gop", "vp9_webm"):
        assert backend_for(corpus[name], "auto") == "pyav", name
    assert backend_for(corpus["xvid_bframes"], "auto") == "pyav-sequential"  # packed B-frames


def test_rotation_tag_is_applied(corpus: dict[str, Path]) -> None:
    info = probe_video(corpus["h264_rotated"])
    assert (info.width, info.height, info.rotation) == (90, 160, 90)
    assert read_frames(corpus["h264_rotated"], np.array([0]), SHORT_SIDE).shape == (1, 86, 48, 3)


@pytest.mark.parametrize("name", NAMES)
def test_seeking_decode_is_exact_without_its_sequential_fallback(corpus: dict[str, Path], name: str) -> None:
    from nsnet.extract.decode.index import packet_index
    from nsnet.extract.decode.pyav_backend import PyAVBackend

    if name not in corpus:
        pytest.skip(f"no encoder for {name}")
    index = packet_index(corpus[name])
    if not index.timestamps_ok:
        pytest.skip(f"{name}: decoded sequentially ({index.reason})")
    info = index.info
    w, h = scaled_size(info.width, info.height, SHORT_SIDE)
    for pattern, indices in _patterns(info.num_frames).items():
        unique, inverse = np.unique(indices, return_inverse=True)
        got = PyAVBackend().read_seeking(corpus[name], index, unique, w, h, info)[inverse]
        np.testing.assert_array_equal(got, _reference(corpus[name], indices), err_msg=f"{name} {pattern}")
