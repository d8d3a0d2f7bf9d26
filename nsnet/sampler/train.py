"""Training a sampler on cached tensors, and saving / loading its run directory.

Recipe (supp. A.1): SGD (momentum 0.9), lr 1e-2 decayed x0.1 at 50/120 and 75/120 of the epochs,
batch 64. Temporal random shift augmentation: each training video is rolled along time by an
offset drawn uniformly from [-s, s], s = round(max_shift * T) (frames wrap around), and its guiding
scores are rolled identically; the positional embedding then sees the content at shifted
positions. Runs are seeded (``torch.manual_seed`` plus a private generator for shuffling and
shifts) and use ``torch.use_deterministic_algorithms(True, warn_only=True)`` while training, so
the same seed on the same CPU gives identical weights.

A run directory holds ``sampler.pt`` (plain tensors / dicts / strings: ``torch.load(...,
weights_only=True)`` works) and ``config.json`` (the resolved :class:`SamplerConfig` plus the store
identity: fingerprint, T, C, class names, light extractor spec).
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from nsnet import __version__
from nsnet.extract.models import resolve_device
from nsnet.sampler.config import SamplerConfig
from nsnet.sampler.data import SamplerArrays, SamplerDataError, load_sampler_arrays
from nsnet.sampler.nsnet import NSNet, NSNetConfig
from nsnet.sampler.prototypes import (
    GUIDES_WITH_PROTOTYPES,
    GuideTargets,
    Prototypes,
    build_prototypes,
    compute_guide,
    with_negative_quantiles,
)

CHECKPOINT = "sampler.pt"
CONFIG = "config.json"
FORMAT_VERSION = 1


class RunError(ValueError):
    """A directory is not a readable sampler run."""


class RunMismatchError(ValueError):
    """A sampler run was trained on a store with another fingerprint, T, C or light extractor."""


@dataclass
class TrainResult:
    """A trained sampler: model (None for the oracle), resolved config, prototypes, history."""

    model: NSNet | None
    config: SamplerConfig
    prototypes: Prototypes | None = None
    history: list[float] = field(default_factory=list)
    seconds: float = 0.0
    num_videos: int = 0
    epoch_seconds: list[float] = field(default_factory=list)


@dataclass
class SamplerRun:
    """A loaded run directory."""

    run_dir: Path
    config: SamplerConfig
    model: NSNet | None
    prototypes: Prototypes | None
    meta: dict[str, Any]


# ----------------------------------------------------------------------------- helpers
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
    """Returns a rich Progress (or a no-op stand-in) for ``total`` steps."""
    if not enabled:
        return None
    from rich import progress as rp

    return rp.Progress(
        rp.TextColumn("[bold]{task.description}"), rp.BarColumn(), rp.MofNCompleteColumn(),
        rp.TextColumn("loss {task.fields[loss]}"), rp.TimeElapsedColumn(), rp.TimeRemainingColumn(),
    )


def roll_frames(x: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Returns ``x`` [B, T, ...] with video b rolled along time by ``offsets[b]`` frames
    (wrapping around): out[b, j] = x[b, (j - offsets[b]) mod T], as ``torch.roll``."""
    t = x.shape[1]
    idx = (torch.arange(t, device=x.device)[None, :] - offsets[:, None]) % t  # [B, T]
    idx = idx.reshape(idx.shape + (1,) * (x.ndim - 2)).expand(x.shape)
    return x.gather(1, idx)


# ----------------------------------------------------------------------------- training
def train_sampler(arrays: SamplerArrays, cfg: SamplerConfig, *, progress: bool = False) -> TrainResult:
    """Returns a :class:`TrainResult` after training ``cfg`` on in-memory ``arrays`` (train split).

    Videos without any positive label are dropped. The oracle variant only builds prototypes.
    """
    cfg = cfg.resolved()
    keep = np.nonzero(arrays.labels.sum(axis=1) > 0)[0]
    if keep.size == 0:
        raise SamplerDataError("no training video has a positive label")
    if keep.size < arrays.N:
        arrays = arrays.subset(keep)
    start = time.perf_counter()
    if cfg.variant == "tsqnet":  # TSQNet has its own model and priors (nsnet.sampler.tsqnet_train)
        from nsnet.sampler.tsqnet_train import train_tsqnet

        return train_tsqnet(arrays, cfg, progress=progress)
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
def _meta(arrays: SamplerArrays, result: TrainResult) -> dict[str, Any]:
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
    }
    return json.loads(json.dumps(meta, default=str))


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
    meta = _meta(arrays, result)
    store_path = getattr(store, "path", store)
    if store_path is not None:
        meta["store"] = str(Path(store_path).resolve())
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


def fit_sampler(store_path: str | Path, out_dir: str | Path, cfg: SamplerConfig, *, progress: bool = True) -> Path:
    """Trains ``cfg`` on the store's train split and returns the run directory ``out_dir``."""
    cfg = cfg.resolved()
    arrays = load_sampler_arrays(
        store_path, cfg.train_split, rec_features=cfg.needs_rec_features(), rec_logits=cfg.needs_rec_logits(),
    )
    result = train_sampler(arrays, cfg, progress=progress)
    return save_run(out_dir, result, arrays, store=store_path)


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
    if payload["model_config"] is not None and cfg.variant == "tsqnet":
        from nsnet.sampler.tsqnet import TSQNet, TSQNetConfig

        model = TSQNet(TSQNetConfig(**payload["model_config"]))
        model.load_state_dict(payload["state_dict"])
        model.to(torch.device(device)).eval()
    elif payload["model_config"] is not None:
        model = NSNet(NSNetConfig(**payload["model_config"]))
        model.load_state_dict(payload["state_dict"])
        model.to(torch.device(device)).eval()
    protos = None
    if payload["prototypes"] is not None:
        protos = Prototypes(**{k: v.numpy() for k, v in payload["prototypes"].items()})
    return SamplerRun(run_dir=run_dir, config=cfg, model=model, prototypes=protos, meta=meta)
