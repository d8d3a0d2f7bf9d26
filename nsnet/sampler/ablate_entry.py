"""One entry of an ablation grid: train it (or reload its finished run) and score it on the val split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from nsnet.sampler.auto.sampler import AUTO, auto_record, chosen_method
from nsnet.sampler.base import Sampler, SamplerInputs
from nsnet.sampler.config import SamplerConfig, SamplerConfigError
from nsnet.sampler.data import SamplerArrays
from nsnet.sampler.options import changed_options
from nsnet.sampler.registry import create_sampler
from nsnet.sampler.run import CONFIG, RunError, RunMismatchError, SamplerRun, load_run, save_run
from nsnet.sampler.train import train_sampler
from nsnet.sampler.variants import variant_spec


def selected_predictions(sampler: Sampler, inputs: SamplerInputs, val: SamplerArrays, k: int) -> np.ndarray:
    """Returns [N, C] video scores: the store's cached recognizer logits on the K frames ``sampler``
    selects, averaged as in evaluation."""
    from nsnet.metrics import average_frame_predictions

    sel = sampler.select(inputs, k)
    logits = np.take_along_axis(val.rec_logits, sel[..., None], axis=1)  # [N, K, C]
    return average_frame_predictions(logits, multilabel=val.multilabel)


def video_scores(sampler: Sampler, inputs: SamplerInputs, val: SamplerArrays, k: int) -> dict[str, float]:
    """Returns mAP and top-1 of the recognizer on the K frames ``sampler`` selects."""
    from nsnet.metrics import mean_average_precision, top1_accuracy

    scores = selected_predictions(sampler, inputs, val, k)
    return {"mAP": mean_average_precision(scores, val.labels), "top1": top1_accuracy(scores, val.labels)}


def evaluate_run(run: SamplerRun, val: SamplerArrays, k: int = 5) -> dict[str, float]:
    """Returns ``mAP``/``top1`` of a run on in-memory val arrays (which need recognizer logits) plus
    the extra scores of its variant's ``ablate`` hook (e.g. ``mAP_fsm``/``mAP_vgm`` of NSNet)."""
    val.require("rec_logits")
    if auto_record(run) is not None:  # an automatic choice is scored as the sampler it chose
        return {**video_scores(create_sampler(AUTO, run=run), val, val, k), "auto_choice": chosen_method(run)}
    hook = variant_spec(run.config.variant).ablate
    if hook is None:
        raise SamplerConfigError(f"variant {run.config.variant} cannot be scored in an ablation")
    return hook(run, val, k, lambda name, r: video_scores(create_sampler(name, run=r), val, val, k))


def _existing_run(run_dir: Path, cfg: SamplerConfig, store: Any, train: SamplerArrays) -> SamplerRun | None:
    """Returns the run saved in ``run_dir`` when it was trained with ``cfg`` on ``store``'s videos
    ``train`` (the same split and number of videos: auto's candidates on another holdout share are not
    reused), else None."""
    if not (run_dir / CONFIG).is_file():
        return None
    try:
        run = load_run(run_dir, store=store)
    except (RunError, RunMismatchError):  # unreadable, or trained on another store: retrain
        return None
    if run.meta.get("train_split") != train.split or run.meta.get("num_train_videos") != train.N:
        return None
    record = auto_record(run)
    if record is not None:  # an automatic choice: its own config is in the record (the run holds the winner's)
        return run if record.get("config") == json.loads(json.dumps(cfg.to_dict(), default=str)) else None
    return run if run.config == cfg else None


def train_or_resume(cfg: SamplerConfig, train: SamplerArrays, run_dir: Path, store: Any,
                     progress: bool) -> tuple[SamplerRun, float, float | None]:
    """Returns (run, training seconds, final epoch loss), training only when ``run_dir`` holds no
    run of ``cfg``. Raises FloatingPointError when training diverges."""
    run = _existing_run(run_dir, cfg, store, train)
    if run is None:
        result = train_sampler(train, cfg, progress=progress)
        saved = save_run(run_dir, result, train, store=store)
        run = SamplerRun(saved, result.config, result.model, result.prototypes,
                         json.loads((saved / CONFIG).read_text())["run"])
    history = run.meta.get("history") or [None]  # the saved record, so a resumed row equals the first
    return run, float(run.meta.get("train_seconds", 0.0)), history[-1]


def options_summary(cfg: SamplerConfig) -> str:
    """Returns the options that differ from the variant's defaults, e.g. ``attention=ca classifier=ca``."""
    return " ".join(f"{k}={v}" for k, v in changed_options(cfg.options).items()) or "default"



def grid_row(cfg: SamplerConfig, train: SamplerArrays, val: SamplerArrays, out_dir: Path, store: Any, k: int,
             progress: bool) -> dict[str, Any]:
    """Returns the table row of one grid entry (trained in ``out_dir / cfg.name`` unless a run of the
    same config is there); a diverged training becomes a row with its ``error``."""
    row: dict[str, Any] = {"name": cfg.name, "variant": cfg.variant, "options": options_summary(cfg), "k": k}
    try:
        run, seconds, final_loss = train_or_resume(cfg, train, out_dir / cfg.name, store, progress)
    except FloatingPointError as err:
        return {**row, "error": str(err)}
    return {**row, "train_s": round(seconds, 2), "final_loss": final_loss, **evaluate_run(run, val, k)}
