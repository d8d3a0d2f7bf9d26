"""``fit-sampler --variant auto``: train the candidates on the first part of the train split, score them
on the held-out rest, retrain the winner on the whole train split.

The choice never sees the val split. Each candidate trains with ``seeds`` seeds on ``train[:80%]``
(default holdout 0.2); its holdout score is the mean mAP over its seeds at budget ``k``, with a paired
bootstrap interval (over the held-out videos, seeds averaged) of its difference to Uniform. A run
whose interval does not lie above 0 is **at Uniform's level** (collapsed) and is reported as such.
The winner is the candidate with the highest mean; when no learned candidate's interval lies above
Uniform, the choice is Uniform and the run says so. The winner is then retrained on the whole train
split; a final run that lands at Uniform's level on the held-out videos (which it trained on: a
collapsed run does not even fit them) is retrained with the next seed, up to ``seeds`` tries.
Candidate runs are kept under ``RUN/candidates/`` and reused when the job is run again.

With ``-o groups=TABLE`` (a video -> group table) the holdout takes whole groups, so that videos of
one source are never on both sides: a holdout that shares sources with the fit part rewards
recognising them, which val (other sources) does not.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from nsnet.sampler.auto.options import AutoOptions
from nsnet.sampler.candidates import UNIFORM, AutoCandidate, parse_candidates, training_config
from nsnet.sampler.config import SamplerConfig
from nsnet.sampler.data import SamplerArrays
from nsnet.sampler.loop import TrainResult
from nsnet.device import resolve_device
from nsnet.sampler.base import BuildContext
from nsnet.sampler.registry import create_sampler, sampler_class
from nsnet.sampler.run import SamplerRun, in_memory_run


def candidate_config(candidate: AutoCandidate, opts: AutoOptions, *, seed: int, device: str) -> SamplerConfig:
    """Returns the SamplerConfig of ``candidate`` at ``seed`` with the shared training options of ``opts``."""
    return training_config(candidate, opts.shared_training(), seed=seed, device=device)


def holdout_cut(n: int, share: float) -> int:
    """Returns how many of ``n`` videos (in store order) the fit part keeps when ``share`` is held out,
    as the percent slice ``train[:80%]`` takes them."""
    return (round((1 - share) * 100) * n) // 100


def split_holdout(arrays: SamplerArrays, share: float, groups: str = "") -> tuple[SamplerArrays, SamplerArrays]:
    """Returns (fit, holdout): the first ``1 - share`` of the videos in store order and the rest, as the
    percent slices ``train[:80%]`` / ``train[80%:]`` take them. With a ``groups`` table (path or URL)
    the holdout is instead the last of ``1 / share`` class-stratified folds that keep every group whole
    (:func:`~nsnet.sampler.auto.groups.grouped_holdout_index`); the split names then carry the folds
    and the grouping's digest."""
    from nsnet.sampler.data import SamplerDataError

    name = arrays.split or "train"
    if groups:
        from nsnet.sampler.auto import groups as G

        folds = G.holdout_folds(share)
        groups_of = G.video_groups(arrays.video_ids, G.load_groups(groups), groups)
        hold_idx = G.grouped_holdout_index(groups_of, np.argmax(arrays.labels, axis=1), folds)
        fit_idx = np.setdiff1d(np.arange(arrays.N), hold_idx)
        tag = f" by group {G.groups_digest(arrays.video_ids or [], groups_of)}"  # ids checked by video_groups
        fit_name, hold_name = f"{name}[folds 1-{folds - 1} of {folds}{tag}]", f"{name}[fold {folds} of {folds}{tag}]"
    else:
        cut, pct = holdout_cut(arrays.N, share), round((1 - share) * 100)
        fit_idx, hold_idx = np.arange(cut), np.arange(cut, arrays.N)
        fit_name, hold_name = f"{name}[:{pct}%]", f"{name}[{pct}%:]"
    if fit_idx.size < 2 or hold_idx.size < 2:
        raise SamplerDataError(f"auto needs at least 2 videos on each side of the holdout; the train split has "
                               f"{arrays.N} labelled videos (holdout share {share}"
                               f"{f', {hold_idx.size} held out by group' if groups else ''})")
    fit = dataclasses.replace(arrays.subset(fit_idx), split=fit_name)
    hold = dataclasses.replace(arrays.subset(hold_idx), split=hold_name)
    return fit, hold


