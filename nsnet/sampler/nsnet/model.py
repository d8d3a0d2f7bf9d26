"""The NSNet sampler model in one file: FEM -> FSM + VGM (paper §3.3-3.6, supp. A.1).

* FEM: Linear(D -> d) projection + learnable positional embedding + dropout(0.2) + a temporal
  encoder. ``transformer``: 2 post-norm layers, 8 heads, FFN width d, batch_first. Alternatives
  (Table 6c): ``lstm`` (bidirectional, d/2 per direction), ``conv1d`` (residual blocks of a k=3
  temporal convolution), ``mlp`` (MLP-Mixer blocks: a token-mixing MLP across the T frames, then a
  per-frame channel MLP). ``frame`` is a per-frame residual MLP without positional embedding,
  i.e. no temporal context at all (used by the SCSampler-style baseline).
* FSM: per-frame linear classifier over C (+1) classes (or one score for regression/ranking).
  Saliency s^f: max over the C real classes of the softmax (``fsm_saliency="max"``) or the
  confidence on the video's predicted class, argmax_c mean_t p_tc (``"predicted-class"``) or,
  for C + 1-way heads, 1 - p(non-salient) (``"salient"``: for data whose background is a class);
  regression uses sigmoid(score), ranking the raw score; then softmax over time.
* VGM: attention logits from Linear(d -> 1); alpha = sigmoid(logits) / sum_t sigmoid(logits), i.e.
  made non-negative by a sigmoid and then L1-normalised over time. x_sal = sum_i a_i x_i with
  a = dropout(0.2)(alpha) (training only), x_ns = sum_i (1 - alpha_i) / T x_i with the undropped
  alpha (dropout's 1/(1-p) rescaling could push a_i above 1 and make 1 - a_i negative), one
  shared classifier with dropout(0.9) before it. Saliency s^v = alpha (sums to 1 over time).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from nsnet.sampler.nsnet.losses import CLASSIFICATION_FSM, fsm_loss, vgm_loss


@dataclass
class NSNetConfig:
    """Architecture and objective of one NSNet-family model."""

    in_dim: int
    num_classes: int
    num_frames: int
    width: int = 512
    encoder: str = "transformer"
    layers: int = 2
    heads: int = 8
    pos_dropout: float = 0.2
    encoder_dropout: float = 0.1
    use_fsm: bool = True
    use_vgm: bool = True
    fsm: str = "ns"
    vgm: str = "ns"
    fsm_saliency: str = "max"
    attn_dropout: float = 0.2
    cls_dropout: float = 0.9
    gamma: float = 0.2
    ranking_margin: float = 0.1
    ns_pool: str = "mean"
    vgm_guide: float = 0.0
    vgm_guide_power: float = 1.0

    @property
    def fsm_outputs(self) -> int:
        """Returns the FSM head's output width: C, C + 1 or 1."""
        if self.fsm in ("video", "baseline+"):
            return self.num_classes
        if self.fsm in ("nonsalient", "ns"):
            return self.num_classes + 1
        return 1  # regression / ranking: one score per frame

    @property
    def vgm_outputs(self) -> int:
        """Returns the VGM classifier's output width: C (baseline) or C + 1."""
        return self.num_classes + (0 if self.vgm == "baseline" else 1)


