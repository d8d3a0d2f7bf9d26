"""Training a sampler on cached tensors (the run directory is written by :mod:`nsnet.sampler.run`).

Recipe (supp. A.1): SGD (momentum 0.9), lr 1e-2 decayed x0.1 at 50/120 and 75/120 of the epochs,
batch 64. Temporal random shift augmentation: each training video is rolled along time by an
offset drawn uniformly from [-s, s], s = round(max_shift * T) (frames wrap around), and its guiding
scores are rolled identically; the positional embedding then sees the content at shifted
positions. Runs are seeded (``torch.manual_seed`` plus a private generator for shuffling and
shifts) and use ``torch.use_deterministic_algorithms(True, warn_only=True)`` while training, so
the same seed on the same CPU gives identical weights.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from nsnet.device import resolve_device
from nsnet.sampler.config import SamplerConfig, SamplerConfigError
from nsnet.sampler.data import SamplerArrays, SamplerDataError, load_sampler_arrays
from nsnet.sampler.nsnet.model import NSNet, NSNetConfig
from nsnet.sampler.prototypes import (
    GUIDES_WITH_PROTOTYPES,
    GuideTargets,
    Prototypes,
    build_prototypes,
    compute_guide,
    with_negative_quantiles,
)
from nsnet.sampler.run import save_run


@dataclass
class TrainResult:
    """A trained sampler: model (None for the oracle), resolved config, prototypes, history, and
    ``extra`` JSON-able facts recorded in the run's config.json (AdaFocus: stages, seconds per stage)."""

    model: Any
    config: SamplerConfig
    prototypes: Prototypes | None = None
    history: list[float] = field(default_factory=list)
    seconds: float = 0.0
    num_videos: int = 0
    epoch_seconds: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def model_config(cfg: SamplerConfig, in_dim: int, num_classes: int, num_frames: int) -> NSNetConfig:
    """Returns the NSNetConfig of a resolved sampler config for data of the given shape."""
    return NSNetConfig(
        in_dim=in_dim, num_classes=num_classes, num_frames=num_frames, width=cfg.width, encoder=cfg.encoder,
        layers=cfg.layers, heads=cfg.heads, pos_dropout=cfg.pos_dropout, encoder_dropout=cfg.encoder_dropout,
        use_fsm=cfg.branches in ("both", "fsm"), use_vgm=cfg.branches in ("both", "vgm"), fsm=cfg.fsm,
        vgm=cfg.vgm, fsm_saliency=cfg.fsm_saliency,
        attn_dropout=cfg.attn_dropout, cls_dropout=cfg.cls_dropout, gamma=cfg.gamma,
        ranking_margin=cfg.ranking_margin,
    )


@contextlib.contextmanager
def _deterministic() -> Iterator[None]:
    """Turns on deterministic torch algorithms (warn-only) and restores the previous setting."""
    was, was_warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was, warn_only=was_warn)


def _guide(arrays: SamplerArrays, cfg: SamplerConfig) -> tuple[GuideTargets | None, Prototypes | None]:
    """Returns the training guiding scores and the prototypes (None where not needed)."""
    if not cfg.needs_guide():
        return None, None
    if cfg.guide == "response":
        arrays.require("rec_logits")
        return compute_guide(arrays.labels, mode="response", rec_logits=arrays.rec_logits), None
    arrays.require("rec_features", "rec_logits")
    protos = fit_prototypes(arrays, cfg)
    guide = compute_guide(arrays.labels, mode=cfg.guide, rec_features=arrays.rec_features, prototypes=protos,
                          temperature=cfg.guide_temperature, quantile=cfg.guide_quantile)
    return guide, protos


def fit_prototypes(arrays: SamplerArrays, cfg: SamplerConfig) -> Prototypes:
    """Returns the class prototypes of the train ``arrays`` (with the negative distance quantiles
    when ``cfg.guide`` is "calibrated")."""
    arrays.require("rec_features", "rec_logits")
    protos = build_prototypes(arrays.rec_features, arrays.rec_logits, arrays.labels, cfg.proto_eps)
    if cfg.guide == "calibrated":
        protos = with_negative_quantiles(protos, arrays.rec_features, arrays.labels)
    return protos


def _progress(enabled: bool, total: int) -> Any:
    """Returns a rich Progress with a loss column (None when not ``enabled``)."""
    if not enabled:
        return None
    from rich.progress import TextColumn

    from nsnet.progress import progress_bar

    return progress_bar(False, False, TextColumn("loss {task.fields[loss]}"))


