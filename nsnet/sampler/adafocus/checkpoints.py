"""AdaFocus's per-stage checkpoints ``stage{s}.pt``: written after each stage, read to resume from
(with the store and architecture checks) and by the random / centre baselines (the stage-I f_C)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from nsnet.sampler.adafocus.model import AdaFocus, AdaFocusConfig
from nsnet.sampler.adafocus.options import ARCH_OPTIONS
from nsnet.sampler.data import SamplerArrays

STAGE_FILE = "stage{}.pt"
STAGE_FORMAT = "nsnet-adafocus-stage"


def _identity(arrays: SamplerArrays) -> dict[str, Any]:
    """Returns the store identity a stage checkpoint records (the keys of a run's meta)."""
    return {"fingerprint": arrays.fingerprint, "T": arrays.T, "C": arrays.C, "extractor": dict(arrays.extractor_spec)}


def save_stage(run_dir: str | Path, stage: int, model: AdaFocus, arrays: SamplerArrays, opts: Mapping[str, Any],
               record: dict[str, Any]) -> Path:
    """Writes ``stage{stage}.pt`` (weights_only loadable: model config, weights, store identity,
    architecture options, seconds and history of the stages so far) atomically; returns its path."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / STAGE_FILE.format(stage)
    payload = {
        "format": STAGE_FORMAT, "format_version": 1, "stage": stage, "meta": _identity(arrays),
        "arch": {k: opts[k] for k in ARCH_OPTIONS}, "model_config": asdict(model.cfg),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "record": record,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def _read_stage(path: Path, stage: int) -> tuple[AdaFocus, dict[str, Any]]:
    """Returns (model, payload) of the stage checkpoint at ``path``; raises RunError when it is
    absent, unreadable or not a stage checkpoint."""
    from nsnet.sampler.run import RunError

    if not path.is_file():
        raise RunError(f"{path}: no stage {stage} checkpoint to resume from; run stages 1..{stage} first "
                       f"(e.g. --stages 1,2,3)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError) as err:
        raise RunError(f"{path}: cannot read the stage checkpoint ({err})") from err
    if payload.get("format") != STAGE_FORMAT:
        raise RunError(f"{path}: not an AdaFocus stage checkpoint")
    model = AdaFocus(AdaFocusConfig(**payload["model_config"]))
    model.load_state_dict(payload["state_dict"])
    return model, payload


def load_stage(run_dir: str | Path, stage: int, arrays: SamplerArrays, opts: Mapping[str, Any]) -> tuple[AdaFocus, dict[str, Any]]:
    """Returns (model, record) saved after ``stage`` in ``run_dir``. Raises RunError when it is
    absent, unreadable or was trained with other architecture options, RunMismatchError when it
    was trained on another store."""
    from nsnet.sampler.run import RunError, check_run_matches

    path = Path(run_dir) / STAGE_FILE.format(stage)
    model, payload = _read_stage(path, stage)
    check_run_matches(payload["meta"], arrays, path)
    asked = {k: opts[k] for k in ARCH_OPTIONS}
    diffs = [f"{k}={payload['arch'].get(k)!r} (asked {v!r})" for k, v in asked.items() if payload["arch"].get(k) != v]
    if diffs:
        raise RunError(f"{path} was trained with {', '.join(diffs)}; use the same options or redo all stages "
                       "(--stages 1,2,3)")
    return model, dict(payload["record"])


def stage_model(run: Any, stage: int, device: torch.device) -> AdaFocus | None:
    """Returns the AdaFocus model saved after ``stage`` in the directory of the loaded ``run`` (eval
    mode on ``device``), or None when the run kept no such checkpoint. Raises RunMismatchError when
    the checkpoint was trained on another store than the run."""
    from nsnet.sampler.run import RunMismatchError

    path = Path(run.run_dir) / STAGE_FILE.format(stage)
    if not path.is_file():
        return None
    model, payload = _read_stage(path, stage)
    diffs = [k for k in ("fingerprint", "T", "C") if str(payload["meta"].get(k)) != str(run.meta.get(k))]
    if diffs:
        raise RunMismatchError(f"{path} was trained on another store than {run.run_dir} ({', '.join(diffs)} differ)")
    return model.to(device).eval()
