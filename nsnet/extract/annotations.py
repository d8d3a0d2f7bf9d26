"""Annotation readers: turn a dataset's own annotation files into a :class:`Manifest`.

A manifest is the list of videos (id, absolute file path, labels, split) plus the
ordered class names, whatever the source format:

* ActivityNet v1.3 JSON (``Manifest.from_activitynet``), multi-label when a video
  has several distinct annotated activities;
* Kinetics / Mini-Kinetics CSV (``Manifest.from_kinetics``);
* UCF101 ``ucfTrainTestlist`` (``Manifest.from_ucf101``);
* one folder per class (``Manifest.from_folder``);
* plain ``path,label[,split]`` CSV (``Manifest.from_csv``), the format
  :meth:`Manifest.to_csv` writes.

``Manifest.load`` picks the reader (``format="auto"`` uses :func:`detect_format`).
Malformed annotations raise :class:`AnnotationError` with a one-line message naming
the file (and line where it makes sense). Video files that do not exist are *not* an
error: they keep a best-guess path and are listed by :meth:`Manifest.missing`.

Paths are made absolute: the root is resolved once (symlinks followed) and file
paths are joined onto it and normalised lexically (``..`` removed), without
following a symlink that is the video file itself.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

__all__ = [
    "AnnotationError",
    "VideoEntry",
    "Manifest",
    "FORMATS",
    "SPLITS",
    "VIDEO_EXTENSIONS",
    "detect_format",
    "normalise_split",
]

FORMATS: tuple[str, ...] = ("auto", "activitynet", "kinetics", "ucf101", "folder", "csv")
SPLITS: tuple[str, ...] = ("train", "val", "test")
VIDEO_EXTENSIONS: tuple[str, ...] = (
    ".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ogv",
)
_ACTIVITYNET_EXTENSIONS: tuple[str, ...] = (".mp4", ".mkv", ".webm", ".avi", ".mov")
_KINETICS_EXTENSIONS: tuple[str, ...] = (".mp4", ".mkv", ".webm")
_SPLIT_ALIASES: dict[str, str] = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validate": "val", "validation": "val",
    "test": "test", "testing": "test",
}
_PATH_COLUMNS = ("path", "video", "video_path", "file", "filename", "filepath", "file_path")
_LABEL_COLUMNS = ("label", "labels", "class", "classes", "class_name")
_SPLIT_COLUMNS = ("split", "subset")
_ID_COLUMNS = ("video_id", "id")
_LABEL_SEPARATORS = re.compile(r"[;|]")
# Share of videos put in "train" by the hash split of a folder dataset without split folders.
_FOLDER_TRAIN_PERCENT = 80


class AnnotationError(ValueError):
    """Malformed or inconsistent annotation input (one-line message)."""


@dataclass(frozen=True)
class VideoEntry:
    """One video: stable unique id, absolute path (may not exist), labels, split."""

    video_id: str
    path: Path
    labels: tuple[str, ...]
    split: str


@dataclass
class Manifest:
    """Videos of a dataset with their labels and splits, plus the ordered class names."""

    entries: list[VideoEntry]
    class_names: list[str]
    source: str
    format: str

    def __len__(self) -> int:
        """Return the number of entries."""
        return len(self.entries)

    @property
    def multilabel(self) -> bool:
        """Return True when any entry carries more than one label."""
        return any(len(e.labels) > 1 for e in self.entries)

    def label_matrix(self) -> np.ndarray:
        """Return the ``[N, C]`` uint8 multi-hot matrix (rows: entries, columns: class_names).

        Unlabeled entries give an all-zero row. A label missing from ``class_names``
        raises :class:`AnnotationError`.
        """
        index = {name: i for i, name in enumerate(self.class_names)}
        out = np.zeros((len(self.entries), len(self.class_names)), dtype=np.uint8)
        for row, entry in enumerate(self.entries):
            for label in entry.labels:
                col = index.get(label)
                if col is None:
                    raise AnnotationError(
                        f"{self.source}: video {entry.video_id!r} has label {label!r} not in class_names"
                    )
                out[row, col] = 1
        return out

    def missing(self) -> list[VideoEntry]:
        """Return the entries whose video file does not exist."""
        return [e for e in self.entries if not e.path.is_file()]

    def subset(self, split: str) -> Manifest:
        """Return a manifest with the entries of one split (same class_names; may be empty).

        ``split`` is normalised ("validation" -> "val", ...); an unknown name raises
        :class:`AnnotationError`.
        """
        name = normalise_split(split, where="subset()")
        return Manifest(
            entries=[e for e in self.entries if e.split == name],
            class_names=list(self.class_names),
            source=self.source,
            format=self.format,
        )

    def to_csv(self, path: str | Path) -> None:
        """Write a ``path,label,split`` CSV (header row, absolute paths, labels joined with ';').

        Read it back with :meth:`from_csv`. Labels containing ';' or '|' cannot be
        written and raise :class:`AnnotationError`.
        """
        rows = []
        for e in self.entries:
            bad = [lab for lab in e.labels if _LABEL_SEPARATORS.search(lab)]
            if bad:
                raise AnnotationError(f"{path}: label {bad[0]!r} contains ';' or '|' and cannot be written")
            rows.append((str(e.path), ";".join(e.labels), e.split))
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(("path", "label", "split"))
            writer.writerows(rows)

    # ------------------------------------------------------------------ readers

    @classmethod
    def from_activitynet(cls, json_path: str | Path, root: str | Path) -> Manifest:
        """Return the manifest of an ActivityNet v1.3-style JSON.

        Labels of a video are its distinct annotation labels (sorted; several ->
        multi-label, none -> unlabeled). Class names are the taxonomy's leaf nodes
        (when a taxonomy is present) together with every annotated label, sorted.
        The video file is looked up as ``v_<id>.<ext>`` or ``<id>.<ext>`` (ext in
        mp4/mkv/webm/avi/mov) in ``root`` or ``root/<subset>`` (subset spelled as in
        the JSON or normalised); when absent the path is ``root/v_<id>.mp4``.
        """
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

    @classmethod
    def from_kinetics(cls, csv_path: str | Path, root: str | Path) -> Manifest:
        """Return the manifest of a Kinetics / Mini-Kinetics CSV.

        Header ``label,youtube_id,time_start,time_end,split`` (extra columns ignored;
        ``label`` may be absent or empty for test rows -> unlabeled). The video id is
        ``{youtube_id}_{time_start:06d}_{time_end:06d}``; the file ``<id>.mp4`` (or
        .mkv/.webm) is searched in ``root``, ``root/<split>``, ``root/<split>/<label>``
        and ``root/<label>`` (label as written or with spaces replaced by '_'); when
        absent the path is ``root/<id>.mp4``. Class names are the sorted labels.
        """
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

    @classmethod
    def from_ucf101(cls, annotation_dir_or_classind: str | Path, root: str | Path, split_id: int = 1) -> Manifest:
        """Return the manifest of one UCF101 train/test split.

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

    @classmethod
    def from_folder(cls, root: str | Path) -> Manifest:
        """Return the manifest of a folder-per-class dataset.

        Layouts: ``root/<class>/**/<video>`` or, when every top-level folder is a split
        name (train/val/test or training/validation/testing), ``root/<split>/<class>/**/<video>``.
        Videos are files with an extension in ``VIDEO_EXTENSIONS``; hidden entries are
        skipped. The video id is the path relative to ``root`` without extension.

        Without split folders the split is a deterministic 80/20 hash split: a video
        is "train" when ``int(sha1(rel).hexdigest()[:8], 16) % 100 < 80`` where ``rel``
        is its POSIX path relative to ``root`` (e.g. ``"fight/fi001.mp4"``), else "val".
        It depends only on that relative path, so it is stable across runs and machines.
        """
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

    @classmethod
    def from_csv(cls, csv_path: str | Path, root: str | Path | None = None) -> Manifest:
        """Return the manifest of a plain ``path,label[,split]`` CSV.

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

    @classmethod
    def load(cls, annotations: str | Path, format: str = "auto", root: str | Path | None = None) -> Manifest:
        """Return the manifest of ``annotations`` read as ``format`` (one of FORMATS).

        ``format="auto"`` uses :func:`detect_format`. ``root`` (the video folder)
        defaults to the folder holding the annotation file (for UCF101: the parent of
        the ``ucfTrainTestlist`` folder); for ``folder`` the annotations path is the root itself.
        UCF101 always reads split 1 here; call :meth:`from_ucf101` for another split.
        """
        if format not in FORMATS:
            raise AnnotationError(f"unknown annotation format {format!r} (expected one of {', '.join(FORMATS)})")
        ann = Path(annotations).expanduser()
        if not ann.exists():
            raise AnnotationError(f"{ann}: annotation path not found")
        fmt = detect_format(ann) if format == "auto" else format
        if fmt == "folder":
            return cls.from_folder(ann)
        if root is not None:
            video_root = Path(root)
        elif fmt == "ucf101":
            video_root = (ann.resolve() if ann.is_dir() else ann.resolve().parent).parent
        else:
            video_root = ann.resolve().parent
        if fmt == "activitynet":
            return cls.from_activitynet(ann, video_root)
        if fmt == "kinetics":
            return cls.from_kinetics(ann, video_root)
        if fmt == "ucf101":
            return cls.from_ucf101(ann, video_root)
        return cls.from_csv(ann, root)


def detect_format(annotations: Path) -> str:
    """Return the format name of ``annotations`` (never "auto").

    ``.json`` -> activitynet; a ``classInd.txt`` file or a folder holding one ->
    ucf101; any other folder -> folder; ``.csv`` -> kinetics when its header has a
    ``youtube_id`` column, else csv. Anything else raises :class:`AnnotationError`.
    """
    ann = Path(annotations)
    if ann.is_dir():
        return "ucf101" if (ann / "classInd.txt").is_file() else "folder"
    if not ann.is_file():
        raise AnnotationError(f"{ann}: annotation path not found")
    if ann.name.lower() == "classind.txt":
        return "ucf101"
    suffix = ann.suffix.lower()
    if suffix == ".json":
        return "activitynet"
    if suffix == ".csv":
        rows = _read_csv(ann, limit=1)
        header = [c.lower() for c in rows[0][1]] if rows else []
        return "kinetics" if "youtube_id" in header else "csv"
    raise AnnotationError(f"{ann}: cannot detect the annotation format; pass one of {', '.join(FORMATS[1:])}")


def normalise_split(split: str, where: str = "") -> str:
    """Return "train", "val" or "test" for a split name (training/validation/testing accepted)."""
    name = _SPLIT_ALIASES.get(str(split).strip().lower())
    if name is None:
        prefix = f"{where}: " if where else ""
        raise AnnotationError(f"{prefix}unknown split {split!r} (expected train/val/test)")
    return name


# ---------------------------------------------------------------------- helpers


class _KeyTrackingDict(dict):
    """dict built by the JSON decoder that remembers keys seen more than once."""

    duplicates: list[str]


def _pairs_hook(pairs: list[tuple[str, object]]) -> _KeyTrackingDict:
    out = _KeyTrackingDict()
    out.duplicates = []
    for key, value in pairs:
        if key in out:
            out.duplicates.append(key)
        out[key] = value
    return out


def _load_json(path: Path) -> object:
    try:
        with open(path, encoding="utf-8-sig") as f:
            return json.load(f, object_pairs_hook=_pairs_hook)
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{path}: not UTF-8 text ({exc.reason})") from None


def _taxonomy_leaves(taxonomy: object, path: Path) -> list[str]:
    """Return the leaf node names of an ActivityNet taxonomy (empty when absent)."""
    if taxonomy is None:
        return []
    if not isinstance(taxonomy, list) or not all(isinstance(n, dict) and "nodeName" in n for n in taxonomy):
        raise AnnotationError(f"{path}: 'taxonomy' must be a list of objects with 'nodeName'")
    parents = {str(n.get("parentName")) for n in taxonomy if n.get("parentName") is not None}
    return [str(n["nodeName"]) for n in taxonomy if str(n["nodeName"]) not in parents]


def _existing_file(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise AnnotationError(f"{p}: annotation file not found")
    return p.resolve()


def _resolve_root(root: str | Path) -> Path:
    return Path(root).expanduser().resolve()


def _join(base: Path, rel: str) -> Path:
    """Return ``base / rel`` made absolute and lexically normalised (absolute rel kept)."""
    return Path(os.path.normpath(base / Path(rel.replace("\\", "/")).expanduser()))


def _read_csv(path: Path, limit: int | None = None) -> list[tuple[int, list[str]]]:
    """Return (line number, stripped cells) of the non-blank rows of a CSV."""
    rows: list[tuple[int, list[str]]] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            start = 1
            for cells in reader:
                if any(c.strip() for c in cells):
                    rows.append((start, [c.strip() for c in cells]))
                    if limit is not None and len(rows) >= limit:
                        break
                start = reader.line_num + 1
    except (csv.Error, UnicodeDecodeError) as exc:
        raise AnnotationError(f"{path}: unreadable CSV ({exc})") from None
    return rows


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, stripped text) of the non-blank lines of a text file."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{path}: not UTF-8 text ({exc.reason})") from None
    for number, text in enumerate(lines, start=1):
        if text.strip():
            yield number, text.strip()


def _read_classind(path: Path) -> list[str]:
    names: list[str] = []
    for line, text in _read_lines(path):
        parts = text.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise AnnotationError(f"{path}:{line}: expected '<index> <class name>', got {text!r}")
        if int(parts[0]) != len(names) + 1:
            raise AnnotationError(f"{path}:{line}: class index {parts[0]} out of order (expected {len(names) + 1})")
        if parts[1] in names:
            raise AnnotationError(f"{path}:{line}: duplicate class name {parts[1]!r}")
        names.append(parts[1])
    if not names:
        raise AnnotationError(f"{path}: no classes")
    return names


def _class_from_index(token: str, class_names: list[str], where: str) -> str:
    if not token.isdigit() or not 1 <= int(token) <= len(class_names):
        raise AnnotationError(f"{where}: unknown class index {token!r} (classInd has 1..{len(class_names)})")
    return class_names[int(token) - 1]


def _class_from_name(rel: str, folder_class: str | None, by_lower: dict[str, str], where: str) -> str:
    if folder_class is not None:
        label = by_lower.get(folder_class.lower())
        if label is None:
            raise AnnotationError(f"{where}: unknown class folder {folder_class!r}")
        return label
    match = re.match(r"v_(.+)_g\d+_c\d+$", Path(rel).stem)
    label = by_lower.get(match.group(1).lower()) if match else None
    if label is None:
        raise AnnotationError(f"{where}: cannot tell the class of {rel!r}")
    return label


def _int_time(text: str, where: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise AnnotationError(f"{where}: time {text!r} is not a number") from None
    if not value.is_integer() or value < 0:
        raise AnnotationError(f"{where}: time {text!r} is not a whole number of seconds")
    return int(value)


def _unique(items: Iterable) -> list:
    out: list = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


class _DirIndex:
    """Cached directory listings, so a file lookup costs one listdir per directory."""

    def __init__(self) -> None:
        self._listings: dict[Path, frozenset[str]] = {}

    def _names(self, directory: Path) -> frozenset[str]:
        names = self._listings.get(directory)
        if names is None:
            try:
                names = frozenset(os.listdir(directory))
            except OSError:
                names = frozenset()
            self._listings[directory] = names
        return names

    def find(self, dirs: list[Path], names: list[str]) -> Path | None:
        """Return the first ``dir / name`` that exists (dirs outer loop, names inner), else None."""
        for directory in dirs:
            listing = self._names(directory)
            for name in names:
                if name in listing and (directory / name).is_file():
                    return directory / name
        return None


def _sorted_dirs(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))


def _videos_under(directory: Path) -> list[Path]:
    """Return the video files below ``directory`` (recursive, sorted, hidden parts skipped)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
                found.append(Path(dirpath) / name)
    return sorted(found)


