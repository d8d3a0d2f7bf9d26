"""Annotation reader: plain ``path,label[,split]`` CSV (what :meth:`Manifest.to_csv` writes) -> :class:`Manifest` (``Manifest.from_csv``)."""

from __future__ import annotations

from pathlib import Path

from nsnet.extract.annotations.common import (
    _check_new,
    _existing_file,
    _finish,
    _is_csv_header,
    _join,
    _read_csv,
    _resolve_root,
    _sorted_labels,
)
from nsnet.extract.annotations.manifest import (
    AnnotationError,
    Manifest,
    VideoEntry,
    _ID_COLUMNS,
    _LABEL_COLUMNS,
    _LABEL_SEPARATORS,
    _PATH_COLUMNS,
    _SPLIT_COLUMNS,
    normalise_split,
)


def read(csv_path: str | Path, root: str | Path | None = None) -> Manifest:
    """Returns the manifest; see :meth:`Manifest.from_csv` for the format and the rules."""
    path = _existing_file(csv_path)
    rows = _read_csv(path)
    if not rows:
        raise AnnotationError(f"{path}: empty CSV")
    first = [c.lower() for c in rows[0][1]]
    if _is_csv_header(first):
        cols = {name: i for i, name in enumerate(first)}
        path_col = next(cols[n] for n in _PATH_COLUMNS if n in cols)
        label_col = next((cols[n] for n in _LABEL_COLUMNS if n in cols), None)
        if label_col is None:
            raise AnnotationError(f"{path}:{rows[0][0]}: missing required column 'label'")
        split_col = next((cols[n] for n in _SPLIT_COLUMNS if n in cols), None)
        id_col = next((cols[n] for n in _ID_COLUMNS if n in cols), None)
        body, width = rows[1:], len(first)
    else:
        path_col, label_col, split_col, id_col = 0, 1, 2, None
        body, width = rows, None
    base = _resolve_root(root if root is not None else path.parent)
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
        video = _join(base, rel)
        labels = tuple(sorted({s.strip() for s in _LABEL_SEPARATORS.split(cells[label_col]) if s.strip()}))
        raw_split = cells[split_col] if split_col is not None and split_col < len(cells) else ""
        split = normalise_split(raw_split, where=where) if raw_split else "train"
        if id_col is not None and cells[id_col]:
            video_id = cells[id_col]
        else:
            try:
                video_id = video.relative_to(base).with_suffix("").as_posix()
            except ValueError:
                video_id = video.with_suffix("").as_posix()
        _check_new(seen, video_id, where)
        entries.append(VideoEntry(video_id, video, labels, split))
    return _finish(entries, _sorted_labels(entries), path, "csv")
