"""Annotation reader: Kinetics / Mini-Kinetics CSV -> :class:`Manifest`."""

from __future__ import annotations

from pathlib import Path

from nsnet.extract.annotations.common import (
    DirIndex,
    check_new,
    existing_file,
    finish_manifest,
    int_time,
    read_csv_rows,
    resolve_root,
    sorted_labels,
    unique_in_order,
)
from nsnet.extract.annotations.manifest import (
    AnnotationError,
    Manifest,
    VideoEntry,
    KINETICS_EXTENSIONS,
    normalise_split,
)


def read(csv_path: str | Path, root: str | Path) -> Manifest:
    """Returns the manifest of a Kinetics / Mini-Kinetics CSV.

    Header ``label,youtube_id,time_start,time_end,split`` (extra columns ignored;
    ``label`` may be absent or empty for test rows -> unlabeled). The video id is
    ``{youtube_id}_{time_start:06d}_{time_end:06d}``; the file ``<id>.mp4`` (or
    .mkv/.webm) is searched in ``root``, ``root/<split>``, ``root/<split>/<label>``
    and ``root/<label>`` (label as written or with spaces replaced by '_'); when
    absent the path is ``root/<id>.mp4``. Class names are the sorted labels.
    """
    path = existing_file(csv_path)
    rows = read_csv_rows(path)
    if not rows:
        raise AnnotationError(f"{path}: empty CSV")
    header = [c.lower() for c in rows[0][1]]
    columns = {name: i for i, name in enumerate(header)}
    for required in ("youtube_id", "time_start", "time_end", "split"):
        if required not in columns:
            raise AnnotationError(f"{path}:{rows[0][0]}: missing required column {required!r}")
    base = resolve_root(root)
    index = DirIndex()
    entries: list[VideoEntry] = []
    seen: set[str] = set()
    for line, cells in rows[1:]:
        where = f"{path}:{line}"
        if len(cells) != len(header):
            raise AnnotationError(f"{where}: expected {len(header)} fields, got {len(cells)}")
        youtube_id = cells[columns["youtube_id"]]
        if not youtube_id:
            raise AnnotationError(f"{where}: empty youtube_id")
        start = int_time(cells[columns["time_start"]], where)
        end = int_time(cells[columns["time_end"]], where)
        raw_split = cells[columns["split"]]
        split = normalise_split(raw_split, where=where)
        label = cells[columns["label"]] if "label" in columns else ""
        video_id = f"{youtube_id}_{start:06d}_{end:06d}"
        label_dirs = unique_in_order([label, label.replace(" ", "_")]) if label else []
        split_dirs = unique_in_order([raw_split, split])
        dirs = [base] + [base / s for s in split_dirs]
        dirs += [base / s / lab for s in split_dirs for lab in label_dirs]
        dirs += [base / lab for lab in label_dirs]
        found = index.find(dirs, [video_id + ext for ext in KINETICS_EXTENSIONS])
        labels = (label,) if label else ()
        check_new(seen, video_id, where)
        entries.append(VideoEntry(video_id, found or base / f"{video_id}.mp4", labels, split))
    return finish_manifest(entries, sorted_labels(entries), path, "kinetics")
