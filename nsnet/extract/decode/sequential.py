"""The reference: a plain sequential decode with PyAV (frame i = the i-th frame it yields), scaled
by the shared scaling path. Also the exact backend's fallback where timestamps cannot be trusted."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import av
import numpy as np

from nsnet.extract.decode.base import VideoInfo, VideoReadError, decode_errors
from nsnet.errors import first_line
from nsnet.extract.decode.scale import RgbScaler


def iter_decoded(path: Path) -> Iterator[av.VideoFrame]:
    """Yields every frame of the first video stream, in decode output order; raises VideoReadError."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1  # one decode thread per worker, as decord is run
            yield from container.decode(stream)
    except decode_errors() as err:
        raise VideoReadError(f"decoding failed ({first_line(err)})") from err


def read_sequential(path: Path, indices: np.ndarray, width: int, height: int, info: VideoInfo) -> np.ndarray:
    """Returns uint8 RGB ``[len(indices), height, width, 3]`` for sorted unique ``indices`` by decoding
    from the first frame; raises VideoReadError if the stream ends before the last index."""
    scale = RgbScaler(width, height, info.rotation)
    out = np.empty((len(indices), height, width, 3), dtype=np.uint8)
    want = iter(enumerate(indices.tolist()))
    slot, target = next(want)
    count = 0
    for frame in iter_decoded(path):
        i, count = count, count + 1
        if frame.is_corrupt:
            raise VideoReadError(f"frame {i} decoded with errors")
        if i < target:
            continue
        out[slot] = scale(frame)
        nxt = next(want, None)
        if nxt is None:
            return out
        slot, target = nxt
    raise VideoReadError(f"stream ended after {count} frames; frame {target} asked")


def count_sequential(path: Path) -> int:
    """Returns how many frames a sequential decode yields (raises VideoReadError on a decode error)."""
    return sum(1 for _ in iter_decoded(path))
