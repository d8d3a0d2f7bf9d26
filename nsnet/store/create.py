"""Creating a new feature store: every array allocated and the static metadata written, so that a
killed creation never leaves a store that passes for a finished one."""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import time
from typing import Any

import numpy as np
import zarr

from nsnet import __version__
from nsnet.store import schema as S
from nsnet.store.layout import StoreError, StoreLayout
from nsnet.store.location import StoreLocation, remote_errors

# The attribute a store at a URL carries while it is being created (object storage has no rename):
# ``schema_version`` is written last, so a killed creation leaves a store no reader accepts.
CREATING_ATTR = "creating"  # its value: when the creation began (seconds since the epoch)
CREATION_PATIENCE_S = 120.0  # a creation younger than this may still be running in another job: wait for it


def write_new_store(location: StoreLocation, layout: StoreLayout, light_dim: int, rec_dim: int) -> None:
    """Writes a new, empty store for ``layout`` at ``location``; returns nothing.

    Refuses to overwrite an existing store or a non-empty folder (StoreError). A local store is built
    in a hidden sibling folder and renamed into place; a store at a URL is written in place with
    ``schema_version`` last (:data:`CREATING_ATTR` marks it until then).
    """
    n = len(layout.video_ids)
    if n == 0:
        raise StoreError("no videos to store")
    attrs = store_attrs(layout)
    if location.is_url:
        fs, root = location.filesystem()
        with remote_errors(location):
            if fs.exists(f"{root}/zarr.json"):
                raise StoreError(f"{location}: a store exists already; open it instead of creating it")
            if fs.exists(root) and fs.ls(root, detail=False):
                raise StoreError(f"{location}: exists and is not empty; choose another location")
            version = attrs.pop("schema_version")
            group = zarr.open_group(store=location.zarr_store(read_only=False), mode="w-",
                                    attributes={**attrs, CREATING_ATTR: time.time()})
            _allocate(group, layout, light_dim, rec_dim)
            group.attrs.update({"schema_version": version})
            del group.attrs[CREATING_ATTR]
        return
    path = location.local_path
    if (path / "zarr.json").exists():
        raise StoreError(f"{path}: a store exists already; open it instead of creating it")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise StoreError(f"{path}: exists and is not an empty folder; choose another location")
    tmp = path.parent / f".{path.name}.creating"
    shutil.rmtree(tmp, ignore_errors=True)  # left over by a killed creation
    tmp.parent.mkdir(parents=True, exist_ok=True)
    _allocate(zarr.open_group(str(tmp), mode="w-", attributes=attrs), layout, light_dim, rec_dim)
    try:
        if path.exists():
            path.rmdir()  # an empty folder (checked above)
        os.rename(tmp, path)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StoreError(f"{path}: cannot create the store ({error})") from error


def remove_half_made(location: StoreLocation, patience_s: float = CREATION_PATIENCE_S) -> bool:
    """Deletes a store at a URL whose creation was interrupted; returns True when it did.

    A creation that another job may still be running (its marker younger than ``patience_s``) is
    waited for instead: False once it has finished, so the caller opens the finished store.
    """
    if not location.is_url:
        return False
    fs, root = location.filesystem()
    deadline = time.monotonic() + patience_s
    while True:
        try:
            attrs = dict(zarr.open_group(store=location.zarr_store(read_only=True), mode="r").attrs)
        except Exception:  # not a readable group: leave it to the caller's open, which says why
            return False
        if not attrs.get(CREATING_ATTR) or "schema_version" in attrs:
            return False
        started = attrs.get(CREATING_ATTR)
        age = time.time() - started if isinstance(started, (int, float)) and started is not True else patience_s
        if age >= patience_s or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    with remote_errors(location):
        fs.rm(root, recursive=True)
    return True


def store_attrs(layout: StoreLayout) -> dict[str, Any]:
    """Returns the static attributes of a new store for ``layout`` (identity, models, classes, ...)."""
    n, t, c = len(layout.video_ids), int(layout.T), len(layout.class_names)
    cv = max(1, min(int(layout.chunk_videos), n))
    identity = layout.identity()
    return {
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


def _allocate(group: zarr.Group, layout: StoreLayout, light_dim: int, rec_dim: int) -> None:
    """Creates every array of the store in ``group`` (filled with their empty values)."""
    n, t, c = len(layout.video_ids), int(layout.T), len(layout.class_names)
    cv = int(group.attrs["chunk_videos"])

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
