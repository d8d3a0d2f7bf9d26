"""What the commands call on an AdaFocus run: its GFLOPs parts and its ablation scores (the hooks of
:class:`nsnet.sampler.variants.VariantSpec`)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from nsnet.sampler.cost import Call, CostContext, count_module_gflops


def adafocus_gflops(model: nn.Module, map_shape: tuple[int, int, int], global_dim: int, local_dim: int,
                    local_backbone: nn.Module | None, patch_size: int) -> dict[str, float]:
    """Returns {"policy_step", "skip_step", "classifier_step", "local_per_patch"} GFLOPs of an
    AdaFocus model: π (1x1 conv + GRU step + head) and π' on one frame's map, f_C on one frame's
    [global, local] features, and the local CNN (recognizer backbone) on one P x P patch."""
    param = next(model.parameters())
    maps = torch.zeros(1, 1, *map_shape, device=param.device)
    g = torch.zeros(1, 1, global_dim, device=param.device)
    loc = torch.zeros(1, 1, local_dim, device=param.device)
    out = {"policy_step": count_module_gflops(Call(model.choose_patches), maps),
           "skip_step": 0.0,
           "classifier_step": count_module_gflops(Call(model.classify), g, loc),
           "local_per_patch": 0.0}
    if getattr(model, "skip", None) is not None:
        out["skip_step"] = count_module_gflops(Call(model.keep_mask), maps)
    if local_backbone is not None:
        lp = next(local_backbone.parameters())
        out["local_per_patch"] = count_module_gflops(local_backbone, torch.zeros(1, 3, patch_size, patch_size,
                                                                                 device=lp.device))
    return out


def cost_parts(run: Any, ctx: CostContext) -> dict[str, float]:
    """Returns the per-step GFLOPs of π, π', f_C and of the local CNN on one patch of the run's geometry."""
    geo = run.meta.get("patches") or {}
    return adafocus_gflops(run.model, tuple(geo["map_shape"]), int(ctx.light_spec["feature_dim"]),
                           int(ctx.rec_spec["feature_dim"]), ctx.local_backbone(), int(geo["patch_size"]))


def _patch_scores(method: Any, val: Any) -> dict[str, float]:
    """Returns mAP and top-1 of a patch method on all T frames of the val arrays."""
    from nsnet.metrics import mean_average_precision, top1_accuracy
    from nsnet.sampler.adafocus.methods import score_arrays

    val.require_patches()
    positions = np.tile(np.arange(val.T, dtype=np.int64), (val.N, 1))
    _, _, probs = score_arrays(method, val.light, val.light_maps, val.patch_features, positions)
    return {"mAP": mean_average_precision(probs, val.labels), "top1": top1_accuracy(probs, val.labels)}


def ablate_scores(run: Any, val: Any, k: int, score: Callable[[str, Any], dict[str, float]]) -> dict[str, float]:
    """Returns the scores of AdaFocus on all T frames (one chosen patch each) and ``mAP_random_patch``,
    random patches through the same classifier."""
    from nsnet.sampler.registry import create_sampler

    out = _patch_scores(create_sampler("adafocus", run=run), val)
    out["mAP_random_patch"] = _patch_scores(create_sampler("random-patch", run=run), val)["mAP"]
    return out
