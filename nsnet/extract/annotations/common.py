"""Helpers shared by the annotation readers: file and CSV/JSON reading, path joining, checks."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Iterable, Iterator

from nsnet.extract.annotations.manifest import (
    FOLDER_TRAIN_PERCENT,
    PATH_COLUMNS,
    VIDEO_EXTENSIONS,
    AnnotationError,
    Manifest,
    VideoEntry,
)


class KeyTrackingDict(dict):
    """dict built by the JSON decoder that remembers keys seen more than once."""

    duplicates: list[str]


def _pairs_hook(pairs: list[tuple[str, object]]) -> KeyTrackingDict:
    out = KeyTrackingDict()
    out.duplicates = []
    for key, value in pairs:
        if key in out:
            out.duplicates.append(key)
        out[key] = value
    return out


def load_json(path: Path) -> object:
    try:
        with open(path, encoding="utf-8-sig") as f:
            return json.load(f, object_pairs_hook=_pairs_hook)
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{path}: not UTF-8 text ({exc.reason})") from None


def taxonomy_leaves(taxonomy: object, path: Path) -> list[str]:
    """Return the leaf node names of an ActivityNet taxonomy (empty when absent)."""
    if taxonomy is None:
        return []
    if not isinstance(taxonomy, list) or not all(isinstance(n, dict) and "nodeName" in n for n in taxonomy):
        raise AnnotationError(f"{path}: 'taxonomy' must be a list of objects with 'nodeName'")
    parents = {str(n.get("parentName")) for n in taxonomy if n.get("parentName") is not None}
    return [str(n["nodeName"]) for n in taxonomy if str(n["nodeName"]) not in parents]


def existing_file(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.is_file():
        raise AnnotationError(f"{p}: annotation file not found")
    return p.resolve()


def resolve_root(root: str | Path) -> Path:
    return Path(root).expanduser().resolve()


def join_path(base: Path, rel: str) -> Path:
    """Return ``base / rel`` made absolute and lexically normalised (absolute rel kept)."""
    return Path(os.path.normpath(base / Path(rel.replace("\\", "/")).expanduser()))


def read_csv_rows(path: Path, limit: int | None = None) -> list[tuple[int, list[str]]]:
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


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, stripped text) of the non-blank lines of a text file."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError as exc:
        raise AnnotationError(f"{path}: not UTF-8 text ({exc.reason})") from None
    for number, text in enumerate(lines, start=1):
        if text.strip():
            yield number, text.strip()


def read_classind(path: Path) -> list[str]:
    names: list[str] = []
    for line, text in read_lines(path):
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


def class_from_index(token: str, class_names: list[str], where: str) -> str:
    if not token.isdigit() or not 1 <= int(token) <= len(class_names):
        raise AnnotationError(f"{where}: unknown class index {token!r} (classInd has 1..{len(class_names)})")
    return class_names[int(token) - 1]


def class_from_name(rel: str, folder_class: str | None, by_lower: dict[str, str], where: str) -> str:
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


def int_time(text: str, where: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise AnnotationError(f"{where}: time {text!r} is not a number") from None
    if not value.is_integer() or value < 0:
        raise AnnotationError(f"{where}: time {text!r} is not a whole number of seconds")
    return int(value)


def unique_in_order(items: Iterable) -> list:
    out: list = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


class DirIndex:
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


def sorted_dirs(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))


def videos_under(directory: Path) -> list[Path]:
    """Return the video files below ``directory`` (recursive, sorted, hidden parts skipped)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
                found.append(Path(dirpath) / name)
    return sorted(found)


def hash_split(rel: str) -> str:
    bucket = int(hashlib.sha1(rel.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "train" if bucket < FOLDER_TRAIN_PERCENT else "val"


def folder_entry(base: Path, video: Path, label: str, split: str) -> VideoEntry:
    video_id = video.relative_to(base).with_suffix("").as_posix()
    return VideoEntry(video_id, video, (label,), split)


def is_csv_header(cells: list[str]) -> bool:
    """Return True when a plain-CSV first row is a header (names a path column, holds no video file)."""
    has_path_name = any(c in PATH_COLUMNS for c in cells)
    has_video = any(os.path.splitext(c)[1] in VIDEO_EXTENSIONS for c in cells)
    return has_path_name and not has_video


def check_new(seen: set[str], video_id: str, where: str) -> None:
    """Record ``video_id`` in ``seen``; raise AnnotationError if it was already there."""
    if video_id in seen:
        raise AnnotationError(f"{where}: duplicate video id {video_id!r}")
    seen.add(video_id)


def sorted_labels(entries: list[VideoEntry]) -> list[str]:
    return sorted({label for e in entries for label in e.labels})


def finish_manifest(entries: list[VideoEntry], class_names: list[str], source: Path, fmt: str) -> Manifest:
    """Check the entries (non-empty, unique ids) and return the manifest."""
    if not entries:
        raise AnnotationError(f"{source}: no videos in the annotations")
    seen: set[str] = set()
    for e in entries:
        if e.video_id in seen:
            raise AnnotationError(f"{source}: duplicate video id {e.video_id!r}")
        seen.add(e.video_id)
    return Manifest(entries=entries, class_names=class_names, source=str(source), format=fmt)
