"""Counting the GFLOPs of a sampler network (what each variant's ``cost_parts`` hook measures).

Every count is MACs / 1e9 (the papers' "GFLOPs", see :mod:`nsnet.evaluate.flops`) of one eval-mode,
no-grad forward. Two blind spots of FlopCounterMode are covered: PyTorch's fused transformer fast
path (eval mode, no grad) is invisible to it, so it is switched off while counting; and the CPU
flash-attention kernel that ``nn.MultiheadAttention`` then calls has no FLOP formula, so it gets the
standard SDPA one (``torch.utils.flop_counter.sdpa_flop_count``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from nsnet.extract.inference import eager


@dataclass
class CostContext:
    """What a cost hook may need besides the run: T, the light feature width, the store's model
    specs, and lazily built / measured recognizer parts (``rec_backbone_gflops()`` per frame,
    ``local_backbone()`` the recognizer backbone as a module)."""

    num_frames: int
    in_dim: int
    rec_spec: Mapping[str, Any] = field(default_factory=dict)
    light_spec: Mapping[str, Any] = field(default_factory=dict)
    rec_backbone_gflops: Callable[[], float] = lambda: 0.0
    local_backbone: Callable[[], nn.Module | None] = lambda: None


@contextlib.contextmanager
def _no_mha_fastpath() -> Iterator[None]:
    """Within the block, nn.TransformerEncoder runs its plain (countable) path."""
    mha = getattr(torch.backends, "mha", None)
    if mha is None or not hasattr(mha, "set_fastpath_enabled"):
        yield
        return
    previous = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(previous)


def _sdpa_cpu_flops(query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    """Returns the FLOPs of the CPU flash-attention kernel (same formula as the other SDPA kernels)."""
    return sdpa_flop_count(query, key, value)


_EXTRA_FORMULAS: dict[Any, Any] = {}
if hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu"):
    _EXTRA_FORMULAS[torch.ops.aten._scaled_dot_product_flash_attention_for_cpu] = _sdpa_cpu_flops


def count_module_gflops(module: nn.Module, *inputs: Any) -> float:
    """Returns the GFLOPs (MACs / 1e9, as :func:`nsnet.evaluate.flops.count_gflops`) of one
    eval-mode, no-grad forward, counting transformer encoders fully (no fast path, CPU SDPA)."""
    counter = FlopCounterMode(display=False, custom_mapping=_EXTRA_FORMULAS)
    with _no_mha_fastpath(), torch.no_grad(), eager(), counter:  # eager(): no frozen backbone graph
        module(*inputs)
    return counter.get_total_flops() / 2.0 / 1e9




class Call(nn.Module):
    """A bound method (or any callable) as a module, for counting."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: Any) -> Any:
        return self.fn(*args)
