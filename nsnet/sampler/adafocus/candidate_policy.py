"""π with ``policy_input=candidates``: every candidate scored from the light map pooled over its box.

The paper's π (:class:`~nsnet.sampler.adafocus.model.PatchPolicy`) flattens the whole h x w map
into one vector and maps it to G*G logits: "candidate 20 is good" has to be learnt for every
place separately, and with a near-chance f_C (a weak reward) PPO settles on one fixed candidate
(RESULTS, "Where the policy looks"). This π instead pools the same map over each candidate's box
(area-weighted mean of the map cells it covers, :func:`candidate_pooling`) and scores every
candidate with one shared layer, so a photo that is recognised in one place is recognised in any
place: the choice moves with the content. The map's GRU state (the paper's temporal context) and a
learnt per-candidate prior are added to each score; the critic reads the GRU state. It reads only
the cached light map, so its cost is π's (no local feature is needed before choosing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn as nn

from nsnet.sampler.adafocus.map_trunk import MapTrunk


def _interval_overlap(lo: float, hi: float, cells: int) -> torch.Tensor:
    """Returns [cells]: the length of [lo, hi) inside each unit cell [i, i + 1) of 0..cells."""
    edges = torch.arange(cells + 1, dtype=torch.float64)
    return (torch.minimum(edges[1:], torch.tensor(hi)) - torch.maximum(edges[:-1], torch.tensor(lo))).clamp_min(0.0)


def candidate_pooling(boxes: Sequence[Sequence[float]], map_height: int, map_width: int) -> torch.Tensor:
    """Returns float32 [A, h*w]: row a holds the share of candidate a's box (x0, y0, x1, y1 in map
    cell units) lying in each map cell (row-major), summing to 1; a box that misses the map gets
    uniform weights."""
    rows = []
    for x0, y0, x1, y1 in boxes:
        area = torch.outer(_interval_overlap(y0, y1, map_height), _interval_overlap(x0, x1, map_width)).reshape(-1)
        total = float(area.sum())
        rows.append(area / total if total > 0 else torch.full_like(area, 1.0 / area.numel()))
    return torch.stack(rows).float()


def _crop_share(spec: Mapping[str, Any]) -> float:
    """Returns input_size / resize_short of a model spec: the share of the short side its centre crop
    keeps (1 when the spec does not say, e.g. a synthetic store)."""
    size, short = spec.get("input_size"), spec.get("resize_short")
    return float(size) / float(short) if size and short else 1.0


def boxes_on_map(geometry: Mapping[str, Any], local_spec: Mapping[str, Any], light_spec: Mapping[str, Any],
                 map_height: int, map_width: int) -> list[list[float]]:
    """Returns the candidate boxes in light-map cell units, [[x0, y0, x1, y1], ...].

    ``geometry`` is the store's patch geometry (boxes in the recognizer's square input frame);
    ``local_spec`` / ``light_spec`` are the recognizer / extractor specs (``input_size``,
    ``resize_short``): both frames are centre crops of the same video frame, covering the share
    input_size / resize_short of its short side, so a point at fraction f of the recognizer's crop
    lies at 0.5 + (f - 0.5) * s_local / s_light of the light crop."""
    width, height = geometry["frame_size"]
    ratio = _crop_share(local_spec) / _crop_share(light_spec)

    def to_map(v: float, extent: float, cells: int) -> float:
        return (0.5 + (v / extent - 0.5) * ratio) * cells

    return [[to_map(x0, width, map_width), to_map(y0, height, map_height), to_map(x1, width, map_width),
             to_map(y1, height, map_height)] for x0, y0, x1, y1 in geometry["boxes"]]


class CandidatePolicy(MapTrunk):
    """π scoring each candidate from its pooled map cells (shared weights), the map's GRU state and
    a per-candidate prior; the critic reads the GRU state. Same outputs as ``PatchPolicy``."""

    def __init__(self, map_dim: int, map_cells: int, channels: int, hidden: int,
                 boxes: Sequence[Sequence[float]], map_height: int, map_width: int) -> None:
        super().__init__(map_dim, map_cells, channels, hidden)
        self.register_buffer("pool", candidate_pooling(boxes, map_height, map_width), persistent=False)
        self.local = nn.Linear(channels, hidden)
        self.context = nn.Linear(hidden, hidden)
        self.score = nn.Linear(hidden, 1)
        self.prior = nn.Parameter(torch.zeros(len(boxes)))
        self.add_critic(hidden)

    def forward(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (actor logits [B, K, A], values [B, K]) for maps [B, K, D, h, w]."""
        b, k = maps.shape[:2]
        z, states = self.encode(maps)  # z [B*K, c, h, w], states [B, K, H]
        pooled = torch.einsum("ap,ncp->nac", self.pool, z.flatten(2))  # [B*K, A, c]
        joint = torch.tanh(self.local(pooled).reshape(b, k, -1, states.shape[-1]) + self.context(states)[:, :, None])
        return self.score(joint)[..., 0] + self.prior, self.value(states)
