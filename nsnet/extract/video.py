"""Decoding only the frames we need, straight at the size we need (decord)."""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nsnet.errors import UserError


class VideoReadError(UserError, RuntimeError):
    """A video cannot be read; the message is one line saying why."""


@dataclass(frozen=True)
class VideoInfo:
    """Basic facts about a video file."""

    num_frames: int
    fps: float
    width: int
    height: int


@functools.lru_cache(maxsize=1)
def decode_errors() -> tuple[type[BaseException], ...]:
    """Returns the exception types the decoders raise for a file they cannot read (PyAV's FFmpeg
    errors, decord's DECORDError -- not a RuntimeError -- and the RuntimeError / OSError both use).
    Only these become a per-video VideoReadError; anything else is a bug and propagates."""
    import av
    import decord

    return (av.FFmpegError, decord.DECORDError, RuntimeError, OSError)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:200]


def _check_file(path: Path) -> None:
    if not path.exists():
        raise VideoReadError("file not found")
    if not path.is_file():
        raise VideoReadError("not a regular file")
    if path.stat().st_size == 0:
        raise VideoReadError("empty file (0 bytes)")


def probe_video(path: str | Path) -> VideoInfo:
    """Returns frame count, fps and size of a video (header only, no frame decoded).

    Raises VideoReadError for missing, empty, non-video or unreadable files.
    """
    path = Path(path)
    _check_file(path)
    import av  # PyAV reads the stream header cheaply; decord's count is used for frames

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoReadError("no video stream")
            stream = container.streams.video[0]
            width, height = int(stream.codec_context.width), int(stream.codec_context.height)
    except VideoReadError:
        raise
    except decode_errors() as err:
        raise VideoReadError(f"not a readable video ({_first_line(err)})") from err
    if width <= 0 or height <= 0:
        raise VideoReadError("video stream has no frame size")
    reader = _open_decord(path, -1, -1)
    num_frames = len(reader)
    if num_frames < 1:
        raise VideoReadError("video has no frames")
    return VideoInfo(num_frames=num_frames, fps=float(reader.get_avg_fps() or 0.0), width=width, height=height)


def _open_decord(path: Path, width: int, height: int):
    import decord

    try:
        return decord.VideoReader(str(path), ctx=decord.cpu(0), width=width, height=height, num_threads=1)
    except decode_errors() as err:
        raise VideoReadError(f"cannot decode ({_first_line(err)})") from err


def scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """Returns (width, height) with the shorter side equal to ``short_side``, aspect kept (even sizes)."""
    scale = short_side / min(width, height)
    w = short_side if width <= height else int(round(width * scale / 2) * 2)
    h = short_side if height < width else int(round(height * scale / 2) * 2)
    return max(w, short_side), max(h, short_side)


def read_frames(path: str | Path, indices: np.ndarray, short_side: int, info: VideoInfo | None = None) -> np.ndarray:
    """Returns uint8 RGB frames ``[len(indices), H, W, 3]`` with shorter side ``short_side``.

    Only the requested indices are decoded (repeats are decoded once). Raises VideoReadError.
    """
    path = Path(path)
    info = info or probe_video(path)
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0:
        raise ValueError("no frame indices given")
    if indices.min() < 0 or indices.max() >= info.num_frames:
        raise VideoReadError(f"frame index out of range 0..{info.num_frames - 1}")
    width, height = scaled_size(info.width, info.height, short_side)
    reader = _open_decord(path, width, height)
    unique, inverse = np.unique(indices, return_inverse=True)
    try:
        frames = reader.get_batch(unique.tolist()).asnumpy()
    except decode_errors() as err:
        raise VideoReadError(f"decoding failed ({_first_line(err)})") from err
    finally:
        del reader
    if frames.shape[0] != unique.size:
        raise VideoReadError(f"decoder returned {frames.shape[0]} frames, expected {unique.size}")
    return frames[inverse]


# glibc mallopt parameters, and how many freed bytes a process may keep for reuse.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MALLOC_KEEP_BYTES = 1 << 30


def keep_freed_memory() -> None:
    """Makes glibc reuse freed large blocks instead of unmapping them; returns nothing (no-op off glibc).

    Every decoded video and every forward batch allocates tensors of tens of MB. By default glibc
    serves those with mmap and unmaps them on free, so each new one is page-faulted in again
    (measured in benchmarks/bench_extract: about a third of the decode workers' CPU time and a
    quarter of the forward's). Numerical outputs are unchanged; freed memory stays in the process.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, _MALLOC_KEEP_BYTES)
    mallopt(_M_TRIM_THRESHOLD, _MALLOC_KEEP_BYTES)


def decode_worker_init(_: int) -> None:
    """DataLoader worker setup for decoding: one torch thread, freed memory kept for reuse."""
    torch.set_num_threads(1)
    keep_freed_memory()
