"""Annotation reader: one folder per class -> :class:`Manifest`."""

from __future__ import annotations

from pathlib import Path

from nsnet.extract.annotations.common import (
    finish_manifest,
    folder_entry,
    hash_split,
    resolve_root,
    sorted_dirs,
    sorted_labels,
    videos_under,
)
from nsnet.extract.annotations.manifest import SPLIT_ALIASES, AnnotationError, Manifest, VideoEntry


def read(root: str | Path) -> Manifest:
    """Returns the manifest of a folder-per-class dataset.

    Layouts: ``root/<class>/**/<video>`` or, when every top-level folder is a split
    name (train/val/test or training/validation/testing), ``root/<split>/<class>/**/<video>``.
    Videos are files with an extension in ``VIDEO_EXTENSIONS``; hidden entries are
    skipped. The video id is the path relative to ``root`` without extension.

    Without split folders the split is a deterministic 80/20 hash split: a video
    is "train" when ``int(sha1(rel).hexdigest()[:8], 16) % 100 < 80`` where ``rel``
    is its POSIX path relative to ``root`` (e.g. ``"fight/fi001.mp4"``), else "val".
    It depends only on that relative path, so it is stable across runs and machines.
    """
    base = resolve_root(root)
    if not base.is_dir():
        raise AnnotationError(f"{base}: not a directory")
    top = sorted_dirs(base)
    split_dirs = [d for d in top if d.name.lower() in SPLIT_ALIASES]
    if split_dirs and len(split_dirs) != len(top):
        others = sorted(d.name for d in top if d not in split_dirs)
        raise AnnotationError(f"{base}: mixes split folders and class folders ({others[0]!r})")
    entries: list[VideoEntry] = []
    if split_dirs:
        for split_dir in split_dirs:
            split = SPLIT_ALIASES[split_dir.name.lower()]
            for class_dir in sorted_dirs(split_dir):
                for video in videos_under(class_dir):
                    entries.append(folder_entry(base, video, class_dir.name, split))
    else:
        for class_dir in top:
            for video in videos_under(class_dir):
                rel = video.relative_to(base).as_posix()
                entries.append(folder_entry(base, video, class_dir.name, hash_split(rel)))
    if not entries:
        raise AnnotationError(f"{base}: no video files found in class folders")
    return finish_manifest(entries, sorted_labels(entries), base, "folder")
