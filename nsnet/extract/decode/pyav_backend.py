"""The exact backend (PyAV): seek to a keyframe from which decoding is safe, decode forward, and
match frames by presentation timestamp against the demuxed index.

Safe start: for a wanted timestamp t the decode starts at the last keyframe K with pts <= t. Frames
that come out with a timestamp below K's (leading pictures of an open GOP, B-frames of the previous
GOP) are dropped, never matched. Every wanted timestamp must come out of the decoder, in increasing
order, or the seeking decode gives up (InexactDecodeError) and the file is decoded sequentially,
which is exact by definition; so it is where the index says timestamps cannot be trusted.

Speed: for H.264 and HEVC in containers whose packets carry their own frame's timestamp (MP4/MOV,
Matroska), a packet that is not wanted is decoded with ``skip_frame=NONREF``: if no other picture
references it, the decoder skips it (it cannot change any other frame); a wrong guess can only make
a wanted frame missing, which the timestamp check turns into the sequential fallback, never a
wrong frame.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from nsnet.extract.decode.base import InexactDecodeError, VideoInfo, VideoReadError, decode_errors
from nsnet.errors import first_line
from nsnet.extract.decode.index import PacketIndex, packet_index
from nsnet.extract.decode.scale import RgbScaler
from nsnet.extract.decode.sequential import read_sequential


# Demuxers whose packets carry the presentation timestamp of the frame they hold, and the codecs whose
# decoders skip exactly the pictures no other picture references (AV1's dav1d does not: measured).
_OWN_PTS_CONTAINERS = ("mov", "matroska")
_SKIP_CODECS = ("h264", "hevc")


class _Seeker:
    """One open file: decodes forward from keyframes and hands out frames by timestamp."""

    def __init__(self, container: av.container.InputContainer, index: PacketIndex, scale: RgbScaler,
                 wanted: set[int]) -> None:
        self.container, self.index, self.scale = container, index, scale
        self.stream = container.streams.video[0]
        self.stream.codec_context.thread_count = 1  # one decode thread per worker, as decord is run
        skips = (container.format.name.split(",")[0] in _OWN_PTS_CONTAINERS
                 and self.stream.codec_context.codec.canonical_name in _SKIP_CODECS)
        self.wanted = wanted if skips else None
        self.frames = None  # the frame iterator of the current decode run
        self.start_pts = self.last_pts = None

    def _decode_from(self, key_pts: int):
        self.container.seek(int(key_pts), stream=self.stream, backward=True, any_frame=False)
        self.stream.codec_context.flush_buffers()
        started = False
        for packet in self.container.demux(self.stream):
            if not started:
                if packet.size == 0:
                    continue
                if not packet.is_keyframe or packet.pts is None or packet.pts > key_pts:
                    raise InexactDecodeError(f"seek to keyframe at pts {key_pts} landed on pts {packet.pts}")
                self.start_pts, started = int(packet.pts), True
            if self.wanted is not None:
                self.stream.codec_context.skip_frame = "DEFAULT" if packet.pts in self.wanted else "NONREF"
            yield from packet.decode()

    def get(self, target: int) -> np.ndarray:
        """Returns the RGB frame whose presentation timestamp is ``target``."""
        keys = self.index.keyframe_pts
        key = keys[max(0, np.searchsorted(keys, target, side="right") - 1)]
        if self.frames is None or target <= self.last_pts or key > self.last_pts:
            self.frames, self.last_pts = self._decode_from(int(key)), None
        for frame in self.frames:
            pts = frame.pts
            if pts is None:
                raise InexactDecodeError("decoded frame without a timestamp")
            if pts < self.start_pts:  # a leading picture: not decodable from this keyframe
                continue
            if self.last_pts is not None and pts <= self.last_pts:
                raise InexactDecodeError("decoder output is not in timestamp order")
            self.last_pts = pts
            if pts == target:
                if frame.is_corrupt:
                    raise VideoReadError(f"frame at pts {pts} decoded with errors")
                return self.scale(frame)
            if pts > target:
                break
        raise InexactDecodeError(f"no decoded frame has pts {target}")


class PyAVBackend:
    """Exact decoding with PyAV (seek by keyframe, match by timestamp; sequential when needed)."""

    name = "pyav"

    def version(self) -> str:
        """Returns PyAV's version and its FFmpeg's libavcodec version."""
        return f"{av.__version__} (libavcodec {'.'.join(map(str, av.library_versions['libavcodec']))})"

    def unavailable(self) -> str | None:
        """Returns None: PyAV is a dependency."""
        return None

    def claims(self, info: VideoInfo) -> bool:
        """Returns True: exact on every codec FFmpeg decodes, or it refuses the file."""
        return True

    def read(self, path: Path, indices: np.ndarray, width: int, height: int, info: VideoInfo) -> np.ndarray:
        """Returns uint8 RGB ``[len(indices), height, width, 3]`` of sorted unique ``indices``."""
        index = packet_index(path)
        if not index.timestamps_ok:
            return read_sequential(path, indices, width, height, info)
        try:
            return self.read_seeking(path, index, indices, width, height, info)
        except InexactDecodeError:
            return read_sequential(path, indices, width, height, info)

    def read_seeking(self, path: Path, index: PacketIndex, indices: np.ndarray, width: int, height: int,
                     info: VideoInfo) -> np.ndarray:
        """Returns the frames by seeking and timestamp matching; raises InexactDecodeError where that
        cannot be exact (the caller then decodes sequentially)."""
        scale = RgbScaler(width, height, info.rotation)
        out = np.empty((len(indices), height, width, 3), dtype=np.uint8)
        wanted = index.pts[indices]
        try:
            with av.open(str(path)) as container:
                seeker = _Seeker(container, index, scale, set(wanted.tolist()))
                for slot, pts in enumerate(wanted.tolist()):
                    out[slot] = seeker.get(int(pts))
        except VideoReadError:
            raise
        except decode_errors() as err:
            raise VideoReadError(f"decoding failed ({first_line(err)})") from err
        return out
