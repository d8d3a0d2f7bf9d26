"""Annotation reader: UCF101 ``ucfTrainTestlist`` -> :class:`Manifest` (``Manifest.from_ucf101``)."""

from __future__ import annotations

from pathlib import Path

from nsnet.extract.annotations.common import (
    _DirIndex,
    _check_new,
    _class_from_index,
    _class_from_name,
    _existing_file,
    _finish,
    _join,
    _read_classind,
    _read_lines,
    _resolve_root,
)
from nsnet.extract.annotations.manifest import AnnotationError, Manifest, VideoEntry


def read(annotation_dir_or_classind: str | Path, root: str | Path, split_id: int = 1) -> Manifest:
    """Returns the manifest; see :meth:`Manifest.from_ucf101` for the format and the rules."""
    given = Path(annotation_dir_or_classind)
    classind = given / "classInd.txt" if given.is_dir() else given
    classind = _existing_file(classind)
    folder = classind.parent
    if isinstance(split_id, bool) or not isinstance(split_id, int) or split_id < 1:
        raise AnnotationError(f"{folder}: split_id must be a positive integer, got {split_id!r}")
    class_names = _read_classind(classind)
    by_lower = {name.lower(): name for name in class_names}
    base = _resolve_root(root)
    index = _DirIndex()
    entries: list[VideoEntry] = []
    seen: set[str] = set()
    for kind, split in (("train", "train"), ("test", "val")):
        list_path = _existing_file(folder / f"{kind}list{split_id:02d}.txt")
        for line, text in _read_lines(list_path):
            where = f"{list_path}:{line}"
            parts = text.split()
            if len(parts) not in (1, 2):
                raise AnnotationError(f"{where}: expected '<path> [<class index>]', got {text!r}")
            rel = parts[0].replace("\\", "/")
            folder_class = rel.rsplit("/", 1)[0].rsplit("/", 1)[-1] if "/" in rel else None
            if len(parts) == 2:
                label = _class_from_index(parts[1], class_names, where)
                if folder_class is not None and folder_class.lower() != label.lower():
                    raise AnnotationError(f"{where}: class index {parts[1]} is {label!r} but folder is {folder_class!r}")
            else:
                label = _class_from_name(rel, folder_class, by_lower, where)
            name = rel.rsplit("/", 1)[-1]
            listed = _join(base, rel)
            found = index.find([listed.parent, base], [name])
            _check_new(seen, Path(name).stem, where)
            entries.append(VideoEntry(Path(name).stem, found or listed, (label,), split))
    return _finish(entries, class_names, classind, "ucf101")
