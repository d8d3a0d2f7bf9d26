"""The AdaFocus model in one file (Wang et al., ICCV 2021, "Adaptive Focus for Efficient Video
Recognition"), trained on cached tensors only.

A light global CNN f_G glances at each of the T frames; a policy π picks one P x P patch among
G*G fixed candidates; the expensive local CNN f_L runs on that patch only; a recurrent classifier
f_C reads both. Here f_G and f_L are frozen and cached in the feature store: f_G's spatial map
e^G_t [D, h, w] (``light/feature_maps``) and its pooled feature ē^G_t (``light/features``), and
f_L's pooled feature ē^L_t of *every* candidate (``patches/features`` [T, G*G, D2]). Choosing a
patch is then indexing a tensor, and everything below trains in seconds to minutes on a CPU.

* **f_C** :class:`PatchClassifier` (Eq. 4): one-layer GRU over [ē^G_t, b_t ē^L_t] (b_t = 1 unless
  AdaFocus+ skips the frame, Eq. 9), dropout, a linear layer: a prediction at every step; the
  video's prediction is the last step's (offline setting, §3.4). Paper: hidden 1024; default here
  256 (option ``hidden``).
* **π** :class:`PatchPolicy` (Eq. 3, Fig. 3): 1x1 convolution on the map (D -> ``policy_channels``
  = 32, ReLU; no pooling, to keep where things are), flattened, a one-layer GRU (``policy_hidden``
  = 256; paper 1024), a linear actor giving a categorical distribution over the G*G candidates and
  a linear critic (the value for PPO). Its input is the map only, so all T choices can be made
  before any local feature exists. Sampled while training, argmax at test time. Used with option
  ``policy_input=map``; the default ``policy_input=candidates`` is
  :class:`~.candidate_policy.CandidatePolicy` (each candidate scored from the map pooled over its
  box, shared weights), which follows the content where the paper's π settles on one place.
* **π'** :class:`SkipPolicy` (AdaFocus+, Eq. 8): the same inputs and architecture with one
  Bernoulli output p^B_t = Pr(keep frame t); at inference a frame's patch goes through f_L when
  p^B_t >= ρ, the threshold solved on the train set so that a share η (``keep_ratio``) of the
  frames is kept.

Inference API (all three take float16 or float32 tensors on any device, run under ``no_grad``
and leave the training mode alone -- the caller puts the model in eval mode, as ``load_run``
does): :meth:`AdaFocus.choose_patches`, :meth:`AdaFocus.keep_mask` and :meth:`AdaFocus.classify`.
K may be any number of frames <= T (e.g. the K frames an NSNet run selected, in time order).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from nsnet.sampler.adafocus.candidate_policy import CandidatePolicy
from nsnet.sampler.adafocus.map_trunk import MapTrunk

_CHUNK = 128  # videos per forward in the inference methods (bounds the float32 copy of the maps)


@dataclass
class AdaFocusConfig:
    """Shapes (filled from the store) and the architecture of one AdaFocus model."""

    global_dim: int = 0  # D: pooled light feature ē^G (= map channels)
    map_dim: int = 0  # D of the map e^G [D, h, w]
    map_height: int = 0
    map_width: int = 0
    local_dim: int = 0  # D2: local CNN (recognizer backbone) feature of a patch
    num_candidates: int = 0  # G*G
    num_classes: int = 0
    num_frames: int = 0  # T it was trained on (any K <= T works at inference)
    patch_size: int = 0  # P in pixels (AdaFocus+ penalty lambda P^2)
    multilabel: bool = False
    hidden: int = 256  # f_C GRU (paper: 1024)
    policy_hidden: int = 256  # π / π' GRU (paper: 1024)
    policy_channels: int = 32  # 1x1 conv output channels
    dropout: float = 0.2  # on f_C's GRU output, before its linear head
    skip: bool = False  # AdaFocus+: has π'
    keep_ratio: float = 1.0  # η: share of frames AdaFocus+ keeps at inference
    threshold: float | None = None  # ρ solved for keep_ratio on the train set; None: keep every frame
    policy_input: str = "map"  # π's input: "map" (the paper; what a model saved without the field has) or "candidates"
    candidate_boxes: list[list[float]] | None = None  # candidates in light-map cells (policy_input=candidates)


# ----------------------------------------------------------------------------- modules
class PatchClassifier(nn.Module):
    """f_C: GRU over [ē^G_t, b_t ē^L_t] with a class prediction at every step (Eq. 4 / Eq. 9)."""

    def __init__(self, global_dim: int, local_dim: int, hidden: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.global_dim, self.local_dim = global_dim, local_dim
        self.gru = nn.GRU(global_dim + local_dim, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, num_classes)

    @staticmethod
    def inputs(global_feats: torch.Tensor, local_feats: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Returns the GRU inputs [..., D + D2] = [ē^G, b ē^L]: ``keep`` [...] (bool or 0/1) zeroes
        the local features of skipped frames (Eq. 9); None keeps all."""
        local = local_feats.float()
        if keep is not None:
            local = local * keep.to(local.dtype).unsqueeze(-1)
        return torch.cat([global_feats.float(), local], dim=-1)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (logits [B, K, C] at every step, hidden states [B, K, H]) for inputs ``x`` [B, K, D + D2]."""
        states, _ = self.gru(x, None if h0 is None else h0.unsqueeze(0).contiguous())
        return self.head(self.drop(states)), states

    def step(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Returns the logits [M, C] of one GRU step on inputs ``x`` [M, D + D2] from hidden states
        ``h`` [M, H] (M independent rows: e.g. every (video, t) pair with an alternative patch)."""
        out, _ = self.gru(x.unsqueeze(1), h.unsqueeze(0).contiguous())
        return self.head(self.drop(out[:, 0]))


