"""In-memory sampler data: ``SamplerArrays`` (float32 numpy) and loading them from a feature store.

The whole sampler (training, prototypes, inference) works on :class:`SamplerArrays`; the store is
read once, chunk by chunk, into preallocated float32 arrays so that training is compute-bound.
AdaFocus's arrays (the light extractor's spatial maps and every candidate patch's local feature)
are large and stay float16 in memory; trainers convert them per batch.
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
LIGHT_MAPS = "light/feature_maps"  # nsnet.store.schema.LIGHT_MAPS
PATCH_FEATURES = "patches/features"  # nsnet.store.schema.PATCH_FEATURES
PATCHES_HINT = "run `nsnet extract --patches G --patch-size P` on it first"

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
    # AdaFocus (optional): light maps [N, T, D, h, w] and candidate patch features [N, T, G*G, D2],
    # both float16, and the candidate geometry (FeatureStore.patches)
    light_maps: np.ndarray | None = None
    patch_features: np.ndarray | None = None
    patches: dict[str, Any] | None = None
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
        if self.light_maps is not None and (self.light_maps.ndim != 5 or self.light_maps.shape[:2] != (n, t)):
            raise SamplerDataError(f"light maps must be [N={n}, T={t}, D, h, w], got {self.light_maps.shape}")
        if self.patch_features is not None and (self.patch_features.ndim != 4 or self.patch_features.shape[:2] != (n, t)):
            raise SamplerDataError(f"patch features must be [N={n}, T={t}, G*G, D2], got {self.patch_features.shape}")

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
            light_maps=pick(self.light_maps),
            patch_features=pick(self.patch_features),
            patches=None if self.patches is None else dict(self.patches),
        )

    def require_patches(self) -> None:
        """Raises SamplerDataError (one line, saying how to extract them) unless the AdaFocus arrays
        -- light maps, candidate patch features and their geometry -- are present."""
        if self.light_maps is None or self.patch_features is None or not self.patches:
            raise SamplerDataError(f"this sampler needs the AdaFocus patch arrays, which were not loaded / are "
                                   f"absent; {PATCHES_HINT}")

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


def _read_native(store: Any, name: str, index: np.ndarray) -> np.ndarray:
    """Returns ``store.read(name, index)`` in the array's own dtype (float16 for the AdaFocus
    arrays), read chunk by chunk into one preallocated array."""
    first = store.read(name, index[:1])
    out = np.empty((index.size,) + first.shape[1:], dtype=first.dtype)
    for lo in range(0, index.size, _READ_CHUNK_VIDEOS):
        sel = index[lo : lo + _READ_CHUNK_VIDEOS]
        out[lo : lo + sel.size] = store.read(name, sel)
    return out


def load_sampler_arrays(
    store: Any,
    split: str | None,
    *,
    rec_features: bool = True,
    rec_logits: bool = True,
    patches: bool = False,
) -> SamplerArrays:
    """Returns the ``split``'s valid videos (done, not failed) as float32 :class:`SamplerArrays`.

    ``store`` is a path or an open :class:`nsnet.store.FeatureStore` (anything with its API).
    ``rec_features`` / ``rec_logits`` choose whether the recognizer arrays are read; asking for
    logits from a store without them raises :class:`SamplerDataError`, as does an empty split.
    ``patches`` also reads the AdaFocus arrays (light maps and candidate patch features, kept
    float16) and their geometry; a store extracted without them raises :class:`SamplerDataError`.
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
    geometry = getattr(store, "patches", None) if patches else None
    if patches and not geometry:
        raise SamplerDataError(f"{getattr(store, 'path', 'store')}: the store has no AdaFocus patch arrays; "
                               f"{PATCHES_HINT}")
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
        light_maps=_read_native(store, LIGHT_MAPS, index) if patches else None,
        patch_features=_read_native(store, PATCH_FEATURES, index) if patches else None,
        patches=dict(geometry) if geometry else None,
    )
