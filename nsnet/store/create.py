"""Creating a new feature store on disk: every array allocated, the static metadata written, atomically."""

from __future__ import annotations

import datetime as _dt
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from nsnet import __version__
from nsnet.store import schema as S
from nsnet.store.layout import StoreError, StoreLayout


def write_new_store(path: Path, layout: StoreLayout, light_dim: int, rec_dim: int) -> None:
    """Writes a new, empty store for ``layout`` at ``path``; returns nothing.

    Refuses to overwrite an existing store or a non-empty folder (StoreError). The store is built in
    a hidden sibling folder and renamed into place, so a process killed while creating it never
    leaves a half-made store at ``path``.
    """
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
    try:
        if path.exists():
            path.rmdir()  # an empty folder (checked above)
        os.rename(tmp, path)
    except OSError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StoreError(f"{path}: cannot create the store ({error})") from error
