"""AdaFocus's stage I and III loops (f_C on random / policy-chosen candidates) and what every stage's
loop shares: the train split as tensors (:class:`StageData`) and the seeded batching (:class:`StageLoop`)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nsnet.sampler.adafocus.model import AdaFocus
from nsnet.sampler.adafocus.rewards import sample_bernoulli, sample_categorical
from nsnet.sampler.data import SamplerArrays
from nsnet.sampler.losses import classification_loss


class StageData:
    """The train split as tensors, float16 maps and candidate features shared with numpy (no copy)."""

    def __init__(self, arrays: SamplerArrays, device: torch.device) -> None:
        arrays.require_patches()
        self.light = torch.from_numpy(np.ascontiguousarray(arrays.light))
        self.maps = torch.from_numpy(np.ascontiguousarray(arrays.light_maps))
        self.patches = torch.from_numpy(np.ascontiguousarray(arrays.patch_features))
        self.labels = torch.from_numpy(np.ascontiguousarray(arrays.labels))
        self.n, self.t, self.a = int(self.patches.shape[0]), int(self.patches.shape[1]), int(self.patches.shape[2])
        self.steps = torch.arange(self.t)
        self.device = device

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (ē^G [B, T, D], labels [B, C]) float32 on the device."""
        return self.light[idx].to(self.device), self.labels[idx].to(self.device)

    def maps_of(self, idx: torch.Tensor) -> torch.Tensor:
        """Returns the maps [B, T, D, h, w] float32 on the device, with channels-last strides (one
        fused convert-and-transpose copy): π's 1x1 convolution runs 3-4x faster on them on a CPU."""
        m = self.maps[idx]
        b, t, d, h, w = m.shape
        out = torch.empty((b, t, h, w, d), dtype=torch.float32)
        out.copy_(m.permute(0, 1, 3, 4, 2))
        return out.permute(0, 1, 4, 2, 3).to(self.device)

    def local(self, idx: torch.Tensor, cand: torch.Tensor) -> torch.Tensor:
        """Returns the local features [B, T, ..., D2] float32 of candidates ``cand`` [B, T, ...] of videos ``idx``."""
        extra = [1] * (cand.dim() - 2)
        rows, steps = idx.reshape(-1, 1, *extra), self.steps.reshape(1, -1, *extra)
        return self.patches[rows, steps, cand.cpu()].to(self.device).float()


@dataclass
class StageLoop:
    """What every stage's loop shares."""

    model: AdaFocus
    data: StageData
    opts: dict[str, Any]
    batch_size: int
    seed: int
    bar: Any = None
    task: Any = None

    def generator(self, stage: int) -> torch.Generator:
        """Seeds torch with (seed, stage) and returns the stage's own CPU generator."""
        torch.manual_seed(self.seed * 1009 + stage)
        return torch.Generator().manual_seed(self.seed * 1009 + stage)

    def batches(self, gen: torch.Generator) -> list[torch.Tensor]:
        """Returns the shuffled video indices of one epoch, ``batch_size`` per batch."""
        perm = torch.randperm(self.data.n, generator=gen)
        return [perm[lo : lo + self.batch_size] for lo in range(0, self.data.n, self.batch_size)]

    def advance(self, text: str) -> None:
        """Advances the progress bar by one batch, showing ``text`` in its loss column."""
        if self.bar is not None:
            self.bar.update(self.task, advance=1, loss=text)


def check_finite(value: float, what: str) -> float:
    """Returns ``value``; raises FloatingPointError naming ``what`` when it is not finite."""
    if not math.isfinite(value):
        raise FloatingPointError(f"AdaFocus {what} became {value} (learning rate too high?)")
    return value


def policies_train(model: AdaFocus, mode: bool) -> None:
    """Puts π (and π') in training (``mode``) or eval mode."""
    model.policy.train(mode)
    if model.skip is not None:
        model.skip.train(mode)


def policy_logits(model: AdaFocus, data: StageData, chunk: int = 64) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Returns π's logits [N, T, G*G] and π''s keep logits [N, T] (None without AdaFocus+) of every
    train video, on the CPU: the frozen policies of stage III, computed once instead of per batch."""
    cand, keep = [], []
    with torch.no_grad():
        for lo in range(0, data.n, chunk):
            maps = data.maps_of(torch.arange(lo, min(lo + chunk, data.n)))
            cand.append(model.policy(maps)[0].cpu())
            if model.skip is not None:
                keep.append(model.skip(maps)[0].cpu())
    return torch.cat(cand), (torch.cat(keep) if keep else None)


def train_classifier(loop: StageLoop, stage: int, epochs: int, lr: float) -> tuple[list[float], list[float]]:
    """Runs stage I (random candidates) or III (candidates from π) on ``loop.model.classifier`` in
    place; returns the mean loss and the seconds of every epoch."""
    model, data, opts = loop.model, loop.data, loop.opts
    gen = loop.generator(stage)
    opt = torch.optim.Adam(model.classifier.parameters(), lr=lr)
    policies_train(model, False)
    frozen = policy_logits(model, data) if stage == 3 else None
    history, seconds = [], []
    for _ in range(epochs):
        tic = time.perf_counter()
        model.classifier.train()
        total, count = 0.0, 0
        for idx in loop.batches(gen):
            g, y = data.batch(idx)
            if stage == 1:
                cand = torch.randint(data.a, (idx.numel(), data.t), generator=gen)
                keep = None
                if opts["drop_local"] > 0:
                    keep = (torch.rand(idx.numel(), data.t, generator=gen) >= opts["drop_local"]).to(data.device)
            else:  # stage III: candidates (and kept frames) sampled from the frozen π (and π')
                cand = sample_categorical(frozen[0][idx], gen)
                keep = None if frozen[1] is None else sample_bernoulli(frozen[1][idx], gen).to(data.device)
            x = model.classifier.inputs(g, data.local(idx, cand), keep)
            logits = model.classifier(x)[0]
            loss = classification_loss(logits, y[:, None, :].expand_as(logits), model.cfg.multilabel)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            value = check_finite(float(loss.detach()), "classifier loss")
            total, count = total + value * idx.numel(), count + idx.numel()
            loop.advance(f"{value:.4f} (stage {stage})")
        history.append(total / max(count, 1))
        seconds.append(time.perf_counter() - tic)
    model.classifier.eval()
    return history, seconds
