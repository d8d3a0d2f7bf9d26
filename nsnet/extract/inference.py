"""Frozen TorchScript inference on CPU: the backbones of extract, evaluate's reload path and predict
run as ``torch.jit.freeze`` d traces (batch norm folded, constants inlined): 1.2-1.6x faster
forwards on this CPU, for about 1 s of freezing per model and input size (benchmarks/RESULTS.md).
Outputs equal eager ones within max |diff| 1e-4 (x max |eager|, at least 1), checked on a second
batch size at each trace, else the module stays eager (tests/test_inference.py).

On by default in extract and evaluate (``--no-jit`` or ``NSNET_JIT=0`` turns it off); off by default
in predict (one video does not pay back the freezing; ``--jit`` turns it on). The setting is an environment
variable so DataLoader workers and subprocesses inherit it. Not used with gradients, in training
mode or off the CPU; a trace is rebuilt when the module's weights change.
"""

from __future__ import annotations

import os
import warnings
import weakref
from contextlib import contextmanager
from typing import Any, Iterator

import torch
from torch import Tensor, nn

_ENV = "NSNET_JIT"
_frozen: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()  # module -> {input size: trace}
MAX_TRACES = 8  # frozen traces kept per module


def use_jit(enabled: bool) -> None:
    """Turns frozen inference on or off for this process and its children; returns nothing."""
    os.environ[_ENV] = "1" if enabled else "0"


def jit_enabled() -> bool:
    """Returns whether frozen inference is on (``NSNET_JIT`` is not '0') and not paused by :func:`eager`."""
    return os.environ.get(_ENV, "1") != "0" and not _paused[0]


_paused = [0]  # depth of eager() blocks in this process


@contextmanager
def eager() -> Iterator[None]:
    """Runs the block with frozen inference paused (e.g. while FlopCounterMode counts a forward: a
    frozen graph's fused ops are not the model's own, so they must not be counted)."""
    _paused[0] += 1
    try:
        yield
    finally:
        _paused[0] -= 1


def _weights_version(module: nn.Module) -> tuple[int, ...]:
    return tuple(t._version for t in (*module.parameters(), *module.buffers()))


TOLERANCE = 1e-4  # max |frozen - eager| accepted, relative to max |eager| (checked on each new trace)


class _ForwardFeatures(nn.Module):
    """Traces a timm backbone's ``forward_features`` (the map before pooling)."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, x: Tensor) -> Tensor:
        return self.backbone.forward_features(x)


def _freeze(module: nn.Module, x: Tensor):
    """Returns a frozen trace of ``module.forward_features`` (or of ``module``), or the eager callable
    when the trace does not reproduce it on another batch size (a trace can bake a batch size in)."""
    plain = getattr(module, "forward_features", module)
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation and tracer warnings
        gen = torch.Generator().manual_seed(0)
        example, check = (torch.randn((b, *x.shape[1:]), generator=gen, dtype=x.dtype)
                          .contiguous(memory_format=torch.channels_last) for b in (2, 3))
        target = _ForwardFeatures(module) if plain is not module else module
        try:
            traced = torch.jit.trace(target, example, check_trace=False)
            frozen = torch.jit.freeze(traced.eval())  # optimize_for_inference measured no faster (lite0: slower)
            got, want = frozen(check), plain(check)
        except (RuntimeError, TypeError, ValueError):  # not traceable: stay eager
            return plain
    return frozen if _reproduces(got, want) else plain


def _reproduces(got: Tensor | tuple[Tensor, ...], want: Tensor | tuple[Tensor, ...]) -> bool:
    """Returns whether a trace's output (a tensor or a tuple of them) matches the eager one's."""
    got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
    if not isinstance(got, tuple) or len(got) != len(want):
        return False
    return all(g.shape == w.shape and (g - w).abs().max() <= TOLERANCE * max(1.0, float(w.abs().max()))
               for g, w in zip(got, want))


def fast_features(module: nn.Module, x: Tensor) -> Any:
    """Returns ``module.forward_features(x)`` (``module(x)`` for a module without it: a tensor or a
    tuple of tensors), through a frozen trace when frozen inference applies (CPU, float32, no
    gradients, eval mode, switched on)."""
    plain = getattr(module, "forward_features", module)
    if (not jit_enabled() or module.training or torch.is_grad_enabled() or x.device.type != "cpu"
            or x.dtype != torch.float32 or x.ndim != 4):
        return plain(x)
    traces = _frozen.setdefault(module, {})  # one per input size: frames and patch crops alternate
    version = _weights_version(module)
    key = tuple(x.shape[1:])
    entry = traces.get(key)
    if entry is None or entry["version"] != version:
        if len(traces) >= MAX_TRACES:  # e.g. a caller feeding ever new sizes: keep memory bounded
            traces.pop(next(iter(traces)))
        entry = traces[key] = {"version": version, "frozen": _freeze(module, x)}
    return entry["frozen"](x)


def fast_forward(module: nn.Module, x: Tensor) -> Tensor:
    """Returns ``module(x)``; for a timm backbone ``forward_head(fast_features(x))``, which is what its
    forward computes, so pooled features and feature maps come from the same frozen graph."""
    if hasattr(module, "forward_features") and hasattr(module, "forward_head"):
        return module.forward_head(fast_features(module, x))
    return fast_features(module, x)
