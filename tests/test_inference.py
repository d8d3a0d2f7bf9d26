"""Frozen (TorchScript) inference equals eager inference within the stated tolerance, and the
switch turns it off."""

from __future__ import annotations

import pytest
import torch

from nsnet.extract import inference
from nsnet.extract.models import create_frame_model, run_model

TOLERANCE = inference.TOLERANCE  # 1e-4: max |frozen - eager| (features here are O(1))


@pytest.fixture()
def model():
    torch.manual_seed(0)
    return create_frame_model("mobilenetv2_100", "none", input_size=64, resize_short=64).eval()


def test_frozen_outputs_equal_eager_within_tolerance(model, monkeypatch: pytest.MonkeyPatch) -> None:
    x = torch.randn(7, 3, 64, 64)
    monkeypatch.setenv("NSNET_JIT", "0")
    eager, _ = run_model(model, x, batch_size=4)
    monkeypatch.setenv("NSNET_JIT", "1")
    frozen, _ = run_model(model, x, batch_size=4)  # batches of 4 and 3 through one trace
    assert model.backbone in inference._frozen
    assert abs(frozen - eager).max() <= TOLERANCE


def test_switch_off_runs_eager(model, monkeypatch: pytest.MonkeyPatch) -> None:
    inference.use_jit(False)
    try:
        run_model(model, torch.randn(2, 3, 64, 64), batch_size=2)
        assert model.backbone not in inference._frozen
    finally:
        monkeypatch.delenv("NSNET_JIT", raising=False)


def test_retraced_when_weights_change(model, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NSNET_JIT", "1")
    x = torch.randn(2, 3, 64, 64)
    before, _ = run_model(model, x, batch_size=2)
    with torch.no_grad():
        next(model.backbone.parameters()).mul_(0.5)
    after, _ = run_model(model, x, batch_size=2)
    monkeypatch.setenv("NSNET_JIT", "0")
    eager, _ = run_model(model, x, batch_size=2)
    assert abs(after - eager).max() <= TOLERANCE and abs(before - after).max() > TOLERANCE


class _BakesBatchSize(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3)).view(int(x.shape[0]), -1)  # int(): the trace records a constant batch size


def test_a_trace_that_bakes_the_batch_size_stays_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NSNET_JIT", "1")
    module = _BakesBatchSize().eval()
    x = torch.randn(5, 3, 8, 8)
    with torch.inference_mode():
        out = inference.fast_forward(module, x)
    assert out.shape == (5, 3) and inference._frozen[module][(3, 8, 8)]["frozen"] is module


def test_flops_are_counted_on_the_eager_model_when_frozen_inference_is_on(model, monkeypatch) -> None:
    from nsnet.evaluate.flops import count_gflops

    x = torch.randn(2, 3, 64, 64)
    monkeypatch.setenv("NSNET_JIT", "0")
    eager_gflops = count_gflops(model, x)
    monkeypatch.setenv("NSNET_JIT", "1")
    with torch.no_grad():
        model(x)  # a frozen graph now exists for this model and input size
    assert model.backbone in inference._frozen
    assert count_gflops(model, x) == eager_gflops > 0
    assert inference.jit_enabled()  # counting paused frozen inference only for its own forward


def test_alternating_input_sizes_are_frozen_once_each(model, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NSNET_JIT", "1")
    calls: list[tuple] = []
    freeze = inference._freeze
    monkeypatch.setattr(inference, "_freeze", lambda module, x: calls.append(tuple(x.shape[1:])) or freeze(module, x))
    with torch.no_grad():
        for _ in range(3):  # whole frames and patch crops, as a --patches extraction alternates them
            model(torch.randn(2, 3, 64, 64))
            model(torch.randn(4, 3, 32, 32))
    assert calls == [(3, 64, 64), (3, 32, 32)]
