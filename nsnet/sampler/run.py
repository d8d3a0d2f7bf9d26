"""A sampler run directory: saving, loading and checking it against a store.

A run directory holds ``sampler.pt`` (plain tensors / dicts / strings: ``torch.load(...,
weights_only=True)`` works) and ``config.json`` (the :class:`SamplerConfig` with its options plus the store
identity: fingerprint, T, C, class names, light extractor spec). An AdaFocus run also records the
candidate geometry (``patches``) and, per stage, its seconds and history (``stage_seconds``,
``stage_history``), and keeps ``stage{s}.pt`` checkpoints next to ``sampler.pt``
(:mod:`nsnet.sampler.adafocus.checkpoints`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from nsnet import __version__
from nsnet.errors import UserError
from nsnet.store.location import location_text
from nsnet.sampler.config import SamplerConfig
from nsnet.sampler.data import SamplerArrays
from nsnet.sampler.prototypes import Prototypes
from nsnet.sampler.variants import variant_spec

if TYPE_CHECKING:
    from nsnet.sampler.loop import TrainResult

CHECKPOINT = "sampler.pt"
CONFIG = "config.json"
FORMAT_VERSION = 1


class RunError(UserError, ValueError):
    """A directory is not a readable sampler run."""


class RunMismatchError(UserError, ValueError):
    """A sampler run was trained on a store with another fingerprint, T, C or light extractor."""


@dataclass
class SamplerRun:
    """A loaded run directory."""

    run_dir: Path
    config: SamplerConfig
    model: Any  # the variant's model (VariantSpec.model), None for the oracle
    prototypes: Prototypes | None
    meta: dict[str, Any]


# ----------------------------------------------------------------------------- helpers
def run_meta(arrays: SamplerArrays, result: TrainResult) -> dict[str, Any]:
    """Returns the JSON-able store identity and training summary recorded with a run."""
    meta = {
        "format_version": FORMAT_VERSION,
        "variant": result.config.variant,
        "fingerprint": arrays.fingerprint,
        "T": arrays.T,
        "C": arrays.C,
        "D": arrays.D,
        "class_names": list(arrays.class_names),
        "multilabel": bool(arrays.multilabel),
        "extractor": arrays.extractor_spec,
        "recognizer": arrays.recognizer_spec,
        "train_split": arrays.split,
        "num_train_videos": result.num_videos,
        "train_seconds": round(result.seconds, 3),
        "history": [float(v) for v in result.history],
        "epoch_seconds": [round(float(v), 3) for v in result.epoch_seconds],
        "nsnet_version": __version__,
        "torch_version": torch.__version__,
        **dict(getattr(result, "extra", None) or {}),
    }
    if arrays.patches:
        meta["patches"] = dict(arrays.patches)  # AdaFocus candidate geometry (grid, patch size, boxes)
    return json.loads(json.dumps(meta, default=str))


def in_memory_run(result: TrainResult, arrays: SamplerArrays) -> SamplerRun:
    """Returns the :class:`SamplerRun` of a training result not saved anywhere (run_dir ``.``), with
    the meta a saved run would record, so the samplers can be built from it."""
    return SamplerRun(Path("."), result.config, result.model, result.prototypes, run_meta(arrays, result))


def _prototypes_to_dict(protos: Prototypes | None) -> dict[str, torch.Tensor] | None:
    """Returns the prototypes as a dict of tensors (None stays None)."""
    if protos is None:
        return None
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in asdict(protos).items() if v is not None}


def save_run(run_dir: str | Path, result: TrainResult, arrays: SamplerArrays, store: Any = None) -> Path:
    """Writes ``sampler.pt`` and ``config.json`` for ``result`` trained on ``arrays``; returns the
    run directory. ``store`` (a path or FeatureStore) is recorded so `nsnet predict` can find the
    recognizer head and specs from the run alone."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    meta = run_meta(arrays, result)
    if store is not None:
        meta["store"] = location_text(store)
    model = result.model
    payload = {
        "format": "nsnet-sampler",
        "format_version": FORMAT_VERSION,
        "meta": meta,
        "model_config": None if model is None else asdict(model.cfg),
        "state_dict": None if model is None else {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "prototypes": _prototypes_to_dict(result.prototypes),
    }
    torch.save(payload, run_dir / CHECKPOINT)
    result.config.save(run_dir / CONFIG, extra=meta)
    return run_dir


def _store_identity(store: Any) -> dict[str, Any]:
    """Returns fingerprint / T / C / extractor of a FeatureStore, SamplerArrays or store path."""
    if isinstance(store, (str, Path)):
        from nsnet.store import FeatureStore

        store = FeatureStore.open(store)
    if isinstance(store, SamplerArrays):
        return {"fingerprint": store.fingerprint, "T": store.T, "C": store.C, "extractor": store.extractor_spec}
    return {"fingerprint": str(store.fingerprint), "T": int(store.T), "C": int(store.num_classes),
            "extractor": dict(store.extractor_spec)}


def _extractor_identity(spec: dict[str, Any]) -> dict[str, Any]:
    """Returns the number-determining part of a light extractor spec (JSON-normalised)."""
    from nsnet.store.schema import spec_identity

    return json.loads(json.dumps(spec_identity(dict(spec or {})), default=str))


def check_run_matches(meta: dict[str, Any], store: Any, run_dir: str | Path = "run") -> None:
    """Raises RunMismatchError when ``store`` differs from the store the run was trained on."""
    ident = _store_identity(store)
    diffs = []
    for key in ("T", "C"):
        if int(meta[key]) != int(ident[key]):
            diffs.append(f"{key} {meta[key]} vs {ident[key]}")
    if _extractor_identity(meta.get("extractor", {})) != _extractor_identity(ident["extractor"]):
        diffs.append(f"light extractor {meta.get('extractor', {}).get('name')!r} vs {ident['extractor'].get('name')!r}")
    if meta.get("fingerprint") != ident["fingerprint"]:
        diffs.append(f"store fingerprint {str(meta.get('fingerprint'))[:12]} vs {str(ident['fingerprint'])[:12]}")
    if diffs:
        raise RunMismatchError(f"{run_dir}: sampler was trained on a different store ({'; '.join(diffs)})")


def load_run(run_dir: str | Path, store: Any = None, device: str = "cpu") -> SamplerRun:
    """Returns the :class:`SamplerRun` saved in ``run_dir`` (model in eval mode on ``device``).

    ``store`` (FeatureStore, SamplerArrays or store path) is checked against the run's recorded
    fingerprint, T, C and light extractor; a difference raises :class:`RunMismatchError`.
    """
    run_dir = Path(run_dir)
    if not (run_dir / CHECKPOINT).is_file() or not (run_dir / CONFIG).is_file():
        raise RunError(f"{run_dir}: not a sampler run (needs {CHECKPOINT} and {CONFIG})")
    try:
        payload = torch.load(run_dir / CHECKPOINT, map_location="cpu", weights_only=True)
        cfg = SamplerConfig.from_dict(json.loads((run_dir / CONFIG).read_text())["config"]).resolved()
    except (OSError, KeyError, ValueError, RuntimeError) as err:
        raise RunError(f"{run_dir}: cannot read the sampler run ({err})") from err
    if payload.get("format") != "nsnet-sampler" or payload.get("format_version") != FORMAT_VERSION:
        raise RunError(f"{run_dir}: unsupported checkpoint format "
                       f"{payload.get('format')!r} v{payload.get('format_version')!r}")
    meta = payload["meta"]
    if store is not None:
        check_run_matches(meta, store, run_dir)
    model = None
    if payload["model_config"] is not None:
        model = variant_spec(cfg.variant).model(payload["model_config"])
    if model is not None:
        model.load_state_dict(payload["state_dict"])
        model.to(torch.device(device)).eval()
    protos = None
    if payload["prototypes"] is not None:
        protos = Prototypes(**{k: v.numpy() for k, v in payload["prototypes"].items()})
    return SamplerRun(run_dir=run_dir, config=cfg, model=model, prototypes=protos, meta=meta)
