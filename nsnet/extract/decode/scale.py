"""The one scaling path every backend shares: an FFmpeg filter graph ``[transpose,] scale=W:H:flags=
bilinear, format=rgb24`` fed with the decoded picture in its own pixel format.

This is the graph decord builds (its scale filter's default flags are bilinear), so PyAV reproduces
decord's pixels bit for bit on the files decord reads exactly (measured: max |diff| 0 on H.264).
"""

from __future__ import annotations

import av
import numpy as np
from av.filter import Graph

# Counter-clockwise display rotation -> the filters that show the picture upright (as ffmpeg does).
_ROTATE = {0: [], 90: [("transpose", "cclock")], 180: [("hflip", ""), ("vflip", "")], 270: [("transpose", "clock")]}


class RgbScaler:
    """Converts decoded frames to uint8 RGB ``[height, width, 3]``; one graph per input format."""

    def __init__(self, width: int, height: int, rotation: int = 0) -> None:
        self.width, self.height, self.rotation = width, height, rotation % 360
        self._graph: Graph | None = None
        self._key: tuple | None = None

    def _build(self, frame: av.VideoFrame) -> Graph:
        graph = Graph()
        src = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format.name,
                               time_base=frame.time_base or 1)
        chain = [src]
        for name, args in _ROTATE.get(self.rotation, []):
            chain.append(graph.add(name, args))
        chain.append(graph.add("scale", f"{self.width}:{self.height}:flags=bilinear"))
        chain.append(graph.add("format", "rgb24"))
        chain.append(graph.add("buffersink"))
        for a, b in zip(chain, chain[1:]):
            a.link_to(b)
        graph.configure()
        return graph

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        """Returns the frame as uint8 RGB ``[height, width, 3]``."""
        key = (frame.width, frame.height, frame.format.name)
        if key != self._key:
            self._graph, self._key = self._build(frame), key
        self._graph.push(frame)
        return self._graph.pull().to_ndarray()
