"""AdaFocus candidate patches: their geometry, their crops, and the features cached for them.

AdaFocus (Wang et al., ICCV 2021, §3) lets a policy pick one P x P patch per frame among a fixed set
of candidates "uniformly distributed across the images" (a G x G grid, e.g. 6 x 6 = 36 or 7 x 7 =
49). Because the set is discrete, the local CNN's feature of every candidate can be computed once
at extraction; the policy and classifier then train on tensors alone.

Geometry (:class:`PatchGrid`): candidates live in the pixel frame the recognizer sees (its
preprocessed ``input_size`` x ``input_size`` crop in the pipeline). Top-left corners are
``round(linspace(0, W - P, G))`` (round half up) horizontally, the same vertically, so the outer
candidates touch the borders; G = 1 is the centred patch. Candidate ``row * G + col`` (row-major).

Features: :func:`feature_maps` gives the light extractor's spatial map before pooling (the
policy's input) with its pooled features; :func:`patch_features` runs the recognizer *backbone* (the
local CNN; no head) on the crops at their native P x P size, no resize.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nsnet.errors import ConfigError
from nsnet.extract.inference import fast_features
from nsnet.extract.map_layers import map_and_final
from nsnet.extract.models import FrameModel, run_model
from nsnet.extract.video import scaled_size

__all__ = [
    "PatchError",
    "PatchGrid",
    "box_in_video",
    "feature_map_shape",
    "feature_maps",
    "patch_features",
]


class PatchError(ConfigError):
    """Bad patch geometry, crop request or model for patch features (one-line message)."""


def _as_int(name: str, value: Any) -> int:
    """Returns ``value`` as int; PatchError when it is not a whole number."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise PatchError(f"{name} must be an integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class PatchGrid:
    """G x G candidate patches of side P in a W x H frame (pixels)."""

    grid: int
    patch_size: int
    width: int
    height: int

    def __post_init__(self) -> None:
        g, p = _as_int("patch grid G", self.grid), _as_int("patch size P", self.patch_size)
        w, h = _as_int("frame width", self.width), _as_int("frame height", self.height)
        if g < 1:
            raise PatchError(f"patch grid G must be >= 1 (G x G candidates), got {g}")
        if w < 1 or h < 1:
            raise PatchError(f"frame size must be positive, got {w}x{h}")
        if not 1 <= p <= min(w, h):
            raise PatchError(f"patch size P must be between 1 and {min(w, h)} (the {w}x{h} frame), got {p}")

    @property
    def num_candidates(self) -> int:
        """Returns G * G."""
        return self.grid * self.grid

    def _starts(self, extent: int) -> np.ndarray:
        """Returns the G top-left coordinates (int64) along one axis of length ``extent``."""
        room = extent - self.patch_size
        if self.grid == 1:
            return np.array([room // 2], dtype=np.int64)
        return np.floor(np.linspace(0, room, self.grid) + 0.5).astype(np.int64)

    def boxes(self) -> np.ndarray:
        """Returns int64 [G*G, 4] boxes (x0, y0, x1, y1), x1 = x0 + P, row-major (index = row * G + col)."""
        xs, ys = self._starts(self.width), self._starts(self.height)
        y0, x0 = np.meshgrid(ys, xs, indexing="ij")
        x0, y0 = x0.reshape(-1), y0.reshape(-1)
        return np.stack([x0, y0, x0 + self.patch_size, y0 + self.patch_size], axis=1)

    def centre_index(self) -> int:
        """Returns the index of the candidate whose centre is nearest the frame centre (ties: lowest index)."""
        b = self.boxes().astype(np.float64)
        cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
        return int(np.argmin((cx - self.width / 2) ** 2 + (cy - self.height / 2) ** 2))

    def _check_frames(self, frames: Tensor) -> None:
        if frames.ndim != 4 or frames.shape[1] != 3:
            raise PatchError(f"expected frames [B, 3, H, W], got shape {tuple(frames.shape)}")
        if tuple(frames.shape[-2:]) != (self.height, self.width):
            raise PatchError(f"frames are {frames.shape[-1]}x{frames.shape[-2]}, the patch grid is for "
                             f"{self.width}x{self.height}")

    def crop(self, frames: Tensor, index: Tensor | np.ndarray | Sequence[int]) -> Tensor:
        """Returns [B, 3, P, P]: for each frame of ``frames`` [B, 3, H, W], candidate ``index[b]``."""
        self._check_frames(frames)
        idx = torch.as_tensor(np.asarray(index), dtype=torch.int64).reshape(-1)
        if idx.numel() != frames.shape[0]:
            raise PatchError(f"need one candidate index per frame: {frames.shape[0]} frames, {idx.numel()} indices")
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.num_candidates):
            raise PatchError(f"candidate index out of range 0..{self.num_candidates - 1}")
        boxes = torch.from_numpy(self.boxes())[idx]
        offsets = torch.arange(self.patch_size)
        ys = (boxes[:, 1, None] + offsets).to(frames.device)  # [B, P]
        xs = (boxes[:, 0, None] + offsets).to(frames.device)
        rows = torch.arange(frames.shape[0], device=frames.device)
        out = frames[rows[:, None, None], :, ys[:, :, None], xs[:, None, :]]  # [B, P, P, 3]
        return out.permute(0, 3, 1, 2).contiguous()

    def crop_all(self, frames: Tensor) -> Tensor:
        """Returns [B, G*G, 3, P, P]: every candidate of every frame of ``frames`` [B, 3, H, W]."""
        self._check_frames(frames)
        return torch.stack([frames[:, :, y0:y1, x0:x1] for x0, y0, x1, y1 in self.boxes().tolist()], dim=1)

    def to_attrs(self, map_shape: Sequence[int], map_stride: int | None = None) -> dict[str, Any]:
        """Returns the store's geometry dict (``attrs["patches"]``): grid, patch_size, frame_size [W, H],
        boxes, map_shape [D, h, w] of the light extractor's feature map, and its ``map_stride`` when
        it is not the last map (so stores of the last map keep their fingerprint)."""
        if len(map_shape) != 3:
            raise PatchError(f"map_shape must be [D, h, w], got {list(map_shape)}")
        return {
            "grid": self.grid,
            "patch_size": self.patch_size,
            "frame_size": [self.width, self.height],
            "boxes": self.boxes().tolist(),
            "map_shape": [int(v) for v in map_shape],
            **({"map_stride": int(map_stride)} if map_stride is not None else {}),
        }

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> "PatchGrid":
        """Returns the grid recorded in a store's geometry dict; PatchError if its boxes disagree."""
        try:
            width, height = attrs["frame_size"]
            grid = cls(attrs["grid"], attrs["patch_size"], width, height)
        except (KeyError, TypeError, ValueError) as err:
            raise PatchError(f"not a patch geometry dict (grid, patch_size, frame_size): {err}") from err
        if "boxes" in attrs and np.asarray(attrs["boxes"]).tolist() != grid.boxes().tolist():
            raise PatchError(f"the stored candidate boxes differ from those of G={grid.grid} P={grid.patch_size}")
        return grid


# ------------------------------------------------------------------------------------------ features


def _forward_maps(model: FrameModel, x: Tensor, map_stride: int | None = None) -> tuple[Tensor, Tensor]:
    """Returns (map [B, D, h, w], pooled [B, D]) of the backbone, the pooled one as FrameModel computes
    it; the map is the last one (``map_stride`` None) or the stage at ``map_stride``."""
    backbone = model.backbone
    x = x.contiguous(memory_format=torch.channels_last)
    if map_stride is None:
        fmap = final = fast_features(backbone, x)  # as FrameModel's forward
    else:
        fmap, final = map_and_final(backbone, x, map_stride)
    return fmap.float(), backbone.forward_head(final).float()


@torch.inference_mode()
def feature_map_shape(model: FrameModel, map_stride: int | None = None) -> tuple[int, int, int]:
    """Returns the shape [D, h, w] of ``model``'s feature map (the last one, or the one at
    ``map_stride``) at its ``input_size`` (one dummy forward)."""
    size = model.spec.input_size
    param = next(model.backbone.parameters())
    fmap, pooled = _forward_maps(model, torch.zeros(1, 3, size, size, device=param.device), map_stride)
    if map_stride is None:
        _check_pooling(model, fmap, pooled)
    return int(fmap.shape[1]), int(fmap.shape[2]), int(fmap.shape[3])


def _check_pooling(model: FrameModel, fmap: Tensor, pooled: Tensor) -> None:
    """PatchError unless the pooled features are the spatial mean of the map (what the store promises)."""
    mean = fmap.mean(dim=(2, 3))
    if mean.shape != pooled.shape:
        raise PatchError(f"{model.spec.name}: its pooled features ({pooled.shape[-1]}-d) are not a pooling of its "
                         f"feature map ({fmap.shape[1]} channels); choose an extractor that pools last")
    scale = float(pooled.abs().max()) + 1e-6
    if not torch.allclose(mean, pooled, rtol=2e-2, atol=2e-2 * scale):
        raise PatchError(f"{model.spec.name}: its pooled features are not the spatial mean of its feature map; "
                         "choose an extractor with average pooling")


@torch.inference_mode()
def feature_maps(model: FrameModel, x: Tensor, batch_size: int, device: torch.device | None = None,
                 map_stride: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Returns (maps [B, D, h, w] float32, pooled [B, D] float32) of preprocessed frames x [B, 3, S, S].

    ``maps`` is timm's ``forward_features`` (the map before global pooling), or with ``map_stride``
    the backbone's stage at that stride (:mod:`nsnet.extract.map_layers`); ``pooled`` is computed
    from the last map exactly as :class:`FrameModel` computes its features (equal to
    :func:`run_model`'s features; their spatial mean, checked). ``batch_size`` frames at a time on ``device`` (default:
    the model's), bf16 autocast on a CUDA device that supports it, like :func:`run_model`.
    """
    if x.ndim != 4 or x.shape[1] != 3:
        raise PatchError(f"expected a [B, 3, H, W] batch, got shape {tuple(x.shape)}")
    device = device or next(model.parameters()).device
    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    maps, pooled = [], []
    for lo in range(0, x.shape[0], batch_size):
        xb = x[lo : lo + batch_size].to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            m, p = _forward_maps(model, xb, map_stride)
        if lo == 0 and map_stride is None:
            _check_pooling(model, m, p)
        maps.append(m.cpu())
        pooled.append(p.cpu())
    return torch.cat(maps).contiguous().numpy(), torch.cat(pooled).numpy()


def patch_features(model: FrameModel, frames: Tensor, grid: PatchGrid, batch_size: int,
                   device: torch.device | None = None, index: Tensor | np.ndarray | None = None) -> np.ndarray:
    """Returns the local CNN's pooled features (float32) of candidate patches of ``frames`` [B, 3, H, W]
    (preprocessed, i.e. normalised, recognizer input).

    ``index=None``: every candidate, [B, G*G, D2]; ``index`` [B]: only candidate ``index[b]`` of frame b,
    [B, D2]. The local CNN is ``model``'s backbone (its head, if any, is not used) run on each P x P
    crop at its native size; ``batch_size`` crops per forward.
    """
    local = FrameModel(model.backbone, None, model.spec)
    device = device or next(model.parameters()).device
    frames = frames.to(device)  # crop where the model runs
    if index is not None:
        feats, _ = run_model(local, grid.crop(frames, index), batch_size, device)
        return feats
    grid._check_frames(frames)
    b, g2 = frames.shape[0], grid.num_candidates
    boxes = grid.boxes().tolist()
    out = np.empty((b * g2, model.spec.feature_dim), np.float32)
    for lo in range(0, b * g2, batch_size):  # crops made per batch: all G*G*B crops at once can be large
        hi = min(lo + batch_size, b * g2)
        crops = []
        for k in range(lo, hi):  # pair k = frame k // G^2, candidate k % G^2
            x0, y0, x1, y1 = boxes[k % g2]
            crops.append(frames[k // g2, :, y0:y1, x0:x1])
        out[lo:hi], _ = run_model(local, torch.stack(crops), batch_size, device)
    return out.reshape(b, g2, -1)


def box_in_video(box: Sequence[float], video_width: int, video_height: int, spec: Mapping[str, Any], *,
                 decode_short: int | None = None) -> tuple[float, float, float, float]:
    """Returns the box (x0, y0, x1, y1) in pixel coordinates of the original video frame.

    ``box`` is in the model's preprocessed input frame (``spec``: ``resize_short``, ``input_size``):
    the video is decoded with its shorter side at ``decode_short`` (default: ``resize_short``; the
    pipeline decodes at the largest ``resize_short`` of its two models), resized so the shorter side
    is ``resize_short``, then centre-cropped to ``input_size`` (:class:`FrameTransform`). This undoes
    the crop offset and the scaling, with the same integer sizes those steps use.
    """
    if video_width < 1 or video_height < 1:
        raise PatchError(f"video size must be positive, got {video_width}x{video_height}")
    rs, size = int(spec["resize_short"]), int(spec["input_size"])
    decoded_w, decoded_h = scaled_size(video_width, video_height, int(decode_short or rs))
    if min(decoded_w, decoded_h) == rs:
        w, h = decoded_w, decoded_h
    else:  # FrameTransform's resize of the decoded frame
        scale = rs / min(decoded_w, decoded_h)
        w, h = max(rs, round(decoded_w * scale)), max(rs, round(decoded_h * scale))
    left, top = (w - size) // 2, (h - size) // 2
    x0, y0, x1, y1 = (float(v) for v in box)
    sx, sy = video_width / w, video_height / h
    return ((x0 + left) * sx, (y0 + top) * sy, (x1 + left) * sx, (y1 + top) * sy)
