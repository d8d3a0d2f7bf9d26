"""Annotation readers: a dataset's own annotation files -> :class:`Manifest`, one module per format.

:mod:`~nsnet.extract.annotations.manifest` holds the data (``Manifest``, ``VideoEntry``), each of
``activitynet``, ``kinetics``, ``ucf101``, ``folder`` and ``csv_list`` has a ``read`` function, and
:func:`load_manifest` picks one (``format="auto"``: :func:`detect_format`).
"""

from nsnet.extract.annotations.loader import detect_format, load_manifest
from nsnet.extract.annotations.manifest import (
    FORMATS,
    SPLITS,
    VIDEO_EXTENSIONS,
    AnnotationError,
    Manifest,
    VideoEntry,
    normalise_split,
)

__all__ = ["AnnotationError", "VideoEntry", "Manifest", "FORMATS", "SPLITS", "VIDEO_EXTENSIONS", "detect_format",
           "load_manifest", "normalise_split"]
