"""The recognizer, in one place: rebuilding the store's models (recognizer, light extractor) exactly
as extraction used them, and the linear head `nsnet fit-recognizer` saves in the store.

A store records each model's spec: timm name, input size, resize, normalisation, the weights
source (``hub``, ``package:<pip name>``, ``file:<path>`` or ``none``) and the sha256 of those
weights. :func:`rebuild_frame_model` creates the model again from that source and refuses it when
the hash differs (the weights changed since extraction). The recognizer is that backbone plus its
classifier: a dataset checkpoint's own head, or the linear head fitted by
:mod:`nsnet.extract.fit_recognizer` and saved in the store (:func:`load_head`).
"""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import torch
from torch import nn

from nsnet.device import resolve_device
from nsnet.errors import ConfigError
from nsnet.store import FeatureStore, StoreError

if TYPE_CHECKING:  # the timm models load only when a model is rebuilt: the head helpers stay light
    from nsnet.extract.models import FrameModel

HEAD_FILE = "recognizer_head.pt"
RANDOM_INIT_SEED = 0  # extraction builds weights="none" models under torch.manual_seed(0)


class RecognizerError(ConfigError):
    """A store's model cannot be rebuilt as recorded (missing weights, hash mismatch, no head)."""


def _create(spec: Mapping[str, Any], device: torch.device, what: str) -> FrameModel:
    """Returns the FrameModel for ``spec``'s recorded weights source (hash not checked yet)."""
    from nsnet.extract.models import create_frame_model

    name, weights = str(spec["name"]), str(spec.get("weights") or "")
    sizes = {"input_size": int(spec["input_size"]), "resize_short": int(spec["resize_short"])}
    if weights == "hub":
        return create_frame_model(name, "hub", device=device, **sizes)
    if weights.startswith("package:"):
        return create_frame_model(name, "package", device=device, **sizes)
    if weights.startswith("file:"):
        path = Path(weights[len("file:") :])
        if not path.is_file():
            raise RecognizerError(f"{what} weights file {path} (recorded in the store) does not exist any more")
        if int(spec.get("num_classes") or 0) > 0:  # a dataset checkpoint with its own classifier
            return create_frame_model(name, "none", checkpoint=path, device=device, **sizes)
        return create_frame_model(name, str(path), device=device, **sizes)
    if weights == "none":
        if not spec.get("weights_sha256"):
            raise RecognizerError(f"{what} {name} has random weights whose hash the store did not record; "
                                  "it cannot be rebuilt (use --path cached)")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_INIT_SEED)
            return create_frame_model(name, "none", device=device, **sizes)
    raise RecognizerError(f"{what} weights source {weights!r} recorded in the store is not understood")


def rebuild_frame_model(spec: Mapping[str, Any], device: str | torch.device = "cpu", what: str = "model") -> FrameModel:
    """Returns the eval-mode FrameModel described by a store spec, with the recorded weights.

    Raises RecognizerError when the weights are gone or their sha256 differs from the recorded
    one, or when the rebuilt preprocessing (size, resize, mean/std) differs from the recorded one.
    """
    from nsnet.extract.weights import sha256_state_dict

    device = resolve_device(device)
    model = _create(spec, device, what)
    sha = model.spec.weights_sha256 or sha256_state_dict(model.backbone.state_dict())
    recorded = spec.get("weights_sha256")
    if recorded and sha != recorded:
        raise RecognizerError(
            f"{what} {spec['name']} weights ({spec.get('weights')}) hash to {sha[:12]} but the store recorded "
            f"{str(recorded)[:12]}: the weights changed since extraction"
        )
    for key in ("input_size", "resize_short", "mean", "std"):
        got, want = getattr(model.spec, key), spec.get(key)
        if want is not None and list(got if isinstance(got, (list, tuple)) else [got]) != list(
            want if isinstance(want, (list, tuple)) else [want]
        ):
            raise RecognizerError(f"{what} {spec['name']}: rebuilt {key} {got!r} differs from the store's {want!r}")
    return model.eval()


def load_recognizer(store: Any, device: str | torch.device = "cpu") -> FrameModel:
    """Returns the store's recognizer (backbone + classifier) in eval mode on ``device``.

    The classifier is the dataset checkpoint's own head when the store recorded one, else the
    head fitted by `nsnet fit-recognizer` (saved in the store). Raises RecognizerError when
    neither exists or the head does not fit the store's classes.
    """
    model = rebuild_frame_model(store.recognizer_spec, device, "recognizer")
    if model.head is None:
        head: nn.Linear | None = load_head(store)
        if head is None:
            raise RecognizerError(
                f"{store.path}: the recognizer has no classifier; run `nsnet fit-recognizer {store.path}` first "
                "(or extract with --recognizer-checkpoint)"
            )
        model = model.with_head(head)
    if model.head.out_features != store.num_classes:
        raise RecognizerError(f"recognizer head has {model.head.out_features} classes, the store {store.num_classes}")
    return model.eval()


def load_extractor(spec: Mapping[str, Any], device: str | torch.device = "cpu") -> FrameModel:
    """Returns the light extractor of a store / run spec (features only), hash-checked."""
    return rebuild_frame_model(spec, device, "light extractor")


# ----------------------------------------------------------------- the head fit-recognizer saves
def head_state_sha256(state: dict[str, torch.Tensor]) -> str:
    """Returns a sha256 of the head's tensors (stable across saves)."""
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def load_head(store: FeatureStore) -> torch.nn.Linear | None:
    """Returns the fitted head saved in the store, or None when the store has none."""
    meta = store.attrs.get("recognizer_head")
    if not meta:
        return None
    path = f"{store.path}/{meta['file']}"
    data = store.read_file(meta["file"])
    if data is None:
        raise StoreError(f"{store.path}: recognizer head file {meta['file']} is missing; run `nsnet fit-recognizer` again")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        ok = isinstance(state, dict) and head_state_sha256(state) == meta["sha256"]
    except (OSError, EOFError, RuntimeError, ValueError, pickle.UnpicklingError, AttributeError) as err:
        raise StoreError(f"{path}: recognizer head file is unreadable ({type(err).__name__}); "
                         "run `nsnet fit-recognizer` again") from None
    if not ok:
        raise StoreError(f"{path}: recognizer head does not match the hash recorded in the store")
    head = torch.nn.Linear(state["weight"].shape[1], state["weight"].shape[0])
    head.load_state_dict(state)
    return head.eval()
