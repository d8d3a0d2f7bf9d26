"""Annotation reader: one folder per class -> :class:`Manifest` (``Manifest.from_folder``)."""

from __future__ import annotations

from pathlib import Path

from nsnet.extract.annotations.common import (
    _finish,
    _folder_entry,
    _hash_split,
    _resolve_root,
    _sorted_dirs,
    _sorted_labels,
    _videos_under,
)
from nsnet.extract.annotations.manifest import _SPLIT_ALIASES, AnnotationError, Manifest, VideoEntry


def read(root: str | Path) -> Manifest:
    """Returns the manifest; see :meth:`Manifest.from_folder` for the format and the rules."""
    base = _resolve_root(root)
    if not base.is_dir():
        raise AnnotationError(f"{base}: not a directory")
    top = _sorted_dirs(base)
    split_dirs = [d for d in top if d.name.lower() in _SPLIT_ALIASES]
    if split_dirs and len(split_dirs) != len(top):
        others = sorted(d.name for d in top if d not in split_dirs)
        raise AnnotationError(f"{base}: mixes split folders and class folders ({others[0]!r})")
    entries: list[VideoEntry] = []
    if split_dirs:
        for split_dir in split_dirs:
            split = _SPLIT_ALIASES[split_dir.name.lower()]
            for class_dir in _sorted_dirs(split_dir):
                for video in _videos_under(class_dir):
                    entries.append(_folder_entry(base, video, class_dir.name, split))
    else:
        for class_dir in top:
            for video in _videos_under(class_dir):
                rel = video.relative_to(base).as_posix()
                entries.append(_folder_entry(base, video, class_dir.name, _hash_split(rel)))
    if not entries:
        raise AnnotationError(f"{base}: no video files found in class folders")
    return _finish(entries, _sorted_labels(entries), base, "folder")
