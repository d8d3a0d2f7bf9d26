"""GFLOPs per video of each evaluated method, from per-component counts (paper §4.1).

Every component is measured with ``torch.utils.flop_counter`` through
:func:`nsnet.evaluate.flops.count_gflops` (MACs / 1e9, the paper's "GFLOPs"):

* ``rec_per_frame``: recognizer (backbone + classifier) on one frame at its input size;
* ``light_per_frame``: the light extractor on one frame;
* ``fem`` / ``fsm`` / ``vgm``: the sampler network once on a T-frame feature sequence.

A method then costs ``P_rec * K + P_light * T + P_fem + P_fsm + P_vgm`` when it runs the NSNet
sampler (only the branches it uses), ``P_rec * K`` for uniform / random, and ``P_rec * T`` for
the methods whose recognizer sees all T frames (dense, topk / MaxConf, oracle). TSQNet
(:func:`tsqnet_gflops`) costs ``P_rec * K + P_light * T`` plus its object head (ImageNet
classifier on the T cached features and O W; with ``objects="recognizer"`` also the recognizer
backbone on all T frames), VQM and TQM -- summed into the breakdown's ``fem`` slot; ``vqm`` alone
counts VQM only, ``tqm`` the object head and TQM.

Two blind spots of FlopCounterMode are covered when counting the sampler: PyTorch's fused
transformer fast path (eval mode, no grad) is invisible to it, so it is switched off while
counting; and the CPU flash-attention kernel that ``nn.MultiheadAttention`` then calls has no
FLOP formula, so it gets the standard SDPA one (``torch.utils.flop_counter.sdpa_flop_count``).
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from nsnet.evaluate.flops import CostBreakdown, count_gflops
from nsnet.evaluate.methods import MethodSpec
from nsnet.extract.models import FrameModel, create_frame_model


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
    with _no_mha_fastpath(), torch.no_grad(), counter:
        module(*inputs)
    return counter.get_total_flops() / 2.0 / 1e9


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


def sampler_gflops(model: nn.Module, num_frames: int, in_dim: int) -> dict[str, float]:
    """Returns {"fem", "fsm", "vgm"} GFLOPs of an NSNet-family model on one [1, T, D] video
    (0 for an absent branch)."""
    param = next(model.parameters())
    x = torch.zeros(1, num_frames, in_dim, device=param.device)
    was_training = model.training
    model.eval()
    try:
        fem = count_module_gflops(model.fem, x)
        with torch.no_grad():
            h = model.fem(x)
        fsm = count_module_gflops(model.fsm, h) if getattr(model, "fsm", None) is not None else 0.0
        vgm = count_module_gflops(model.vgm, h) if getattr(model, "vgm", None) is not None else 0.0
    finally:
        model.train(was_training)
    return {"fem": fem, "fsm": fsm, "vgm": vgm}


def tsqnet_gflops(model: nn.Module, num_frames: int, rec_backbone_per_frame: float = 0.0) -> dict[str, float]:
    """Returns {"objects", "vqm", "tqm"} GFLOPs of a TSQNet model on one T-frame video (0 for an
    absent module). ``objects`` = the ImageNet head on the T cached features and O W (dense, as
    computed) plus, for object scores from the recognizer, ``rec_backbone_per_frame`` * T: the
    recognizer must then see all T frames."""
    cfg = model.cfg
    param = next(model.parameters())
    out = {"objects": 0.0, "vqm": 0.0, "tqm": 0.0}
    was_training = model.training
    model.eval()
    try:
        if model.vqm is not None:
            out["vqm"] = count_module_gflops(model.vqm, torch.zeros(1, num_frames, cfg.in_dim, device=param.device))
        if model.tqm is not None:
            src = torch.zeros(1, num_frames, cfg.obj_in_dim, device=param.device)
            out["objects"] = count_module_gflops(_ObjectHead(model), src) + rec_backbone_per_frame * num_frames
            x_t = torch.zeros(1, num_frames, cfg.text_dim, device=param.device)
            out["tqm"] = count_module_gflops(model.tqm, x_t)
    finally:
        model.train(was_training)
    return out


class _ObjectHead(nn.Module):
    """TSQNet's object features as a module (for counting)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, src: torch.Tensor) -> torch.Tensor:
        return self.model.object_features(src)


