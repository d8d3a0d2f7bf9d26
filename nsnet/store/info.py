"""`nsnet info STORE`: a readable summary of a feature store."""

from __future__ import annotations

import numpy as np
from rich.table import Table

from nsnet.store import schema as S
from nsnet.store.feature_store import FeatureStore


def _size_mib(shape: tuple[int, ...], dtype: object) -> float | None:
    """Returns the uncompressed size of a numeric array in MiB (None for strings)."""
    try:
        dt = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        return None
    if dt.kind not in "biuf":
        return None
    return float(np.prod(shape, dtype=np.float64) * dt.itemsize / 2**20)


def patch_summary(patches: dict | None) -> dict | None:
    """Returns the AdaFocus candidate geometry for display (None when the store has no patch arrays)."""
    if not patches:
        return None
    width, height = patches["frame_size"]
    return {"grid": patches["grid"], "patch_size": patches["patch_size"], "candidates": len(patches["boxes"]),
            "frame_size": [width, height], "map_shape": list(patches["map_shape"]),
            "map_stride": patches.get("map_stride"), "boxes": patches["boxes"]}


def decoder_summary(store: FeatureStore) -> dict:
    """Returns the decoder provenance: name, version and how many videos each backend decoded
    (stores from before it was recorded: decord, version unknown)."""
    attrs = store.attrs.get("decoder") or {"name": "decord", "version": "unrecorded (store predates provenance)"}
    backends: dict[str, int] = {}
    if S.DECODE_BACKEND in store.group:
        values, counts = np.unique(store.read(S.DECODE_BACKEND), return_counts=True)
        backends = {str(v): int(c) for v, c in zip(values, counts) if v}
    return {"name": attrs.get("name"), "version": attrs.get("version"), "backends": backends}


def store_summary(store: FeatureStore) -> dict:
    """Returns a JSON-able summary: counts per split, models, arrays (with their size in MiB), identity,
    and the AdaFocus patch geometry (``patches``, None when not extracted)."""
    splits = store.read(S.SPLIT)
    valid = store.valid_indices()
    per_split = {str(s): int((splits[valid] == s).sum()) for s in sorted(set(splits.tolist()))}
    arrays = {}
    names = S.PER_FRAME_ARRAYS + (S.PATCH_ARRAYS if store.patches else ()) + S.PER_VIDEO_ARRAYS
    for name in names:
        arr = store.array(name)
        arrays[name] = {"shape": list(arr.shape), "dtype": str(arr.dtype), "chunks": list(arr.chunks),
                        "size_mib": _size_mib(arr.shape, arr.dtype)}
    return {
        "path": str(store.path),
        "schema_version": store.attrs["schema_version"],
        "nsnet_version": store.attrs.get("nsnet_version"),
        "created": store.attrs.get("created"),
        "T": store.T,
        "num_classes": store.num_classes,
        "multilabel": store.multilabel,
        "status": store.status_counts(),
        "videos_per_split": per_split,
        "extractor": store.extractor_spec,
        "recognizer": store.recognizer_spec,
        "logits": store.attrs.get("logits_source"),
        "recognizer_head": store.attrs.get("recognizer_head"),
        "fingerprint": store.fingerprint,
        "command": store.attrs.get("command"),
        "decoder": decoder_summary(store),
        "arrays": arrays,
        "patches": patch_summary(store.patches),
        "failures": [{"path": p, "reason": r} for p, r in store.failures()],
    }


def summary_table(summary: dict) -> Table:
    """Returns a rich table rendering of :func:`store_summary`."""
    t = Table(title=f"nsnet store {summary['path']}", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value")
    st = summary["status"]
    ex, rc = summary["extractor"], summary["recognizer"]
    t.add_row("videos", f"{st['total']} total: {st['done']} done, {st['failed']} failed, {st['pending']} pending")
    t.add_row("per split (done)", ", ".join(f"{k}={v}" for k, v in summary["videos_per_split"].items()))
    t.add_row("frames per video (T)", str(summary["T"]))
    t.add_row("classes", f"{summary['num_classes']}" + (" (multi-label)" if summary["multilabel"] else ""))
    t.add_row("light extractor", f"{ex.get('name')} @ {ex.get('input_size')}px, {ex.get('feature_dim')}-d, weights {ex.get('weights')} sha256 {str(ex.get('weights_sha256'))[:12]}")
    t.add_row("recognizer", f"{rc.get('name')} @ {rc.get('input_size')}px (short side {rc.get('resize_short')}), {rc.get('feature_dim')}-d, weights {rc.get('weights')} sha256 {str(rc.get('weights_sha256'))[:12]}")
    head = summary.get("recognizer_head")
    logits = summary["logits"] or "none yet (run `nsnet fit-recognizer`)"
    if head:
        logits += f"; head train frame accuracy {100 * head['train_frame_accuracy']:.1f}%"
    t.add_row("recognizer logits", logits)
    p = summary.get("patches")
    if p:
        (w, h), (d, mh, mw) = p["frame_size"], p["map_shape"]
        t.add_row("patches (AdaFocus)", f"G={p['grid']}: {p['candidates']} candidates of P={p['patch_size']}px on the "
                  f"{w}x{h} recognizer input; light map {d}x{mh}x{mw}"
                  + (f" (stride {p['map_stride']})" if p.get("map_stride") else " (last map)"))
    dec = summary["decoder"]
    per_video = ", ".join(f"{k}: {v}" for k, v in dec["backends"].items())
    t.add_row("decoder", f"{dec['name']} ({dec['version']})" + (f"; per video {per_video}" if per_video else ""))
    t.add_row("fingerprint", summary["fingerprint"][:16])
    t.add_row("command", str(summary["command"]))
    for name, a in summary["arrays"].items():
        size = "" if a.get("size_mib") is None else f", {a['size_mib']:.1f} MiB"
        t.add_row(f"  {name}", f"{a['shape']} {a['dtype']} chunks {a['chunks']}{size}")
    for f in summary["failures"][:10]:
        t.add_row("  failed", f"{f['path']}: {f['reason']}")
    if len(summary["failures"]) > 10:
        t.add_row("  failed", f"... {len(summary['failures']) - 10} more")
    return t
