"""`nsnet check-decode`: compare a backend's frames with a sequential decode, video by video."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from nsnet.extract.annotations import VIDEO_EXTENSIONS, load_manifest
from nsnet.extract.decode.base import Backend, InexactDecodeError, VideoReadError, scaled_size
from nsnet.extract.decode.decord_backend import DecordBackend
from nsnet.extract.decode.index import packet_index
from nsnet.extract.decode.policy import choose_backend
from nsnet.extract.decode.sequential import read_sequential
from nsnet.extract.frames import plan_frame_indices


@dataclass
class CheckRow:
    """One video's result: ``mismatches`` frames of ``frames`` differ from the sequential decode;
    ``status`` is 'ok', 'mismatch', 'refused: ...' (the backend says it cannot be exact) or
    'error: ...' (the file cannot be decoded)."""

    path: str
    codec: str = ""
    container: str = ""
    backend: str = ""
    frames: int = 0
    mismatches: int = 0
    seconds: float = 0.0
    status: str = "ok"

    def to_dict(self) -> dict:
        """Returns the row as a JSON-able dict."""
        return asdict(self)


def list_videos(inputs: list[Path]) -> list[Path]:
    """Returns the videos named by ``inputs``: video files as given, annotation files or folders
    expanded to their videos (raises AnnotationError / a UserError for unreadable annotations)."""
    videos: list[Path] = []
    for item in inputs:
        if item.suffix.lower() in VIDEO_EXTENSIONS:
            videos.append(item)
        else:
            videos.extend(Path(e.path) for e in load_manifest(item).entries)
    return videos


def _backend(decoder: str, info) -> Backend:
    # check-decode reads every file with decord, so that its wrong frames show up as mismatches
    return DecordBackend(checked=False) if decoder == "decord" else choose_backend(decoder, info)


def check_video(path: Path, decoder: str, frames: int, short_side: int) -> CheckRow:
    """Returns the CheckRow of ``frames`` uniformly spaced frames of one video under ``decoder``."""
    row = CheckRow(path=str(path))
    try:
        index = packet_index(path)
        info = index.info
        row.codec, row.container = info.codec, info.container
        backend = _backend(decoder, info)
        row.backend = "pyav-sequential" if backend.name == "pyav" and not index.timestamps_ok else backend.name
        wanted = np.unique(plan_frame_indices(info.num_frames, frames))
        width, height = scaled_size(info.width, info.height, short_side)
        row.frames = int(wanted.size)
        start = time.perf_counter()
        got = backend.read(path, wanted, width, height, info)
        row.seconds = time.perf_counter() - start
        reference = read_sequential(path, wanted, width, height, info)
    except InexactDecodeError as err:
        row.status = f"refused: {err}"
        return row
    except VideoReadError as err:
        row.status = f"error: {err}"
        return row
    differs = [not np.array_equal(g, r) for g, r in zip(got, reference)] if got.shape == reference.shape else [True]
    row.mismatches = int(sum(differs)) if got.shape == reference.shape else row.frames
    row.status = "mismatch" if row.mismatches else "ok"
    return row
