"""In-memory sampler data: ``SamplerArrays`` (float32 numpy) and loading them from a feature store.

The whole sampler (training, prototypes, inference) works on :class:`SamplerArrays`; the store is
read once, chunk by chunk, into preallocated float32 arrays so that training is compute-bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from nsnet.errors import UserError
from nsnet.sampler.base import SamplerInputs

LIGHT = "light/features"
REC_FEATURES = "recognizer/features"
REC_LOGITS = "recognizer/logits"
LABELS = "labels"
VIDEO_ID = "video_id"

_READ_CHUNK_VIDEOS = 256


class SamplerDataError(UserError, ValueError):
    """Sampler inputs are missing, empty or inconsistent (shapes, splits, absent logits)."""


@dataclass(kw_only=True)
class SamplerArrays(SamplerInputs):
    """One split's cached tensors -- the :class:`SamplerInputs` every sampler reads -- plus the store
    identity they came from. ``labels`` [N, C] (multi-hot, float32) are required here."""

    labels: np.ndarray
    class_names: list[str]
    multilabel: bool = False
    video_ids: list[str] | None = None
    split: str | None = None
    fingerprint: str = ""
    extractor_spec: dict[str, Any] = field(default_factory=dict)
    recognizer_spec: dict[str, Any] = field(default_factory=dict)
    error: ClassVar[type[Exception]] = SamplerDataError

    def __post_init__(self) -> None:
        super().__post_init__()
        n, t, _ = self.light.shape
        c = len(self.class_names)
        if self.labels.shape != (n, c):
            raise SamplerDataError(f"labels must be [N={n}, C={c}], got shape {self.labels.shape}")
        if self.rec_logits is not None and self.rec_logits.shape != (n, t, c):
            raise SamplerDataError(f"recognizer logits must be [N={n}, T={t}, C={c}], got {self.rec_logits.shape}")
        if self.video_ids is not None and len(self.video_ids) != n:
            raise SamplerDataError(f"{len(self.video_ids)} video ids for {n} videos")

    @property
    def D(self) -> int:
        """Returns the light feature dimension."""
        return int(self.light.shape[2])

    @property
    def C(self) -> int:
        """Returns the number of classes."""
        return len(self.class_names)

    def subset(self, index: np.ndarray) -> "SamplerArrays":
        """Returns a new SamplerArrays holding only the videos at ``index``."""
        index = np.asarray(index, dtype=np.int64)
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return SamplerArrays(
            light=self.light[index],
            labels=self.labels[index],
            class_names=list(self.class_names),
            multilabel=self.multilabel,
            rec_features=pick(self.rec_features),
            rec_logits=pick(self.rec_logits),
            video_ids=None if self.video_ids is None else [self.video_ids[i] for i in index],
            split=self.split,
            fingerprint=self.fingerprint,
            extractor_spec=dict(self.extractor_spec),
            recognizer_spec=dict(self.recognizer_spec),
        )

    def require(self, *names: str) -> None:
        """Raises SamplerDataError unless the optional arrays ``names`` (``rec_features``,
        ``rec_logits``) are present."""
        for name in names:
            if getattr(self, name) is None:
                what = {"rec_features": "recognizer features", "rec_logits": "recognizer logits"}[name]
                raise SamplerDataError(f"this sampler needs the {what}, which were not loaded / are absent")


def _read_float32(store: Any, name: str, index: np.ndarray) -> np.ndarray:
    """Returns ``store.read(name, index)`` as one preallocated float32 array, read in chunks."""
    first = store.read(name, index[:1])
    out = np.empty((index.size,) + first.shape[1:], dtype=np.float32)
    for lo in range(0, index.size, _READ_CHUNK_VIDEOS):
        sel = index[lo : lo + _READ_CHUNK_VIDEOS]
        if sel.size and sel[-1] - sel[0] == sel.size - 1:  # contiguous: one slice read
            block = store.read(name, slice(int(sel[0]), int(sel[-1]) + 1))
        else:
            block = store.read(name, sel)
        out[lo : lo + sel.size] = block
    return out


def load_sampler_arrays(
    store: Any,
    split: str | None,
    *,
    rec_features: bool = True,
    rec_logits: bool = True,
) -> SamplerArrays:
    """Returns the ``split``'s valid videos (done, not failed) as float32 :class:`SamplerArrays`.

    ``store`` is a path or an open :class:`nsnet.store.FeatureStore` (anything with its API).
    ``rec_features`` / ``rec_logits`` choose whether the recognizer arrays are read; asking for
    logits from a store without them raises :class:`SamplerDataError`, as does an empty split.
    """
    if isinstance(store, (str, Path)):
        from nsnet.store import FeatureStore

        store = FeatureStore.open(store)
    index = np.asarray(store.valid_indices(split), dtype=np.int64)
    if index.size == 0:
        where = f"split {split!r}" if split is not None else "the store"
        raise SamplerDataError(f"{getattr(store, 'path', 'store')}: no finished videos in {where}")
    if rec_logits and not store.has_logits:
        raise SamplerDataError(
            f"{getattr(store, 'path', 'store')}: the store has no recognizer logits "
            "(fit the recognizer head first)"
        )
    video_ids = [str(v) for v in store.read(VIDEO_ID, index).tolist()]
    return SamplerArrays(
        light=_read_float32(store, LIGHT, index),
        labels=store.read(LABELS, index).astype(np.float32),
        class_names=list(store.class_names),
        multilabel=bool(store.multilabel),
        rec_features=_read_float32(store, REC_FEATURES, index) if rec_features else None,
        rec_logits=_read_float32(store, REC_LOGITS, index) if rec_logits else None,
        video_ids=video_ids,
        split=split,
        fingerprint=str(store.fingerprint),
        extractor_spec=dict(store.extractor_spec),
        recognizer_spec=dict(store.recognizer_spec),
    )
