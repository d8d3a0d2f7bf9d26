"""The Zarr v3 feature store: creation, identity checks, chunk-wise writes and reads.

Writes are whole chunks of ``chunk_videos`` videos: the data arrays first, the ``done`` flags last.
Zarr's local store writes every chunk file atomically (temp file + rename), so a process killed at
any moment leaves each chunk either old or new, and a chunk counts as finished only when all its
``done`` flags are set. A re-run recomputes unfinished chunks from scratch, which is what makes a
killed-and-resumed store identical to an uninterrupted one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import zarr

from nsnet.store import schema as S
from nsnet.store.create import CREATING_ATTR, remove_half_made, write_new_store
from nsnet.store.layout import DEFAULT_CHUNK_VIDEOS, StoreError, StoreLayout, StoreMismatchError
from nsnet.store.location import StoreLocation, remote_errors
from nsnet.store.splits import parse_split

__all__ = ["DEFAULT_CHUNK_VIDEOS", "FeatureStore", "StoreError", "StoreLayout", "StoreMismatchError", "dump_attrs"]


class FeatureStore:
    """A handle on one feature store (a Zarr v3 group on disk)."""

    def __init__(self, location: str | Path | StoreLocation, group: zarr.Group) -> None:
        location = StoreLocation.parse(location)
        self.location = location
        self.group = group
        self.attrs: dict[str, Any] = dict(group.attrs)
        if self.attrs.get("schema_version") != S.SCHEMA_VERSION:
            half_made = self.attrs.get(CREATING_ATTR)
            raise StoreError(
                f"{location}: a half-made store (its creation was interrupted); re-run `nsnet extract` on it or "
                "delete it" if half_made else
                f"{location}: not an nsnet feature store of schema {S.SCHEMA_VERSION} "
                f"(found schema_version={self.attrs.get('schema_version')!r})"
            )

    @property
    def path(self) -> str:
        """Returns where the store lives: its absolute local path or its URL."""
        return self.location.text

    # ---------------------------------------------------------------- opening and creating
    @classmethod
    def open(cls, path: str | Path | StoreLocation, mode: str = "r") -> "FeatureStore":
        """Returns the store at ``path`` (a folder or a URL) opened read-only ("r") or for writing ("r+")."""
        location = StoreLocation.parse(path)
        if not location.exists("zarr.json"):
            raise StoreError(f"{location}: no feature store here (no zarr.json); create one with `nsnet extract`")
        try:
            with remote_errors(location):
                group = zarr.open_group(store=location.zarr_store(read_only=mode == "r"), mode=mode)
        except StoreError:
            raise
        except Exception as err:  # zarr raises several types for unreadable metadata
            raise StoreError(f"{location}: cannot open the store ({err})") from err
        return cls(location, group)

    @classmethod
    def create(cls, path: str | Path | StoreLocation, layout: StoreLayout, light_dim: int,
               rec_dim: int) -> "FeatureStore":
        """Creates a new store with all arrays allocated and the static metadata written.

        Returns the store opened for writing. Refuses to overwrite an existing store. A process killed
        while creating it never leaves a store that passes for a finished one (see
        :func:`~nsnet.store.create.write_new_store`).
        """
        location = StoreLocation.parse(path)
        write_new_store(location, layout, light_dim, rec_dim)
        return cls.open(location, mode="r+")

    @classmethod
    def open_or_create(cls, path: str | Path | StoreLocation, layout: StoreLayout, light_dim: int, rec_dim: int) -> "FeatureStore":
        """Returns the existing store at ``path`` if it matches ``layout``, else a new one.

        Raises StoreMismatchError (one line per difference) when the existing store was made with a
        different T, model, weights, class list or video list.
        """
        location = StoreLocation.parse(path)
        if not location.exists("zarr.json") or remove_half_made(location):
            return cls.create(location, layout, light_dim, rec_dim)
        store = cls.open(location, mode="r+")
        diffs = S.identity_differences(store.identity(), layout.identity())
        if diffs:
            raise StoreMismatchError(
                f"{path} was made with a different configuration; refusing to mix: " + "; ".join(diffs)
                + ". Use another --out or delete the store."
            )
        return store

    def read_file(self, name: str) -> bytes | None:
        """Returns the bytes of a side file kept next to the arrays (e.g. the recognizer head), or None."""
        try:
            return self.location.read_bytes(name)
        except FileNotFoundError:
            return None

    def write_file(self, name: str, data: bytes) -> None:
        """Writes a side file next to the arrays; returns nothing."""
        self.location.write_bytes(name, data)

    # ---------------------------------------------------------------- metadata
    def identity(self) -> S.StoreIdentity:
        """Returns the identity (T, models, classes, videos) this store was created with."""
        return S.StoreIdentity(
            T=self.T,
            extractor=self.extractor_spec,
            recognizer=self.recognizer_spec,
            class_names=tuple(self.class_names),
            video_ids=tuple(self.read(S.VIDEO_ID).tolist()),
            patches=self.patches,
            decoder=(self.attrs.get("decoder") or {}).get("name", "decord"),
        )

    @property
    def T(self) -> int:
        """Returns the number of pre-sampled frames per video."""
        return int(self.attrs["T"])

    @property
    def class_names(self) -> list[str]:
        """Returns the class names, in label-column order."""
        return list(self.attrs["class_names"])

    @property
    def num_classes(self) -> int:
        """Returns the number of classes C."""
        return len(self.attrs["class_names"])

    @property
    def multilabel(self) -> bool:
        """Returns True when some video has several labels (sigmoid instead of softmax)."""
        return bool(self.attrs["multilabel"])

    @property
    def num_videos(self) -> int:
        """Returns N, the number of videos (done or not)."""
        return int(self.attrs["num_videos"])

    @property
    def chunk_videos(self) -> int:
        """Returns how many videos one chunk holds."""
        return int(self.attrs["chunk_videos"])

    @property
    def fingerprint(self) -> str:
        """Returns the sha256 identity digest (schema, T, models and weights, classes, videos)."""
        return str(self.attrs["fingerprint"])

    @property
    def patches(self) -> dict[str, Any] | None:
        """Returns the AdaFocus candidate geometry (``schema.PATCH_ARRAYS`` exist) or None."""
        value = self.attrs.get("patches")
        return dict(value) if value else None

    @property
    def extractor_spec(self) -> dict[str, Any]:
        """Returns the light extractor's model spec as recorded at creation."""
        return dict(self.attrs["extractor"])

    @property
    def recognizer_spec(self) -> dict[str, Any]:
        """Returns the recognizer's model spec as recorded at creation."""
        return dict(self.attrs["recognizer"])

    @property
    def has_logits(self) -> bool:
        """Returns True when per-frame recognizer logits are filled for every done video."""
        return self.attrs.get("logits_source") is not None

    def update_attrs(self, **values: Any) -> None:
        """Writes attributes (JSON-able values) and refreshes the cached copy."""
        self.group.attrs.update(values)
        self.attrs.update(values)

    # ---------------------------------------------------------------- arrays
    def array(self, name: str) -> zarr.Array:
        """Returns the zarr array ``name`` (see :mod:`nsnet.store.schema`)."""
        try:
            return self.group[name]
        except KeyError as err:
            raise StoreError(f"{self.path}: no array {name!r}") from err

    def read(self, name: str, index: np.ndarray | slice | None = None) -> np.ndarray:
        """Returns array ``name`` as numpy, all videos or those selected by ``index``.

        A sorted integer index is read chunk by chunk (one read per touched chunk), not video by video.
        """
        arr = self.array(name)
        if index is None:
            return arr[...]
        if isinstance(index, slice):
            return arr[index]
        index = np.asarray(index)
        if index.size == 0:
            return np.empty((0,) + arr.shape[1:], dtype=arr.dtype)
        if index.dtype == bool:
            if index.shape != arr.shape[:1]:
                raise IndexError(f"boolean index of shape {index.shape} for {arr.shape[0]} videos")
            index = np.nonzero(index)[0]
        index = index.astype(np.int64, casting="same_kind")
        if index.size and (index.min() < -arr.shape[0] or index.max() >= arr.shape[0]):
            raise IndexError(f"video index out of range for {arr.shape[0]} videos")
        index = np.where(index < 0, index + arr.shape[0], index)
        order = np.argsort(index, kind="stable")
        sorted_idx = index[order]
        out = np.empty((index.size,) + arr.shape[1:], dtype=arr.dtype)
        cv = arr.chunks[0]
        chunk_of = sorted_idx // cv
        for chunk in np.unique(chunk_of):
            sel = np.nonzero(chunk_of == chunk)[0]
            lo, hi = int(sorted_idx[sel[0]]), int(sorted_idx[sel[-1]]) + 1
            block = arr[lo:hi]
            out[order[sel]] = block[sorted_idx[sel] - lo]
        return out

    def valid_indices(self, split: str | None = None) -> np.ndarray:
        """Returns indices of videos that are done and succeeded, optionally in one split.

        ``split`` may carry a percent slice of that split's videos in store order, e.g.
        ``train[:80%]`` / ``train[80%:]`` to hold out part of the train split for tuning (the
        slice is taken over the split's valid videos; ``[a%:b%]`` keeps rows ``floor(a n / 100)``
        to ``floor(b n / 100)``)."""
        ok = self.read(S.DONE) & (self.read(S.ERROR) == "")
        if split is None:
            return np.nonzero(ok)[0]
        name, lo, hi = parse_split(split)
        rows = np.nonzero(ok & (self.read(S.SPLIT) == name))[0]
        n = rows.size
        return rows[(lo * n) // 100 : (hi * n) // 100]

    def chunk_ranges(self) -> list[tuple[int, int]]:
        """Returns the [start, stop) video range of every chunk."""
        cv, n = self.chunk_videos, self.num_videos
        return [(lo, min(lo + cv, n)) for lo in range(0, n, cv)]

    def pending_chunks(self) -> list[int]:
        """Returns the ids of chunks with at least one video not done."""
        done = self.read(S.DONE)
        return [i for i, (lo, hi) in enumerate(self.chunk_ranges()) if not bool(done[lo:hi].all())]

    def write_chunk(self, chunk_id: int, data: Mapping[str, np.ndarray]) -> None:
        """Writes whole-chunk arrays for chunk ``chunk_id``, then marks its videos done.

        ``data`` maps array names (per-frame arrays, num_frames, fps, error) to arrays whose first
        axis covers exactly the chunk's videos.
        """
        lo, hi = self.chunk_ranges()[chunk_id]
        for name, values in data.items():
            if name == S.DONE:
                continue
            values = np.asarray(values)
            if values.shape[0] != hi - lo:
                raise StoreError(f"chunk {chunk_id}: {name} has {values.shape[0]} rows, expected {hi - lo}")
            self.array(name)[lo:hi] = values
        self.array(S.DONE)[lo:hi] = np.ones(hi - lo, dtype=bool)

    def status_counts(self) -> dict[str, int]:
        """Returns counts of videos: total, done, failed, pending."""
        done = self.read(S.DONE)
        failed = done & (self.read(S.ERROR) != "")
        return {
            "total": int(done.size),
            "done": int(done.sum() - failed.sum()),
            "failed": int(failed.sum()),
            "pending": int((~done).sum()),
        }

    def failures(self) -> list[tuple[str, str]]:
        """Returns (video path, reason) for every failed video."""
        err = self.read(S.ERROR)
        paths = self.read(S.PATH)
        return [(str(paths[i]), str(err[i])) for i in np.nonzero(err != "")[0]]


def dump_attrs(store: FeatureStore) -> str:
    """Returns the store's attributes as pretty JSON."""
    return json.dumps(store.attrs, indent=2, sort_keys=True, default=str)