def adafocus_gflops(model: nn.Module, map_shape: tuple[int, int, int], global_dim: int, local_dim: int,
                    local_backbone: nn.Module | None, patch_size: int) -> dict[str, float]:
    """Returns {"policy_step", "skip_step", "classifier_step", "local_per_patch"} GFLOPs of an
    AdaFocus model: π (1x1 conv + GRU step + head) and π' on one frame's map, f_C on one frame's
    [global, local] features, and the local CNN (recognizer backbone) on one P x P patch."""
    param = next(model.parameters())
    maps = torch.zeros(1, 1, *map_shape, device=param.device)
    g = torch.zeros(1, 1, global_dim, device=param.device)
    loc = torch.zeros(1, 1, local_dim, device=param.device)
    out = {"policy_step": count_module_gflops(_Call(model.choose_patches), maps),
           "skip_step": 0.0,
           "classifier_step": count_module_gflops(_Call(model.classify), g, loc),
           "local_per_patch": 0.0}
    if getattr(model, "skip", None) is not None:
        out["skip_step"] = count_module_gflops(_Call(model.keep_mask), maps)
    if local_backbone is not None:
        lp = next(local_backbone.parameters())
        out["local_per_patch"] = count_module_gflops(local_backbone, torch.zeros(1, 3, patch_size, patch_size,
                                                                                 device=lp.device))
    return out


class _Call(nn.Module):
    """A bound method as a module (for counting)."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: Any) -> Any:
        return self.fn(*args)


@dataclass
class ComponentCosts:
    """Measured per-component GFLOPs: recognizer and light extractor per frame, the sampler
    network of each loaded run (``samplers[run_key] = {"fem", "fsm", "vgm"}``) and, with an
    AdaFocus run, its parts (``patches``: policy / skip / classifier per step, local CNN per patch)."""

    rec_per_frame: float
    light_per_frame: float
    samplers: dict[str, dict[str, float]] = field(default_factory=dict)
    patches: dict[str, float] = field(default_factory=dict)

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
                else:  # TSQNet: object head, VQM and TQM all go to the sampler-network (fem) slot
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
    """Returns the ComponentCosts of a store's models and the loaded sampler runs.

    ``recognizer`` (already built, with head) is measured directly when given; otherwise the
    architecture is rebuilt from ``rec_spec`` with a ``num_classes``-way head.
    """
    rec = frame_model_gflops(recognizer) if recognizer is not None else spec_gflops(rec_spec, num_classes)
    light = spec_gflops(light_spec)
    samplers: dict[str, dict[str, float]] = {}
    patches: dict[str, float] = {}
    for key, run in runs.items():
        if run is not None and getattr(run, "model", None) is not None and run.config.variant == "adafocus":
            geo = run.meta.get("patches") or {}
            with torch.random.fork_rng(devices=[]):
                local = create_frame_model(str(rec_spec["name"]), "none", input_size=int(rec_spec["input_size"]),
                                           resize_short=int(rec_spec["resize_short"]), device="cpu").backbone
            patches = adafocus_gflops(run.model, tuple(geo["map_shape"]), int(light_spec["feature_dim"]),
                                      int(rec_spec["feature_dim"]), local.eval(), int(geo["patch_size"]))
            continue
        if run is not None and getattr(run, "model", None) is not None and hasattr(run.model, "object_features"):
            rec_backbone = spec_gflops(rec_spec) if run.model.cfg.objects == "recognizer" else 0.0
            samplers[key] = tsqnet_gflops(run.model, num_frames, rec_backbone)
        elif run is not None and getattr(run, "model", None) is not None:
            samplers[key] = sampler_gflops(run.model, num_frames, in_dim)
    return ComponentCosts(rec_per_frame=rec, light_per_frame=light, samplers=samplers, patches=patches)