def holdout_predictions(method: str, run: SamplerRun | None, hold: SamplerArrays, k: int, **build: Any) -> np.ndarray:
    """Returns [N, C] video scores on ``hold``: the recognizer's cached logits on the K frames
    ``method`` (built from ``run``) selects, averaged as in evaluation."""
    from nsnet.sampler.ablate_entry import selected_predictions  # here: ablate_entry imports this package

    if run is None:
        sampler = create_sampler(method)
    else:
        build["device"] = str(resolve_device(build.get("device", "cpu")))
        ctx = BuildContext(runs={run.config.variant: run}, multilabel=hold.multilabel, **build)
        sampler = sampler_class(method).build(ctx)
    return selected_predictions(sampler, hold, hold, min(k, hold.T))


def compare(scores: np.ndarray, floor: np.ndarray, labels: np.ndarray, opts: AutoOptions, seed: int) -> dict[str, float]:
    """Returns the mAP difference (percentage points) of ``scores`` ([S, N, C]) to the Uniform ``floor``
    with its paired bootstrap 95 % interval over the held-out videos, seeds averaged."""
    from nsnet.metrics import paired_bootstrap_map

    res = paired_bootstrap_map(scores, np.broadcast_to(floor, scores.shape), labels, resamples=opts.resamples,
                               seed=seed)
    return {"diff": 100 * res["diff"], "low": 100 * res["low"], "high": 100 * res["high"]}


def _train(cfg: SamplerConfig, fit: SamplerArrays, out: Path | None, progress: bool) -> tuple[SamplerRun, float]:
    """Returns (run, training seconds) of ``cfg`` on ``fit``: reloaded from ``out`` when a run of the same
    config on the same arrays is there, else trained (and saved there when ``out`` is given)."""
    from nsnet.sampler.ablate_entry import train_or_resume
    from nsnet.sampler.train import train_sampler

    if out is not None:
        run, seconds, _ = train_or_resume(cfg, fit, out, fit, progress)
        return run, seconds
    result = train_sampler(fit, cfg, progress=progress)
    return in_memory_run(result, fit), result.seconds


