"""Annotation readers: turn a dataset's own annotation files into a :class:`Manifest`.

A manifest is the list of videos (id, absolute file path, labels, split) plus the
ordered class names, whatever the source format:

* ActivityNet v1.3 JSON (:mod:`~nsnet.extract.annotations.activitynet`), multi-label when a video
  has several distinct annotated activities;
* Kinetics / Mini-Kinetics CSV (:mod:`~nsnet.extract.annotations.kinetics`);
* UCF101 ``ucfTrainTestlist`` (:mod:`~nsnet.extract.annotations.ucf101`);
* one folder per class (:mod:`~nsnet.extract.annotations.folder`);
* plain ``path,label[,split]`` CSV (:mod:`~nsnet.extract.annotations.csv_list`), the format
  :meth:`Manifest.to_csv` writes.

This module holds the data (``Manifest``, ``VideoEntry``, the shared constants); the readers import
it, and :func:`~nsnet.extract.annotations.loader.load_manifest` picks the reader (``format="auto"``
uses :func:`~nsnet.extract.annotations.loader.detect_format`).
Malformed annotations raise :class:`AnnotationError` with a one-line message naming
the file (and line where it makes sense). Video files that do not exist are *not* an
error: they keep a best-guess path and are listed by :meth:`Manifest.missing`.

Paths are made absolute: the root is resolved once (symlinks followed) and file
paths are joined onto it and normalised lexically (``..`` removed), without
following a symlink that is the video file itself.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nsnet.errors import UserError

FORMATS: tuple[str, ...] = ("auto", "activitynet", "kinetics", "ucf101", "folder", "csv")
SPLITS: tuple[str, ...] = ("train", "val", "test")
VIDEO_EXTENSIONS: tuple[str, ...] = (
    ".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".3gp", ".ogv",
)
ACTIVITYNET_EXTENSIONS: tuple[str, ...] = (".mp4", ".mkv", ".webm", ".avi", ".mov")
KINETICS_EXTENSIONS: tuple[str, ...] = (".mp4", ".mkv", ".webm")
SPLIT_ALIASES: dict[str, str] = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validate": "val", "validation": "val",
    "test": "test", "testing": "test",
}
PATH_COLUMNS = ("path", "video", "video_path", "file", "filename", "filepath", "file_path")
LABEL_COLUMNS = ("label", "labels", "class", "classes", "class_name")
SPLIT_COLUMNS = ("split", "subset")
ID_COLUMNS = ("video_id", "id")
LABEL_SEPARATORS = re.compile(r"[;|]")
# Share of videos put in "train" by the hash split of a folder dataset without split folders.
FOLDER_TRAIN_PERCENT = 80


class AnnotationError(UserError, ValueError):
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

        Read it back with :func:`nsnet.extract.annotations.csv_list.read`. Labels containing ';' or '|' cannot be
        written and raise :class:`AnnotationError`.
        """
        rows = []
        for e in self.entries:
            bad = [lab for lab in e.labels if LABEL_SEPARATORS.search(lab)]
            if bad:
                raise AnnotationError(f"{path}: label {bad[0]!r} contains ';' or '|' and cannot be written")
            rows.append((str(e.path), ";".join(e.labels), e.split))
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(("path", "label", "split"))
            writer.writerows(rows)


def normalise_split(split: str, where: str = "") -> str:
    """Return "train", "val" or "test" for a split name (training/validation/testing accepted)."""
    name = SPLIT_ALIASES.get(str(split).strip().lower())
    if name is None:
        prefix = f"{where}: " if where else ""
        raise AnnotationError(f"{prefix}unknown split {split!r} (expected train/val/test)")
    return name
