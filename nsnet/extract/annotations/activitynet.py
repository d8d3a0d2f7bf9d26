"""Annotation reader: ActivityNet v1.3 JSON -> :class:`Manifest`."""

from __future__ import annotations

from pathlib import Path

from nsnet.extract.annotations.common import (
    DirIndex,
    KeyTrackingDict,
    existing_file,
    finish_manifest,
    load_json,
    resolve_root,
    taxonomy_leaves,
    unique_in_order,
)
from nsnet.extract.annotations.manifest import (
    AnnotationError,
    Manifest,
    VideoEntry,
    ACTIVITYNET_EXTENSIONS,
    normalise_split,
)


def read(json_path: str | Path, root: str | Path) -> Manifest:
    """Returns the manifest of an ActivityNet v1.3-style JSON.

    Labels of a video are its distinct annotation labels (sorted; several ->
    multi-label, none -> unlabeled). Class names are the taxonomy's leaf nodes
    (when a taxonomy is present) together with every annotated label, sorted.
    The video file is looked up as ``v_<id>.<ext>`` or ``<id>.<ext>`` (ext in
    mp4/mkv/webm/avi/mov) in ``root`` or ``root/<subset>`` (subset spelled as in
    the JSON or normalised); when absent the path is ``root/v_<id>.mp4``.
    """
    path = existing_file(json_path)
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise AnnotationError(f"{path}: expected a JSON object with a 'database' object")
    database: KeyTrackingDict = data["database"]
    if database.duplicates:
        raise AnnotationError(f"{path}: duplicate video id {database.duplicates[0]!r} in 'database'")
    class_names = set(taxonomy_leaves(data.get("taxonomy"), path))
    base = resolve_root(root)
    index = DirIndex()
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
        dirs = unique_in_order([base, base / raw_subset, base / split])
        names = [f"{prefix}{video_id}{ext}" for prefix in ("v_", "") for ext in ACTIVITYNET_EXTENSIONS]
        found = index.find(dirs, names)
        entries.append(
            VideoEntry(str(video_id), found or base / f"v_{video_id}.mp4", tuple(sorted(labels)), split)
        )
    return finish_manifest(entries, sorted(class_names), path, "activitynet")