class PatchPolicy(MapTrunk):
    """π: 1x1 conv (ReLU) on the map -> flatten -> GRU -> actor (``outputs`` logits) and critic."""

    def __init__(self, map_dim: int, map_cells: int, channels: int, hidden: int, outputs: int) -> None:
        super().__init__(map_dim, map_cells, channels, hidden)
        self.actor = nn.Linear(hidden, outputs)
        self.add_critic(hidden)

    def forward(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (actor logits [B, K, outputs], values [B, K]) for maps [B, K, D, h, w]."""
        _, states = self.encode(maps)
        return self.actor(states), self.value(states)


class SkipPolicy(PatchPolicy):
    """π' (AdaFocus+): the same inputs and architecture as π with one output, the logit of the
    Bernoulli keep probability p^B_t (Eq. 8)."""

    def __init__(self, map_dim: int, map_cells: int, channels: int, hidden: int) -> None:
        super().__init__(map_dim, map_cells, channels, hidden, 1)

    def forward(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (keep logits [B, K], values [B, K]) for maps [B, K, D, h, w]."""
        logits, values = super().forward(maps)
        return logits[..., 0], values


# ----------------------------------------------------------------------------- helpers
def probabilities(logits: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """Returns class probabilities of ``logits`` [..., C]: softmax, or sigmoid for multi-label data."""
    return torch.sigmoid(logits) if multilabel else torch.softmax(logits, dim=-1)


def label_confidence(logits: torch.Tensor, labels: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """Returns p_ty [...]: the confidence on the ground truth for ``logits`` [..., C] and multi-hot
    ``labels`` broadcastable to them -- the mean probability over the positive labels (softmax;
    mean sigmoid for multi-label data)."""
    target = labels / labels.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    return (probabilities(logits, multilabel) * target).sum(dim=-1)


# ----------------------------------------------------------------------------- the model
class AdaFocus(nn.Module):
    """f_C + π (+ π' for AdaFocus+) on cached features; see the module docstring."""

    def __init__(self, cfg: AdaFocusConfig) -> None:
        super().__init__()
        self.cfg = cfg
        cells = cfg.map_height * cfg.map_width
        self.classifier = PatchClassifier(cfg.global_dim, cfg.local_dim, cfg.hidden, cfg.num_classes, cfg.dropout)
        self.policy: nn.Module
        if cfg.policy_input == "candidates":
            if cfg.candidate_boxes is None or len(cfg.candidate_boxes) != cfg.num_candidates:
                raise ValueError("policy_input=candidates needs one candidate box per candidate (candidate_boxes)")
            self.policy = CandidatePolicy(cfg.map_dim, cells, cfg.policy_channels, cfg.policy_hidden,
                                          cfg.candidate_boxes, cfg.map_height, cfg.map_width)
        else:
            self.policy = PatchPolicy(cfg.map_dim, cells, cfg.policy_channels, cfg.policy_hidden, cfg.num_candidates)
        self.skip = SkipPolicy(cfg.map_dim, cells, cfg.policy_channels, cfg.policy_hidden) if cfg.skip else None

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def _chunks(self, n: int) -> range:
        return range(0, n, _CHUNK)

    @torch.no_grad()
    def choose_patches(self, maps: torch.Tensor) -> torch.Tensor:
        """Returns the chosen candidate of every frame, LongTensor [N, K] in 0..G*G-1 (π's argmax),
        for light maps ``maps`` [N, K, D, h, w] (float16 or float32), on the maps' device."""
        dev = self._device()
        out = [self.policy(maps[lo : lo + _CHUNK].to(dev))[0].argmax(dim=-1) for lo in self._chunks(maps.shape[0])]
        return torch.cat(out).to(maps.device) if out else torch.zeros(maps.shape[:2], dtype=torch.long)

    @torch.no_grad()
    def keep_probs(self, maps: torch.Tensor) -> torch.Tensor:
        """Returns p^B [N, K] (π''s probability of processing each frame's patch; all ones without
        AdaFocus+) for ``maps`` [N, K, D, h, w], on the maps' device."""
        if self.skip is None:
            return torch.ones(maps.shape[:2], device=maps.device)
        dev = self._device()
        out = [torch.sigmoid(self.skip(maps[lo : lo + _CHUNK].to(dev))[0]) for lo in self._chunks(maps.shape[0])]
        return torch.cat(out).to(maps.device)

    @torch.no_grad()
    def keep_mask(self, maps: torch.Tensor, threshold: float | None = None) -> torch.Tensor:
        """Returns BoolTensor [N, K]: which frames' patches go through f_L -- p^B >= ρ (``threshold``,
        default the one solved at training for the run's ``keep_ratio``); all True unless AdaFocus+
        with a threshold."""
        rho = self.cfg.threshold if threshold is None else threshold
        if self.skip is None or rho is None:
            return torch.ones(maps.shape[:2], dtype=torch.bool, device=maps.device)
        return self.keep_probs(maps) >= rho

    @torch.no_grad()
    def classify(self, global_feats: torch.Tensor, local_feats: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Returns the video probabilities [N, C] (softmax; sigmoid for multi-label) of f_C's last
        step over ``global_feats`` ē^G [N, K, D] and the chosen patches' ``local_feats`` ē^L [N, K, D2];
        ``keep`` [N, K] zeroes the local features of skipped frames (Eq. 9); None keeps all."""
        dev = self._device()
        out = []
        for lo in self._chunks(global_feats.shape[0]):
            k = None if keep is None else keep[lo : lo + _CHUNK].to(dev)
            x = self.classifier.inputs(global_feats[lo : lo + _CHUNK].to(dev), local_feats[lo : lo + _CHUNK].to(dev), k)
            out.append(probabilities(self.classifier(x)[0][:, -1], self.cfg.multilabel))
        if not out:
            return torch.zeros(0, self.cfg.num_classes)
        return torch.cat(out).to(global_feats.device)
