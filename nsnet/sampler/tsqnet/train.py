"""Training TSQNet on cached tensors (registered as the trainer of variant tsqnet).

Priors (fixed, saved inside the run): the ImageNet object head of the store's light extractor
(``objects="light"``) or recognizer (``"recognizer"``) -- :func:`nsnet.extract.objects.imagenet_classifier`
-- and MiniLM embeddings of the 1000 object names and of the store's class names
(:mod:`nsnet.sampler.tsqnet.text_embed`). Query initialisation: visual TSQ embeddings = class prototypes
of the light features, frames judged by the recognizer's cached per-frame logits (supp. A, m =
``proto_eps`` = 30 %); textual = class-name embeddings; class-agnostic attention (one query)
starts from their mean; ``random`` draws N(mean, std) of the light features (visual) or a random
unit vector (textual), the scale of what it replaces.

Recipe (supp. A): SGD momentum 0.9, lr 1e-2, batch 64, x0.1 at 25/50/75 % of the epochs (the
TSQNetOptions defaults), the shared temporal random shift, seeding and deterministic algorithms
(the same :func:`nsnet.sampler.loop.fit_epochs` loop). The object features
x^t = top-10(O) W are computed once before training (they have no trainable parameter).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from nsnet.sampler.data import SamplerArrays, SamplerDataError
from nsnet.device import resolve_device
from nsnet.sampler.loop import TrainResult, deterministic, fit_epochs
from nsnet.sampler.tsqnet.model import SWITCHES, TSQNet, TSQNetConfig
from nsnet.sampler.tsqnet.options import TSQNetOptions

@dataclass
class TSQPriors:
    """Fixed inputs of TQM: object head ``obj_weight`` [Co, D_o] / ``obj_bias`` [Co], object-name
    embeddings ``obj_embed`` [Co, E], class-name embeddings ``class_embed`` [C, E]."""

    obj_weight: np.ndarray
    obj_bias: np.ndarray
    obj_embed: np.ndarray
    class_embed: np.ndarray
    object_source: str = ""
    text_model: str = ""


def build_priors(arrays: SamplerArrays, objects: str = "light") -> TSQPriors:
    """Returns the priors for ``arrays``' store: the ImageNet classifier of its light extractor
    or recognizer and the MiniLM embeddings of the ImageNet object names and its class names."""
    from nsnet.extract.objects import imagenet_classifier
    from nsnet.sampler.tsqnet.text_embed import TEXT_MODEL, embed_texts, imagenet_object_names, split_class_name

    spec = arrays.extractor_spec if objects == "light" else arrays.recognizer_spec
    head = imagenet_classifier(spec)
    names = imagenet_object_names()
    return TSQPriors(
        obj_weight=head.weight.detach().numpy().copy(),
        obj_bias=(head.bias.detach().numpy().copy() if head.bias is not None else np.zeros(head.out_features, np.float32)),
        obj_embed=embed_texts(names), class_embed=embed_texts([split_class_name(c) for c in arrays.class_names]),
        object_source=f"{objects}:{spec.get('name')}:{spec.get('weights')}:{str(spec.get('weights_sha256'))[:12]}",
        text_model=TEXT_MODEL,
    )


def model_config(opts: TSQNetOptions, arrays: SamplerArrays, priors: TSQPriors | None) -> TSQNetConfig:
    """Returns the TSQNetConfig of the options ``opts`` for ``arrays`` and ``priors``."""
    base = TSQNetConfig(**{name: getattr(opts, name) for name in SWITCHES})
    obj_in = arrays.D if opts.objects == "light" else (arrays.rec_features.shape[2] if arrays.rec_features is not None else 0)
    shapes: dict[str, Any] = dict(in_dim=arrays.D, num_classes=arrays.C, num_frames=arrays.T, width=opts.width,
                                  multilabel=bool(arrays.multilabel), obj_in_dim=obj_in)
    if priors is not None:
        shapes.update(num_objects=priors.obj_weight.shape[0], text_dim=priors.obj_embed.shape[1],
                      obj_in_dim=priors.obj_weight.shape[1], object_source=priors.object_source,
                      text_model=priors.text_model)
    return dataclasses.replace(base, **shapes)


def _init_queries(model: TSQNet, arrays: SamplerArrays, cfg: Any, priors: TSQPriors | None) -> None:
    """Initialises the TSQ embeddings of ``model`` in place (see the module docstring)."""
    mcfg = model.cfg
    gen = torch.Generator().manual_seed(cfg.seed)
    with torch.no_grad():
        if model.vqm is not None:
            if mcfg.visual_init == "prototype":
                from nsnet.sampler.prototypes import build_prototypes

                if arrays.rec_logits is None:
                    raise SamplerDataError("tsqnet visual_init=prototype needs the recognizer logits (fit-recognizer "
                                           "first, or set visual_init=random)")
                protos = build_prototypes(arrays.light, arrays.rec_logits, arrays.labels, cfg.options.proto_eps)
                feats = protos.features.astype(np.float32)
                feats[~protos.valid] = feats[protos.valid].mean(axis=0)
                init = torch.from_numpy(feats)
            else:
                flat = torch.from_numpy(arrays.light.reshape(-1, arrays.D))
                init = flat.mean(0) + flat.std(0) * torch.randn(mcfg.num_classes, arrays.D, generator=gen)
            model.vqm.query.copy_(init.mean(0, keepdim=True) if mcfg.num_queries == 1 else init)
        if model.tqm is not None:
            assert priors is not None
            if mcfg.text_init == "names":
                init = torch.from_numpy(priors.class_embed.astype(np.float32))
            else:
                init = torch.randn(mcfg.num_classes, mcfg.text_dim, generator=gen)
                init = init / init.norm(dim=1, keepdim=True)
            if mcfg.num_queries == 1:
                init = nn.functional.normalize(init.mean(0, keepdim=True), dim=1)
            model.tqm.query.copy_(init * model.text_scale)  # the scale of the object features
            model.obj_weight.copy_(torch.from_numpy(priors.obj_weight))
            model.obj_bias.copy_(torch.from_numpy(priors.obj_bias))
            model.obj_embed.copy_(torch.from_numpy(priors.obj_embed))


def object_features(model: TSQNet, src: np.ndarray, device: torch.device, chunk: int = 256) -> np.ndarray:
    """Returns x^t [N, T, E] float32 for object-head inputs ``src`` [N, T, D_o], in chunks."""
    parts = []
    with torch.no_grad():
        for lo in range(0, src.shape[0], chunk):
            x = torch.from_numpy(np.ascontiguousarray(src[lo : lo + chunk])).to(device)
            parts.append(model.object_features(x).cpu().numpy())
    return np.concatenate(parts).astype(np.float32)


class _TrainView(nn.Module):
    """Adapts TSQNet to the trainer's ``model(x, labels, g, w)`` call: ``x`` is the light features
    and/or the precomputed object features, concatenated on the feature axis."""

    def __init__(self, model: TSQNet, split: int) -> None:
        super().__init__()
        self.model, self.split = model, split

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, g: Any = None, w: Any = None):
        m = self.model
        x_v = x[..., : self.split] if m.vqm is not None else None
        x_t = x[..., self.split :] if m.tqm is not None else None
        return m(x_v, x_t, labels)


def train_tsqnet(arrays: SamplerArrays, cfg: Any, *, priors: TSQPriors | None = None, progress: bool = False,
                 **_: Any) -> TrainResult:
    """Returns a :class:`TrainResult` holding a trained TSQNet for ``cfg`` (variant tsqnet) on the
    train ``arrays``. ``priors`` default to :func:`build_priors` of the arrays' store (needs the
    packaged ImageNet weights and the MiniLM package)."""
    start = time.perf_counter()
    opts: TSQNetOptions = cfg.options
    textual = opts.modality in ("both", "textual")
    if textual and priors is None:
        priors = build_priors(arrays, opts.objects)
    if textual and opts.objects == "recognizer":
        arrays.require("rec_features")
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    with deterministic():
        model = TSQNet(model_config(opts, arrays, priors if textual else None))
        _init_queries(model, arrays, cfg, priors if textual else None)
        model.to(device)
        parts, split = [], 0
        if model.vqm is not None:
            parts.append(arrays.light)
            split = arrays.D
        if model.tqm is not None:
            src = arrays.light if opts.objects == "light" else arrays.rec_features
            parts.append(object_features(model, src, device))
        x = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=2)
        train = dataclasses.replace(arrays, light=x, rec_features=None, rec_logits=None)
        history, epoch_seconds = fit_epochs(_TrainView(model, split), train, None, opts, device, gen, progress, cfg.name)
    model.eval()
    return TrainResult(model.cpu(), cfg, None, history, time.perf_counter() - start, arrays.N, epoch_seconds)


def load_model(config: dict[str, Any]) -> TSQNet:
    """Returns a TSQNet rebuilt from its saved ``model_config``."""
    return TSQNet(TSQNetConfig(**config))
