"""Annotation reader: plain ``path,label[,split]`` CSV (what :meth:`Manifest.to_csv` writes) -> :class:`Manifest`."""

from __future__ import annotations

from pathlib import Path

from nsnet.extract.annotations.common import (
    check_new,
    existing_file,
    finish_manifest,
    is_csv_header,
    join_path,
    read_csv_rows,
    resolve_root,
    sorted_labels,
)
from nsnet.extract.annotations.manifest import (
    AnnotationError,
    Manifest,
    VideoEntry,
    ID_COLUMNS,
    LABEL_COLUMNS,
    LABEL_SEPARATORS,
    PATH_COLUMNS,
    SPLIT_COLUMNS,
    normalise_split,
)


def read(csv_path: str | Path, root: str | Path | None = None) -> Manifest:
    """Returns the manifest of a plain ``path,label[,split]`` CSV.

    The header is optional: it is recognised when the first row names a path
    column (path, video, file, filename, ...) and holds no video file name; columns
    are then found by name
    (``path`` and ``label`` required, ``split`` and ``video_id`` optional).
    Without a header, rows are ``path,label`` or ``path,label,split``. Labels are
    separated by ';' or '|' (empty -> unlabeled); a missing split -> "train".
    Relative paths are resolved against ``root`` or, by default, the CSV's folder.
    The video id is the ``video_id`` column if present, else the path relative to
    that folder (or the absolute path) without extension.
    """
    path = existing_file(csv_path)
    rows = read_csv_rows(path)
    if not rows:
        raise AnnotationError(f"{path}: empty CSV")
    first = [c.lower() for c in rows[0][1]]
    if is_csv_header(first):
        cols = {name: i for i, name in enumerate(first)}
        path_col = next(cols[n] for n in PATH_COLUMNS if n in cols)
        label_col = next((cols[n] for n in LABEL_COLUMNS if n in cols), None)
        if label_col is None:
            raise AnnotationError(f"{path}:{rows[0][0]}: missing required column 'label'")
        split_col = next((cols[n] for n in SPLIT_COLUMNS if n in cols), None)
        id_col = next((cols[n] for n in ID_COLUMNS if n in cols), None)
        body, width = rows[1:], len(first)
    else:
        path_col, label_col, split_col, id_col = 0, 1, 2, None
        body, width = rows, None
    base = resolve_root(root if root is not None else path.parent)
    entries: list[VideoEntry] = []
    seen: set[str] = set()
    for line, cells in body:
        where = f"{path}:{line}"
        if width is not None and len(cells) != width:
            raise AnnotationError(f"{where}: expected {width} fields, got {len(cells)}")
        if width is None and len(cells) not in (2, 3):
            raise AnnotationError(f"{where}: expected path,label[,split], got {len(cells)} fields")
        rel = cells[path_col]
        if not rel:
            raise AnnotationError(f"{where}: empty path")
        video = join_path(base, rel)
        labels = tuple(sorted({s.strip() for s in LABEL_SEPARATORS.split(cells[label_col]) if s.strip()}))
        raw_split = cells[split_col] if split_col is not None and split_col < len(cells) else ""
        split = normalise_split(raw_split, where=where) if raw_split else "train"
        if id_col is not None and cells[id_col]:
            video_id = cells[id_col]
        else:
            try:
                video_id = video.relative_to(base).with_suffix("").as_posix()
            except ValueError:
                video_id = video.with_suffix("").as_posix()
        check_new(seen, video_id, where)
        entries.append(VideoEntry(video_id, video, labels, split))
    return finish_manifest(entries, sorted_labels(entries), path, "csv")
