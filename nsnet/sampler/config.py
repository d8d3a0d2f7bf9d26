"""``SamplerConfig``: one dataclass per sampler training run (saved as ``config.json``).

Choice-valued fields are plain strings (JSON friendly); their allowed values are the ``str``
enums below, which the CLI also uses so that a bad value is a typer/click error. Fields left at
``None`` mean "the variant's default" and are filled in by :meth:`SamplerConfig.resolved`:

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
tsqnet      (own model; switches in ``tsqnet``)       TSQNet (issue 11)
adafocus    (own model; options in ``adafocus``)      AdaFocus patch policy + classifier (issue 12)
=========== ============ ============= ============== =========================================
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any

from nsnet.errors import UserError
from nsnet.options import Device


class SamplerConfigError(UserError, ValueError):
    """A sampler configuration value is invalid or inconsistent with the chosen variant."""


class Variant(str, Enum):
    """Which sampler a training run produces."""

    nsnet = "nsnet"
    maxconf_l = "maxconf-l"
    scsampler = "scsampler"
    oracle = "oracle"
    tsqnet = "tsqnet"  # TSQNet (issue 11): options in SamplerConfig.tsqnet
    adafocus = "adafocus"  # AdaFocus (issue 12): options in SamplerConfig.adafocus


class VGMMode(str, Enum):
    """Video Glimpse Module objective (Table 6a, VGM column)."""

    baseline = "baseline"  # C classes, L_cls only
    nonsalient = "nonsalient"  # C + 1 classes, L_cls only
    ns = "ns"  # C + 1 classes, L_cls + gamma * L_ns


class FSMMode(str, Enum):
    """Frame Scrutinize Module objective (Table 6a FSM column and Table 6d)."""

    video = "video"  # every frame gets the video label, C classes
    nonsalient = "nonsalient"  # C + 1 classes, frames still get the video label
    regression = "regression"  # predict g_i (sigmoid), MSE
    ranking = "ranking"  # pairwise margin ranking on g_i within a video
    baseline_plus = "baseline+"  # soft label g_i*y_v + (1-g_i)*uniform over C classes
    ns = "ns"  # NS pseudo label [g_i*y_v, 1-g_i] over C + 1 classes


class GuideMode(str, Enum):
    """Guiding saliency score g_i (Eq. 1 / supp. B.1)."""

    prototype = "prototype"
    calibrated = "calibrated"  # prototype, calibrated against other classes' frames (see prototypes.py)
    response = "response"


class EncoderKind(str, Enum):
    """FEM encoder (Table 6c); ``frame`` = no temporal context (SCSampler)."""

    transformer = "transformer"
    lstm = "lstm"
    mlp = "mlp"
    conv1d = "conv1d"
    frame = "frame"


class FSMSaliency(str, Enum):
    """How the FSM's frame outputs become a saliency score (classification objectives only)."""

    max = "max"  # paper: max over the C real classes of the softmax
    predicted_class = "predicted-class"  # confidence on the video-level predicted class (SCSampler)
    salient = "salient"  # 1 - p(non-salient): for data whose background is itself a class (needs C + 1 outputs)


class Branches(str, Enum):
    """Which NSNet heads are trained (and can be used at inference)."""

    both = "both"
    fsm = "fsm"
    vgm = "vgm"


_VARIANT_DEFAULTS: dict[str, dict[str, str]] = {
    "nsnet": {"branches": "both", "fsm": "ns", "vgm": "ns", "encoder": "transformer", "fsm_saliency": "max"},
    "maxconf-l": {"branches": "fsm", "fsm": "video", "vgm": "ns", "encoder": "transformer", "fsm_saliency": "max"},
    "scsampler": {"branches": "fsm", "fsm": "video", "vgm": "ns", "encoder": "frame",
                  "fsm_saliency": "predicted-class"},
    "oracle": {"branches": "both", "fsm": "ns", "vgm": "ns", "encoder": "transformer", "fsm_saliency": "max"},
    "tsqnet": {"branches": "both", "fsm": "ns", "vgm": "ns", "encoder": "transformer", "fsm_saliency": "max"},
    "adafocus": {"branches": "both", "fsm": "ns", "vgm": "ns", "encoder": "transformer", "fsm_saliency": "max"},
}
_OWN_MODEL = ("tsqnet", "adafocus")  # variants whose model ignores the NSNet objectives / encoder
_NSNET_MILESTONES = [50 / 120, 75 / 120]
# Fields a baseline variant fixes: setting them to another value is an error.
_VARIANT_FIXED: dict[str, tuple[str, ...]] = {
    "maxconf-l": ("branches", "fsm", "fsm_saliency"),
    "scsampler": ("branches", "fsm", "encoder", "fsm_saliency"),
}
_CHOICES: dict[str, type[Enum]] = {
    "variant": Variant,
    "vgm": VGMMode,
    "fsm": FSMMode,
    "guide": GuideMode,
    "encoder": EncoderKind,
    "fsm_saliency": FSMSaliency,
    "branches": Branches,
    "device": Device,
}


