"""The training loop every SGD-trained variant shares (public API for the paper packages).

Recipe (NSNet supp. A.1; TSQNet supp. A uses the same one with other milestones): SGD with
momentum, the lr decayed by ``lr_decay`` at fractions ``lr_milestones`` of the epochs, mini-batches
of ``batch_size`` videos. Temporal random shift augmentation: each training video is rolled along
time by an offset drawn uniformly from [-s, s], s = round(max_shift * T) (frames wrap around), and
its guiding scores are rolled identically. Runs are seeded (``torch.manual_seed`` plus a private
generator for shuffling and shifts) and train under :func:`deterministic`, so the same seed on the
same CPU gives identical weights.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch

from nsnet.sampler.data import SamplerArrays
from nsnet.sampler.options import SamplerOptions, option


@dataclass
class TrainResult:
    """A trained sampler: model (None for the oracle), config, prototypes, history, and ``extra``
    JSON-able facts recorded in the run's config.json (AdaFocus: stages, seconds per stage)."""

    model: Any
    config: Any  # nsnet.sampler.config.SamplerConfig
    prototypes: Any = None
    history: list[float] = field(default_factory=list)
    seconds: float = 0.0
    num_videos: int = 0
    epoch_seconds: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SGDOptions(SamplerOptions):
    """The optimisation options of an SGD-trained variant (defaults: NSNet supp. A.1)."""

    epochs: int = option(120, "training epochs (paper: 120)", min=1)
    batch_size: int = option(64, "videos per step", min=1)
    lr: float = option(1e-2, "initial SGD learning rate", min=0, min_open=True)
    momentum: float = option(0.9, "SGD momentum", min=0)
    weight_decay: float = option(0.0, "SGD weight decay", min=0)
    lr_milestones: list[float] = option([50 / 120, 75 / 120], "fractions of the epochs where the lr decays",
                                        min=0, max=1)
    lr_decay: float = option(0.1, "lr factor at each milestone", min=0, min_open=True)
    max_shift: float = option(0.1, "temporal random shift: roll by up to round(max_shift * T) frames", min=0, max=1)


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    """Turns on deterministic torch algorithms (warn-only) and restores the previous setting."""
    was, was_warn = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was, warn_only=was_warn)


def loss_progress(enabled: bool) -> Any:
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


def fit_epochs(
    model: torch.nn.Module, arrays: SamplerArrays, guide: Any, opts: SGDOptions, device: torch.device,
    gen: torch.Generator, show: bool, name: str = "run",
) -> tuple[list[float], list[float]]:
    """Runs the SGD epochs in place on ``model`` (called as ``model(x, labels, g, w)``, returning
    (outputs, losses with a ``"loss"`` entry)); returns the mean training loss and the wall seconds of
    each epoch. ``guide`` (or None) holds per-frame targets ``g`` and optional ``class_weights``."""
    x_all = torch.from_numpy(arrays.light).to(device)
    y_all = torch.from_numpy(arrays.labels).to(device)
    g_all = None if guide is None else torch.from_numpy(guide.g).to(device)
    w_all = None if guide is None or guide.class_weights is None else torch.from_numpy(guide.class_weights).to(device)
    n, t = arrays.N, arrays.T
    shift = int(round(opts.max_shift * t))
    opt = torch.optim.SGD(model.parameters(), lr=opts.lr, momentum=opts.momentum, weight_decay=opts.weight_decay)
    milestones = sorted({max(1, int(round(m * opts.epochs))) for m in opts.lr_milestones})
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=opts.lr_decay)
    steps_per_epoch = (n + opts.batch_size - 1) // opts.batch_size
    bar = loss_progress(show)
    task = bar.add_task(f"fit {name}", total=opts.epochs * steps_per_epoch, loss="-") if bar else None
    history: list[float] = []
    seconds: list[float] = []
    with bar if bar is not None else contextlib.nullcontext():
        for _epoch in range(opts.epochs):
            tic = time.perf_counter()
            model.train()
            perm = torch.randperm(n, generator=gen)
            total, count = 0.0, 0
            for lo in range(0, n, opts.batch_size):
                idx = perm[lo : lo + opts.batch_size].to(device)
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
                    raise FloatingPointError(f"training loss became {value} (lr {opts.lr} too high?)")
                total, count = total + value * idx.numel(), count + idx.numel()
                if bar is not None:
                    bar.update(task, advance=1, loss=f"{value:.4f}")
            sched.step()
            history.append(total / max(count, 1))
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds.append(time.perf_counter() - tic)
    return history, seconds


def drop_unlabelled(arrays: SamplerArrays) -> SamplerArrays:
    """Returns ``arrays`` without the videos that have no positive label (raises SamplerDataError
    when none is left)."""
    from nsnet.sampler.data import SamplerDataError

    keep = np.nonzero(arrays.labels.sum(axis=1) > 0)[0]
    if keep.size == 0:
        raise SamplerDataError("no training video has a positive label")
    return arrays.subset(keep) if keep.size < arrays.N else arrays
