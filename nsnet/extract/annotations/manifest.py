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

    # ------------------------------------------------------------------ readers (one module per format)

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
        from nsnet.extract.annotations import activitynet

        return activitynet.read(json_path, root)

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
        from nsnet.extract.annotations import kinetics

        return kinetics.read(csv_path, root)

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
        from nsnet.extract.annotations import ucf101

        return ucf101.read(annotation_dir_or_classind, root, split_id)

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
        from nsnet.extract.annotations import folder

        return folder.read(root)

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
        from nsnet.extract.annotations import csv_list

        return csv_list.read(csv_path, root)

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
        from nsnet.extract.annotations.common import _read_csv

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
