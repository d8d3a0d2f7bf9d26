"""Training AdaFocus in three stages on cached tensors (called by :func:`nsnet.sampler.train.train_sampler`).

f_G (the light extractor) and f_L (the recognizer backbone) stay frozen: their features are read
from the store (the paper also trains both in stage I; see the README). Per batch the float16
maps / candidate features are gathered and converted to float32.

* **Stage I** (Eq. 5): f_C on random candidates -- every frame's patch drawn uniformly among the
  G*G -- minimising the mean over steps of the cross-entropy (BCE for multi-label stores). Adam,
  ``lr``. ``drop_local`` > 0 also zeroes a frame's local feature with that probability (useful
  for AdaFocus+, whose f_C later sees skipped frames; 0 by default, as in the paper).
* **Stage II** (Eq. 6-7, and Eq. 8-10 for AdaFocus+): f_C frozen, π (and π') trained with PPO.
  Per batch one rollout: π samples a candidate per frame; r_t = p_ty(chosen at t | previous chosen
  patches) - p_ty(one random candidate at t | the same previous patches) -- f_C's GRU runs once
  over the chosen sequence, and every alternative at every t is one batched GRU step from the
  previous hidden states (:func:`rollout_rewards`). AdaFocus+: π' samples b_t, the history uses
  b_t ē^L_t, r'_t = b_t (p_ty(.., 1) - p_ty(.., 0) - lambda P^2); π's reward at a skipped frame
  is still computed with that frame's patch kept (the value the patch would have had). Returns
  with gamma = 0.7, advantages = returns - critic value, normalised over the batch; then
  ``ppo_epochs`` = 2 epochs of the clipped objective (clip 0.2) + 0.5 value MSE - 0.01 entropy on
  the same batch, Adam ``policy_lr`` = 1e-3. π and π' are trained together (one optimiser).
* **Stage III**: f_C fine-tuned (Adam, ``stage3_lr`` = 1e-4) on patches sampled from π (and
  frames kept by b_t sampled from π'), π frozen.
* AdaFocus+ then solves ρ on the train set: the p^B value above which a share ``keep_ratio`` = η
  of the train frames lies (saved in the model config; :meth:`AdaFocus.keep_mask` uses it).

Every stage seeds torch and its own generator with (seed, stage), so ``--stages 2,3`` resumed from
a saved ``stage1.pt`` gives the same model as ``--stages 1,2,3``. With a ``run_dir`` each stage
writes ``stage{s}.pt`` (weights_only loadable) there; a later call with stages s..e resumes from
``stage{s-1}.pt`` and removes the stale checkpoints of stages after e.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nsnet.sampler.adafocus.model import AdaFocus, AdaFocusConfig, PatchClassifier, classification_loss, label_confidence
from nsnet.sampler.data import SamplerArrays
from nsnet.sampler.adafocus.ppo import advantages, discounted_returns, ppo_loss

STAGES = (1, 2, 3)
STAGE_FILE = "stage{}.pt"
STAGE_FORMAT = "nsnet-adafocus-stage"


@dataclass
class AdaFocusOptions:
    """The ``--adafocus KEY=VALUE`` options (``SamplerConfig.adafocus``) and their defaults."""

    hidden: int = 256  # f_C GRU (paper 1024)
    policy_hidden: int = 256  # π / π' GRU (paper 1024)
    policy_channels: int = 32  # π's 1x1 conv output channels (paper: not given)
    dropout: float = 0.2  # f_C, before its linear head
    stage1_epochs: int = 10
    stage2_epochs: int = 15
    stage3_epochs: int = 5
    lr: float = 1e-3  # Adam, stage I
    stage3_lr: float = 1e-4  # Adam, stage III
    policy_lr: float = 1e-3  # Adam, stage II
    gamma: float = 0.7  # discount (paper)
    clip: float = 0.2  # PPO clip epsilon
    ppo_epochs: int = 2  # PPO epochs on each rollout batch
    value_coef: float = 0.5
    entropy_coef: float = 0.01
    skip: bool = False  # AdaFocus+ (π')
    lam: float = 1e-6  # lambda of the lambda P^2 penalty (paper 1e-6)
    keep_ratio: float = 0.7  # η: share of frames AdaFocus+ keeps at inference (paper 0.9 / 0.7 / 0.5)
    drop_local: float = 0.0  # stage I: probability of zeroing a frame's local feature


OPTION_FIELDS = tuple(f.name for f in fields(AdaFocusOptions))
ARCH_OPTIONS = ("hidden", "policy_hidden", "policy_channels", "dropout", "skip")
_INT = {f.name for f in fields(AdaFocusOptions) if f.type in ("int", int)}
_FLOAT = {f.name for f in fields(AdaFocusOptions) if f.type in ("float", float)}


def af_options(data: Mapping[str, Any] | None, *, width: int | None = None, epochs: int | None = None,
               lr: float | None = None) -> dict[str, Any]:
    """Returns the complete, validated AdaFocus options of ``data`` (defaults filled in); raises
    ValueError for unknown keys or bad values. Options not given take: ``hidden`` = ``width``,
    every ``stage*_epochs`` = ``epochs`` and ``lr`` = ``lr`` when those are given (not None)."""
    data = dict(data or {})
    unknown = sorted(set(data) - set(OPTION_FIELDS))
    if unknown:
        raise ValueError(f"unknown adafocus options {unknown}; known: {sorted(OPTION_FIELDS)}")
    fallback: dict[str, Any] = {}
    if width is not None:
        fallback["hidden"] = width
    if epochs is not None:
        fallback.update(stage1_epochs=epochs, stage2_epochs=epochs, stage3_epochs=epochs)
    if lr is not None:
        fallback["lr"] = lr
    opts = asdict(AdaFocusOptions())
    opts.update(fallback)
    opts.update(data)
    for name, value in opts.items():
        if name in _INT:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
                raise ValueError(f"adafocus {name} must be an integer, got {value!r}")
            opts[name] = int(value)
        elif name in _FLOAT:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"adafocus {name} must be a number, got {value!r}")
            opts[name] = float(value)
        elif not isinstance(value, bool):
            raise ValueError(f"adafocus {name} must be true or false, got {value!r}")
    _check(opts)
    return opts


def _check(o: dict[str, Any]) -> None:
    """Raises ValueError when an AdaFocus option is out of range."""
    checks = [
        (min(o["hidden"], o["policy_hidden"], o["policy_channels"], o["ppo_epochs"]) >= 1,
         "adafocus hidden, policy_hidden, policy_channels and ppo_epochs must be >= 1"),
        (min(o["stage1_epochs"], o["stage2_epochs"], o["stage3_epochs"]) >= 1, "adafocus stage*_epochs must be >= 1"),
        (min(o["lr"], o["stage3_lr"], o["policy_lr"]) > 0, "adafocus lr, stage3_lr and policy_lr must be > 0"),
        (0.0 <= o["gamma"] <= 1.0, f"adafocus gamma must lie in [0, 1], got {o['gamma']}"),
        (o["clip"] > 0, f"adafocus clip must be > 0, got {o['clip']}"),
        (min(o["value_coef"], o["entropy_coef"], o["lam"]) >= 0, "adafocus value_coef, entropy_coef and lam must be >= 0"),
        (0.0 < o["keep_ratio"] <= 1.0, f"adafocus keep_ratio must lie in (0, 1], got {o['keep_ratio']}"),
        (0.0 <= o["dropout"] < 1.0, f"adafocus dropout must lie in [0, 1), got {o['dropout']}"),
        (0.0 <= o["drop_local"] < 1.0, f"adafocus drop_local must lie in [0, 1), got {o['drop_local']}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)


def parse_stages(value: str | Sequence[int] | None) -> tuple[int, ...]:
    """Returns the stages to run as a sorted tuple of consecutive stages in 1..3 (None: all three)
    from "1,2,3" / "2,3" / [2, 3]; raises SamplerConfigError otherwise."""
    from nsnet.sampler.config import SamplerConfigError

    if value is None:
        return STAGES
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        stages = sorted({int(str(v).strip()) for v in items if str(v).strip()})
    except ValueError:
        raise SamplerConfigError(f"stages must be comma-separated numbers in 1..3 (e.g. 1,2,3), got {value!r}") from None
    if not stages or not set(stages) <= set(STAGES):
        raise SamplerConfigError(f"stages must be in 1..3 (e.g. 1,2,3 or 2,3), got {value!r}")
    if stages != list(range(stages[0], stages[-1] + 1)):
        raise SamplerConfigError(f"stages must be consecutive (e.g. 1,2,3 or 2,3), got {value!r}")
    return tuple(stages)


def model_config(opts: Mapping[str, Any], arrays: SamplerArrays) -> AdaFocusConfig:
    """Returns the AdaFocusConfig of resolved options ``opts`` for ``arrays`` (with patch arrays)."""
    arrays.require_patches()
    _, _, d_map, h, w = arrays.light_maps.shape
    return AdaFocusConfig(
        global_dim=arrays.D, map_dim=int(d_map), map_height=int(h), map_width=int(w),
        local_dim=int(arrays.patch_features.shape[3]), num_candidates=int(arrays.patch_features.shape[2]),
        num_classes=arrays.C, num_frames=arrays.T, patch_size=int(arrays.patches.get("patch_size", 0)),
        multilabel=bool(arrays.multilabel), keep_ratio=float(opts["keep_ratio"]) if opts["skip"] else 1.0,
        **{k: opts[k] for k in ARCH_OPTIONS},
    )


# ----------------------------------------------------------------------------- rewards and sampling
def rollout_rewards(
    classifier: PatchClassifier, global_feats: torch.Tensor, chosen: torch.Tensor, alternative: torch.Tensor,
    labels: torch.Tensor, multilabel: bool, keep: torch.Tensor | None = None, penalty: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Returns (r [B, T], r' [B, T] or None): π's reward Eq. 7, p_ty(chosen at t | h_{t-1}) -
    p_ty(alternative at t | h_{t-1}), and with ``keep`` b [B, T] (AdaFocus+) π''s reward Eq. 10,
    b_t (p_ty(chosen kept | h_{t-1}) - p_ty(local zeroed | h_{t-1}) - ``penalty``).

    ``global_feats`` [B, T, D], ``chosen`` / ``alternative`` local features [B, T, D2], ``labels``
    [B, C]. h_{t-1} is f_C's state after the chosen history (with b ē^L when ``keep`` is given); the
    GRU runs once over that sequence and every alternative is one batched step from h_{t-1}.
    """
    b, t = chosen.shape[:2]
    logits, states = classifier(classifier.inputs(global_feats, chosen, keep))
    h_prev = torch.cat([torch.zeros_like(states[:, :1]), states[:, :-1]], dim=1)  # [B, T, H]
    alts = [alternative] if keep is None else [alternative, chosen, torch.zeros_like(chosen)]
    x = torch.stack([classifier.inputs(global_feats, a) for a in alts], dim=2)  # [B, T, M, D + D2]
    m = len(alts)
    h = h_prev.unsqueeze(2).expand(b, t, m, h_prev.shape[-1])
    alt_logits = classifier.step(x.reshape(b * t * m, -1), h.reshape(b * t * m, -1)).reshape(b, t, m, -1)
    p_alt = label_confidence(alt_logits, labels[:, None, None, :], multilabel)  # [B, T, M]
    if keep is None:
        p_chosen = label_confidence(logits, labels[:, None, :], multilabel)
        return p_chosen - p_alt[..., 0], None
    r = p_alt[..., 1] - p_alt[..., 0]
    r_skip = keep.to(r.dtype) * (p_alt[..., 1] - p_alt[..., 2] - penalty)
    return r, r_skip


