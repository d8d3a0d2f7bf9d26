"""The feature store's layout: array names, dtypes and the attributes that identify a store.

One Zarr v3 group per dataset + configuration. Every array's first axis is the video axis and is
chunked by whole videos (``chunk_videos`` per chunk), so one extraction rank owns whole chunks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1

LIGHT_FEATURES = "light/features"  # [N, T, D]  float16  light extractor's pooled features
REC_FEATURES = "recognizer/features"  # [N, T, D2] float16  recognizer's pooled features
REC_LOGITS = "recognizer/logits"  # [N, T, C]  float32  recognizer's per-frame class logits
FRAME_INDICES = "frame_indices"  # [N, T]     int32    decoded frame index of each of the T frames
LABELS = "labels"  # [N, C]     uint8    multi-hot ground truth
SPLIT = "split"  # [N]        str      train / val / test
VIDEO_ID = "video_id"  # [N]        str
PATH = "path"  # [N]        str      video path as given by the annotations
NUM_FRAMES = "num_frames"  # [N]        int64    frames a sequential decode yields (demuxed count)
FPS = "fps"  # [N]        float32
DONE = "done"  # [N]        bool     processed (successfully or not); written after the data
ERROR = "error"  # [N]        str      "" when extraction succeeded, else the reason
# Optional (stores that record their decoder, attrs["decoder"] = {"name", "version"}): what decoded each video.
DECODE_BACKEND = "decode_backend"  # [N] str  pyav | pyav-sequential | decord | torchcodec ("" if failed)

# Optional AdaFocus arrays (`nsnet extract --patches G --patch-size P`); geometry in attrs["patches"]:
# {"grid": G, "patch_size": P, "frame_size": [W, H] (the recognizer's input frame), "boxes":
# [[x0, y0, x1, y1], ...] (G*G candidates, row-major, pixels of that frame), "map_shape": [D, h, w]}.
LIGHT_MAPS = "light/feature_maps"  # [N, T, D, h, w] float16 light extractor's map before pooling
PATCH_FEATURES = "patches/features"  # [N, T, G*G, D2] float16 local CNN (recognizer backbone) per candidate
PATCH_ARRAYS = (LIGHT_MAPS, PATCH_FEATURES)

PER_FRAME_ARRAYS = (LIGHT_FEATURES, REC_FEATURES, REC_LOGITS, FRAME_INDICES)
PER_VIDEO_ARRAYS = (LABELS, SPLIT, VIDEO_ID, PATH, NUM_FRAMES, FPS, DONE, ERROR)

SAMPLING_RULE = (
    "T frames uniformly pre-sampled: frame floor((i + 0.5) * n / T) for i in 0..T-1; videos with "
    "n < T frames are looped (0..n-1, 0..n-1, ...) and cut to T (supp. A.1)"
)

# Fields of a model spec that change the numbers in the store; the rest is informational.
_SPEC_IDENTITY_FIELDS = ("name", "input_size", "resize_short", "weights_sha256", "mean", "std")


@dataclass(frozen=True)
class StoreIdentity:
    """What must match for two runs to write into (or read from) the same store."""

    T: int
    extractor: dict[str, Any]
    recognizer: dict[str, Any]
    class_names: tuple[str, ...]
    video_ids: tuple[str, ...]
    patches: dict[str, Any] | None = None  # AdaFocus candidate geometry; None: no patch arrays
    decoder: str = "decord"  # the decoder of the frames (stores without the attribute: decord)

    def comparable(self) -> dict[str, Any]:
        """Returns the JSON-able dict of identity fields used for mismatch checks."""
        return {
            "schema_version": SCHEMA_VERSION,
            "T": int(self.T),
            "extractor": spec_identity(self.extractor),
            "recognizer": spec_identity(self.recognizer),
            "class_names": list(self.class_names),
            "video_ids": list(self.video_ids),
            **({"patches": json.loads(json.dumps(self.patches))} if self.patches else {}),
            **({"decoder": self.decoder} if self.decoder != "decord" else {}),
        }

    def fingerprint(self) -> str:
        """Returns a sha256 hex digest of :meth:`comparable`."""
        blob = json.dumps(self.comparable(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def spec_identity(spec: dict[str, Any]) -> dict[str, Any]:
    """Returns the subset of a model spec that determines the stored numbers."""
    out = {}
    for key in _SPEC_IDENTITY_FIELDS:
        value = spec.get(key)
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


def identity_differences(stored: StoreIdentity, asked: StoreIdentity) -> list[str]:
    """Returns human-readable differences between a stored and an asked-for identity."""
    a, b = stored.comparable(), asked.comparable()
    diffs = []
    if a.get("patches") != b.get("patches"):
        diffs.append(f"patches: store has {_patch_text(a.get('patches'))}, asked {_patch_text(b.get('patches'))}")
    if a.get("decoder", "decord") != b.get("decoder", "decord"):
        diffs.append(f"decoder: store has {a.get('decoder', 'decord')!r}, asked {b.get('decoder', 'decord')!r} "
                     f"(--decoder {a.get('decoder', 'decord')} resumes it)")
    for key in ("T", "extractor", "recognizer", "class_names", "video_ids"):
        if a[key] == b[key]:
            continue
        if isinstance(a[key], dict):
            for sub in a[key]:
                if a[key][sub] != b[key].get(sub):
                    diffs.append(f"{key}.{sub}: store has {a[key][sub]!r}, asked {b[key].get(sub)!r}")
        elif key == "video_ids":
            diffs.append(f"video list: store has {len(a[key])} videos, annotations give {len(b[key])} (or a different order)")
        elif key == "class_names":
            diffs.append(f"class names: store has {len(a[key])} classes, annotations give {len(b[key])}")
        else:
            diffs.append(f"{key}: store has {a[key]!r}, asked {b[key]!r}")
    return diffs


def _patch_text(patches: dict[str, Any] | None) -> str:
    """Returns ``G=6 P=96`` (``G=6 P=96 map stride 16`` for a map other than the last; ``none``) for an
    identity-mismatch message."""
    if not patches:
        return "none"
    stride = f" map stride {patches['map_stride']}" if "map_stride" in patches else ""
    return f"G={patches.get('grid')} P={patches.get('patch_size')}{stride}"
