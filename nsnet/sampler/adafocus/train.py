"""Training AdaFocus in three stages on cached tensors (registered as the trainer of variant adafocus).

f_G (the light extractor) and f_L (the recognizer backbone) stay frozen: their features are read
from the store (the paper also trains both in stage I; see the README). Per batch the float16
maps / candidate features are gathered and converted to float32.

* **Stage I** (Eq. 5): f_C on random candidates -- every frame's patch drawn uniformly among the
  G*G -- minimising the mean over steps of the cross-entropy (BCE for multi-label stores). Adam,
  ``lr``. ``drop_local`` > 0 also zeroes a frame's local feature with that probability (useful
  for AdaFocus+, whose f_C later sees skipped frames; 0 by default, as in the paper).
* **Stage II** (Eq. 6-7, and Eq. 8-10 for AdaFocus+): f_C frozen, π (and π') trained with PPO.
  Per batch one rollout: π samples a candidate per frame; r_t = p_ty(chosen at t | previous chosen
  patches) - p_ty(one random candidate at t | the same previous patches) -- f_C's GRU runs once
  over the chosen sequence, and every alternative at every t is one batched GRU step from the
  previous hidden states (:func:`rollout_rewards`). AdaFocus+: π' samples b_t, the history uses
  b_t ē^L_t, r'_t = b_t (p_ty(.., 1) - p_ty(.., 0) - lambda P^2); π's reward at a skipped frame
  is still computed with that frame's patch kept (the value the patch would have had). Returns
  with gamma = 0.7, advantages = returns - critic value, normalised over the batch; then
  ``ppo_epochs`` = 2 epochs of the clipped objective (clip 0.2) + 0.5 value MSE - 0.01 entropy on
  the same batch, Adam ``policy_lr`` = 1e-3. π and π' are trained together (one optimiser). Each
  epoch records the share of frames where π' has saturated (keep probability within 0.01 of 0 or 1);
  a run that ends stage II saturated carries a warning, printed by ``fit-sampler`` and ``nsnet info``.
* **Stage III**: f_C fine-tuned (Adam, ``stage3_lr`` = 1e-4) on patches sampled from π (and
  frames kept by b_t sampled from π'), π frozen.
* AdaFocus+ then solves ρ on the train set: the p^B value above which a share ``keep_ratio`` = η
  of the train frames lies (saved in the model config; :meth:`AdaFocus.keep_mask` uses it).

Every stage seeds torch and its own generator with (seed, stage), so ``--stages 2,3`` resumed from
a saved ``stage1.pt`` gives the same model as ``--stages 1,2,3``. With a ``run_dir`` each stage
writes ``stage{s}.pt`` (weights_only loadable) there; a later call with stages s..e resumes from
``stage{s-1}.pt`` and removes the stale checkpoints of stages after e.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import torch

from nsnet.device import resolve_device
from nsnet.sampler.adafocus.candidate_policy import boxes_on_map
from nsnet.sampler.adafocus.checkpoints import STAGE_FILE, load_stage, save_stage
from nsnet.sampler.adafocus.model import AdaFocus, AdaFocusConfig
from nsnet.sampler.adafocus.options import ARCH_OPTIONS, STAGES, parse_stages
from nsnet.sampler.adafocus.policy import saturation_warning, train_policy
from nsnet.sampler.adafocus.rewards import solve_threshold
from nsnet.sampler.adafocus.stages import StageData, StageLoop, train_classifier
from nsnet.sampler.data import SamplerArrays
from nsnet.sampler.loop import TrainResult, deterministic, loss_progress


def model_config(opts: dict[str, Any], arrays: SamplerArrays) -> AdaFocusConfig:
    """Returns the AdaFocusConfig of resolved options ``opts`` for ``arrays`` (with patch arrays)."""
    arrays.require_patches()
    _, _, d_map, h, w = arrays.light_maps.shape
    boxes = None
    if opts["policy_input"] == "candidates":
        boxes = boxes_on_map(arrays.patches, arrays.recognizer_spec, arrays.extractor_spec, int(h), int(w))
    return AdaFocusConfig(
        candidate_boxes=boxes, global_dim=arrays.D, map_dim=int(d_map), map_height=int(h), map_width=int(w),
        local_dim=int(arrays.patch_features.shape[3]), num_candidates=int(arrays.patch_features.shape[2]),
        num_classes=arrays.C, num_frames=arrays.T, patch_size=int(arrays.patches.get("patch_size", 0)),
        multilabel=bool(arrays.multilabel), keep_ratio=float(opts["keep_ratio"]) if opts["skip"] else 1.0,
        **{k: opts[k] for k in ARCH_OPTIONS},
    )


def train_adafocus(arrays: SamplerArrays, cfg: Any, *, progress: bool = False, stages: Sequence[int] | str | None = None,
                   run_dir: str | Path | None = None, **_: Any) -> TrainResult:
    """Returns a :class:`TrainResult` holding the AdaFocus model after the
    ``stages`` (default 1, 2, 3) of the resolved ``cfg`` (variant adafocus) on the train ``arrays``
    (with patch arrays). With ``run_dir``, each stage's checkpoint is written there and a call
    starting at stage s > 1 resumes from ``stage{s-1}.pt``. ``result.extra`` holds ``stages``
    (done), ``stages_run``, ``stage_seconds``, ``stage_history`` (stage II's with π''s per-epoch
    ``keep_saturated`` share for AdaFocus+), ``threshold``, and ``warnings`` when π' ended stage II
    saturated (:func:`saturation_warning`)."""
    start = time.perf_counter()
    arrays.require_patches()
    opts = asdict(cfg.options)
    todo = parse_stages(stages)
    if todo[0] > 1 and run_dir is None:
        raise ValueError("resuming from a stage checkpoint needs a run_dir")
    device = resolve_device(cfg.device)
    record: dict[str, Any] = {"stage_seconds": {}, "stage_history": {}}
    with deterministic():
        if todo[0] == 1:
            torch.manual_seed(cfg.seed)
            model = AdaFocus(model_config(opts, arrays))
        else:
            model, record = load_stage(run_dir, todo[0] - 1, arrays, opts)
            model.cfg.keep_ratio = float(opts["keep_ratio"]) if opts["skip"] else 1.0
        model.to(device)
        data = StageData(arrays, device)
        steps = (data.n + opts["batch_size"] - 1) // opts["batch_size"]
        total = sum(opts[f"stage{s}_epochs"] for s in todo) * steps
        bar = loss_progress(progress)
        loop = StageLoop(model, data, opts, opts["batch_size"], cfg.seed, bar)
        if bar is not None:
            loop.task = bar.add_task(f"fit {cfg.name} (AdaFocus)", total=total, loss="-")
        history, epoch_seconds = [], []
        with bar if bar is not None else contextlib.nullcontext():
            for stage in todo:
                tic = time.perf_counter()
                epochs = opts[f"stage{stage}_epochs"]
                if stage == 2:
                    losses, rewards, saturated, secs = train_policy(loop, epochs)
                    record["stage_history"]["2"] = {"loss": losses, "reward": rewards}
                    if saturated:
                        record["stage_history"]["2"]["keep_saturated"] = saturated
                else:
                    lr = opts["lr"] if stage == 1 else opts["stage3_lr"]
                    losses, secs = train_classifier(loop, stage, epochs, lr)
                    record["stage_history"][str(stage)] = {"loss": losses}
                history += losses
                epoch_seconds += secs
                record["stage_seconds"][str(stage)] = round(time.perf_counter() - tic, 3)
                for later in [s for s in STAGES if s > stage]:
                    record["stage_seconds"].pop(str(later), None)
                    record["stage_history"].pop(str(later), None)
                if model.skip is not None:
                    model.cfg.threshold = solve_threshold(model.keep_probs(data.maps), model.cfg.keep_ratio)
                if run_dir is not None:  # later stages' checkpoints were trained on what this stage replaced
                    save_stage(run_dir, stage, model, arrays, opts, record)
                    for later in [s for s in STAGES if s > stage]:
                        (Path(run_dir) / STAGE_FILE.format(later)).unlink(missing_ok=True)
    model.eval()
    extra = {"stages": list(range(1, todo[-1] + 1)), "stages_run": list(todo), "threshold": model.cfg.threshold,
             **record}
    warning = saturation_warning(record["stage_history"].get("2", {}).get("keep_saturated", []))
    if warning:
        extra["warnings"] = [warning]
    return TrainResult(model.cpu(), cfg, None, history, time.perf_counter() - start, arrays.N, epoch_seconds, extra)


def load_model(config: dict[str, Any]) -> AdaFocus:
    """Returns an AdaFocus model rebuilt from its saved ``model_config``."""
    return AdaFocus(AdaFocusConfig(**config))
