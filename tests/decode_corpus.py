"""The decode corpus: small videos in the codecs and containers users bring, written with the FFmpeg
that imageio-ffmpeg ships (testsrc2 pattern). Nothing is stored in the repo; tests build it once
per session (:func:`build_corpus`) and the decode benchmark builds it too.

Each entry is ``name -> (file name, ffmpeg output arguments, seconds, size)``. The files that matter
most are those where seeking is hard: B-frames (or an open GOP) and keyframes after the first.
"""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

import numpy as np

FPS = 25
# name: (file name, encoder arguments, seconds, (width, height))
CORPUS: dict[str, tuple[str, list[str], float, tuple[int, int]]] = {
    "h264_bframes_long_gop": ("h264_bf.mp4", ["-c:v", "libx264", "-bf", "3", "-g", "250", "-pix_fmt", "yuv420p"],
                              12.0, (160, 90)),
    "h264_short_gop": ("h264_gop.mp4", ["-c:v", "libx264", "-bf", "3", "-g", "24", "-pix_fmt", "yuv420p"],
                       6.0, (160, 90)),
    "hevc_open_gop": ("hevc.mp4", ["-c:v", "libx265", "-x265-params", "keyint=24:min-keyint=24:open-gop=1:log-level=0",
                                   "-pix_fmt", "yuv420p", "-tag:v", "hvc1"], 6.0, (160, 90)),
    "vp8_webm": ("vp8.webm", ["-c:v", "libvpx", "-g", "30", "-b:v", "200k"], 4.0, (160, 90)),
    "vp9_webm": ("vp9.webm", ["-c:v", "libvpx-vp9", "-g", "30", "-b:v", "200k", "-deadline", "realtime",
                              "-cpu-used", "8"], 4.0, (160, 90)),
    "mpeg4_bframes_short": ("mpeg4_short.avi", ["-c:v", "mpeg4", "-bf", "2", "-g", "12", "-q:v", "5"], 7.0, (160, 90)),
    "mpeg4_bframes_long": ("mpeg4_long.avi", ["-c:v", "mpeg4", "-bf", "2", "-g", "100", "-q:v", "5"], 24.0, (160, 90)),
    "xvid_bframes": ("xvid.avi", ["-c:v", "libxvid", "-bf", "2", "-g", "60", "-q:v", "5"], 10.0, (160, 90)),
    "mjpeg_avi": ("mjpeg.avi", ["-c:v", "mjpeg", "-q:v", "5", "-pix_fmt", "yuvj420p"], 3.0, (160, 90)),
    "av1": ("av1.mp4", ["-c:v", "libsvtav1", "-g", "24", "-preset", "12", "-pix_fmt", "yuv420p"], 3.0, (160, 96)),
    "h264_odd_size": ("odd.mp4", ["-c:v", "libx264", "-bf", "2", "-g", "20", "-pix_fmt", "yuv444p"], 3.0, (99, 75)),
    "one_frame": ("one.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p"], 1 / FPS, (64, 48)),
}
# Made from other entries (see build_corpus): VFR, rotation tag, wrong header count, corrupt tail.
DERIVED = ("h264_vfr", "h264_rotated", "avi_wrong_count", "h264_corrupt_tail")
# Files no backend can decode exactly: every backend must refuse them.
UNDECODABLE = ("h264_corrupt_tail",)


def ffmpeg_exe() -> str:
    """Returns the path of the ffmpeg binary imageio-ffmpeg ships."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def has_encoder(name: str) -> bool:
    """Returns whether the shipped ffmpeg lists the encoder ``name``."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    return any(line.split()[1:2] == [name] for line in out.splitlines() if line.strip())


def _ffmpeg(args: list[str]) -> None:
    env = {**os.environ, "SVT_LOG": "1"}  # SVT-AV1 prints its banner unless told not to
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True, env=env)


def _testsrc(seconds: float, size: tuple[int, int]) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size[0]}x{size[1]}:rate={FPS}:duration={seconds}"]


def _patch_avi_count(path: Path, wrong: int) -> None:
    """Overwrites the AVI header's total frame count and the stream header's length with ``wrong``."""
    data = bytearray(path.read_bytes())
    avih, strh = data.find(b"avih"), data.find(b"strh")
    struct.pack_into("<I", data, avih + 8 + 16, wrong)  # dwTotalFrames
    struct.pack_into("<I", data, strh + 8 + 32, wrong)  # dwLength
    path.write_bytes(bytes(data))


def _corrupt_tail(src: Path, dst: Path) -> None:
    """Copies ``src`` (moov in front) with the media data after about its first second overwritten."""
    data = bytearray(src.read_bytes())
    start = data.find(b"mdat") + 4
    lo = start + (len(data) - start) // 3
    rng = np.random.default_rng(0)
    data[lo:] = rng.integers(0, 256, size=len(data) - lo, dtype=np.uint8).tobytes()
    dst.write_bytes(bytes(data))


def build_corpus(directory: Path) -> dict[str, Path]:
    """Writes every corpus video whose encoder exists under ``directory``; returns {name: path}."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, (file_name, args, seconds, size) in CORPUS.items():
        encoder = args[args.index("-c:v") + 1]
        if encoder not in ("mpeg4", "mjpeg") and not has_encoder(encoder):
            continue
        paths[name] = directory / file_name
        _ffmpeg([*_testsrc(seconds, size), *args, str(paths[name])])
    # VFR: frames dropped irregularly, timestamps kept (no duplication).
    paths["h264_vfr"] = directory / "vfr.mp4"
    _ffmpeg([*_testsrc(6.0, (160, 90)), "-vf", r"select='not(between(n\,20\,34))*gt(mod(n\,7)\,0)'",
             "-fps_mode", "vfr", "-c:v", "libx264", "-bf", "3", "-g", "40", "-pix_fmt", "yuv420p",
             str(paths["h264_vfr"])])
    paths["h264_rotated"] = directory / "rotated.mp4"
    _ffmpeg(["-display_rotation", "90", "-i", str(paths["h264_short_gop"]), "-c", "copy", str(paths["h264_rotated"])])
    paths["avi_wrong_count"] = directory / "wrong_count.avi"
    _ffmpeg([*_testsrc(2.0, (64, 48)), "-c:v", "mpeg4", "-g", "10", str(paths["avi_wrong_count"])])
    _patch_avi_count(paths["avi_wrong_count"], 80)
    faststart = directory / "_faststart.mp4"
    _ffmpeg([*_testsrc(4.0, (160, 90)), "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p",
             "-movflags", "+faststart", str(faststart)])
    paths["h264_corrupt_tail"] = directory / "corrupt_tail.mp4"
    _corrupt_tail(faststart, paths["h264_corrupt_tail"])
    faststart.unlink()
    return paths
