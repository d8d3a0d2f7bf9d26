"""What the commands call on an NSNet-family run: its GFLOPs parts, its ablation scores and its
saliency curves (the hooks of :class:`nsnet.sampler.variants.VariantSpec`)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from nsnet.sampler.cost import CostContext, count_module_gflops


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



def cost_parts(run: Any, ctx: CostContext) -> dict[str, float]:
    """Returns the {"fem", "fsm", "vgm"} GFLOPs of the run's network on one T-frame video."""
    return sampler_gflops(run.model, ctx.num_frames, ctx.in_dim)


def ablate_scores(run: Any, val: Any, k: int, score: Callable[[str, Any], dict[str, float]]) -> dict[str, float]:
    """Returns the ablation scores of a run: a two-branch NSNet run's fused selection plus each branch
    alone (``mAP_fsm``, ``mAP_vgm``), a one-branch run's branch, a baseline's own sampler."""
    variant, opts = run.config.variant, run.config.options
    if variant == "oracle":
        return score("oracle", run)
    if variant == "nsnet" and opts.branches == "both":
        return {**score("nsnet", run), "mAP_fsm": score("fsm", run)["mAP"], "mAP_vgm": score("vgm", run)["mAP"]}
    return score(variant if variant != "nsnet" else opts.branches, run)


def saliency_curves(run: Any, inputs: Any, alpha: float, device: str = "cpu") -> dict[str, np.ndarray]:
    """Returns the fused, FSM and VGM saliency [N, T] of a two-branch run (the branches it has otherwise)."""
    from nsnet.sampler.nsnet.samplers import TrainedSampler

    branches = TrainedSampler(run=run, device=device).branch_scores(inputs)
    out: dict[str, np.ndarray] = {}
    paper = run.config.variant == "nsnet"
    if "fsm" in branches and "vgm" in branches:
        out[f"NSNet ({alpha:g} s^f + {1 - alpha:g} s^v)"] = alpha * branches["fsm"] + (1 - alpha) * branches["vgm"]
    labels = {"fsm": "FSM s^f", "vgm": "VGM s^v"} if paper else {b: f"{run.config.variant} s^{b[0]}" for b in branches}
    out.update({labels[b]: s for b, s in branches.items()})
    return out