@dataclass
class SamplerConfig:
    """Everything that defines one sampler training run (defaults follow the paper, supp. A.1)."""

    name: str = "run"
    variant: str = "nsnet"
    # --- objectives (None = the variant's default, see the module docstring)
    vgm: str | None = None
    fsm: str | None = None
    branches: str | None = None
    fsm_saliency: str | None = None  # max (paper) | predicted-class | salient = 1 - p(non-salient)
    guide: str = "prototype"
    gamma: float = 0.2  # weight of the VGM non-saliency suppression loss L_ns
    proto_eps: float = 0.3  # top-epsilon fraction of correctly predicted frames per video
    guide_temperature: float = 1.0  # g_i = softmax_j(phi(x_i, p_j) / temperature)[c]
    guide_quantile: float = 0.02  # calibrated guide: rho, the share of negative frames allowed closer
    ranking_margin: float = 0.1
    # --- model
    encoder: str | None = None
    width: int = 512  # d: FEM projection width (transformer FFN width = d)
    layers: int = 2
    heads: int = 8
    pos_dropout: float = 0.2
    encoder_dropout: float = 0.1
    attn_dropout: float = 0.2
    cls_dropout: float = 0.9
    # --- optimisation
    epochs: int = 120
    batch_size: int = 64
    lr: float = 1e-2
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_milestones: list[float] = field(default_factory=lambda: [50 / 120, 75 / 120])
    lr_decay: float = 0.1
    max_shift: float = 0.1  # temporal random shift: roll by an offset in [-s, s], s = round(max_shift*T)
    seed: int = 0
    device: str = "auto"
    train_split: str = "train"
    val_split: str = "val"
    # --- TSQNet (variant tsqnet): the switches of nsnet.sampler.tsqnet.TSQNetConfig, e.g.
    # {"objects": "light", "modality": "both", "attention": "cs", "alpha": 0.6}; defaults filled in
    tsqnet: dict[str, Any] = field(default_factory=dict)
    # --- AdaFocus (variant adafocus): nsnet.sampler.adafocus.train.AdaFocusOptions, e.g. {"hidden": 128,
    # "skip": true}; defaults filled in (width / epochs / lr, when changed from their defaults here,
    # become f_C's hidden size / every stage's epochs / the stage I lr unless given in this dict)
    adafocus: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ helpers
    def resolved(self) -> "SamplerConfig":
        """Returns a validated copy with the variant's defaults filled in.

        Raises SamplerConfigError for unknown choices, out-of-range numbers, or options that
        contradict a baseline variant (e.g. ``variant="maxconf-l", fsm="ns"``).
        """
        cfg = dataclasses.replace(self, lr_milestones=list(self.lr_milestones))
        for name, enum in _CHOICES.items():
            value = getattr(cfg, name)
            if isinstance(value, Enum):
                value = value.value
                setattr(cfg, name, value)
            if value is None:
                continue
            allowed = [e.value for e in enum]
            if value not in allowed:
                raise SamplerConfigError(f"{name}={value!r} is not one of {allowed}")
        defaults = _VARIANT_DEFAULTS[cfg.variant]
        for key in _VARIANT_FIXED.get(cfg.variant, ()):
            value = getattr(cfg, key)
            if value is not None and value != defaults[key]:
                raise SamplerConfigError(
                    f"variant {cfg.variant} fixes {key}={defaults[key]!r}; got {key}={value!r}"
                )
        for key, value in defaults.items():
            if getattr(cfg, key) is None:
                setattr(cfg, key, value)
        _resolve_tsqnet(cfg)
        _resolve_adafocus(cfg)
        _check_numbers(cfg)
        return cfg

    def needs_guide(self) -> bool:
        """Returns True when training needs guiding scores (hence recognizer arrays)."""
        cfg = self.resolved()
        if cfg.variant == "oracle":
            return True
        if cfg.variant in _OWN_MODEL:
            return False
        return cfg.branches in ("both", "fsm") and cfg.fsm in ("regression", "ranking", "baseline+", "ns")

    def needs_rec_logits(self) -> bool:
        """Returns True when training reads the recognizer logits (guides, prototypes)."""
        cfg = self.resolved()
        if cfg.variant == "tsqnet":
            return cfg.tsqnet["modality"] != "textual" and cfg.tsqnet["visual_init"] == "prototype"
        if cfg.variant == "adafocus":
            return False
        return cfg.needs_guide()

    def needs_rec_features(self) -> bool:
        """Returns True when training reads the recognizer features."""
        cfg = self.resolved()
        if cfg.variant == "tsqnet":
            return cfg.tsqnet["modality"] != "visual" and cfg.tsqnet["objects"] == "recognizer"
        if cfg.variant == "adafocus":
            return False
        from nsnet.sampler.prototypes import GUIDES_WITH_PROTOTYPES

        return cfg.needs_guide() and cfg.guide in GUIDES_WITH_PROTOTYPES

    def needs_patches(self) -> bool:
        """Returns True when training reads the AdaFocus arrays (light maps, candidate patch features)."""
        return self.resolved().variant == "adafocus"

    def to_dict(self) -> dict[str, Any]:
        """Returns the config as a JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SamplerConfig":
        """Returns a config built from ``data``; unknown keys raise SamplerConfigError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SamplerConfigError(f"unknown sampler config keys {unknown}; known: {sorted(known)}")
        return cls(**data)

    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> None:
        """Writes the config (plus ``extra`` entries under ``"run"``) as pretty JSON."""
        payload: dict[str, Any] = {"config": self.to_dict()}
        if extra:
            payload["run"] = extra
        Path(path).write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def _resolve_tsqnet(cfg: SamplerConfig) -> None:
    """Fills in (variant tsqnet) or rejects (other variants) the TSQNet switches; a tsqnet run
    left on NSNet's lr milestones gets the paper's 25/50/75 % of the epochs (supp. A)."""
    if cfg.variant != "tsqnet":
        if cfg.tsqnet:
            raise SamplerConfigError(f"tsqnet options {sorted(cfg.tsqnet)} need variant tsqnet, not {cfg.variant}")
        return
    from nsnet.sampler.tsqnet.train import TSQ_MILESTONES, tsq_options

    try:
        cfg.tsqnet = tsq_options(cfg.tsqnet, cfg.width)
    except (TypeError, ValueError) as err:
        raise SamplerConfigError(str(err)) from None
    if cfg.lr_milestones == _NSNET_MILESTONES:
        cfg.lr_milestones = list(TSQ_MILESTONES)


