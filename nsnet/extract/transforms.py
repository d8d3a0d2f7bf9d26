"""Pixel preprocessing shared by extraction and evaluation, so both see identical pixels.

Frames arrive from the decoder as uint8 RGB ``[K, H, W, 3]`` whose shorter side already equals the
largest ``resize_short`` any model needs (the decoder scales while decoding). Each model then gets:
resize of the shorter side to its ``resize_short`` (bilinear, antialiased; skipped when equal),
centre crop to ``input_size``, scaling to [0, 1] and normalisation by the model's mean/std.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class FrameTransform:
    """Resize-shorter-side, centre-crop and normalise for one model."""

    resize_short: int
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> "FrameTransform":
        """Returns the transform for a model spec (a ModelSpec or its dict)."""
        get = spec.get if isinstance(spec, Mapping) else lambda k: getattr(spec, k)
        return cls(int(get("resize_short")), int(get("input_size")), tuple(get("mean")), tuple(get("std")))

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        """Returns normalised float32 ``[K, 3, input_size, input_size]`` from uint8 ``[K, H, W, 3]``."""
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected uint8 frames [K, H, W, 3], got shape {tuple(frames.shape)}")
        x = frames.permute(0, 3, 1, 2).float()
        h, w = x.shape[-2:]
        if min(h, w) != self.resize_short:
            scale = self.resize_short / min(h, w)
            size = (max(self.resize_short, round(h * scale)), max(self.resize_short, round(w * scale)))
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
            x = x.clamp_(0, 255).round_()  # back on the uint8 grid, as a decoder's scaler would leave it
        h, w = x.shape[-2:]
        top, left = (h - self.input_size) // 2, (w - self.input_size) // 2
        if top < 0 or left < 0:
            raise ValueError(f"frame {h}x{w} is smaller than the crop {self.input_size}")
        x = x[..., top : top + self.input_size, left : left + self.input_size]
        mean = torch.tensor(self.mean, dtype=x.dtype).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.std, dtype=x.dtype).view(1, 3, 1, 1) * 255.0
        return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def decode_short_side(*transforms: FrameTransform) -> int:
    """Returns the shorter-side size to decode at: the largest any of the transforms needs."""
    return max(t.resize_short for t in transforms)
