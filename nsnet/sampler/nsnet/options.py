"""The options of the NSNet-family variants: ``nsnet``, ``maxconf-l``, ``scsampler`` and ``oracle``.

=========== ============ ============= ============== =========================================
variant     branches     fsm           encoder        what it is
=========== ============ ============= ============== =========================================
nsnet       both         ns            transformer    NSNet (FEM + FSM + VGM, paper §3)
maxconf-l   fsm          video         transformer    TSQNet's MaxConf-L: FEM + frame classifier
                                                      trained with the video label on every frame,
                                                      saliency = max class confidence
scsampler   fsm          video         frame          SCSampler-style: per-frame MLP, no temporal
                                                      context; saliency = confidence on the
                                                      video-level predicted class
oracle      (none)       (none)        (none)         guiding score from labels + recognizer
                                                      (train prototypes): the upper bound (supp. C)
=========== ============ ============= ============== =========================================

The baselines pin the fields that define them (``fixed``): setting one to another value is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from nsnet.sampler.loop import SGDOptions
from nsnet.sampler.options import SamplerConfigError, option
from nsnet.sampler.prototypes import GUIDES_WITH_PROTOTYPES

VGM_MODES = ("baseline", "nonsalient", "ns")  # Table 6a, VGM column
FSM_MODES = ("video", "nonsalient", "regression", "ranking", "baseline+", "ns")  # Table 6a FSM column, 6d
GUIDES = ("prototype", "calibrated", "response")  # Eq. 1 / supp. B.1
ENCODERS = ("transformer", "lstm", "mlp", "conv1d", "frame")  # Table 6c; frame = no temporal context
FSM_SALIENCY = ("max", "predicted-class", "salient")
BRANCHES = ("both", "fsm", "vgm")
_GUIDED_FSM = ("regression", "ranking", "baseline+", "ns")
_PROB = dict(min=0.0, max=1.0, max_open=True)


@dataclass
class NSNetOptions(SGDOptions):
    """NSNet's options (defaults follow the paper, supp. A.1)."""

    vgm: str = option("ns", "VGM objective: baseline (C classes), nonsalient (C + 1), ns (+ gamma L_ns)",
                      choices=VGM_MODES)
    fsm: str = option("ns", "FSM objective", choices=FSM_MODES)
    branches: str = option("both", "which NSNet heads are trained", choices=BRANCHES)
    fsm_saliency: str = option("max", "FSM saliency: max over classes (paper), predicted-class, or salient = "
                               "1 - p(non-salient) for data whose background is itself a class", choices=FSM_SALIENCY)
    guide: str = option("prototype", "guiding score g_i: prototype (Eq. 1), calibrated (against other classes' "
                        "frames) or response", choices=GUIDES)
    gamma: float = option(0.2, "weight of the VGM non-saliency suppression loss L_ns", min=0.0)
    proto_eps: float = option(0.3, "top-epsilon fraction of correctly predicted frames per video (prototypes)",
                              min=0.0, max=1.0, min_open=True)
    guide_temperature: float = option(1.0, "g_i = softmax_j(phi(x_i, p_j) / temperature)[c]", min=0.0, min_open=True)
    guide_quantile: float = option(0.02, "calibrated guide: share rho of other classes' frames allowed closer",
                                   min=0.0, max=1.0, min_open=True)
    ranking_margin: float = option(0.1, "margin of the ranking FSM objective", min=0.0)
    encoder: str = option("transformer", "FEM temporal encoder", choices=ENCODERS)
    width: int = option(512, "d: FEM projection width (transformer FFN width = d)", min=1)
    layers: int = option(2, "FEM encoder layers", min=1)
    heads: int = option(8, "transformer heads (width must be divisible by heads)", min=1)
    pos_dropout: float = option(0.2, "dropout after the positional embedding", **_PROB)
    encoder_dropout: float = option(0.1, "dropout inside the encoder", **_PROB)
    attn_dropout: float = option(0.2, "dropout on the VGM attention", **_PROB)
    cls_dropout: float = option(0.9, "dropout before the VGM classifier", **_PROB)
    vgm_guide: float = option(0.0, "weight of a cross-entropy pulling the VGM attention towards the guide g "
                              "(normalised over the frames); 0 = the paper's VGM, trained by its classification alone",
                              min=0.0)
    vgm_guide_power: float = option(1.0, "the guided VGM's target is g^power normalised over the frames: 1 = g "
                                    "itself; larger powers leave the non-event floor (distractors and footage alike) "
                                    "almost no target mass", min=0.0, min_open=True)
    ns_pool: str = option("mean", "VGM non-salient feature: mean = sum (1 - alpha) h / T with the normalised "
                          "attention (~ the mean of h for large T), complement = weighted by 1 - sigmoid attention",
                          choices=("mean", "complement"))

    def check(self) -> None:
        """Raises SamplerConfigError for contradictory objectives or a width the encoder cannot split."""
        if self.fsm_saliency == "salient" and self.fsm not in ("nonsalient", "ns"):
            raise SamplerConfigError(f"option fsm_saliency=salient needs a non-salient class (fsm nonsalient or ns), "
                                     f"got fsm={self.fsm}")
        if self.encoder == "transformer" and self.width % self.heads:
            raise SamplerConfigError(f"option width {self.width} must be divisible by heads {self.heads}")
        if self.encoder == "lstm" and self.width % 2:
            raise SamplerConfigError(f"option width: the bidirectional LSTM needs an even width, got {self.width}")

    def needs_guide(self) -> bool:
        """Returns True when training needs guiding scores (hence recognizer arrays)."""
        return (self.branches in ("both", "fsm") and self.fsm in _GUIDED_FSM) or (
            self.branches in ("both", "vgm") and self.vgm_guide > 0)

    def needs_rec_logits(self) -> bool:
        """Returns True when the guide is trained (it reads the recognizer logits)."""
        return self.needs_guide()

    def needs_rec_features(self) -> bool:
        """Returns True when the guide uses prototypes of the recognizer features."""
        return self.needs_guide() and self.guide in GUIDES_WITH_PROTOTYPES


@dataclass
class MaxConfLOptions(NSNetOptions):
    """MaxConf-L: the FSM alone, trained with the video label on every frame."""

    fixed: ClassVar[tuple[str, ...]] = ("branches", "fsm", "fsm_saliency")
    fsm: str = option("video", "FSM objective (fixed: video)", choices=FSM_MODES)
    branches: str = option("fsm", "which NSNet heads are trained (fixed: fsm)", choices=BRANCHES)


@dataclass
class SCSamplerOptions(MaxConfLOptions):
    """SCSampler-style: a per-frame MLP, saliency on the video-level predicted class."""

    fixed: ClassVar[tuple[str, ...]] = ("branches", "fsm", "encoder", "fsm_saliency")
    encoder: str = option("frame", "FEM encoder (fixed: frame, no temporal context)", choices=ENCODERS)
    fsm_saliency: str = option("predicted-class", "FSM saliency (fixed: predicted-class)", choices=FSM_SALIENCY)


@dataclass
class OracleOptions(NSNetOptions):
    """The oracle: no network, the guiding score itself (its guide options apply)."""

    def needs_guide(self) -> bool:
        """Returns True: the oracle is the guiding score."""
        return True