def score_candidates(fit: SamplerArrays, hold: SamplerArrays, opts: AutoOptions, *, seed: int, device: str,
                     run_dir: Path | None, progress: bool, log: Any = print) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Returns (one record per candidate, Uniform's holdout scores [N, C]): each candidate trained with
    ``opts.seeds`` seeds on ``fit`` and scored on ``hold``."""
    from nsnet.metrics import mean_average_precision

    floor = holdout_predictions(UNIFORM, None, hold, opts.k)
    records = []
    for cand in parse_candidates(opts.candidates):
        preds, maps, secs, errors = [], [], [], []
        for s in range(opts.seeds):
            cfg = candidate_config(cand, opts, seed=seed + s, device=device)
            out = None if run_dir is None else run_dir / "candidates" / cfg.name
            try:
                run, seconds = _train(cfg, fit, out, progress)
            except FloatingPointError as err:  # diverged: recorded, the other seeds still count
                errors.append(f"seed {seed + s}: {err}")
                continue
            pred = holdout_predictions(cand.method, run, hold, opts.k, device=device)
            preds.append(pred)
            maps.append(100 * mean_average_precision(pred, hold.labels))
            secs.append(seconds)
        rec: dict[str, Any] = {"label": cand.label, "variant": cand.variant, "method": cand.method,
                               "options": dict(cand.options), "seeds": [seed + s for s in range(opts.seeds)],
                               "holdout_mAP": maps, "train_seconds": [round(v, 2) for v in secs], "errors": errors}
        if preds:
            stack = np.stack(preds)
            rec["mean"] = float(np.mean(maps))
            rec["std"] = float(np.std(maps, ddof=1)) if len(maps) > 1 else 0.0
            rec["vs_uniform"] = compare(stack, floor, hold.labels, opts, seed)
            rec["at_uniform_level"] = [compare(p[None], floor, hold.labels, opts, seed)["low"] <= 0 for p in preds]
        records.append(rec)
        log(_line(rec))
    return records, floor


def _line(rec: dict[str, Any]) -> str:
    """Returns a one-line summary of a candidate record."""
    if "mean" not in rec:
        return f"auto: {rec['label']:<10} diverged on every seed ({'; '.join(rec['errors'])})"
    vs = rec["vs_uniform"]
    flat = sum(rec["at_uniform_level"])
    note = f", {flat} of {len(rec['at_uniform_level'])} seeds at Uniform's level" if flat else ""
    return (f"auto: {rec['label']:<10} holdout mAP {rec['mean']:6.2f} ± {rec['std']:.2f} "
            f"({vs['diff']:+.2f} vs Uniform, 95% [{vs['low']:+.2f}, {vs['high']:+.2f}]{note})")


def choose(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Returns the record of the candidate with the best mean holdout mAP among those whose interval
    against Uniform lies above 0, or None when none does (the choice is then Uniform)."""
    above = [r for r in records if "mean" in r and r["vs_uniform"]["low"] > 0]
    return max(above, key=lambda r: r["mean"]) if above else None


def train_auto(arrays: SamplerArrays, cfg: SamplerConfig, *, progress: bool = False, stages: Any = None,
               run_dir: str | Path | None = None, log: Any = print) -> TrainResult:
    """Returns the TrainResult of the chosen sampler: the winner retrained on all of ``arrays`` (its
    config is the winner's, ``extra["auto"]`` the record of the choice), or an untrained result of
    variant ``auto`` whose choice is Uniform when no learned candidate beats it on the holdout."""
    from nsnet.metrics import mean_average_precision
    from nsnet.sampler.train import train_sampler

    opts: AutoOptions = cfg.options
    tic = time.perf_counter()
    run_path = None if run_dir is None else Path(run_dir)
    fit, hold = split_holdout(arrays, opts.holdout, opts.groups)
    log(f"auto: {len(parse_candidates(opts.candidates))} candidates x {opts.seeds} seeds on {fit.N} videos "
        f"({fit.split}), scored on {hold.N} held-out videos ({hold.split}) at K = {opts.k}")
    records, floor = score_candidates(fit, hold, opts, seed=cfg.seed, device=cfg.device, run_dir=run_path,
                                      progress=progress, log=log)
    uniform_map = 100 * mean_average_precision(floor, hold.labels)
    winner = choose(records)
    record: dict[str, Any] = {
        "config": cfg.to_dict(),  # the auto config itself (the saved run's config is the winner's)
        "holdout": {"fit": fit.split, "holdout": hold.split, "fit_videos": fit.N, "holdout_videos": hold.N, "k": opts.k,
                    "groups": opts.groups or None},
        "uniform_holdout_mAP": uniform_map, "candidates": records, "choice": winner["label"] if winner else UNIFORM,
        "method": winner["method"] if winner else UNIFORM, "beats_uniform": winner is not None,
        "candidate_seconds": round(sum(sum(r["train_seconds"]) for r in records), 2),
    }
    if winner is None:
        log(f"auto: no learned sampler beats Uniform on the holdout (Uniform {uniform_map:.2f} mAP): the choice is "
            "uniform")
        record["total_seconds"] = round(time.perf_counter() - tic, 2)
        return TrainResult(model=None, config=cfg, seconds=record["total_seconds"], num_videos=arrays.N,
                           extra={"auto": record})
    cand = next(c for c in parse_candidates(opts.candidates) if c.label == winner["label"])
    tries = []
    for s in range(opts.seeds):
        final_cfg = dataclasses.replace(candidate_config(cand, opts, seed=cfg.seed + s, device=cfg.device),
                                        name=cfg.name)
        result = train_sampler(arrays, final_cfg, progress=progress)
        run = in_memory_run(result, arrays)
        pred = holdout_predictions(cand.method, run, hold, opts.k, device=cfg.device)
        flat = compare(pred[None], floor, hold.labels, opts, cfg.seed)["low"] <= 0
        tries.append({"seed": cfg.seed + s, "seconds": round(result.seconds, 2), "at_uniform_level": flat,
                      "fit_holdout_mAP": 100 * mean_average_precision(pred, hold.labels)})
        if not flat:
            break
        log(f"auto: the final {cand.label} run (seed {cfg.seed + s}) is at Uniform's level on the held-out "
            "videos it trained on" + ("; retrying with the next seed" if s + 1 < opts.seeds else ""))
    record["final"] = tries
    record["final_seconds"] = round(sum(t["seconds"] for t in tries), 2)
    record["total_seconds"] = round(time.perf_counter() - tic, 2)
    log(f"auto: chose {cand.label} ({cand.method}), holdout mAP {winner['mean']:.2f} vs Uniform {uniform_map:.2f}; "
        f"retrained on all {arrays.N} train videos")
    result.extra = {**result.extra, "auto": record}
    return result
