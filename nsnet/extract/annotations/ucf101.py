"""Annotation reader: UCF101 ``ucfTrainTestlist`` -> :class:`Manifest`."""

from __future__ import annotations

from pathlib import Path

from nsnet.extract.annotations.common import (
    DirIndex,
    check_new,
    class_from_index,
    class_from_name,
    existing_file,
    finish_manifest,
    join_path,
    read_classind,
    read_lines,
    resolve_root,
)
from nsnet.extract.annotations.manifest import AnnotationError, Manifest, VideoEntry


def read(annotation_dir_or_classind: str | Path, root: str | Path, split_id: int = 1) -> Manifest:
    """Returns the manifest of one UCF101 train/test split.

    ``annotation_dir_or_classind`` is the ``ucfTrainTestlist`` folder or its
    ``classInd.txt``; ``trainlist0N.txt`` / ``testlist0N.txt`` (N = ``split_id``)
    are read from the same folder. Train rows give "train", test rows "val".
    Class names keep classInd order. A train row's index must exist in classInd
    (and agree with its folder, when the path has one); a test row's class comes
    from its folder (or its ``v_<Class>_gXX_cXX`` file name). The video path is
    ``root/<listed path>``, or ``root/<file name>`` when only that exists.
    """
    given = Path(annotation_dir_or_classind)
    classind = given / "classInd.txt" if given.is_dir() else given
    classind = existing_file(classind)
    folder = classind.parent
    if isinstance(split_id, bool) or not isinstance(split_id, int) or split_id < 1:
        raise AnnotationError(f"{folder}: split_id must be a positive integer, got {split_id!r}")
    class_names = read_classind(classind)
    by_lower = {name.lower(): name for name in class_names}
    base = resolve_root(root)
    index = DirIndex()
    entries: list[VideoEntry] = []
    seen: set[str] = set()
    for kind, split in (("train", "train"), ("test", "val")):
        list_path = existing_file(folder / f"{kind}list{split_id:02d}.txt")
        for line, text in read_lines(list_path):
            where = f"{list_path}:{line}"
            parts = text.split()
            if len(parts) not in (1, 2):
                raise AnnotationError(f"{where}: expected '<path> [<class index>]', got {text!r}")
            rel = parts[0].replace("\\", "/")
            folder_class = rel.rsplit("/", 1)[0].rsplit("/", 1)[-1] if "/" in rel else None
            if len(parts) == 2:
                label = class_from_index(parts[1], class_names, where)
                if folder_class is not None and folder_class.lower() != label.lower():
                    raise AnnotationError(f"{where}: class index {parts[1]} is {label!r} but folder is {folder_class!r}")
            else:
                label = class_from_name(rel, folder_class, by_lower, where)
            name = rel.rsplit("/", 1)[-1]
            listed = join_path(base, rel)
            found = index.find([listed.parent, base], [name])
            check_new(seen, Path(name).stem, where)
            entries.append(VideoEntry(Path(name).stem, found or listed, (label,), split))
    return finish_manifest(entries, class_names, classind, "ucf101")
