"""Probing a video by demuxing only: its facts and the presentation timestamps of its frames.

Frame i is the i-th frame of a sequential decode. Where timestamps are usable (every packet has one,
all distinct, and the codec outputs frames in timestamp order), frame i is the packet with the i-th
smallest timestamp, and a decoder may seek to any keyframe and match frames by timestamp.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from nsnet.extract.decode.base import VideoInfo, VideoReadError, check_file, decode_errors
from nsnet.errors import first_line

# MPEG-4 Part 2 "packed bitstream" (DivX/XviD B-frames in AVI): a B-frame rides in its reference's
# packet and a placeholder packet of a few bytes follows; FFmpeg's output timestamps are then out of
# order, so such files are decoded sequentially.
_PACKED_PLACEHOLDER_BYTES = 8


@dataclass(frozen=True)
class PacketIndex:
    """Demuxed facts of a video stream: ``pts`` of every frame in presentation order (frame i has
    ``pts[i]``), ``keyframe_pts`` sorted, and whether timestamps can be trusted for seeking."""

    info: VideoInfo
    pts: np.ndarray
    keyframe_pts: np.ndarray
    timestamps_ok: bool
    reason: str = ""


def _rotation(stream: av.video.stream.VideoStream, container: av.container.InputContainer) -> int:
    """Returns the display rotation (counter-clockwise degrees) of the first decoded frame, 0 if none."""
    try:
        container.seek(0)
        frame = next(container.decode(stream))
    except (StopIteration, *decode_errors()):
        return 0
    return int(round(getattr(frame, "rotation", 0) or 0)) % 360


def _scan(path: Path) -> PacketIndex:
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise VideoReadError("no video stream")
        stream = container.streams.video[0]
        width, height = int(stream.codec_context.width), int(stream.codec_context.height)
        if width <= 0 or height <= 0:
            raise VideoReadError("video stream has no frame size")
        rate = stream.average_rate or stream.guessed_rate
        pts, keys, missing, tiny = [], [], 0, 0
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if packet.pts is None:
                missing += 1
                pts.append(len(pts))
                continue
            pts.append(int(packet.pts))
            tiny += packet.size <= _PACKED_PLACEHOLDER_BYTES
            if packet.is_keyframe:
                keys.append(int(packet.pts))
        codec, fmt = stream.codec_context.codec.canonical_name, container.format.name
        rotation = _rotation(stream, container)
    if not pts:
        raise VideoReadError("video has no frames")
    if rotation in (90, 270):
        width, height = height, width
    info = VideoInfo(num_frames=len(pts), fps=float(rate or 0.0), width=width, height=height, codec=codec,
                     container=fmt, rotation=rotation)
    order = np.sort(np.asarray(pts, dtype=np.int64))
    reason = ""
    if missing:
        reason = f"{missing} packets without a timestamp"
    elif np.any(np.diff(order) == 0):
        reason = "repeated timestamps"
    elif codec == "mpeg4" and tiny:
        reason = "MPEG-4 packed bitstream (B-frames in placeholder packets)"
    elif not keys:
        reason = "no keyframe flagged"
    return PacketIndex(info, order, np.unique(np.asarray(keys, dtype=np.int64)), not reason, reason)


@functools.lru_cache(maxsize=32)
def _cached_scan(path: str, mtime_ns: int, size: int) -> PacketIndex:
    return _scan(Path(path))


def packet_index(path: str | Path) -> PacketIndex:
    """Returns the video's PacketIndex (cached per file and modification time).

    Raises VideoReadError for missing, empty, non-video or unreadable files."""
    path = Path(path)
    check_file(path)
    stat = path.stat()
    try:
        return _cached_scan(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except VideoReadError:
        raise
    except decode_errors() as err:
        raise VideoReadError(f"not a readable video ({first_line(err)})") from err
