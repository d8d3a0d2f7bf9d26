"""Fixed-policy controls for the AdaFocus arms (``run_adafocus_policy.py``): the random and the
centre patch with f_C given the same stage III as a learned π.

``nsnet evaluate``'s random-patch / centre-patch rows classify with the stage-I f_C (60 epochs on
random candidates), while every AdaFocus arm's f_C gets stage III on top (``stage3_epochs`` more
at ``stage3_lr`` on the candidates its π picks). A learned π could then beat those rows by the extra
training alone. These controls give the fixed policies that stage III: the run's own stage-I
model, π replaced by a constant policy (uniform logits: a random candidate per frame; one
candidate: the centre), stage III with the product's own loop (``train_classifier``), then val
scored with that policy's candidates. The paper's "random" and "central" policies are these.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nsnet.sampler.adafocus.checkpoints import load_stage
from nsnet.sampler.adafocus.stages import StageData, StageLoop, train_classifier
from nsnet.sampler.run import load_run

CONTROLS = ("random-patch+III", "centre-patch+III")


class ConstantPolicy(nn.Module):
    """π with the same logits on every frame: uniform (``index`` None) or one candidate."""

    def __init__(self, candidates: int, index: int | None) -> None:
        super().__init__()
        logits = torch.zeros(candidates)
        if index is not None:
            logits.fill_(-1e4)
            logits[index] = 0.0
        self.register_buffer("logits", logits)

    def forward(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (logits [B, K, A], values [B, K] = 0) for maps [B, K, ...]."""
        b, k = maps.shape[:2]
        return self.logits.expand(b, k, -1), torch.zeros(b, k)


def control_probs(run_dir: Path, store: Path, train: Any, val: Any, name: str, centre: int, seed: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Returns (the val class probabilities [N, C] float64, the candidates [N, T]) of control ``name`` (one of
    :data:`CONTROLS`) built from the AdaFocus run at ``run_dir``: its stage-I model, stage III on the
    fixed policy's train candidates, val scored with that policy's candidates (random: seeded)."""
    run = load_run(run_dir, store)
    opts = dataclasses.asdict(run.config.options)
    model = load_stage(run_dir, 1, train, opts)[0]
    candidates = train.patch_features.shape[2]
    index = centre if name.startswith("centre") else None
    model.policy = ConstantPolicy(candidates, index)
    loop = StageLoop(model, StageData(train, torch.device("cpu")), opts, opts["batch_size"], seed)
    train_classifier(loop, 3, opts["stage3_epochs"], opts["stage3_lr"])
    n, t = val.patch_features.shape[:2]
    if index is None:
        choice = np.random.default_rng(seed).integers(0, candidates, (n, t))
    else:
        choice = np.full((n, t), index)
    local = np.take_along_axis(val.patch_features, choice[..., None, None], axis=2)[:, :, 0]
    with torch.no_grad():
        probs = model.classify(torch.from_numpy(val.light).float(), torch.from_numpy(local).float())
    return probs.double().numpy(), choice