def roll_frames(x: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Returns ``x`` [B, T, ...] with video b rolled along time by ``offsets[b]`` frames
    (wrapping around): out[b, j] = x[b, (j - offsets[b]) mod T], as ``torch.roll``."""
    t = x.shape[1]
    idx = (torch.arange(t, device=x.device)[None, :] - offsets[:, None]) % t  # [B, T]
    idx = idx.reshape(idx.shape + (1,) * (x.ndim - 2)).expand(x.shape)
    return x.gather(1, idx)


# ----------------------------------------------------------------------------- training
def train_sampler(
    arrays: SamplerArrays, cfg: SamplerConfig, *, progress: bool = False, stages: Sequence[int] | str | None = None,
    run_dir: str | Path | None = None,
) -> TrainResult:
    """Returns a :class:`TrainResult` after training ``cfg`` on in-memory ``arrays`` (train split).

    Videos without any positive label are dropped. The oracle variant only builds prototypes.
    ``stages`` / ``run_dir`` are AdaFocus's (which stages to run; where the per-stage checkpoints
    are written and resumed from); other variants refuse ``stages``.
    """
    cfg = cfg.resolved()
    if stages is not None and cfg.variant != "adafocus":
        raise SamplerConfigError(f"training stages are AdaFocus's (variant adafocus), not {cfg.variant}'s")
    keep = np.nonzero(arrays.labels.sum(axis=1) > 0)[0]
    if keep.size == 0:
        raise SamplerDataError("no training video has a positive label")
    if keep.size < arrays.N:
        arrays = arrays.subset(keep)
    start = time.perf_counter()
    if cfg.variant == "tsqnet":  # TSQNet has its own model and priors (nsnet.sampler.tsqnet.train)
        from nsnet.sampler.tsqnet.train import train_tsqnet

        return train_tsqnet(arrays, cfg, progress=progress)
    if cfg.variant == "adafocus":  # AdaFocus: three stages, own model (nsnet.sampler.adafocus.train)
        from nsnet.sampler.adafocus.train import train_adafocus

        return train_adafocus(arrays, cfg, progress=progress, stages=stages, run_dir=run_dir)
    if cfg.variant == "oracle":
        protos = fit_prototypes(arrays, cfg) if cfg.guide in GUIDES_WITH_PROTOTYPES else None
        return TrainResult(None, cfg, protos, [], time.perf_counter() - start, arrays.N)
    guide, protos = _guide(arrays, cfg)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    with _deterministic():
        model = NSNet(model_config(cfg, arrays.D, arrays.C, arrays.T)).to(device)
        history, epoch_seconds = _fit(model, arrays, guide, cfg, device, gen, progress)
    model.eval()
    return TrainResult(model.cpu(), cfg, protos, history, time.perf_counter() - start, arrays.N, epoch_seconds)


def _fit(
    model: NSNet, arrays: SamplerArrays, guide: GuideTargets | None, cfg: SamplerConfig,
    device: torch.device, gen: torch.Generator, show: bool,
) -> tuple[list[float], list[float]]:
    """Runs the SGD epochs in place on ``model``; returns the mean training loss and the wall
    seconds of each epoch."""
    x_all = torch.from_numpy(arrays.light).to(device)
    y_all = torch.from_numpy(arrays.labels).to(device)
    g_all = None if guide is None else torch.from_numpy(guide.g).to(device)
    w_all = None if guide is None or guide.class_weights is None else torch.from_numpy(guide.class_weights).to(device)
    n, t = arrays.N, arrays.T
    shift = int(round(cfg.max_shift * t))
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    milestones = sorted({max(1, int(round(m * cfg.epochs))) for m in cfg.lr_milestones})
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=cfg.lr_decay)
    steps_per_epoch = (n + cfg.batch_size - 1) // cfg.batch_size
    bar = _progress(show, cfg.epochs * steps_per_epoch)
    task = bar.add_task(f"fit {cfg.name}", total=cfg.epochs * steps_per_epoch, loss="-") if bar else None
    history: list[float] = []
    seconds: list[float] = []
    with bar if bar is not None else contextlib.nullcontext():
        for _epoch in range(cfg.epochs):
            tic = time.perf_counter()
            model.train()
            perm = torch.randperm(n, generator=gen)
            total, count = 0.0, 0
            for lo in range(0, n, cfg.batch_size):
                idx = perm[lo : lo + cfg.batch_size].to(device)
                x, y = x_all[idx], y_all[idx]
                g = None if g_all is None else g_all[idx]
                w = None if w_all is None else w_all[idx]
                if shift > 0:
                    offsets = torch.randint(-shift, shift + 1, (idx.numel(),), generator=gen).to(device)
                    x = roll_frames(x, offsets)
                    g = None if g is None else roll_frames(g, offsets)
                    w = None if w is None else roll_frames(w, offsets)
                _, losses = model(x, y, g, w)
                opt.zero_grad(set_to_none=True)
                losses["loss"].backward()
                opt.step()
                value = float(losses["loss"].detach())
                if not np.isfinite(value):
                    raise FloatingPointError(f"training loss became {value} (lr {cfg.lr} too high?)")
                total, count = total + value * idx.numel(), count + idx.numel()
                if bar is not None:
                    bar.update(task, advance=1, loss=f"{value:.4f}")
            sched.step()
            history.append(total / max(count, 1))
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds.append(time.perf_counter() - tic)
    return history, seconds


# ----------------------------------------------------------------------------- run directories
def fit_sampler(
    store_path: str | Path, out_dir: str | Path, cfg: SamplerConfig, *, progress: bool = True,
    stages: Sequence[int] | str | None = None,
) -> Path:
    """Trains ``cfg`` on the store's train split and returns the run directory ``out_dir``.

    AdaFocus: ``stages`` (default 1, 2, 3) are run, each leaving ``stage{s}.pt`` in ``out_dir``; a
    call starting at stage s > 1 resumes from ``stage{s-1}.pt`` there.
    """
    cfg = cfg.resolved()
    if stages is not None:
        from nsnet.sampler.adafocus.train import parse_stages

        stages = parse_stages(stages)
        if cfg.variant != "adafocus":
            raise SamplerConfigError(f"--stages is for variant adafocus, not {cfg.variant}")
    arrays = load_sampler_arrays(
        store_path, cfg.train_split, rec_features=cfg.needs_rec_features(), rec_logits=cfg.needs_rec_logits(),
        patches=cfg.needs_patches(),
    )
    run_dir = out_dir if cfg.variant == "adafocus" else None
    result = train_sampler(arrays, cfg, progress=progress, stages=stages, run_dir=run_dir)
    return save_run(out_dir, result, arrays, store=store_path)
