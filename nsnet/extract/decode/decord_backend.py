"""decord's ``get_batch``: fast, but on B-frame MPEG-4 Part 2 / XviD AVI and short-GOP HEVC it returns
other frames than asked (issue 17). It is used only on the codecs where the decode corpus
(tests/decode_corpus.py) shows it exact, and refuses every other file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nsnet.extract.decode.base import InexactDecodeError, VideoInfo, VideoReadError, decode_errors
from nsnet.errors import first_line

# (codec, container) pairs on which decord's frames equal a sequential decode in the corpus tests.
EXACT = {("h264", "mov,mp4,m4a,3gp,3g2,mj2"), ("vp8", "matroska,webm"), ("vp9", "matroska,webm"),
         ("mjpeg", "avi")}


class DecordBackend:
    """decord's VideoReader scaled in its own filter graph (the shared scaling path). ``checked=False``
    (``nsnet check-decode`` only) reads every file, to show what decord returns where it is wrong."""

    name = "decord"

    def __init__(self, checked: bool = True) -> None:
        self.checked = checked

    def version(self) -> str:
        """Returns decord's version."""
        import decord

        return str(decord.__version__)

    def unavailable(self) -> str | None:
        """Returns why decord cannot be imported, or None."""
        try:
            import decord  # noqa: F401
        except ImportError as err:
            return f"decord cannot be imported ({first_line(err)})"
        return None

    def claims(self, info: VideoInfo) -> bool:
        """Returns whether the corpus shows decord exact on this codec and container (unrotated)."""
        return (info.codec, info.container) in EXACT and info.rotation == 0

    def read(self, path: Path, indices: np.ndarray, width: int, height: int, info: VideoInfo) -> np.ndarray:
        """Returns uint8 RGB ``[len(indices), height, width, 3]``; refuses codecs it is not exact on."""
        if self.checked and not self.claims(info):
            raise InexactDecodeError(f"decord is not exact on {info.codec} in {info.container}"
                                     f"{' with a rotation tag' if info.rotation else ''}; use --decoder pyav")
        import decord

        try:
            reader = decord.VideoReader(str(path), ctx=decord.cpu(0), width=width, height=height, num_threads=1)
            if self.checked and len(reader) != info.num_frames:
                raise InexactDecodeError(f"decord counts {len(reader)} frames, a sequential decode {info.num_frames}")
            frames = reader.get_batch(indices.tolist()).asnumpy()
        except VideoReadError:
            raise
        except decode_errors() as err:
            raise VideoReadError(f"decoding failed ({first_line(err)})") from err
        if frames.shape[0] != len(indices):
            raise VideoReadError(f"decoder returned {frames.shape[0]} frames, expected {len(indices)}")
        return frames
