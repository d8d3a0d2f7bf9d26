"""Temporal segment annotations (ActivityNet JSON or our spans.json): which frames of a video show
its labelled action. `nsnet fit-recognizer --segments` trains only on those frames."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nsnet.store import FeatureStore, StoreError
from nsnet.store import schema as S


def load_segments(path: str | Path) -> dict[str, list[tuple[float, float, str]]]:
    """Returns {video key: [(start, end, unit), ...]} from a segment annotation file.

    Two formats: ActivityNet v1.3 JSON (``database[id].annotations[*].segment`` in seconds; unit
    "s") and the ``spans.json`` our untrimmed builder writes (``{id: {"event": [start, end) or
    null}}`` in frames; unit "f"). A video listed with no segment (``event: null``) maps to [].
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise StoreError(f"{path}: cannot read segment annotations ({err})") from err
    out: dict[str, list[tuple[float, float, str]]] = {}
    if isinstance(data, dict) and isinstance(data.get("database"), dict):
        for vid, entry in data["database"].items():
            out[vid] = [(float(a["segment"][0]), float(a["segment"][1]), "s") for a in entry.get("annotations", [])]
        return out
    if isinstance(data, dict) and all(isinstance(v, dict) and "event" in v for v in data.values()):
        for vid, entry in data.items():
            ev = entry["event"]
            out[vid] = [] if not ev else [(float(ev[0]), float(ev[1]), "f")]
        return out
    raise StoreError(f"{path}: neither ActivityNet JSON (database/annotations/segment) nor spans.json ({{id: {{event}}}})")


def _segment_keys(video_id: str) -> list[str]:
    name = Path(video_id).name
    return [video_id, name, name[2:] if name.startswith("v_") else name]


def listed_videos(video_ids: np.ndarray, segments: dict) -> np.ndarray:
    """Returns a bool [len(video_ids)] array: which videos the segment file lists (by id, file name,
    or file name without ActivityNet's ``v_`` prefix)."""
    return np.array([any(k in segments for k in _segment_keys(str(v))) for v in video_ids], dtype=bool)


def check_segments_match(path: str | Path, video_ids: np.ndarray, segments: dict) -> str | None:
    """Returns a warning line when the file lists only some of ``video_ids`` (None when it lists all).

    Raises StoreError when it lists none of them: a file for another dataset (or ``{}``) would
    otherwise silently train on every frame.
    """
    listed = listed_videos(video_ids, segments)
    n, m = int(listed.size), int(listed.sum())
    if m == 0:
        example = f"; the file has ids like {next(iter(segments))!r}" if segments else " (the file lists no video)"
        store_ids = f", the store ids like {str(video_ids[0])!r}" if n else ""
        raise StoreError(f"{path}: 0 of {n} train videos are listed in the segment file{example}{store_ids}")
    if m < n:
        return f"warning: {path} lists {m} of {n} train videos; the other {n - m} keep all their frames"
    return None


def segment_frame_mask(store: FeatureStore, rows: np.ndarray, segments: dict) -> np.ndarray:
    """Returns a bool mask [len(rows), T]: the frames a segment-aware head trains on.

    A video with segments keeps only the frames inside one of them (the others show something
    else, e.g. background); a video with no segment, or not listed, keeps all frames (its label
    covers the whole video).
    """
    frame_idx = store.read(S.FRAME_INDICES, rows)
    fps = store.read(S.FPS, rows)
    vids = store.read(S.VIDEO_ID, rows)
    mask = np.ones(frame_idx.shape, dtype=bool)
    for i, vid in enumerate(vids):
        segs = next((segments[k] for k in _segment_keys(str(vid)) if k in segments), [])
        if not segs:
            continue
        inside = np.zeros(frame_idx.shape[1], dtype=bool)
        for start, end, unit in segs:
            scale = float(fps[i]) if unit == "s" else 1.0
            inside |= (frame_idx[i] >= start * scale) & (frame_idx[i] < end * scale)
        mask[i] = inside
    return mask
