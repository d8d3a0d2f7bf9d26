"""Writing a video file from frames (PyAV): H.264 when available, else MPEG-4 Part 2."""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np

__all__ = ["InvalidFramesError", "default_codec", "write_video"]


class InvalidFramesError(ValueError):
    """Frames passed to :func:`write_video` are not a non-empty ``[N,H,W,3]`` uint8 array with
    even ``H`` and ``W``."""


@lru_cache(maxsize=None)
def _can_encode(codec: str) -> bool:
    """Returns True when this PyAV build has an encoder called ``codec``."""
    try:
        av.codec.Codec(codec, "w")
    except Exception:  # UnknownCodecError and friends
        return False
    return True


def default_codec() -> str:
    """Returns ``"libx264"`` when PyAV can encode H.264 with it, else ``"mpeg4"``."""
    return "libx264" if _can_encode("libx264") else "mpeg4"


def write_video(
    path: Path, frames: np.ndarray, fps: float, codec: str | None = None, gop: int = 25
) -> Path:
    """Encodes ``frames`` (``[N,H,W,3]`` uint8 RGB, even H and W) as a yuv420p video at ``fps``
    with a keyframe at least every ``gop`` frames (``codec`` None: H.264 via libx264, falling
    back to MPEG-4 part 2). The file is written next to ``path`` and renamed into place, so a
    crash never leaves a half-written file under ``path``. Returns ``path``."""
    path = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise InvalidFramesError(
            f"frames must be a non-empty [N,H,W,3] uint8 array, got shape {frames.shape} {frames.dtype}"
        )
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise InvalidFramesError(f"yuv420p needs even frame height and width, got {height}x{width}")
    if fps <= 0 or gop < 1:
        raise ValueError(f"fps must be > 0 and gop >= 1, got fps={fps} gop={gop}")
    codec = codec or default_codec()

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    container_format = None if path.suffix else "mp4"  # else guessed from the suffix
    try:
        with av.open(str(tmp), mode="w", format=container_format) as container:
            stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
            ctx = stream.codec_context
            ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
            ctx.gop_size = gop
            if codec == "libx264":
                ctx.options = {"crf": "20", "preset": "veryfast"}
            else:
                ctx.bit_rate = int(max(500_000, 1.0 * width * height * fps))
            for rgb in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------------------------
# Frame synthesis
# --------------------------------------------------------------------------------------------
