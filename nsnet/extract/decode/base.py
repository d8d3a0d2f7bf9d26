"""What every decoder backend shares: the errors, the video facts, the output size, the interface."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from nsnet.errors import UserError


class VideoReadError(UserError, RuntimeError):
    """A video cannot be read; the message is one line saying why."""


class InexactDecodeError(VideoReadError):
    """A backend cannot return exactly the frames of a sequential decode of this file."""


@dataclass(frozen=True)
class VideoInfo:
    """Basic facts about a video file. ``num_frames`` is the number of frames a sequential decode
    yields (counted as the video packets that carry data, from demuxing only); ``width`` and
    ``height`` are the displayed size (after the rotation tag); ``rotation`` is counter-clockwise
    degrees (0, 90, 180, 270)."""

    num_frames: int
    fps: float
    width: int
    height: int
    codec: str = ""
    container: str = ""
    rotation: int = 0


@functools.lru_cache(maxsize=1)
def decode_errors() -> tuple[type[BaseException], ...]:
    """Returns the exception types the decoders raise for a file they cannot read (PyAV's FFmpeg
    errors, decord's DECORDError -- not a RuntimeError -- and the RuntimeError / OSError both use).
    Only these become a per-video VideoReadError; anything else is a bug and propagates."""
    import av
    import decord

    return (av.FFmpegError, decord.DECORDError, RuntimeError, OSError)


def check_file(path: Path) -> None:
    """Raises VideoReadError unless ``path`` is a non-empty regular file; returns nothing."""
    if not path.exists():
        raise VideoReadError("file not found")
    if not path.is_file():
        raise VideoReadError("not a regular file")
    if path.stat().st_size == 0:
        raise VideoReadError("empty file (0 bytes)")


def scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """Returns (width, height) with the shorter side equal to ``short_side``, aspect kept (even sizes)."""
    scale = short_side / min(width, height)
    w = short_side if width <= height else int(round(width * scale / 2) * 2)
    h = short_side if height < width else int(round(height * scale / 2) * 2)
    return max(w, short_side), max(h, short_side)


class Backend(Protocol):
    """A decoder: ``read`` returns uint8 RGB ``[len(indices), height, width, 3]`` for sorted, unique,
    in-range ``indices`` (frame i = the i-th frame of a sequential decode), scaled by the shared
    scaling path, or raises VideoReadError (InexactDecodeError when it cannot be exact)."""

    name: str

    def version(self) -> str:
        """Returns the backend library's version."""
        ...

    def unavailable(self) -> str | None:
        """Returns why the backend cannot run here (one line), or None when it can."""
        ...

    def claims(self, info: VideoInfo) -> bool:
        """Returns whether the backend is known to be exact on this codec and container."""
        ...

    def read(self, path: Path, indices: np.ndarray, width: int, height: int, info: VideoInfo) -> np.ndarray:
        ...
