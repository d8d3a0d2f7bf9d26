"""The Zarr v3 feature store: creation, identity checks, chunk-wise writes and reads.

Writes are whole chunks of ``chunk_videos`` videos: the data arrays first, the ``done`` flags last.
Zarr's local store writes every chunk file atomically (temp file + rename), so a process killed at
any moment leaves each chunk either old or new, and a chunk counts as finished only when all its
``done`` flags are set. A re-run recomputes unfinished chunks from scratch, which is what makes a
killed-and-resumed store identical to an uninterrupted one.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import zarr

from nsnet.errors import UserError
from nsnet import __version__
from nsnet.store import schema as S
from nsnet.store.splits import parse_split

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


class FeatureStore:
    """A handle on one feature store (a Zarr v3 group on disk)."""

    def __init__(self, path: str | Path, group: zarr.Group) -> None:
        self.path = Path(path)
        self.group = group
        self.attrs: dict[str, Any] = dict(group.attrs)
        if self.attrs.get("schema_version") != S.SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: not an nsnet feature store of schema {S.SCHEMA_VERSION} "
                f"(found schema_version={self.attrs.get('schema_version')!r})"
            )

    # ---------------------------------------------------------------- opening and creating
    @classmethod
    def open(cls, path: str | Path, mode: str = "r") -> "FeatureStore":
        """Returns the store at ``path`` opened read-only ("r") or for writing ("r+")."""
        path = Path(path)
        if not (path / "zarr.json").is_file():
            raise StoreError(f"{path}: no feature store here (no zarr.json); create one with `nsnet extract`")
        try:
            group = zarr.open_group(str(path), mode=mode)
        except Exception as err:  # zarr raises several types for unreadable metadata
            raise StoreError(f"{path}: cannot open the store ({err})") from err
        return cls(path, group)

    @classmethod
    def create(cls, path: str | Path, layout: StoreLayout, light_dim: int, rec_dim: int) -> "FeatureStore":
        """Creates a new store with all arrays allocated and the static metadata written.

        Returns the store opened for writing. Refuses to overwrite an existing store. The store is
        built in a hidden sibling folder and renamed into place, so a process killed while creating
        it never leaves a half-made store at ``path``.
        """
        path = Path(path)
        if (path / "zarr.json").exists():
            raise StoreError(f"{path}: a store exists already; open it instead of creating it")
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise StoreError(f"{path}: exists and is not an empty folder; choose another location")
        n, t, c = len(layout.video_ids), int(layout.T), len(layout.class_names)
        if n == 0:
            raise StoreError("no videos to store")
        cv = max(1, min(int(layout.chunk_videos), n))
        identity = layout.identity()
        attrs = {
            "schema_version": S.SCHEMA_VERSION,
            "nsnet_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "T": t,
            "sampling": S.SAMPLING_RULE,
            "extractor": layout.extractor,
            "recognizer": layout.recognizer,
            "class_names": list(layout.class_names),
            "num_classes": c,
            "multilabel": bool(layout.multilabel),
            "num_videos": n,
            "chunk_videos": cv,
            "annotations": layout.annotations,
            "command": layout.command,
            "fingerprint": identity.fingerprint(),
            "logits_source": "recognizer head" if layout.recognizer.get("num_classes") else None,
            "recognizer_head": None,
            **({"patches": layout.patches} if layout.patches else {}),
            **({"decoder": layout.decoder} if layout.decoder else {}),
        }
        tmp = path.parent / f".{path.name}.creating"
        shutil.rmtree(tmp, ignore_errors=True)  # left over by a killed creation
        tmp.parent.mkdir(parents=True, exist_ok=True)
        group = zarr.open_group(str(tmp), mode="w-", attributes=attrs)

        def per_frame(name: str, dim: int, dtype: str, fill: Any) -> None:
            group.create_array(name, shape=(n, t, dim), chunks=(cv, t, dim), dtype=dtype,
                               compressors=None, fill_value=fill)

        per_frame(S.LIGHT_FEATURES, light_dim, "float16", 0)
        per_frame(S.REC_FEATURES, rec_dim, "float16", 0)
        per_frame(S.REC_LOGITS, c, "float32", np.nan)
        if layout.patches:
            d_map, h_map, w_map = (int(v) for v in layout.patches["map_shape"])
            g2 = len(layout.patches["boxes"])
            group.create_array(S.LIGHT_MAPS, shape=(n, t, d_map, h_map, w_map), chunks=(cv, t, d_map, h_map, w_map),
                               dtype="float16", compressors=None, fill_value=0)
            group.create_array(S.PATCH_FEATURES, shape=(n, t, g2, rec_dim), chunks=(cv, t, g2, rec_dim),
                               dtype="float16", compressors=None, fill_value=0)
        group.create_array(S.FRAME_INDICES, shape=(n, t), chunks=(cv, t), dtype="int32", fill_value=-1)
        group.create_array(S.LABELS, data=np.asarray(layout.labels, dtype=np.uint8), chunks=(cv, c))
        for name, values in ((S.SPLIT, layout.splits), (S.VIDEO_ID, layout.video_ids), (S.PATH, layout.paths)):
            arr = group.create_array(name, shape=(n,), chunks=(cv,), dtype=str)
            arr[:] = np.asarray(values, dtype=str)
        group.create_array(S.NUM_FRAMES, shape=(n,), chunks=(cv,), dtype="int64", fill_value=0)
        group.create_array(S.FPS, shape=(n,), chunks=(cv,), dtype="float32", fill_value=0)
        group.create_array(S.DONE, shape=(n,), chunks=(cv,), dtype="bool", fill_value=False)
        err = group.create_array(S.ERROR, shape=(n,), chunks=(cv,), dtype=str)
        err[:] = np.full(n, "", dtype=str)
        if layout.decoder:
            group.create_array(S.DECODE_BACKEND, shape=(n,), chunks=(cv,), dtype=str)[:] = np.full(n, "", dtype=str)
        try:
            if path.exists():
                path.rmdir()  # an empty folder (checked above)
            os.rename(tmp, path)
        except OSError as error:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StoreError(f"{path}: cannot create the store ({error})") from error
        return cls.open(path, mode="r+")

    @classmethod
    def open_or_create(cls, path: str | Path, layout: StoreLayout, light_dim: int, rec_dim: int) -> "FeatureStore":
        """Returns the existing store at ``path`` if it matches ``layout``, else a new one.

        Raises StoreMismatchError (one line per difference) when the existing store was made with a
        different T, model, weights, class list or video list.
        """
        if not (Path(path) / "zarr.json").exists():
            return cls.create(path, layout, light_dim, rec_dim)
        store = cls.open(path, mode="r+")
        diffs = S.identity_differences(store.identity(), layout.identity())
        if diffs:
            raise StoreMismatchError(
                f"{path} was made with a different configuration; refusing to mix: " + "; ".join(diffs)
                + ". Use another --out or delete the store."
            )
        return store

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


def iter_chunks_for_rank(chunk_ids: Iterable[int], rank: int, world_size: int) -> list[int]:
    """Returns the chunk ids that ``rank`` owns: round-robin over whole chunks."""
    return [c for c in chunk_ids if c % world_size == rank]
