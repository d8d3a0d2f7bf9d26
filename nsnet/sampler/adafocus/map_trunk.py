"""The trunk both patch policies share: π's 1x1 convolution (ReLU) over the light map, a GRU over
the flattened maps of the frames so far, and the critic's value read from the GRU state.

:class:`~nsnet.sampler.adafocus.model.PatchPolicy` (the paper's π, and π' of AdaFocus+) and
:class:`~nsnet.sampler.adafocus.candidate_policy.CandidatePolicy` put their own actor on it. A
subclass builds its actor layers between :meth:`MapTrunk.__init__` and :meth:`MapTrunk.add_critic`,
so every layer keeps its place in the order of initialisation (and its name in checkpoints).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class MapTrunk(nn.Module):
    """conv (1x1, ReLU) -> flatten -> GRU, and the critic on the GRU state."""

    critic: nn.Linear

    def __init__(self, map_dim: int, map_cells: int, channels: int, hidden: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(map_dim, channels, kernel_size=1)
        self.gru = nn.GRU(channels * map_cells, hidden, batch_first=True)
        self.detach_critic = False  # option shared_critic=false: the value loss does not train the trunk

    def add_critic(self, hidden: int) -> None:
        """Adds the critic (value of a GRU state); call it after the actor's layers."""
        self.critic = nn.Linear(hidden, 1)

    def encode(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (z [B*K, c, h, w]: the conv's ReLU output per frame, states [B, K, H]: the GRU's)
        for maps [B, K, D, h, w]."""
        b, k = maps.shape[:2]
        x = maps.flatten(0, 1).float().contiguous(memory_format=torch.channels_last)  # the fast 1x1 conv on a CPU
        z = F.relu(self.conv(x))
        states, _ = self.gru(z.reshape(b, k, -1))
        return z, states

    def value(self, states: torch.Tensor) -> torch.Tensor:
        """Returns the critic's values [B, K] of GRU states [B, K, H] (on a detached state when
        ``detach_critic``)."""
        return self.critic(states.detach() if self.detach_critic else states)[..., 0]
