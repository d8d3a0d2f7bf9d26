"""Annotation reader: Kinetics / Mini-Kinetics CSV -> :class:`Manifest` (``Manifest.from_kinetics``)."""

from __future__ import annotations

from pathlib import Path

from nsnet.extract.annotations.common import (
    _DirIndex,
    _check_new,
    _existing_file,
    _finish,
    _int_time,
    _read_csv,
    _resolve_root,
    _sorted_labels,
    _unique,
)
from nsnet.extract.annotations.manifest import (
    AnnotationError,
    Manifest,
    VideoEntry,
    _KINETICS_EXTENSIONS,
    normalise_split,
)


def read(csv_path: str | Path, root: str | Path) -> Manifest:
    """Returns the manifest; see :meth:`Manifest.from_kinetics` for the format and the rules."""
    path = _existing_file(csv_path)
    rows = _read_csv(path)
    if not rows:
        raise AnnotationError(f"{path}: empty CSV")
    header = [c.lower() for c in rows[0][1]]
    columns = {name: i for i, name in enumerate(header)}
    for required in ("youtube_id", "time_start", "time_end", "split"):
        if required not in columns:
            raise AnnotationError(f"{path}:{rows[0][0]}: missing required column {required!r}")
    base = _resolve_root(root)
    index = _DirIndex()
    entries: list[VideoEntry] = []
    seen: set[str] = set()
    for line, cells in rows[1:]:
        where = f"{path}:{line}"
        if len(cells) != len(header):
            raise AnnotationError(f"{where}: expected {len(header)} fields, got {len(cells)}")
        youtube_id = cells[columns["youtube_id"]]
        if not youtube_id:
            raise AnnotationError(f"{where}: empty youtube_id")
        start = _int_time(cells[columns["time_start"]], where)
        end = _int_time(cells[columns["time_end"]], where)
        raw_split = cells[columns["split"]]
        split = normalise_split(raw_split, where=where)
        label = cells[columns["label"]] if "label" in columns else ""
        video_id = f"{youtube_id}_{start:06d}_{end:06d}"
        label_dirs = _unique([label, label.replace(" ", "_")]) if label else []
        split_dirs = _unique([raw_split, split])
        dirs = [base] + [base / s for s in split_dirs]
        dirs += [base / s / lab for s in split_dirs for lab in label_dirs]
        dirs += [base / lab for lab in label_dirs]
        found = index.find(dirs, [video_id + ext for ext in _KINETICS_EXTENSIONS])
        labels = (label,) if label else ()
        _check_new(seen, video_id, where)
        entries.append(VideoEntry(video_id, found or base / f"{video_id}.mp4", labels, split))
    return _finish(entries, _sorted_labels(entries), path, "kinetics")
