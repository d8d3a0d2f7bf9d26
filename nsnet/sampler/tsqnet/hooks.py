"""What the commands call on a TSQNet run: its GFLOPs parts, its ablation scores and its saliency
curves (the hooks of :class:`nsnet.sampler.variants.VariantSpec`)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from nsnet.sampler.base import SamplerError
from nsnet.sampler.cost import CostContext, count_module_gflops

MODULES = ("vqm", "tqm")


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


def cost_parts(run: Any, ctx: CostContext) -> dict[str, float]:
    """Returns the {"objects", "vqm", "tqm"} GFLOPs of the run on one T-frame video (object scores
    from the recognizer add its backbone on all T frames)."""
    per_frame = ctx.rec_backbone_gflops() if run.model.cfg.objects == "recognizer" else 0.0
    return tsqnet_gflops(run.model, ctx.num_frames, per_frame)


def _modules(run: Any) -> list[str]:
    """Returns the query modules the run trained (vqm, tqm)."""
    return [m for m in MODULES if getattr(run.model, m, None) is not None]


def ablate_scores(run: Any, val: Any, k: int, score: Callable[[str, Any], dict[str, float]]) -> dict[str, float]:
    """Returns the union's scores (one module's when only one was trained) and each module's mAP."""
    mods = _modules(run)
    out = {f"mAP_{m}": score(m, run)["mAP"] for m in mods}
    return {**score("tsqnet" if len(mods) == 2 else mods[0], run), **out}


def saliency_curves(run: Any, inputs: Any, alpha: float, device: str = "cpu") -> dict[str, np.ndarray]:
    """Returns each trained module's aggregated saliency [N, T] (TQM on recognizer features is left
    out when the inputs lack them)."""
    from nsnet.sampler.registry import create_sampler

    out = {}
    for module in _modules(run):
        try:
            out[f"TSQNet {module.upper()} s^{module[0]}"] = create_sampler(module, run=run, device=device).scores(inputs)
        except SamplerError:  # TQM on recognizer features that this evaluation did not load
            pass
    return out
