"""GFLOPs per video of each evaluated method, from per-component counts (paper §4.1).

Every component is measured with ``torch.utils.flop_counter`` through
:func:`nsnet.evaluate.flops.count_gflops` (MACs / 1e9, the paper's "GFLOPs"):

* ``rec_per_frame``: recognizer (backbone + classifier) on one frame at its input size;
* ``light_per_frame``: the light extractor on one frame;
* ``fem`` / ``fsm`` / ``vgm``: the sampler network once on a T-frame feature sequence.

A method then costs ``P_rec * K + P_light * T + P_fem + P_fsm + P_vgm`` when it runs the NSNet
sampler (only the branches it uses), ``P_rec * K`` for uniform / random, and ``P_rec * T`` for
the methods whose recognizer sees all T frames (dense, topk / MaxConf, oracle). TSQNet
(its ``cost_parts`` hook) costs ``P_rec * K + P_light * T`` plus its object head (ImageNet
classifier on the T cached features and O W; with ``objects="recognizer"`` also the recognizer
backbone on all T frames), VQM and TQM -- summed into the breakdown's ``fem`` slot; ``vqm`` alone
counts VQM only, ``tqm`` the object head and TQM.

The sampler networks are counted by their variants' hooks with :mod:`nsnet.sampler.cost`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import nn

from nsnet.evaluate.flops import CostBreakdown, count_gflops
from nsnet.evaluate.methods import MethodSpec
from nsnet.extract.models import FrameModel, create_frame_model
from nsnet.sampler.cost import CostContext, count_module_gflops
from nsnet.sampler.variants import variant_spec

__all__ = ["ComponentCosts", "count_module_gflops", "frame_model_gflops", "measure_costs", "spec_gflops"]


def frame_model_gflops(model: FrameModel) -> float:
    """Returns the GFLOPs of ``model`` (backbone + head if any) on one frame at its input size."""
    param = next(model.parameters())
    x = torch.zeros(1, 3, model.spec.input_size, model.spec.input_size, device=param.device)
    return count_gflops(model, x)


def spec_gflops(spec: Mapping[str, Any], num_classes: int = 0) -> float:
    """Returns the per-frame GFLOPs of a store model spec (architecture only; weights are not
    loaded), with a ``num_classes``-way linear head when ``num_classes`` > 0."""
    with torch.random.fork_rng(devices=[]):
        model = create_frame_model(str(spec["name"]), "none", input_size=int(spec["input_size"]),
                                   resize_short=int(spec["resize_short"]), device="cpu")
    if num_classes:
        model = model.with_head(nn.Linear(model.spec.feature_dim, int(num_classes)))
    return frame_model_gflops(model)


@dataclass
class ComponentCosts:
    """Measured per-component GFLOPs: recognizer and light extractor per frame, and the parts of
    each loaded run's network (``samplers[variant]``, from its variant's ``cost_parts`` hook: e.g.
    NSNet's ``{"fem", "fsm", "vgm"}``, AdaFocus's policy / skip / classifier per step and local CNN
    per patch)."""

    rec_per_frame: float
    light_per_frame: float
    samplers: dict[str, dict[str, float]] = field(default_factory=dict)

    def frame_sampler_cost(self, run_key: str) -> float:
        """Returns the GFLOPs of a run's sampler network on one T-frame video (light CNN excluded)."""
        return float(sum(self.samplers.get(run_key, {}).values()))

    def breakdown(self, spec: MethodSpec) -> CostBreakdown:
        """Returns the CostBreakdown of a method: sampler parts zero unless it runs them."""
        parts = {"fem": 0.0, "fsm": 0.0, "vgm": 0.0}
        if spec.uses_sampler:
            run_costs = self.samplers.get(spec.run_key or "", {})
            parts["fem"] = run_costs.get("fem", 0.0)
            for branch in spec.branches:
                if branch in parts:
                    parts[branch] = run_costs.get(branch, 0.0)
                else:  # other networks' parts (TSQNet: object head, VQM, TQM) go to the sampler-network slot
                    parts["fem"] += run_costs.get(branch, 0.0)
        return CostBreakdown(rec_per_frame=self.rec_per_frame, light_per_frame=self.light_per_frame, **parts)

    def per_video(self, spec: MethodSpec, k: int, t: int) -> float:
        """Returns the GFLOPs per video of ``spec`` at budget ``k`` on T=``t`` observed frames."""
        cost = self.breakdown(spec)
        if spec.all_frames:
            return cost.per_video(t, t, uses_sampler=False)
        return cost.per_video(k, t, uses_sampler=spec.uses_sampler)

    def to_dict(self) -> dict[str, Any]:
        """Returns the measured components as a JSON-able dict."""
        return dataclasses.asdict(self)


def measure_costs(rec_spec: Mapping[str, Any], light_spec: Mapping[str, Any], num_classes: int,
                  runs: Mapping[str, Any], num_frames: int, in_dim: int,
                  recognizer: FrameModel | None = None) -> ComponentCosts:
    """Returns the ComponentCosts of a store's models and the loaded sampler runs (each measured by
    its variant's ``cost_parts`` hook).

    ``recognizer`` (already built, with head) is measured directly when given; otherwise the
    architecture is rebuilt from ``rec_spec`` with a ``num_classes``-way head.
    """
    rec = frame_model_gflops(recognizer) if recognizer is not None else spec_gflops(rec_spec, num_classes)
    light = spec_gflops(light_spec)

    def local_backbone() -> nn.Module:
        with torch.random.fork_rng(devices=[]):
            return create_frame_model(str(rec_spec["name"]), "none", input_size=int(rec_spec["input_size"]),
                                      resize_short=int(rec_spec["resize_short"]), device="cpu").backbone.eval()

    ctx = CostContext(num_frames=num_frames, in_dim=in_dim, rec_spec=rec_spec, light_spec=light_spec,
                      rec_backbone_gflops=lambda: spec_gflops(rec_spec), local_backbone=local_backbone)
    samplers: dict[str, dict[str, float]] = {}
    for key, run in runs.items():
        hook = variant_spec(run.config.variant).cost_parts if run is not None else None
        if hook is not None and getattr(run, "model", None) is not None:
            samplers[key] = hook(run, ctx)
    return ComponentCosts(rec_per_frame=rec, light_per_frame=light, samplers=samplers)