def _hash_split(rel: str) -> str:
    bucket = int(hashlib.sha1(rel.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "train" if bucket < _FOLDER_TRAIN_PERCENT else "val"


def _folder_entry(base: Path, video: Path, label: str, split: str) -> VideoEntry:
    video_id = video.relative_to(base).with_suffix("").as_posix()
    return VideoEntry(video_id, video, (label,), split)


def _is_csv_header(cells: list[str]) -> bool:
    """Return True when a plain-CSV first row is a header (names a path column, holds no video file)."""
    has_path_name = any(c in _PATH_COLUMNS for c in cells)
    has_video = any(os.path.splitext(c)[1] in VIDEO_EXTENSIONS for c in cells)
    return has_path_name and not has_video


def _check_new(seen: set[str], video_id: str, where: str) -> None:
    """Record ``video_id`` in ``seen``; raise AnnotationError if it was already there."""
    if video_id in seen:
        raise AnnotationError(f"{where}: duplicate video id {video_id!r}")
    seen.add(video_id)


def _sorted_labels(entries: list[VideoEntry]) -> list[str]:
    return sorted({label for e in entries for label in e.labels})


def _finish(entries: list[VideoEntry], class_names: list[str], source: Path, fmt: str) -> Manifest:
    """Check the entries (non-empty, unique ids) and return the manifest."""
    if not entries:
        raise AnnotationError(f"{source}: no videos in the annotations")
    seen: set[str] = set()
    for e in entries:
        if e.video_id in seen:
            raise AnnotationError(f"{source}: duplicate video id {e.video_id!r}")
        seen.add(e.video_id)
    return Manifest(entries=entries, class_names=class_names, source=str(source), format=fmt)
