"""TSQNet's typed options: the model switches of the ablations (Tables 7-10, supp. A.2-A.5) and
its training recipe (supp. A: SGD momentum 0.9, lr 1e-2, batch 64, x0.1 at 25/50/75 % of the epochs)."""

from __future__ import annotations

from dataclasses import dataclass

from nsnet.sampler.loop import SGDOptions
from nsnet.sampler.options import SamplerConfigError, option

_PROB = dict(min=0.0, max=1.0, max_open=True)


@dataclass
class TSQNetOptions(SGDOptions):
    """The options of variant ``tsqnet`` (see :mod:`nsnet.sampler.tsqnet.model` for the switches)."""

    epochs: int = option(120, "training epochs (the TSQNet paper: 100)", min=1)
    lr_milestones: list[float] = option([0.25, 0.5, 0.75], "fractions of the epochs where the lr decays (supp. A)",
                                        min=0, max=1)
    width: int = option(512, "d': TSQ width", min=1)
    proto_eps: float = option(0.3, "visual query init: top fraction m of correctly predicted frames per video",
                              min=0.0, max=1.0, min_open=True)
    modality: str = option("both", "query modules: both (VQM + TQM), visual or textual",
                           choices=("both", "visual", "textual"))
    attention: str = option("cs", "cs = class-specific queries, ca = one class-agnostic query", choices=("cs", "ca"))
    classifier: str = option("cs", "cs = class-specific classifier, ca = shared", choices=("cs", "ca"))
    alpha: float = option(0.6, "weight of the swapped loss L_{t->v}", min=0.0)
    beta: float = option(0.6, "weight of the swapped loss L_{v->t}", min=0.0)
    objects: str = option("light", "ImageNet object scores from the cached light or recognizer features",
                          choices=("light", "recognizer"))
    object_topk: int = option(10, "objects kept per frame (0 = all)", min=0)
    visual_init: str = option("prototype", "visual query init", choices=("prototype", "random"))
    text_init: str = option("names", "textual query init: class-name embeddings or random", choices=("names", "random"))
    self_attention: bool = option(False, "self-attention on the queries")
    layers: int = option(1, "TSQ layers", min=1)
    heads: int = option(1, "TSQ heads (width must be divisible by heads)", min=1)
    dropout: float = option(0.1, "dropout in the TSQ layers", **_PROB)
    aggregate_topk: int = option(5, "classes summed in the saliency (Eq. 5)", min=1)
    lambda_v: float = option(0.6, "share of the K frames taken from VQM", min=0.0, max=1.0)

    def check(self) -> None:
        """Raises SamplerConfigError for contradictory switches."""
        if self.attention == "ca" and self.classifier == "cs":
            raise SamplerConfigError("option attention=ca has one query: a class-specific classifier needs attention=cs")
        if self.width % self.heads:
            raise SamplerConfigError(f"option width {self.width} must be divisible by heads {self.heads}")

    def needs_rec_logits(self) -> bool:
        """Returns True when VQM's queries start from prototypes (frames judged by the recognizer logits)."""
        return self.modality != "textual" and self.visual_init == "prototype"

    def needs_rec_features(self) -> bool:
        """Returns True when TQM's object scores come from the recognizer features."""
        return self.modality != "visual" and self.objects == "recognizer"
