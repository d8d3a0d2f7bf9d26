"""Decoding only the frames we need, straight at the size we need, exactly: the entry point.

The backends live in :mod:`nsnet.extract.decode`; ``decoder`` names one of them or ``auto``.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any, Mapping

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
from nsnet.extract.decode.policy import DEFAULT_DECODER, choose_backend, get_backend

# The process's decoder, read by read_frames when no decoder is passed. An environment variable, so
# DataLoader workers inherit it however they start; set by use_decoder / use_store_decoder.
_DECODER_ENV, _CHOSEN_ENV = "NSNET_DECODER", "NSNET_DECODER_CHOSEN"
# Stores written before the decoder was recorded were decoded with decord's get_batch.
LEGACY_DECODER = "decord"


def use_decoder(name: str) -> None:
    """Makes ``name`` the decoder of this process and its workers (a user's --decoder); returns nothing.
    Raises ConfigError for an unknown or unusable decoder."""
    if name != "auto":
        get_backend(name)
    os.environ[_DECODER_ENV] = name
    os.environ[_CHOSEN_ENV] = "1"


def store_decoder(attrs: Mapping[str, Any]) -> str:
    """Returns the decoder a store's frames were decoded with (its ``decoder`` attribute)."""
    return str((attrs.get("decoder") or {}).get("name", LEGACY_DECODER))


def use_store_decoder(attrs: Mapping[str, Any]) -> str:
    """Makes the store's decoder the one of this process (so reloaded frames are the stored ones),
    unless the user chose one with --decoder; returns the decoder in use."""
    if not os.environ.get(_CHOSEN_ENV):
        os.environ[_DECODER_ENV] = store_decoder(attrs)
    return current_decoder()


def current_decoder() -> str:
    """Returns the decoder read_frames uses when none is passed."""
    return os.environ.get(_DECODER_ENV, DEFAULT_DECODER)


def probe_video(path: str | Path) -> VideoInfo:
    """Returns frame count, fps, displayed size, codec and container of a video, from demuxing only.

    The count is the number of frames a sequential decode yields (the header's count is not used).
    Raises VideoReadError for missing, empty, non-video or unreadable files.
    """
    return packet_index(path).info


def backend_for(path: str | Path, decoder: str | None = None, info: VideoInfo | None = None) -> str:
    """Returns what decodes this video under ``decoder`` (default: the process's): the backend's name,
    ``pyav-sequential`` where pyav decodes from the start because timestamps cannot be trusted."""
    backend = choose_backend(decoder or current_decoder(), info or probe_video(path))
    if backend.name == "pyav" and not packet_index(path).timestamps_ok:
        return "pyav-sequential"
    return backend.name


def read_frames(path: str | Path, indices: np.ndarray, short_side: int, info: VideoInfo | None = None,
                decoder: str | None = None) -> np.ndarray:
    """Returns uint8 RGB frames ``[len(indices), H, W, 3]`` with shorter side ``short_side``; frame i
    is the i-th frame of a sequential decode.

    Only the requested indices are decoded (repeats are decoded once). Raises VideoReadError, and
    InexactDecodeError where the chosen backend cannot be exact on this file. ``decoder`` defaults to
    the process's (:func:`current_decoder`: 'auto' unless a store or --decoder set it).
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
    frames = choose_backend(decoder or current_decoder(), info).read(path, unique, width, height, info)
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
