"""HDF5 interop: export a store to one ``.h5`` file and import feature dumps back into a store.

The HDF5 layout mirrors the Zarr one: the same dataset names (``light/features``,
``recognizer/features``, ``recognizer/logits``, ``labels``, ``video_id`` ...) and the store's
attributes as a JSON string in the root attribute ``nsnet_attrs``. An import needs at least
``light/features [N, T, D]``; every other array is optional and gets a documented default
(ids ``video00000``..., split ``train``, no labels, zero recognizer features, no logits).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from nsnet.store import schema as S
from nsnet.store.feature_store import FeatureStore, StoreError, StoreLayout

_STRING_ARRAYS = (S.SPLIT, S.VIDEO_ID, S.PATH, S.ERROR)


def export_h5(store: FeatureStore, out: str | Path, chunk_videos: int = 64) -> Path:
    """Writes every array of ``store`` (and its attributes) to an HDF5 file; returns its path."""
    out = Path(out)
    with h5py.File(out, "w") as f:
        f.attrs["nsnet_attrs"] = json.dumps(store.attrs, default=str)
        for name in S.PER_FRAME_ARRAYS + S.PER_VIDEO_ARRAYS:
            arr = store.array(name)
            if name in _STRING_ARRAYS:
                f.create_dataset(name, data=np.asarray(arr[...], dtype=object), dtype=h5py.string_dtype())
                continue
            ds = f.create_dataset(name, shape=arr.shape, dtype=arr.dtype,
                                  chunks=(min(chunk_videos, arr.shape[0]),) + arr.shape[1:])
            for lo in range(0, arr.shape[0], chunk_videos):
                ds[lo : lo + chunk_videos] = arr[lo : lo + chunk_videos]
        head = store.attrs.get("recognizer_head")
        head_bytes = store.read_file(head["file"]) if head else None
        if head_bytes is not None:
            f.create_dataset("recognizer_head.pt", data=np.frombuffer(head_bytes, np.uint8))
    return out


def _read_strings(f: h5py.File, name: str, default: list[str]) -> list[str]:
    if name not in f:
        return default
    return [v.decode() if isinstance(v, bytes) else str(v) for v in f[name][...]]


def import_h5(src: str | Path, out: str | Path, chunk_videos: int | None = None) -> FeatureStore:
    """Creates a new store at ``out`` from an HDF5 feature dump; returns it.

    Raises StoreError when the file lacks ``light/features`` or shapes disagree.
    """
    src = Path(src)
    if not src.is_file():
        raise StoreError(f"{src}: no such HDF5 file")
    try:
        f = h5py.File(src, "r")
    except OSError as err:
        raise StoreError(f"{src}: not an HDF5 file ({err})") from err
    with f:
        if S.LIGHT_FEATURES not in f:
            raise StoreError(f"{src}: needs a dataset {S.LIGHT_FEATURES!r} of shape [N, T, D]")
        attrs = json.loads(f.attrs.get("nsnet_attrs", "{}"))
        light = f[S.LIGHT_FEATURES]
        if light.ndim != 3:
            raise StoreError(f"{src}: {S.LIGHT_FEATURES} must be [N, T, D], got shape {light.shape}")
        n, t, d = light.shape
        labels = f[S.LABELS][...] if S.LABELS in f else np.zeros((n, 0), np.uint8)
        class_names = attrs.get("class_names") or [f"class{i}" for i in range(labels.shape[1])]
        if len(class_names) != labels.shape[1]:
            raise StoreError(f"{src}: {len(class_names)} class names but labels have {labels.shape[1]} columns")
        rec_dim = f[S.REC_FEATURES].shape[2] if S.REC_FEATURES in f and f[S.REC_FEATURES].ndim == 3 else 1
        expected = {S.REC_FEATURES: (n, t, rec_dim), S.REC_LOGITS: (n, t, len(class_names)), S.FRAME_INDICES: (n, t),
                    S.LABELS: (n, len(class_names))}
        for name in (S.NUM_FRAMES, S.FPS, S.DONE) + _STRING_ARRAYS:
            expected[name] = (n,)
        for name, shape in expected.items():  # checked before anything is written
            if name in f and f[name].shape != shape:
                raise StoreError(f"{src}: {name} has shape {f[name].shape}, expected {shape}")
        layout = StoreLayout(
            video_ids=_read_strings(f, S.VIDEO_ID, [f"video{i:05d}" for i in range(n)]),
            paths=_read_strings(f, S.PATH, [""] * n),
            splits=_read_strings(f, S.SPLIT, ["train"] * n),
            labels=labels,
            class_names=list(class_names),
            multilabel=bool(attrs.get("multilabel", bool((labels.sum(1) > 1).any()) if labels.size else False)),
            T=t,
            extractor=attrs.get("extractor", {"name": "imported", "feature_dim": d}),
            recognizer=attrs.get("recognizer", {"name": "imported", "feature_dim": rec_dim}),
            decoder=attrs.get("decoder"),
            annotations={"imported_from": str(src.resolve())},
            command=attrs.get("command", f"nsnet store import-h5 {src}"),
            chunk_videos=chunk_videos or attrs.get("chunk_videos", 32),
        )
        store = FeatureStore.create(out, layout, d, rec_dim)
        for name in S.PER_FRAME_ARRAYS + (S.NUM_FRAMES, S.FPS, S.DONE, S.ERROR):
            if name not in f:
                continue
            data = f[name][...]
            if name == S.ERROR:
                data = np.asarray([v.decode() if isinstance(v, bytes) else str(v) for v in data], dtype=str)
            if data.shape != store.array(name).shape:
                raise StoreError(f"{src}: {name} has shape {data.shape}, expected {store.array(name).shape}")
            store.array(name)[...] = data
        if S.DONE not in f:
            store.array(S.DONE)[...] = np.ones(n, bool)
        extra = {}
        if S.REC_LOGITS in f:  # an nsnet export says whether its logits are filled; a foreign dump has them
            source = attrs["logits_source"] if "logits_source" in attrs else "imported"
            if source:
                extra["logits_source"] = source
        if "recognizer_head.pt" in f and attrs.get("recognizer_head"):
            store.write_file(attrs["recognizer_head"]["file"], f["recognizer_head.pt"][...].tobytes())
            extra["recognizer_head"] = attrs["recognizer_head"]
        if extra:
            store.update_attrs(**extra)
    return store
