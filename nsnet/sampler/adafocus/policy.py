"""AdaFocus stage II: PPO on the patch policy π (and π' for AdaFocus+) with f_C frozen."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

from nsnet.sampler.adafocus.model import AdaFocus
from nsnet.sampler.adafocus.ppo import advantages, discounted_returns, ppo_loss
from nsnet.sampler.adafocus.rewards import (
    bernoulli_entropy,
    bernoulli_log_prob,
    rollout_rewards,
    sample_bernoulli,
    sample_categorical,
)
from nsnet.sampler.adafocus.stages import StageLoop, check_finite, policies_train


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
            penalty: float = 0.0, track: bool = False, baseline: str = "paper") -> Rollout:
    """Returns a :class:`Rollout`: π (and π') sampled on ``maps``, rewards from the frozen f_C
    (:func:`rollout_rewards`), returns with ``gamma`` and advantages against the critics.
    ``local_of(cand [B, T, ...])`` gives the local features [B, T, ..., D2]. ``baseline`` "paper" compares with one uniformly random candidate (Eq. 7),
    "mean" with the mean over every candidate (option ``reward``).
    ``track`` keeps the policies' outputs with their graph in ``Rollout.outputs``."""
    with torch.set_grad_enabled(track):
        outputs = model.policy(maps) + (model.skip(maps) if model.skip is not None else (None, None))
    with torch.no_grad():
        logits, values, z, values_b = (None if o is None else o.detach() for o in outputs)
        cand = sample_categorical(logits, gen)
        old_logp = torch.log_softmax(logits, -1).gather(-1, cand[..., None])[..., 0]
        # the baseline's candidates: one random per frame (Eq. 7; drawn in both modes, so the generator's
        # stream is the same) or every candidate [B, T, A]
        alternative = torch.randint(model.cfg.num_candidates, cand.shape, generator=gen)
        if baseline == "mean":
            alternative = torch.arange(model.cfg.num_candidates).expand(*cand.shape, model.cfg.num_candidates)
        keep = old_logp_b = None
        if model.skip is not None:
            keep = sample_bernoulli(z, gen)
            old_logp_b = bernoulli_log_prob(z, keep)
        r, r_b = rollout_rewards(model.classifier, global_feats, local_of(cand), local_of(alternative), labels,
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


SATURATED = 0.01  # π''s keep probability within this of 0 or 1: it (almost) never samples the other action


def saturated_share(keep_logits: torch.Tensor) -> float:
    """Returns the share of frames whose keep probability sigmoid(``keep_logits``) lies within
    :data:`SATURATED` of 0 or 1: frames where π' no longer explores the other action."""
    p = torch.sigmoid(keep_logits.detach().float())
    return float(((p > 1 - SATURATED) | (p < SATURATED)).float().mean())


def saturation_warning(saturated: list[float], level: float = 0.9) -> str | None:
    """Returns a warning line when π' ended stage II saturated (its last epoch's :func:`saturated_share`
    >= ``level``), naming the epoch from which it stayed at that level; None otherwise (or without AdaFocus+)."""
    if not saturated or saturated[-1] < level:
        return None
    first = len(saturated)
    while first > 1 and saturated[first - 2] >= level:
        first -= 1
    return (f"warning: AdaFocus+'s skip policy π' saturated in stage II (from epoch {first} of {len(saturated)}; "
            f"keep probability within {SATURATED} of 0 or 1 on {saturated[-1]:.0%} of the train frames in the last "
            "epoch): it no longer tries the other action, so it cannot learn which frames to skip; a larger PPO "
            "entropy bonus (--option entropy_coef=0.05) keeps it exploring")


def train_policy(loop: StageLoop, epochs: int) -> tuple[list[float], list[float], list[float], list[float]]:
    """Runs stage II (PPO on π, and π' for AdaFocus+) in place with f_C frozen; returns the mean PPO
    loss, the mean reward r_t of π's sampled candidates, π''s :func:`saturated_share` over the epoch's
    rollouts (empty without AdaFocus+) and the seconds of every epoch."""
    model, data, o = loop.model, loop.data, loop.opts
    gen = loop.generator(2)
    params = list(model.policy.parameters()) + ([] if model.skip is None else list(model.skip.parameters()))
    opt = torch.optim.Adam(params, lr=o["policy_lr"])
    model.classifier.eval()
    penalty = o["lam"] * float(model.cfg.patch_size) ** 2
    for net in (model.policy, model.skip):
        if net is not None:
            net.detach_critic = not o["shared_critic"]
    losses, rewards, saturated, seconds = [], [], [], []
    for _ in range(epochs):
        tic = time.perf_counter()
        policies_train(model, True)
        total, reward_sum, saturated_sum, count = 0.0, 0.0, 0.0, 0
        for idx in loop.batches(gen):
            g, y = data.batch(idx)
            ro = rollout(model, data.maps_of(idx), g, y, lambda c: data.local(idx, c), gen, o["gamma"], penalty,
                         track=True, baseline=o["reward"])
            ro_keep_logits = ro.outputs[2]  # π''s keep logits (None without AdaFocus+), before ppo_batch_loss takes them
            for _ in range(o["ppo_epochs"]):
                loss = ppo_batch_loss(model, ro, o["clip"], o["value_coef"], o["entropy_coef"])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            value = check_finite(float(loss.detach()), "PPO loss")
            reward = float(ro.reward.mean())
            if ro.keep is not None:  # π''s logits at the rollout (before this batch's updates)
                saturated_sum += saturated_share(ro_keep_logits) * idx.numel()
            total, reward_sum, count = total + value * idx.numel(), reward_sum + reward * idx.numel(), count + idx.numel()
            loop.advance(f"{value:.4f}, reward {reward:+.4f} (stage 2)")
        losses.append(total / max(count, 1))
        rewards.append(reward_sum / max(count, 1))
        if model.skip is not None:
            saturated.append(saturated_sum / max(count, 1))
        seconds.append(time.perf_counter() - tic)
    policies_train(model, False)
    return losses, rewards, saturated, seconds
