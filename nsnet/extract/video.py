"""Decoding only the frames we need, straight at the size we need, exactly: the entry point.

The backends live in :mod:`nsnet.extract.decode`; ``decoder`` names one of them or ``auto``.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import torch

from nsnet.extract.decode.base import (  # noqa: F401  (re-exported: callers import them from here)
    InexactDecodeError,
    VideoInfo,
    VideoReadError,
    decode_errors,
    scaled_size,
)
from nsnet.extract.decode.index import packet_index
from nsnet.extract.decode.policy import DEFAULT_DECODER, choose_backend


def probe_video(path: str | Path) -> VideoInfo:
    """Returns frame count, fps, displayed size, codec and container of a video, from demuxing only.

    The count is the number of frames a sequential decode yields (the header's count is not used).
    Raises VideoReadError for missing, empty, non-video or unreadable files.
    """
    return packet_index(path).info


def backend_for(path: str | Path, decoder: str = DEFAULT_DECODER, info: VideoInfo | None = None) -> str:
    """Returns the name of the backend ``decoder`` uses for this video ('auto' resolved)."""
    return choose_backend(decoder, info or probe_video(path)).name


def read_frames(path: str | Path, indices: np.ndarray, short_side: int, info: VideoInfo | None = None,
                decoder: str = DEFAULT_DECODER) -> np.ndarray:
    """Returns uint8 RGB frames ``[len(indices), H, W, 3]`` with shorter side ``short_side``; frame i
    is the i-th frame of a sequential decode.

    Only the requested indices are decoded (repeats are decoded once). Raises VideoReadError, and
    InexactDecodeError where the chosen backend cannot be exact on this file.
    """
    path = Path(path)
    info = info or probe_video(path)
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0:
        raise ValueError("no frame indices given")
    if indices.min() < 0 or indices.max() >= info.num_frames:
        raise VideoReadError(f"frame index out of range 0..{info.num_frames - 1}")
    width, height = scaled_size(info.width, info.height, short_side)
    unique, inverse = np.unique(indices, return_inverse=True)
    frames = choose_backend(decoder, info).read(path, unique, width, height, info)
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
