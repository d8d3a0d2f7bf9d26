"""The light extractor's spatial map at a chosen stride (AdaFocus's policy input, ``--map-stride``).

AdaFocus's policy π reads the global CNN's feature map. timm's ``forward_features`` gives the last
map: stride 32 (4 x 4 at 112 px), after MobileNetV2's 1x1 head convolution to 1,280 channels. An
earlier stage keeps more of *where* things are: at stride 16 (7 x 7 at 112 px, 96 channels) a linear
probe finds the picture-in-picture photo in a candidate with AUC 0.92 against 0.69 on the last map
(issue 19, benchmarks/RESULTS.md, "A finer light map for π"). :func:`map_and_final` returns that stage's output together
with the last map, from one forward, so the pooled features stay exactly what the store holds for
every other sampler. The strides on offer are the backbone's ``feature_info`` reductions; a stage is
its last block's output (so stride 32 is MobileNetV2's 320-channel block, before the head conv).
"""

from __future__ import annotations

from torch import Tensor, nn

from nsnet.errors import ConfigError
from nsnet.extract.inference import fast_features

__all__ = ["MapStrideError", "available_strides", "map_and_final", "stage_index"]


class MapStrideError(ConfigError):
    """A map stride the light extractor does not have (one-line message)."""


def available_strides(backbone: nn.Module) -> list[int]:
    """Returns the strides (reductions) of ``backbone``'s feature stages, shallowest first."""
    info = getattr(backbone, "feature_info", None)
    if info is None or not hasattr(backbone, "forward_intermediates"):
        return []
    return [int(f["reduction"]) for f in info]


def stage_index(backbone: nn.Module, stride: int) -> int:
    """Returns the index of the deepest feature stage of ``backbone`` at ``stride``; MapStrideError
    when it has none (the message lists the strides it has)."""
    strides = available_strides(backbone)
    if stride not in strides:
        offered = ", ".join(str(s) for s in sorted(set(strides))) or "none (no timm feature stages)"
        raise MapStrideError(f"--map-stride {stride}: the light extractor has feature maps at strides {offered}")
    return len(strides) - 1 - strides[::-1].index(stride)


class _MapAndFinal(nn.Module):
    """(stage ``index``'s map, the last map) of a timm backbone from one forward: traceable."""

    def __init__(self, backbone: nn.Module, index: int) -> None:
        super().__init__()
        self.backbone, self.index = backbone, index

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        final, maps = self.backbone.forward_intermediates(x, indices=[self.index], intermediates_only=False)
        return maps[0], final


def _wrapper(backbone: nn.Module, index: int) -> _MapAndFinal:
    """Returns the one wrapper of (backbone, index), kept on the backbone so its frozen trace is reused."""
    cache = backbone.__dict__.setdefault("_nsnet_map_wrappers", {})  # a plain dict: not a submodule
    if index not in cache:
        cache[index] = _MapAndFinal(backbone, index)
    return cache[index]


def map_and_final(backbone: nn.Module, x: Tensor, stride: int) -> tuple[Tensor, Tensor]:
    """Returns (the map at ``stride`` [B, D_s, h_s, w_s], the last map [B, D, h, w]) of ``backbone``
    on ``x`` from one forward (a frozen trace where frozen inference applies, as for the last map)."""
    wrapper = _wrapper(backbone, stage_index(backbone, stride))
    wrapper.train(backbone.training)
    return fast_features(wrapper, x)
