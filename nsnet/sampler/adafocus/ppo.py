"""Proximal policy optimisation (Schulman et al. 2017) as pure tensor functions, for AdaFocus.

AdaFocus (§3.2, Eq. 6) maximises the discounted sum of per-frame rewards with "off-the-shelf PPO";
the pieces used by :mod:`nsnet.sampler.adafocus.train`:

* :func:`discounted_returns` -- G_t = r_t + gamma G_{t+1} over the T steps of each episode (one
  episode = one video), the return to go from step t;
* :func:`advantages` -- A_t = G_t - V(s_t) with the critic's values detached, normalised to zero
  mean and unit standard deviation over the batch (the usual PPO practice; the paper is silent);
* :func:`ppo_clip_loss` -- the clipped surrogate -mean(min(rho A, clip(rho, 1-eps, 1+eps) A)) with
  rho = exp(new_logp - old_logp);
* :func:`value_loss` -- mean squared error of the critic against the returns.

The entropy bonus is the policy distribution's own ``entropy()``; :func:`ppo_loss` combines the
three terms with their coefficients.
"""

from __future__ import annotations

import torch


def discounted_returns(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """Returns G [B, T] with G_t = sum_{k >= t} gamma^(k - t) r_k for ``rewards`` [B, T] (each row one
    episode; the last step bootstraps nothing)."""
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
    out = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * running
        out[:, t] = running
    return out


def advantages(returns: torch.Tensor, values: torch.Tensor, normalise: bool = True, eps: float = 1e-8) -> torch.Tensor:
    """Returns A = returns - values (values detached), normalised over all entries to zero mean and
    unit standard deviation when ``normalise`` (a single entry is only centred)."""
    adv = returns - values.detach()
    if not normalise:
        return adv
    adv = adv - adv.mean()
    if adv.numel() > 1:
        adv = adv / (adv.std() + eps)
    return adv


def ppo_clip_loss(new_logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, clip: float = 0.2) -> torch.Tensor:
    """Returns the scalar clipped surrogate loss -mean(min(rho A, clip(rho, 1 - clip, 1 + clip) A)),
    rho = exp(new_logp - old_logp); ``old_logp`` and ``advantages`` are treated as constants."""
    ratio = torch.exp(new_logp - old_logp.detach())
    adv = advantages.detach()
    surrogate = torch.minimum(ratio * adv, torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * adv)
    return -surrogate.mean()


def value_loss(values: torch.Tensor, returns: torch.Tensor) -> torch.Tensor:
    """Returns the scalar mean squared error between the critic's ``values`` and the ``returns``."""
    return torch.mean((values - returns.detach()) ** 2)


def ppo_loss(
    new_logp: torch.Tensor, old_logp: torch.Tensor, adv: torch.Tensor, values: torch.Tensor, returns: torch.Tensor,
    entropy: torch.Tensor, *, clip: float = 0.2, value_coef: float = 0.5, entropy_coef: float = 0.01,
) -> torch.Tensor:
    """Returns the scalar PPO loss: clipped surrogate + value_coef * value MSE - entropy_coef * mean
    entropy."""
    return (ppo_clip_loss(new_logp, old_logp, adv, clip) + value_coef * value_loss(values, returns)
            - entropy_coef * entropy.mean())
