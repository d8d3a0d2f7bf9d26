"""What a new store holds before extraction (``StoreLayout``) and the store's error types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nsnet.errors import UserError
from nsnet.store import schema as S

DEFAULT_CHUNK_VIDEOS = 32


class StoreError(UserError, RuntimeError):
    """A store cannot be opened, created or reused as asked."""


class StoreMismatchError(StoreError, ValueError):
    """An existing store was made with a different configuration than the one asked for."""


@dataclass
class StoreLayout:
    """Static content of a new store: the per-video metadata known before extraction."""

    video_ids: list[str]
    paths: list[str]
    splits: list[str]
    labels: np.ndarray  # [N, C] uint8 multi-hot
    class_names: list[str]
    multilabel: bool
    T: int
    extractor: dict[str, Any]
    recognizer: dict[str, Any]
    annotations: dict[str, Any]
    command: str = ""
    chunk_videos: int = DEFAULT_CHUNK_VIDEOS
    patches: dict[str, Any] | None = None  # AdaFocus geometry (schema.PATCH_ARRAYS); None: not extracted
    decoder: dict[str, str] | None = None  # {"name", "version"} of the frame decoder; None: decord (legacy)

    def identity(self) -> S.StoreIdentity:
        """Returns the identity that an existing store must match."""
        return S.StoreIdentity(
            T=self.T,
            extractor=self.extractor,
            recognizer=self.recognizer,
            class_names=tuple(self.class_names),
            video_ids=tuple(self.video_ids),
            patches=self.patches,
            decoder=(self.decoder or {}).get("name", "decord"),
        )
