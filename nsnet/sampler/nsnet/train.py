"""Training the NSNet-family variants (``nsnet``, ``maxconf-l``, ``scsampler``) and the oracle's
prototypes on cached tensors, with the shared SGD loop of :mod:`nsnet.sampler.loop`."""

from __future__ import annotations

import time
from typing import Any

import torch

from nsnet.device import resolve_device
from nsnet.sampler.data import SamplerArrays
from nsnet.sampler.loop import TrainResult, deterministic, fit_epochs
from nsnet.sampler.nsnet.model import NSNet, NSNetConfig
from nsnet.sampler.nsnet.options import NSNetOptions
from nsnet.sampler.prototypes import (
    GUIDES_WITH_PROTOTYPES,
    GuideTargets,
    Prototypes,
    build_prototypes,
    compute_guide,
    with_negative_quantiles,
)


def model_config(opts: NSNetOptions, in_dim: int, num_classes: int, num_frames: int) -> NSNetConfig:
    """Returns the NSNetConfig of the options ``opts`` for data of the given shape."""
    return NSNetConfig(
        in_dim=in_dim, num_classes=num_classes, num_frames=num_frames, width=opts.width, encoder=opts.encoder,
        layers=opts.layers, heads=opts.heads, pos_dropout=opts.pos_dropout, encoder_dropout=opts.encoder_dropout,
        use_fsm=opts.branches in ("both", "fsm"), use_vgm=opts.branches in ("both", "vgm"), fsm=opts.fsm,
        vgm=opts.vgm, fsm_saliency=opts.fsm_saliency, attn_dropout=opts.attn_dropout, cls_dropout=opts.cls_dropout,
        gamma=opts.gamma, ranking_margin=opts.ranking_margin, ns_pool=opts.ns_pool,
        vgm_guide=opts.vgm_guide, vgm_guide_power=opts.vgm_guide_power,
    )


def fit_prototypes(arrays: SamplerArrays, opts: NSNetOptions) -> Prototypes:
    """Returns the class prototypes of the train ``arrays`` (with the negative distance quantiles
    when ``opts.guide`` is "calibrated")."""
    arrays.require("rec_features", "rec_logits")
    protos = build_prototypes(arrays.rec_features, arrays.rec_logits, arrays.labels, opts.proto_eps)
    if opts.guide == "calibrated":
        protos = with_negative_quantiles(protos, arrays.rec_features, arrays.labels)
    return protos


def _guide(arrays: SamplerArrays, opts: NSNetOptions) -> tuple[GuideTargets | None, Prototypes | None]:
    """Returns the training guiding scores and the prototypes (None where not needed)."""
    if not opts.needs_guide():
        return None, None
    if opts.guide == "response":
        arrays.require("rec_logits")
        return compute_guide(arrays.labels, mode="response", rec_logits=arrays.rec_logits), None
    protos = fit_prototypes(arrays, opts)
    guide = compute_guide(arrays.labels, mode=opts.guide, rec_features=arrays.rec_features, prototypes=protos,
                          temperature=opts.guide_temperature, quantile=opts.guide_quantile)
    return guide, protos


def train_nsnet(arrays: SamplerArrays, cfg: Any, *, progress: bool = False, **_: Any) -> TrainResult:
    """Returns a :class:`TrainResult` holding the NSNet-family model of ``cfg`` trained on ``arrays``."""
    start = time.perf_counter()
    opts = cfg.options
    guide, protos = _guide(arrays, opts)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    with deterministic():
        model = NSNet(model_config(opts, arrays.D, arrays.C, arrays.T)).to(device)
        history, epoch_seconds = fit_epochs(model, arrays, guide, opts, device, gen, progress, cfg.name)
    model.eval()
    return TrainResult(model.cpu(), cfg, protos, history, time.perf_counter() - start, arrays.N, epoch_seconds)


def train_oracle(arrays: SamplerArrays, cfg: Any, **_: Any) -> TrainResult:
    """Returns the oracle's TrainResult: no model, only the prototypes its guide needs."""
    start = time.perf_counter()
    opts = cfg.options
    protos = fit_prototypes(arrays, opts) if opts.guide in GUIDES_WITH_PROTOTYPES else None
    return TrainResult(None, cfg, protos, [], time.perf_counter() - start, arrays.N)


def load_model(config: dict[str, Any]) -> NSNet:
    """Returns an NSNet rebuilt from its saved ``model_config``."""
    return NSNet(NSNetConfig(**config))