def _resolve_adafocus(cfg: SamplerConfig) -> None:
    """Fills in (variant adafocus) or rejects (other variants) the AdaFocus options: ``width``,
    ``epochs`` and ``lr`` changed from their SamplerConfig defaults become f_C's ``hidden``, every
    stage's epochs and the stage I lr (unless the dict gives them)."""
    if cfg.variant != "adafocus":
        if cfg.adafocus:
            raise SamplerConfigError(f"adafocus options {sorted(cfg.adafocus)} need variant adafocus, not {cfg.variant}")
        return
    from nsnet.sampler.adafocus.train import af_options

    defaults = {f.name: f.default for f in fields(SamplerConfig)}
    try:
        cfg.adafocus = af_options(cfg.adafocus, width=None if cfg.width == defaults["width"] else cfg.width,
                                  epochs=None if cfg.epochs == defaults["epochs"] else cfg.epochs,
                                  lr=None if cfg.lr == defaults["lr"] else cfg.lr)
    except (TypeError, ValueError) as err:
        raise SamplerConfigError(str(err)) from None


def _check_numbers(cfg: SamplerConfig) -> None:
    """Raises SamplerConfigError when a numeric field of ``cfg`` is out of range."""
    checks = [
        (cfg.width >= 1, f"width must be >= 1, got {cfg.width}"),
        (cfg.layers >= 1, f"layers must be >= 1, got {cfg.layers}"),
        (cfg.heads >= 1, f"heads must be >= 1, got {cfg.heads}"),
        (cfg.epochs >= 1, f"epochs must be >= 1, got {cfg.epochs}"),
        (cfg.batch_size >= 1, f"batch_size must be >= 1, got {cfg.batch_size}"),
        (cfg.lr > 0, f"lr must be > 0, got {cfg.lr}"),
        (0.0 < cfg.proto_eps <= 1.0, f"proto_eps must lie in (0, 1], got {cfg.proto_eps}"),
        (cfg.guide_temperature > 0, f"guide_temperature must be > 0, got {cfg.guide_temperature}"),
        (0.0 < cfg.guide_quantile <= 1.0, f"guide_quantile must lie in (0, 1], got {cfg.guide_quantile}"),
        (cfg.gamma >= 0, f"gamma must be >= 0, got {cfg.gamma}"),
        (0.0 <= cfg.max_shift <= 1.0, f"max_shift must lie in [0, 1], got {cfg.max_shift}"),
        (all(0.0 <= m <= 1.0 for m in cfg.lr_milestones), "lr_milestones are fractions of the epochs in [0, 1]"),
    ]
    for prob in ("pos_dropout", "encoder_dropout", "attn_dropout", "cls_dropout"):
        value = getattr(cfg, prob)
        checks.append((0.0 <= value < 1.0, f"{prob} must lie in [0, 1), got {value}"))
    if cfg.fsm_saliency == "salient":
        checks.append((cfg.fsm in ("nonsalient", "ns"),
                       f"fsm_saliency=salient needs a non-salient class (fsm nonsalient or ns), got fsm={cfg.fsm}"))
    if cfg.encoder == "transformer" and cfg.variant not in _OWN_MODEL:
        checks.append((cfg.width % cfg.heads == 0, f"width {cfg.width} must be divisible by heads {cfg.heads}"))
    if cfg.encoder == "lstm":
        checks.append((cfg.width % 2 == 0, f"the bidirectional LSTM needs an even width, got {cfg.width}"))
    for ok, message in checks:
        if not ok:
            raise SamplerConfigError(message)
