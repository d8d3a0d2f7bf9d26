"""Annotation readers: a dataset's own annotation files -> :class:`Manifest` (see
:mod:`~nsnet.extract.annotations.manifest`), one module per format."""

from nsnet.extract.annotations.manifest import (
    FORMATS,
    SPLITS,
    VIDEO_EXTENSIONS,
    AnnotationError,
    Manifest,
    VideoEntry,
    detect_format,
    normalise_split,
)

__all__ = ["AnnotationError", "VideoEntry", "Manifest", "FORMATS", "SPLITS", "VIDEO_EXTENSIONS", "detect_format",
           "normalise_split"]