# ----------------------------------------------------------------------------- encoders
class MixerBlock(nn.Module):
    """MLP-Mixer block over [B, T, d]: token mixing across frames, then channel mixing."""

    def __init__(self, num_frames: int, width: int, dropout: float) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.token = nn.Sequential(
            nn.Linear(num_frames, num_frames), nn.GELU(), nn.Dropout(dropout), nn.Linear(num_frames, num_frames)
        )
        self.channel = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Dropout(dropout), nn.Linear(width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.token(self.ln1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel(self.ln2(x))


class ConvBlock(nn.Module):
    """Residual temporal convolution block over [B, T, d] (kernel 3, same padding)."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(width)
        self.conv = nn.Conv1d(width, width, kernel_size=3, padding=1)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop(F.gelu(self.conv(self.ln(x).transpose(1, 2)).transpose(1, 2)))


class FrameBlock(nn.Module):
    """Residual per-frame MLP block over [B, T, d] (no exchange between frames)."""

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(width)
        self.fc = nn.Linear(width, width)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop(F.gelu(self.fc(self.ln(x))))


class LSTMEncoder(nn.Module):
    """Bidirectional LSTM over [B, T, d] returning [B, T, d]."""

    def __init__(self, width: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.lstm = nn.LSTM(width, width // 2, num_layers=layers, batch_first=True, bidirectional=True,
                            dropout=dropout if layers > 1 else 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]


def build_encoder(cfg: NSNetConfig) -> nn.Module:
    """Returns the FEM temporal encoder named by ``cfg.encoder``."""
    d, p = cfg.width, cfg.encoder_dropout
    if cfg.encoder == "transformer":
        layer = nn.TransformerEncoderLayer(d, cfg.heads, dim_feedforward=d, dropout=p, batch_first=True)
        return nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
    if cfg.encoder == "lstm":
        return LSTMEncoder(d, cfg.layers, p)
    if cfg.encoder == "conv1d":
        return nn.Sequential(*[ConvBlock(d, p) for _ in range(cfg.layers)])
    if cfg.encoder == "mlp":
        return nn.Sequential(*[MixerBlock(cfg.num_frames, d, p) for _ in range(cfg.layers)])
    if cfg.encoder == "frame":
        return nn.Sequential(*[FrameBlock(d, p) for _ in range(cfg.layers)])
    raise ValueError(f"unknown encoder {cfg.encoder!r}")


# ----------------------------------------------------------------------------- modules
class FEM(nn.Module):
    """Feature Embedding Module: [B, T, D] light features -> [B, T, d] embeddings."""

    def __init__(self, cfg: NSNetConfig) -> None:
        super().__init__()
        self.proj = nn.Linear(cfg.in_dim, cfg.width)
        self.pos_emb = None  # the "frame" encoder has no temporal context at all
        if cfg.encoder != "frame":
            self.pos_emb = nn.Parameter(torch.randn(1, cfg.num_frames, cfg.width) * 0.02)
        self.drop = nn.Dropout(cfg.pos_dropout)
        self.encoder = build_encoder(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.proj(x)
        if self.pos_emb is not None:
            h = h + self.pos_emb
        return self.encoder(self.drop(h))


class FSM(nn.Module):
    """Frame Scrutinize Module: per-frame classifier (or scorer) and its saliency rule."""

    def __init__(self, cfg: NSNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.head = nn.Linear(cfg.width, cfg.fsm_outputs)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(h)

    def saliency(self, out: torch.Tensor, rule: str | None = None) -> torch.Tensor:
        """Returns s^f [B, T]: the per-frame saliency of head outputs ``out``, softmaxed over time,
        by the configured ``fsm_saliency`` rule or, for classification heads, by ``rule``."""
        rule = rule or self.cfg.fsm_saliency
        if self.cfg.fsm in CLASSIFICATION_FSM and rule == "salient":
            if out.shape[-1] != self.cfg.num_classes + 1:
                raise ValueError(f"the salient rule needs a non-salient class; fsm={self.cfg.fsm} has none")
            score = 1.0 - F.softmax(out, dim=-1)[..., self.cfg.num_classes]
        elif self.cfg.fsm in CLASSIFICATION_FSM:
            probs = F.softmax(out, dim=-1)[..., : self.cfg.num_classes]
            if rule == "predicted-class":
                cls = probs.mean(dim=1).argmax(dim=-1)  # [B]
                score = probs.gather(2, cls[:, None, None].expand(-1, probs.shape[1], 1))[..., 0]
            else:
                score = probs.max(dim=-1).values
        elif self.cfg.fsm == "regression":
            score = torch.sigmoid(out[..., 0])
        else:  # ranking
            score = out[..., 0]
        return F.softmax(score, dim=1)


class VGM(nn.Module):
    """Video Glimpse Module: temporal attention, salient / non-salient video classification."""

    def __init__(self, cfg: NSNetConfig) -> None:
        super().__init__()
        self.attn = nn.Linear(cfg.width, 1)
        self.attn_drop = nn.Dropout(cfg.attn_dropout)
        self.cls_drop = nn.Dropout(cfg.cls_dropout)
        self.classifier = nn.Linear(cfg.width, cfg.vgm_outputs)
        self.with_ns = cfg.vgm == "ns"
        self.ns_pool = cfg.ns_pool

    def attention(self, h: torch.Tensor) -> torch.Tensor:
        """Returns alpha [B, T]: sigmoid attention weights L1-normalised over time."""
        a = torch.sigmoid(self.attn(h)[..., 0])
        return a / a.sum(dim=1, keepdim=True)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Returns (alpha [B, T], salient logits [B, K], non-salient logits [B, K] or None)."""
        alpha = self.attention(h)
        a = self.attn_drop(alpha)
        x_sal = (a[..., None] * h).sum(dim=1)
        sal = self.classifier(self.cls_drop(x_sal))
        ns = None
        if self.with_ns:
            if self.ns_pool == "complement":  # pool by 1 - sigmoid: the attended frames leave the non-salient feature
                rest = 1.0 - torch.sigmoid(self.attn(h)[..., 0])
                x_ns = (rest[..., None] * h).sum(dim=1) / rest.sum(dim=1, keepdim=True).clamp_min(1e-6)
            else:  # "mean" (as before): alpha sums to 1, so 1 - alpha ~ 1 on every frame and x_ns ~ mean(h)
                x_ns = ((1.0 - alpha)[..., None] * h).sum(dim=1) / h.shape[1]  # alpha in [0, 1]: 1 - alpha >= 0
            ns = self.classifier(self.cls_drop(x_ns))
        return alpha, sal, ns


class NSNet(nn.Module):
    """FEM + optional FSM + optional VGM; ``forward`` returns outputs and, given labels, losses."""

    def __init__(self, cfg: NSNetConfig) -> None:
        super().__init__()
        if not (cfg.use_fsm or cfg.use_vgm):
            raise ValueError("NSNet needs at least one of the FSM and VGM branches")
        self.cfg = cfg
        self.fem = FEM(cfg)
        self.fsm = FSM(cfg) if cfg.use_fsm else None
        self.vgm = VGM(cfg) if cfg.use_vgm else None

    def forward(
        self,
        x: torch.Tensor,
        labels: torch.Tensor | None = None,
        g: torch.Tensor | None = None,
        class_weights: torch.Tensor | None = None,
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
        """Returns (outputs, losses). ``outputs`` holds ``fsm`` [B, T, K] and/or ``alpha`` [B, T],
        ``sal`` [B, K'] and ``ns`` [B, K']. ``losses`` (None without ``labels``) holds ``fsm``,
        ``vgm`` and their sum ``loss`` (Eq. 4); ``g`` / ``class_weights`` are the guiding scores."""
        h = self.fem(x)
        out: dict[str, torch.Tensor] = {}
        if self.fsm is not None:
            out["fsm"] = self.fsm(h)
        if self.vgm is not None:
            out["alpha"], out["sal"], ns = self.vgm(h)
            if ns is not None:
                out["ns"] = ns
        if labels is None:
            return out, None
        losses: dict[str, torch.Tensor] = {}
        if self.fsm is not None:
            losses["fsm"] = fsm_loss(self.cfg.fsm, out["fsm"], labels, g, class_weights, self.cfg.ranking_margin)
        if self.vgm is not None:
            losses["vgm"] = vgm_loss(self.cfg.vgm, out["sal"], out.get("ns"), labels, self.cfg.gamma)
            if self.cfg.vgm_guide > 0 and g is not None:  # attention supervised by the guide (a fix attempt)
                target = g.clamp_min(0) ** self.cfg.vgm_guide_power
                target = target / target.sum(dim=1, keepdim=True).clamp_min(1e-6)
                losses["vgm_guide"] = -self.cfg.vgm_guide * (target * out["alpha"].clamp_min(1e-8).log()).sum(1).mean()
        losses["loss"] = sum(losses.values())
        return out, losses

    @torch.no_grad()
    def saliency(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Returns ``{"fsm": s^f [B, T], "vgm": s^v [B, T]}`` for the branches present (the
        caller sets eval mode)."""
        out, _ = self.forward(x)
        sal: dict[str, torch.Tensor] = {}
        if self.fsm is not None:
            sal["fsm"] = self.fsm.saliency(out["fsm"])
        if self.vgm is not None:
            sal["vgm"] = out["alpha"]
        return sal
