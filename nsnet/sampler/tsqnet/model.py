"""The TSQNet sampler model in one file (Xia et al., ECCV 2022, "Temporal Saliency Query Network").

Two instantiations of one Temporal Saliency Query (TSQ) mechanism (§3.1) look at the same T frames:

* **VQM** (visual query module): the cached light features x^v_i in R^D, projected to d' by a
  1D convolution (kernel 1), queried by C learnable visual TSQ embeddings initialised from class
  prototypes in the light feature space (supp. A: top m = 30 % correctly predicted frames per
  video averaged, then the class mean; built by :func:`nsnet.sampler.prototypes.build_prototypes`),
  projected to d' by the same 1D convolution.
* **TQM** (textual query module): per-frame object scores O_i in R^1000 (ImageNet), kept on the
  top-10 objects (the rest zeroed), turned into x^t_i = O_i W with W [1000, E] the sentence
  embeddings of the object names; queried by C textual TSQ embeddings initialised with the class
  name embeddings; both projected to d' by one 1D convolution (kernel 1). Object features and text
  queries are scaled by sqrt(E) (unit-norm embeddings -> unit per-dimension scale); unscaled, the
  initial attention logits are ~1e-3 and TQM's attention stays flat.

The queries share the frames' 1D convolution (both live in the same space: light features,
MiniLM embeddings), and W_q, W_k start as the identity, so that before training A is the softmax
similarity between each class's initial query (prototype, name embedding) and the frames -- the
point of initialising the queries that way (Table 10). Without it, random W_q / W_k hide the
initialisation and a small toy often learns to classify from the wrong frames.

TSQ layer (supp. C.3: one layer, one head, no self-attention by default): learnable positional
embedding added to the projected frames X; Q = E W_q, K = X W_k, V = X W_v; A = softmax(Q K^T /
sqrt(d')) in R^{C x T} (the class-specific saliency), R = A V; R_hat = LayerNorm(R + FFN(R)) (FFN =
Linear-ReLU-Dropout-Linear, the transformer's post-norm residual block); a class-specific classifier
of C separate 1 x d' projections gives z_c = W_c . R_hat_c + b_c. With several layers the next
layer's queries are the previous R_hat; with several heads A is the mean over heads and R the
concatenation of the head responses.

Cross-modality interaction (Eq. 3-4): swap attention R^{t->v} = A^t V^v and R^{v->t} = A^v V^t
(the other module's attention gathers this module's *value-projected* frames, so the swapped
response lives where R does), each sent through the receiving module's FFN and classifier.
L = L_v + L_t + alpha L_{t->v} + beta L_{v->t}: softmax cross-entropy against the (normalised)
video label, binary cross-entropy for multi-label data.

Inference (Eq. 5 + supp.): per module s_i = sum over the top-5 classes c of z of p_c A_{c,i} with
p = softmax(z) (sigmoid for multi-label data): the coarse prediction as a probability, so that the
weights are non-negative. The frames are the union of the top lambda_v K frames of VQM and the top
K - lambda_v K of TQM (lambda_v K rounded half up), duplicates refilled from the VQM ranking.

Ablation switches (Tables 7-10, supp. A.2-A.5): ``attention``/``classifier`` cs|ca (``ca``
attention = one query, whose A is the saliency; ``ca`` classifier = one shared 1 x d' projection on
every class response, or Linear(d', C) on the single response of ``ca`` attention), ``modality``,
``alpha``/``beta``, ``object_topk`` (0 = all), ``visual_init`` prototype|random, ``text_init``
names|random, ``self_attention`` on the queries, ``layers``, ``heads``, ``aggregate_topk``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from nsnet.sampler.losses import classification_loss

@dataclass
class TSQNetConfig:
    """Shapes (filled from the data) and the switches of one TSQNet model."""

    # --- data shapes
    in_dim: int = 0  # D: light feature width (VQM input)
    obj_in_dim: int = 0  # width of the features the object head reads (light or recognizer)
    num_classes: int = 0
    num_frames: int = 0
    text_dim: int = 384  # E: sentence embedding width (all-MiniLM-L6-v2)
    num_objects: int = 1000
    multilabel: bool = False
    width: int = 512  # d': TSQ width (TSQNetOptions.width)
    # --- switches (TSQNetOptions holds these)
    modality: str = "both"
    attention: str = "cs"
    classifier: str = "cs"
    alpha: float = 0.6  # weight of L_{t->v}
    beta: float = 0.6  # weight of L_{v->t}
    objects: str = "light"  # where O_i comes from: light features or recognizer features
    object_topk: int = 10  # objects kept per frame (0 = all 1000)
    visual_init: str = "prototype"
    text_init: str = "names"
    self_attention: bool = False
    layers: int = 1
    heads: int = 1
    dropout: float = 0.1
    aggregate_topk: int = 5
    lambda_v: float = 0.6
    # --- provenance (recorded, not used in the forward)
    object_source: str = ""
    text_model: str = ""

    @property
    def use_visual(self) -> bool:
        return self.modality in ("both", "visual")

    @property
    def use_textual(self) -> bool:
        return self.modality in ("both", "textual")

    @property
    def num_queries(self) -> int:
        """Returns C for class-specific attention, 1 for class-agnostic attention."""
        return self.num_classes if self.attention == "cs" else 1


SHAPE_FIELDS = ("in_dim", "obj_in_dim", "num_classes", "num_frames", "text_dim", "num_objects", "multilabel",
                "width", "object_source", "text_model")
SWITCHES = tuple(f.name for f in fields(TSQNetConfig) if f.name not in SHAPE_FIELDS)  # TSQNetOptions has them


# ----------------------------------------------------------------------------- building blocks
class TSQLayer(nn.Module):
    """One TSQ (decoder) layer: optional self-attention on the queries, cross attention from the
    queries to the frames, post-norm FFN residual."""

    def __init__(self, width: int, heads: int, self_attention: bool, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.self_attn = nn.MultiheadAttention(width, heads, batch_first=True) if self_attention else None
        self.ln_self = nn.LayerNorm(width) if self_attention else None
        self.q = nn.Linear(width, width, bias=False)
        self.k = nn.Linear(width, width, bias=False)
        self.v = nn.Linear(width, width, bias=False)
        with torch.no_grad():  # start as the plain similarity of query and frame (what the query init is for)
            self.q.weight.copy_(torch.eye(width))
            self.k.weight.copy_(torch.eye(width))
        self.ffn = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Dropout(dropout), nn.Linear(width, width))
        self.ln = nn.LayerNorm(width)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """[B, L, d] -> [B, h, L, d/h]."""
        b, n, d = x.shape
        return x.view(b, n, self.heads, d // self.heads).transpose(1, 2)

    def attention(self, queries: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Returns the per-head attention [B, h, Q, T] of queries [B, Q, d] over frames [B, T, d]."""
        if self.self_attn is not None:
            queries = self.ln_self(queries + self.self_attn(queries, queries, queries, need_weights=False)[0])
        q, k = self._split(self.q(queries)), self._split(self.k(frames))
        return torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)

    def respond(self, attn: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Returns R [B, Q, d]: the value-projected frames gathered with ``attn`` [B, h, Q, T]."""
        r = attn @ self._split(self.v(frames))  # [B, h, Q, d/h]
        return r.transpose(1, 2).reshape(r.shape[0], r.shape[2], -1)

    def refine(self, r: torch.Tensor) -> torch.Tensor:
        """Returns R_hat = LayerNorm(R + FFN(R))."""
        return self.ln(r + self.ffn(r))


class CSClassifier(nn.Module):
    """Class-specific classifier: C separate 1 x d projections, z_c = W_c . R_c + b_c (Eq. 2)."""

    def __init__(self, num_classes: int, width: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(num_classes, width) / math.sqrt(width))
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return (r * self.weight).sum(-1) + self.bias


class CAClassifier(nn.Module):
    """Class-agnostic classifier: Linear(d, C) on the single response of class-agnostic attention,
    or one shared Linear(d, 1) on each of the C class responses."""

    def __init__(self, num_classes: int, width: int, num_queries: int) -> None:
        super().__init__()
        self.fc = nn.Linear(width, num_classes if num_queries == 1 else 1)
        self.single = num_queries == 1

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        return self.fc(r[:, 0]) if self.single else self.fc(r)[..., 0]


class TSQModule(nn.Module):
    """One query module (VQM or TQM): frame projection, TSQ embeddings, TSQ layers, classifier."""

    def __init__(self, cfg: TSQNetConfig, in_dim: int, query_dim: int) -> None:
        super().__init__()
        d, nq = cfg.width, cfg.num_queries
        self.proj = nn.Conv1d(in_dim, d, kernel_size=1)
        self.query = nn.Parameter(torch.randn(nq, query_dim) * 0.02)  # TSQ embeddings E (re-initialised by training)
        # queries that live in the frames' space (prototypes of light features, MiniLM embeddings) share
        # the frames' projection; otherwise they get their own
        self.query_proj = None if query_dim == in_dim else nn.Conv1d(query_dim, d, kernel_size=1)
        self.pos_emb = nn.Parameter(torch.randn(1, cfg.num_frames, d) * 0.02)
        self.layers = nn.ModuleList(TSQLayer(d, cfg.heads, cfg.self_attention, cfg.dropout) for _ in range(cfg.layers))
        if cfg.classifier == "cs":
            self.classifier: nn.Module = CSClassifier(cfg.num_classes, d)
        else:
            self.classifier = CAClassifier(cfg.num_classes, d, nq)

    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """Returns X [B, T, d']: projected frame features plus the positional embedding."""
        return self.proj(x.transpose(1, 2)).transpose(1, 2) + self.pos_emb

    def queries(self, batch: int) -> torch.Tensor:
        """Returns the projected TSQ embeddings [B, Q, d']."""
        proj = self.proj if self.query_proj is None else self.query_proj
        q = F.linear(self.query, proj.weight[:, :, 0], proj.bias)  # the kernel-1 convolution, [Q, d']
        return q[None].expand(batch, -1, -1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Returns ``frames`` X [B, T, d'], ``attn`` (last layer, per head) [B, h, Q, T], ``A`` [B, Q, T]
        (mean over heads) and ``z`` [B, C]."""
        frames = self.frames(x)
        q = self.queries(frames.shape[0])
        for layer in self.layers:
            attn = layer.attention(q, frames)
            q = layer.refine(layer.respond(attn, frames))
        return {"frames": frames, "attn": attn, "A": attn.mean(dim=1), "z": self.classifier(q)}

    def swapped(self, attn: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Returns z [B, C] of this module's frames gathered with another module's ``attn``
        (last layer): R = attn V, then this module's FFN and classifier (Eq. 3)."""
        last = self.layers[-1]
        return self.classifier(last.refine(last.respond(attn, frames)))


# ----------------------------------------------------------------------------- losses and inference
def aggregate_saliency(A: torch.Tensor, z: torch.Tensor, topk: int = 5, multilabel: bool = False) -> torch.Tensor:
    """Returns s [B, T] = sum over the ``topk`` classes of highest z of p_c A_{c,i} (Eq. 5), p the
    softmax (sigmoid if multi-label) of z. Class-agnostic attention (one row) returns that row."""
    if A.shape[1] == 1:
        return A[:, 0]
    p = torch.sigmoid(z) if multilabel else torch.softmax(z, dim=1)
    top = torch.topk(z, min(topk, z.shape[1]), dim=1).indices  # [B, k]
    weights = torch.zeros_like(p).scatter(1, top, p.gather(1, top))
    return (weights[..., None] * A).sum(dim=1)


# ----------------------------------------------------------------------------- the model
class TSQNet(nn.Module):
    """VQM + TQM with swap attention; ``forward`` returns outputs and, given labels, losses."""

    def __init__(self, cfg: TSQNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.vqm = TSQModule(cfg, cfg.in_dim, cfg.in_dim) if cfg.use_visual else None
        self.tqm = TSQModule(cfg, cfg.text_dim, cfg.text_dim) if cfg.use_textual else None
        # unit-norm sentence embeddings have per-dimension scale 1/sqrt(E): scale object features and
        # text queries by sqrt(E) so that TQM starts with attention logits of the size VQM gets
        self.text_scale = math.sqrt(cfg.text_dim)
        if cfg.use_textual:  # the fixed object head and object-name embeddings (saved with the run)
            self.register_buffer("obj_weight", torch.zeros(cfg.num_objects, cfg.obj_in_dim))
            self.register_buffer("obj_bias", torch.zeros(cfg.num_objects))
            self.register_buffer("obj_embed", torch.zeros(cfg.num_objects, cfg.text_dim))

    def object_features(self, src: torch.Tensor) -> torch.Tensor:
        """Returns x^t [B, T, E] = O W from the object head's input features ``src`` [B, T, D_o]:
        O = softmax of the ImageNet logits, kept on the top ``object_topk`` objects (0 = all)."""
        o = torch.softmax(F.linear(src.float(), self.obj_weight, self.obj_bias), dim=-1)
        k = self.cfg.object_topk
        if 0 < k < o.shape[-1]:
            top = torch.topk(o, k, dim=-1)
            o = torch.zeros_like(o).scatter(-1, top.indices, top.values)
        return (o @ self.obj_embed) * self.text_scale

    def forward(
        self, x_v: torch.Tensor | None, x_t: torch.Tensor | None, labels: torch.Tensor | None = None,
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
        """Returns (outputs, losses). Outputs: ``A_v``/``z_v`` from light features ``x_v`` [B, T, D]
        and ``A_t``/``z_t`` from object features ``x_t`` [B, T, E] (for the modules present)."""
        out: dict[str, torch.Tensor] = {}
        mv = self.vqm(x_v) if self.vqm is not None else None
        mt = self.tqm(x_t) if self.tqm is not None else None
        if mv is not None:
            out["A_v"], out["z_v"] = mv["A"], mv["z"]
        if mt is not None:
            out["A_t"], out["z_t"] = mt["A"], mt["z"]
        if labels is None:
            return out, None
        ml = self.cfg.multilabel
        losses: dict[str, torch.Tensor] = {}
        if mv is not None:
            losses["v"] = classification_loss(mv["z"], labels, ml)
        if mt is not None:
            losses["t"] = classification_loss(mt["z"], labels, ml)
        if mv is not None and mt is not None:
            if self.cfg.alpha > 0:
                losses["t2v"] = self.cfg.alpha * classification_loss(self.vqm.swapped(mt["attn"], mv["frames"]), labels, ml)
            if self.cfg.beta > 0:
                losses["v2t"] = self.cfg.beta * classification_loss(self.tqm.swapped(mv["attn"], mt["frames"]), labels, ml)
        losses["loss"] = sum(losses.values())
        return out, losses

    @torch.no_grad()
    def saliency(self, light: torch.Tensor, obj_src: torch.Tensor | None = None, topk: int | None = None,
                 modules: tuple[str, ...] = ("vqm", "tqm")) -> dict[str, torch.Tensor]:
        """Returns ``{"vqm": s^v, "tqm": s^t}`` [B, T] for the ``modules`` present (caller sets eval
        mode). ``obj_src`` feeds the object head (default: ``light``); ``topk`` overrides the
        configured aggregation top-k."""
        mv = self.vqm if "vqm" in modules else None
        mt = self.tqm if "tqm" in modules else None
        x_t = self.object_features(light if obj_src is None else obj_src) if mt is not None else None
        out: dict[str, torch.Tensor] = {}
        if mv is not None:
            r = mv(light)
            out["A_v"], out["z_v"] = r["A"], r["z"]
        if mt is not None:
            r = mt(x_t)
            out["A_t"], out["z_t"] = r["A"], r["z"]
        k, ml = topk or self.cfg.aggregate_topk, self.cfg.multilabel
        sal = {}
        if "A_v" in out:
            sal["vqm"] = aggregate_saliency(out["A_v"], out["z_v"], k, ml)
        if "A_t" in out:
            sal["tqm"] = aggregate_saliency(out["A_t"], out["z_t"], k, ml)
        return sal