def sample_categorical(logits: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Returns LongTensor [...] drawn from softmax(``logits`` [..., A]) with the CPU generator ``gen``
    (inverse CDF of one uniform per row, so it works on any device)."""
    u = torch.rand(logits.shape[:-1] + (1,), generator=gen).to(logits.device)
    cdf = torch.softmax(logits.float(), dim=-1).cumsum(dim=-1)
    return (cdf < u).sum(dim=-1).clamp_max(logits.shape[-1] - 1)


def sample_bernoulli(logits: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Returns float 0/1 [...] drawn with Pr(1) = sigmoid(``logits``), using the CPU generator ``gen``."""
    u = torch.rand(logits.shape, generator=gen).to(logits.device)
    return (u < torch.sigmoid(logits.float())).float()


def bernoulli_log_prob(logits: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Returns log Pr(b) [...] under Bernoulli(sigmoid(``logits``)) for 0/1 ``b``."""
    return b * torch.nn.functional.logsigmoid(logits) + (1 - b) * torch.nn.functional.logsigmoid(-logits)


def bernoulli_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Returns the entropy [...] of Bernoulli(sigmoid(``logits``))."""
    p = torch.sigmoid(logits)
    return -(p * torch.nn.functional.logsigmoid(logits) + (1 - p) * torch.nn.functional.logsigmoid(-logits))


def solve_threshold(keep_probs: torch.Tensor | np.ndarray, keep_ratio: float) -> float | None:
    """Returns ρ such that the frames with p^B >= ρ are the top ``keep_ratio`` share of ``keep_probs``
    (at least ceil(η n) of the n values; ties keep more); None when ``keep_ratio`` >= 1."""
    if keep_ratio >= 1.0:
        return None
    flat = np.sort(np.asarray(keep_probs, dtype=np.float64).ravel())[::-1]
    if flat.size == 0:
        return None
    n_keep = min(flat.size, max(1, math.ceil(keep_ratio * flat.size - 1e-9)))
    return float(flat[n_keep - 1])


# ----------------------------------------------------------------------------- data per batch
class _Data:
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
        """Returns the local features [B, T, D2] float32 of candidates ``cand`` [B, T] of videos ``idx``."""
        return self.patches[idx[:, None], self.steps[None, :], cand.cpu()].to(self.device).float()


# ----------------------------------------------------------------------------- stages
@dataclass
class _Loop:
    """What every stage's loop shares."""

    model: AdaFocus
    data: _Data
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
        perm = torch.randperm(self.data.n, generator=gen)
        return [perm[lo : lo + self.batch_size] for lo in range(0, self.data.n, self.batch_size)]

    def advance(self, text: str) -> None:
        """Advances the progress bar by one batch, showing ``text`` in its loss column."""
        if self.bar is not None:
            self.bar.update(self.task, advance=1, loss=text)


def _check_finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise FloatingPointError(f"AdaFocus {what} became {value} (learning rate too high?)")
    return value


def _policies_train(model: AdaFocus, mode: bool) -> None:
    """Puts π (and π') in training (``mode``) or eval mode."""
    model.policy.train(mode)
    if model.skip is not None:
        model.skip.train(mode)


def policy_logits(model: AdaFocus, data: _Data, chunk: int = 64) -> tuple[torch.Tensor, torch.Tensor | None]:
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


def train_classifier(loop: _Loop, stage: int, epochs: int, lr: float) -> tuple[list[float], list[float]]:
    """Runs stage I (random candidates) or III (candidates from π) on ``loop.model.classifier`` in
    place; returns the mean loss and the seconds of every epoch."""
    model, data, opts = loop.model, loop.data, loop.opts
    gen = loop.generator(stage)
    opt = torch.optim.Adam(model.classifier.parameters(), lr=lr)
    _policies_train(model, False)
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
            loss = classification_loss(model.classifier(x)[0], y, model.cfg.multilabel)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            value = _check_finite(float(loss.detach()), "classifier loss")
            total, count = total + value * idx.numel(), count + idx.numel()
            loop.advance(f"{value:.4f} (stage {stage})")
        history.append(total / max(count, 1))
        seconds.append(time.perf_counter() - tic)
    model.classifier.eval()
    return history, seconds


@dataclass
class Rollout:
    """One stage II batch of episodes (one per video): what the PPO epochs on it need. ``keep`` and
    the ``*_b`` fields are π''s (AdaFocus+ only)."""

    maps: torch.Tensor  # [B, T, D, h, w] float32
    cand: torch.Tensor  # [B, T] sampled candidates
    old_logp: torch.Tensor  # [B, T]
    reward: torch.Tensor  # [B, T] Eq. 7
    ret: torch.Tensor  # [B, T] discounted returns
    adv: torch.Tensor  # [B, T] normalised advantages
    keep: torch.Tensor | None = None  # [B, T] sampled b_t
    old_logp_b: torch.Tensor | None = None
    ret_b: torch.Tensor | None = None
    adv_b: torch.Tensor | None = None
    # the policies' outputs (logits, values, keep logits, keep values) with their autograd graph, kept
    # by rollout(..., track=True) so that the first PPO epoch needs no second forward
    outputs: tuple[Any, ...] | None = None


def rollout(model: AdaFocus, maps: torch.Tensor, global_feats: torch.Tensor, labels: torch.Tensor,
            local_of: Callable[[torch.Tensor], torch.Tensor], gen: torch.Generator, gamma: float,
            penalty: float = 0.0, track: bool = False) -> Rollout:
    """Returns a :class:`Rollout`: π (and π') sampled on ``maps``, rewards from the frozen f_C
    (:func:`rollout_rewards`, the alternative a uniformly random candidate), returns with ``gamma``
    and advantages against the critics. ``local_of(cand [B, T])`` gives the local features [B, T, D2].
    ``track`` keeps the policies' outputs with their graph in ``Rollout.outputs``."""
    with torch.set_grad_enabled(track):
        outputs = model.policy(maps) + (model.skip(maps) if model.skip is not None else (None, None))
    with torch.no_grad():
        logits, values, z, values_b = (None if o is None else o.detach() for o in outputs)
        cand = sample_categorical(logits, gen)
        old_logp = torch.log_softmax(logits, -1).gather(-1, cand[..., None])[..., 0]
        rand = torch.randint(model.cfg.num_candidates, cand.shape, generator=gen)
        keep = old_logp_b = None
        if model.skip is not None:
            keep = sample_bernoulli(z, gen)
            old_logp_b = bernoulli_log_prob(z, keep)
        r, r_b = rollout_rewards(model.classifier, global_feats, local_of(cand), local_of(rand), labels,
                                 model.cfg.multilabel, keep, penalty)
        ret = discounted_returns(r, gamma)
        out = Rollout(maps, cand, old_logp, r, ret, advantages(ret, values), outputs=outputs if track else None)
        if r_b is not None:
            out.keep, out.old_logp_b = keep, old_logp_b
            out.ret_b = discounted_returns(r_b, gamma)
            out.adv_b = advantages(out.ret_b, values_b)
    return out


def ppo_batch_loss(model: AdaFocus, ro: Rollout, clip: float = 0.2, value_coef: float = 0.5,
                   entropy_coef: float = 0.01) -> torch.Tensor:
    """Returns the scalar PPO loss of π (plus π''s for AdaFocus+) on rollout ``ro`` under the
    current weights (:func:`nsnet.sampler.adafocus.ppo.ppo_loss`); the outputs a tracked rollout kept are
    used once (they are the current weights' until the first optimiser step), then recomputed."""
    ppo = dict(clip=clip, value_coef=value_coef, entropy_coef=entropy_coef)
    kept, ro.outputs = ro.outputs, None
    logits, values, z, values_b = kept if kept is not None else (*model.policy(ro.maps), None, None)
    logp = torch.log_softmax(logits, -1)
    entropy = -(logp.exp() * logp).sum(-1)
    loss = ppo_loss(logp.gather(-1, ro.cand[..., None])[..., 0], ro.old_logp, ro.adv, values, ro.ret, entropy, **ppo)
    if model.skip is not None and ro.keep is not None:
        if kept is None:
            z, values_b = model.skip(ro.maps)
        loss = loss + ppo_loss(bernoulli_log_prob(z, ro.keep), ro.old_logp_b, ro.adv_b, values_b, ro.ret_b,
                               bernoulli_entropy(z), **ppo)
    return loss


def train_policy(loop: _Loop, epochs: int) -> tuple[list[float], list[float], list[float]]:
    """Runs stage II (PPO on π, and π' for AdaFocus+) in place with f_C frozen; returns the mean PPO
    loss, the mean reward r_t of π's sampled candidates and the seconds of every epoch."""
    model, data, o = loop.model, loop.data, loop.opts
    gen = loop.generator(2)
    params = list(model.policy.parameters()) + ([] if model.skip is None else list(model.skip.parameters()))
    opt = torch.optim.Adam(params, lr=o["policy_lr"])
    model.classifier.eval()
    penalty = o["lam"] * float(model.cfg.patch_size) ** 2
    losses, rewards, seconds = [], [], []
    for _ in range(epochs):
        tic = time.perf_counter()
        _policies_train(model, True)
        total, reward_sum, count = 0.0, 0.0, 0
        for idx in loop.batches(gen):
            g, y = data.batch(idx)
            ro = rollout(model, data.maps_of(idx), g, y, lambda c: data.local(idx, c), gen, o["gamma"], penalty,
                         track=True)
            for _ in range(o["ppo_epochs"]):
                loss = ppo_batch_loss(model, ro, o["clip"], o["value_coef"], o["entropy_coef"])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            value = _check_finite(float(loss.detach()), "PPO loss")
            reward = float(ro.reward.mean())
            total, reward_sum, count = total + value * idx.numel(), reward_sum + reward * idx.numel(), count + idx.numel()
            loop.advance(f"{value:.4f}, reward {reward:+.4f} (stage 2)")
        losses.append(total / max(count, 1))
        rewards.append(reward_sum / max(count, 1))
        seconds.append(time.perf_counter() - tic)
    _policies_train(model, False)
    return losses, rewards, seconds


# ----------------------------------------------------------------------------- stage checkpoints
def _identity(arrays: SamplerArrays) -> dict[str, Any]:
    """Returns the store identity a stage checkpoint records (the keys of a run's meta)."""
    return {"fingerprint": arrays.fingerprint, "T": arrays.T, "C": arrays.C, "extractor": dict(arrays.extractor_spec)}


def save_stage(run_dir: str | Path, stage: int, model: AdaFocus, arrays: SamplerArrays, opts: Mapping[str, Any],
               record: dict[str, Any]) -> Path:
    """Writes ``stage{stage}.pt`` (weights_only loadable: model config, weights, store identity,
    architecture options, seconds and history of the stages so far) atomically; returns its path."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / STAGE_FILE.format(stage)
    payload = {
        "format": STAGE_FORMAT, "format_version": 1, "stage": stage, "meta": _identity(arrays),
        "arch": {k: opts[k] for k in ARCH_OPTIONS}, "model_config": asdict(model.cfg),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "record": record,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_stage(run_dir: str | Path, stage: int, arrays: SamplerArrays, opts: Mapping[str, Any]) -> tuple[AdaFocus, dict[str, Any]]:
    """Returns (model, record) saved after ``stage`` in ``run_dir``. Raises RunError when it is
    absent, unreadable or was trained with other architecture options, RunMismatchError when it
    was trained on another store."""
    from nsnet.sampler.run import RunError, check_run_matches

    path = Path(run_dir) / STAGE_FILE.format(stage)
    if not path.is_file():
        raise RunError(f"{path}: no stage {stage} checkpoint to resume from; run stages 1..{stage} first "
                       f"(e.g. --stages 1,2,3)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError) as err:
        raise RunError(f"{path}: cannot read the stage checkpoint ({err})") from err
    if payload.get("format") != STAGE_FORMAT:
        raise RunError(f"{path}: not an AdaFocus stage checkpoint")
    check_run_matches(payload["meta"], arrays, path)
    asked = {k: opts[k] for k in ARCH_OPTIONS}
    diffs = [f"{k}={payload['arch'].get(k)!r} (asked {v!r})" for k, v in asked.items() if payload["arch"].get(k) != v]
    if diffs:
        raise RunError(f"{path} was trained with {', '.join(diffs)}; use the same options or redo all stages "
                       "(--stages 1,2,3)")
    model = AdaFocus(AdaFocusConfig(**payload["model_config"]))
    model.load_state_dict(payload["state_dict"])
    return model, dict(payload["record"])


# ----------------------------------------------------------------------------- entry point
def train_adafocus(arrays: SamplerArrays, cfg: Any, *, progress: bool = False, stages: Sequence[int] | str | None = None,
                   run_dir: str | Path | None = None) -> Any:
    """Returns a :class:`nsnet.sampler.train.TrainResult` holding the AdaFocus model after the
    ``stages`` (default 1, 2, 3) of the resolved ``cfg`` (variant adafocus) on the train ``arrays``
    (with patch arrays). With ``run_dir``, each stage's checkpoint is written there and a call
    starting at stage s > 1 resumes from ``stage{s-1}.pt``. ``result.extra`` holds ``stages``
    (done), ``stages_run``, ``stage_seconds``, ``stage_history`` and ``threshold``."""
    from nsnet.device import resolve_device
    from nsnet.sampler.train import TrainResult, _deterministic, _progress

    start = time.perf_counter()
    arrays.require_patches()
    opts = dict(cfg.adafocus)
    todo = parse_stages(stages)
    if todo[0] > 1 and run_dir is None:
        raise ValueError("resuming from a stage checkpoint needs a run_dir")
    device = resolve_device(cfg.device)
    record: dict[str, Any] = {"stage_seconds": {}, "stage_history": {}}
    with _deterministic():
        if todo[0] == 1:
            torch.manual_seed(cfg.seed)
            model = AdaFocus(model_config(opts, arrays))
        else:
            model, record = load_stage(run_dir, todo[0] - 1, arrays, opts)
            model.cfg.keep_ratio = float(opts["keep_ratio"]) if opts["skip"] else 1.0
        model.to(device)
        data = _Data(arrays, device)
        steps = (data.n + cfg.batch_size - 1) // cfg.batch_size
        total = sum(opts[f"stage{s}_epochs"] for s in todo) * steps
        bar = _progress(progress, total)
        loop = _Loop(model, data, opts, cfg.batch_size, cfg.seed, bar)
        if bar is not None:
            loop.task = bar.add_task(f"fit {cfg.name} (AdaFocus)", total=total, loss="-")
        history, epoch_seconds = [], []
        with bar if bar is not None else contextlib.nullcontext():
            for stage in todo:
                tic = time.perf_counter()
                epochs = opts[f"stage{stage}_epochs"]
                if stage == 2:
                    losses, rewards, secs = train_policy(loop, epochs)
                    record["stage_history"]["2"] = {"loss": losses, "reward": rewards}
                else:
                    lr = opts["lr"] if stage == 1 else opts["stage3_lr"]
                    losses, secs = train_classifier(loop, stage, epochs, lr)
                    record["stage_history"][str(stage)] = {"loss": losses}
                history += losses
                epoch_seconds += secs
                record["stage_seconds"][str(stage)] = round(time.perf_counter() - tic, 3)
                for later in [s for s in STAGES if s > stage]:
                    record["stage_seconds"].pop(str(later), None)
                    record["stage_history"].pop(str(later), None)
                if model.skip is not None:
                    model.cfg.threshold = solve_threshold(model.keep_probs(data.maps), model.cfg.keep_ratio)
                if run_dir is not None:  # later stages' checkpoints were trained on what this stage replaced
                    save_stage(run_dir, stage, model, arrays, opts, record)
                    for later in [s for s in STAGES if s > stage]:
                        (Path(run_dir) / STAGE_FILE.format(later)).unlink(missing_ok=True)
    model.eval()
    extra = {"stages": list(range(1, todo[-1] + 1)), "stages_run": list(todo), "threshold": model.cfg.threshold,
             **record}
    return TrainResult(model.cpu(), cfg, None, history, time.perf_counter() - start, arrays.N, epoch_seconds, extra)
