"""Annotation reader: ActivityNet v1.3 JSON -> :class:`Manifest` (``Manifest.from_activitynet``)."""

from __future__ import annotations

from pathlib import Path

from nsnet.extract.annotations.common import (
    _DirIndex,
    _KeyTrackingDict,
    _existing_file,
    _finish,
    _load_json,
    _resolve_root,
    _taxonomy_leaves,
    _unique,
)
from nsnet.extract.annotations.manifest import (
    AnnotationError,
    Manifest,
    VideoEntry,
    _ACTIVITYNET_EXTENSIONS,
    normalise_split,
)


def read(json_path: str | Path, root: str | Path) -> Manifest:
    """Returns the manifest; see :meth:`Manifest.from_activitynet` for the format and the rules."""
    path = _existing_file(json_path)
    data = _load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise AnnotationError(f"{path}: expected a JSON object with a 'database' object")
    database: _KeyTrackingDict = data["database"]
    if database.duplicates:
        raise AnnotationError(f"{path}: duplicate video id {database.duplicates[0]!r} in 'database'")
    class_names = set(_taxonomy_leaves(data.get("taxonomy"), path))
    base = _resolve_root(root)
    index = _DirIndex()
    entries: list[VideoEntry] = []
    for video_id, info in database.items():
        where = f"{path}: video {video_id!r}"
        if not isinstance(info, dict):
            raise AnnotationError(f"{where}: expected an object")
        if "subset" not in info:
            raise AnnotationError(f"{where}: missing 'subset'")
        raw_subset = str(info["subset"])
        split = normalise_split(raw_subset, where=where)
        annotations = info.get("annotations", [])
        if not isinstance(annotations, list):
            raise AnnotationError(f"{where}: 'annotations' must be a list")
        labels: set[str] = set()
        for ann in annotations:
            if not isinstance(ann, dict) or not isinstance(ann.get("label"), str) or not ann["label"].strip():
                raise AnnotationError(f"{where}: each annotation needs a non-empty 'label'")
            labels.add(ann["label"].strip())
        class_names |= labels
        dirs = _unique([base, base / raw_subset, base / split])
        names = [f"{prefix}{video_id}{ext}" for prefix in ("v_", "") for ext in _ACTIVITYNET_EXTENSIONS]
        found = index.find(dirs, names)
        entries.append(
            VideoEntry(str(video_id), found or base / f"v_{video_id}.mp4", tuple(sorted(labels)), split)
        )
    return _finish(entries, sorted(class_names), path, "activitynet")
