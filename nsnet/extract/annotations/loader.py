"""Picking the annotation reader: :func:`detect_format` and :func:`load_manifest`."""

from __future__ import annotations

from pathlib import Path

from nsnet.extract.annotations import activitynet, csv_list, folder, kinetics, ucf101
from nsnet.extract.annotations.common import read_csv_rows
from nsnet.extract.annotations.manifest import FORMATS, AnnotationError, Manifest


def detect_format(annotations: Path) -> str:
    """Returns the format name of ``annotations`` (never "auto").

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
        rows = read_csv_rows(ann, limit=1)
        header = [c.lower() for c in rows[0][1]] if rows else []
        return "kinetics" if "youtube_id" in header else "csv"
    raise AnnotationError(f"{ann}: cannot detect the annotation format; pass one of {', '.join(FORMATS[1:])}")


def load_manifest(annotations: str | Path, format: str = "auto", root: str | Path | None = None) -> Manifest:
    """Returns the manifest of ``annotations`` read as ``format`` (one of FORMATS).

    ``format="auto"`` uses :func:`detect_format`. ``root`` (the video folder) defaults to the folder
    holding the annotation file (for UCF101: the parent of the ``ucfTrainTestlist`` folder); for
    ``folder`` the annotations path is the root itself. UCF101 always reads split 1 here; call
    :func:`nsnet.extract.annotations.ucf101.read` for another split.
    """
    if format not in FORMATS:
        raise AnnotationError(f"unknown annotation format {format!r} (expected one of {', '.join(FORMATS)})")
    ann = Path(annotations).expanduser()
    if not ann.exists():
        raise AnnotationError(f"{ann}: annotation path not found")
    fmt = detect_format(ann) if format == "auto" else format
    if fmt == "folder":
        return folder.read(ann)
    if fmt == "csv":
        return csv_list.read(ann, root)
    if root is not None:
        video_root = Path(root)
    elif fmt == "ucf101":
        video_root = (ann.resolve() if ann.is_dir() else ann.resolve().parent).parent
    else:
        video_root = ann.resolve().parent
    readers = {"activitynet": activitynet.read, "kinetics": kinetics.read, "ucf101": ucf101.read}
    return readers[fmt](ann, video_root)
