"""Computational cost of NSNet in GFLOPs, counted with ``torch.utils.flop_counter``.

Convention (read this before comparing numbers): ``FlopCounterMode`` counts a multiply-add as
2 FLOPs (e.g. ``nn.Linear(10, 20)`` on one sample = 400). Vision papers, NSNet included, report
"FLOPs" that are really multiply-accumulates (MACs): MobileNetV2 at 224x224 is "0.30-0.32
GFLOPs", ResNet-50 "4.1 GFLOPs". So:

* :func:`count_flops` returns FlopCounterMode's raw total (2 per multiply-add);
* :func:`count_macs` returns that total / 2;
* :func:`count_gflops` returns MACs / 1e9 -- the paper's "GFLOPs". Every GFLOPs number in
  this package (e.g. :class:`CostBreakdown`) uses this convention.

Only the ops FlopCounterMode knows are counted (convolutions, matmul/linear, attention);
elementwise ops, normalisation and pooling count as 0, as in the usual MAC counts.

Per-video cost (paper §4.1, ``P_total = P_rec*K + P_fem + P_vgm + P_fsm``): the recognizer runs
on the K selected frames, the lightweight 2D extractor of FEM on all T observed frames, and the
rest of FEM (temporal transformer), FSM and VGM once on the T-frame feature sequence. The paper's
example: 4.109*5 + (0.320*16 + 0.315) + 0.004 + 0.002 = 25.99 G.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from numbers import Integral
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from nsnet.errors import UserError
from nsnet.extract.inference import eager


class CostError(UserError, ValueError):
    """Raised for invalid cost arguments (negative frame counts or costs)."""


def count_flops(module: torch.nn.Module, *inputs: Any) -> int:
    """Returns the forward FLOPs of ``module(*inputs)`` as counted by
    ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per multiply-add). The forward runs in
    eval mode under ``torch.no_grad()``; the module's previous train/eval mode is restored."""
    was_training = module.training
    module.eval()
    try:
        counter = FlopCounterMode(display=False)
        with torch.no_grad(), eager(), counter:  # the model's own ops, not a frozen graph's fused ones
            module(*inputs)
    finally:
        module.train(was_training)
    return int(counter.get_total_flops())


def count_macs(module: torch.nn.Module, *inputs: Any) -> int:
    """Returns the forward multiply-accumulates of ``module(*inputs)``: :func:`count_flops` / 2."""
    return count_flops(module, *inputs) // 2


def count_gflops(module: torch.nn.Module, *inputs: Any) -> float:
    """Returns the forward cost of ``module(*inputs)`` in the paper's "GFLOPs", i.e. MACs / 1e9
    (FlopCounterMode total / 2 / 1e9). Divide by the batch size for a per-sample cost."""
    return count_flops(module, *inputs) / 2.0 / 1e9


@dataclass
class CostBreakdown:
    """Per-component cost in GFLOPs (MACs / 1e9, see module docstring).

    ``rec_per_frame``: recognizer on one frame; ``light_per_frame``: FEM's lightweight 2D
    extractor on one frame; ``fem``: the rest of FEM (temporal encoder) once per video;
    ``fsm``, ``vgm``: the two saliency heads once per video.
    """

    rec_per_frame: float
    light_per_frame: float
    fem: float
    fsm: float
    vgm: float

    def __post_init__(self) -> None:
        for name, value in self.to_dict().items():
            if not value >= 0.0:  # also rejects NaN
                raise CostError(f"cost {name} must be a non-negative number, got {value!r}")

    def sampler_cost(self, t: int) -> float:
        """Returns the GFLOPs of the sampler for a T-frame video: light extractor on all T
        frames plus FEM, FSM and VGM once."""
        _check_count("t", t)
        return self.light_per_frame * t + self.fem + self.fsm + self.vgm

    def per_video(self, k: int, t: int, uses_sampler: bool = True) -> float:
        """Returns the GFLOPs per video: ``rec_per_frame * k`` plus, when ``uses_sampler``,
        ``light_per_frame * t + fem + fsm + vgm`` (paper §4.1)."""
        _check_count("k", k)
        total = self.rec_per_frame * k
        if uses_sampler:
            total += self.sampler_cost(t)
        else:
            _check_count("t", t)
        return total

    def to_dict(self) -> dict[str, float]:
        """Returns the five component costs as a plain ``{name: GFLOPs}`` dict."""
        return {key: float(value) for key, value in asdict(self).items()}


def _check_count(name: str, value: int) -> None:
    """Raises :class:`CostError` unless ``value`` is a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise CostError(f"{name} must be a non-negative integer frame count, got {value!r}")
