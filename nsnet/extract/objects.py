"""ImageNet object scores without another network pass: the classifier of a store's model.

A timm ImageNet classifier (MobileNetV2, EfficientNet-Lite, ResNet...) is global pooling followed
by one linear layer, and the store caches exactly those pooled features (``light/features``,
``recognizer/features``). So the 1000 ImageNet logits of a frame are ``features @ W.T + b`` with the
classifier weights of the very weights the store was extracted with (checked by their sha256):
TSQNet's object recognizer costs one 1000 x D matrix product per frame instead of a CNN pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

import nsnet._compat
from nsnet.extract.weights import (
    WeightsError,
    load_checkpoint_state_dict,
    load_package_state_dict,
    sha256_file,
)

IMAGENET_CLASSES = 1000


def _classifier_name(model_name: str) -> str:
    """Returns the state-dict prefix of timm ``model_name``'s classifier (``classifier``, ``fc``...)."""
    timm = nsnet._compat.import_timm()
    if not timm.is_model(model_name):
        raise WeightsError(f"{model_name!r} is not a timm model: no ImageNet classifier to derive object scores from")
    with torch.device("meta"):
        model = timm.create_model(model_name, pretrained=False)
    return str(model.pretrained_cfg.get("classifier", "classifier"))


def _hub_state_dict(model_name: str) -> dict[str, torch.Tensor]:
    """Returns timm's pretrained state dict of ``model_name`` (with its classifier)."""
    timm = nsnet._compat.import_timm()
    try:
        return timm.create_model(model_name, pretrained=True).state_dict()
    except Exception as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise WeightsError(f"cannot load the hub weights of {model_name} for object scores: {first}") from err


def imagenet_classifier(spec: Mapping[str, Any]) -> nn.Linear:
    """Returns the ImageNet classifier (Linear(feature_dim, 1000), float32, eval) of the model a
    store spec (``extractor`` or ``recognizer`` attribute) describes, from the same weights.

    ``package:`` weights are re-read from the installed package and their file hash is checked
    against the spec's ``weights_sha256``; ``file:`` weights likewise; ``hub`` weights come from
    timm (cache or network). Random (``none``) weights and dataset checkpoints whose head is not a
    1000-way ImageNet classifier raise WeightsError.
    """
    name, weights = str(spec.get("name", "")), str(spec.get("weights", ""))
    dim = int(spec.get("feature_dim", 0))
    if weights.startswith("package:"):
        state_dict, path = load_package_state_dict(name)
        _check_hash(path, spec)
    elif weights.startswith("file:"):
        path = Path(weights[len("file:"):])
        _check_hash(path, spec)
        state_dict = load_checkpoint_state_dict(path)
    elif weights == "hub":
        state_dict = _hub_state_dict(name)
    else:
        raise WeightsError(f"model {name!r} has weights {weights or 'unknown'!r}: no ImageNet classifier to derive "
                           f"object scores from (extract with --weights package / hub)")
    prefix = _classifier_name(name) + "."
    head = {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}
    if not head and any(k.startswith("head.") for k in state_dict):  # FrameModel checkpoints
        head = {k[len("head."):]: v for k, v in state_dict.items() if k.startswith("head.")}
    weight = head.get("weight")
    if weight is None or weight.ndim != 2 or weight.shape[0] != IMAGENET_CLASSES or (dim and weight.shape[1] != dim):
        shape = None if weight is None else tuple(weight.shape)
        raise WeightsError(f"the weights of {name!r} hold no {IMAGENET_CLASSES}-way ImageNet classifier on "
                           f"{dim or '?'} features (classifier weight {shape}); use the other --objects source")
    linear = nn.Linear(weight.shape[1], IMAGENET_CLASSES, bias="bias" in head)
    linear.load_state_dict({k: v.float() for k, v in head.items() if k in ("weight", "bias")})
    return linear.eval()


def _check_hash(path: Path, spec: Mapping[str, Any]) -> None:
    """Raises WeightsError when ``path`` is not the weights file the store was extracted with."""
    want = spec.get("weights_sha256")
    if want and sha256_file(path) != want:
        raise WeightsError(f"{path} is not the weights file the store was extracted with (sha256 differs)")


def object_logits(features: torch.Tensor, head: nn.Linear) -> torch.Tensor:
    """Returns the ImageNet logits [..., 1000] of cached pooled ``features`` [..., D] (float32)."""
    with torch.no_grad():
        return head(features.float())
