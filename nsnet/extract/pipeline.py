"""`nsnet extract`: decode the T pre-sampled frames of every video once and cache everything.

Decoding runs in DataLoader worker processes while the main process runs the two models, so
decode and forward overlap. Work is organised by store chunks: each rank of a ``torchrun`` job
owns whole chunks (round-robin), buffers one chunk in memory and writes it in one go, data first
and ``done`` flags last. A re-run skips finished chunks and recomputes the rest from scratch.

With ``--patches G`` (AdaFocus) each frame also gets the light extractor's map before pooling
(its pooled features come from the same forward) and the recognizer backbone's features of all
G*G candidate crops of the recognizer's input frame (:mod:`nsnet.extract.patches`).
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from rich.console import Console
from rich.markup import escape
from torch.utils.data import DataLoader, Dataset

from nsnet.errors import ConfigError, DiskFullError, is_disk_full
from nsnet.extract.annotations import Manifest, load_manifest
from nsnet.extract.config import ExtractConfig
from nsnet.extract.frames import plan_frame_indices
from nsnet.device import resolve_device
from nsnet.extract.chunks import ChunkWriter
from nsnet.extract.features import VideoFeatures
from nsnet.extract.models import FrameModel
from nsnet.extract.patches import PatchGrid, feature_map_shape
from nsnet.extract.transforms import FrameTransform, decode_short_side
from nsnet.extract.decode.policy import decoder_version
from nsnet.extract.ranks import TorchrunRanks, chunks_for_rank
from nsnet.extract.video import (VideoReadError, backend_for, decode_worker_init, keep_freed_memory, probe_video,
                                 read_frames)
from nsnet.progress import progress_bar, console
from nsnet.store import DEFAULT_CHUNK_VIDEOS, FeatureStore, StoreLayout
from nsnet.store import schema as S


class VideoFrames(Dataset):
    """Decodes the T planned frames of each listed video and preprocesses them for both models.

    Each item is a dict: ``row`` (video index in the store), and either ``light``/``rec`` float
    tensors ``[T, 3, S, S]`` plus ``frame_indices``, ``num_frames``, ``fps``, ``backend`` (what
    decoded it under ``decoder``); or ``error`` (str).
    """

    def __init__(self, rows: list[int], paths: list[str], T: int, light: FrameTransform, rec: FrameTransform,
                 decoder: str = "auto"):
        self.rows, self.paths, self.T, self.decoder = rows, paths, T, decoder
        self.light, self.rec = light, rec
        self.short_side = decode_short_side(light, rec)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = self.rows[i]
        try:
            info = probe_video(self.paths[i])
            indices = plan_frame_indices(info.num_frames, self.T)
            frames = torch.from_numpy(read_frames(self.paths[i], indices, self.short_side, info, self.decoder))
            return {
                "backend": backend_for(self.paths[i], self.decoder, info),
                "row": row,
                "light": self.light(frames),
                "rec": self.rec(frames),
                "frame_indices": indices.astype(np.int32),
                "num_frames": info.num_frames,
                "fps": info.fps,
            }
        except VideoReadError as err:  # decoder failures only: anything else is a bug and fails loudly
            return {"row": row, "error": str(err)}


def _layout(cfg: ExtractConfig, manifest: Manifest, extractor: FrameModel, recognizer: FrameModel,
            grid: PatchGrid | None) -> StoreLayout:
    entries = manifest.entries
    return StoreLayout(
        video_ids=[e.video_id for e in entries],
        paths=[str(e.path) for e in entries],
        splits=[e.split for e in entries],
        labels=manifest.label_matrix(),
        class_names=list(manifest.class_names),
        multilabel=manifest.multilabel,
        T=cfg.frames,
        extractor=asdict(extractor.spec),
        recognizer=asdict(recognizer.spec),
        annotations={"path": str(Path(cfg.annotations).resolve()), "format": manifest.format,
                     "root": str(cfg.root) if cfg.root else None},
        command=cfg.command or " ".join(sys.argv),
        chunk_videos=cfg.chunk_videos or DEFAULT_CHUNK_VIDEOS,
        patches=grid.to_attrs(feature_map_shape(extractor, cfg.map_stride), cfg.map_stride) if grid else None,
        decoder={"name": cfg.decoder, "version": decoder_version(cfg.decoder)},
    )


def _iter_loader(dataset: VideoFrames, workers: int, pin: bool) -> Iterator[dict[str, Any]]:
    loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers,
                        worker_init_fn=decode_worker_init if workers else None, pin_memory=pin,
                        prefetch_factor=2 if workers else None, persistent_workers=False)
    yield from loader


def extract(cfg: ExtractConfig) -> FeatureStore:
    """Runs the extraction described by ``cfg`` and returns the (complete) store.

    Resumes an existing store at ``cfg.out`` when it matches; refuses one that does not.
    Under ``torchrun`` each rank processes its own chunks; rank 0 creates the store.
    """
    cfg.validate()
    decoder_version(cfg.decoder)  # an unknown or unusable decoder (torchcodec not loading) fails here, in one line
    dist = TorchrunRanks()
    try:
        with disk_full_resumable(cfg.out):
            return _extract(cfg, dist)
    finally:
        dist.close()


@contextmanager
def disk_full_resumable(out: object) -> Iterator[None]:
    """Turns a full disk while writing the store at ``out`` into one DiskFullError line saying how to go on."""
    try:
        yield
    except Exception as err:
        if is_disk_full(err):  # the store survives: finished chunks stay done, the rest is redone
            raise DiskFullError(f"{out}: no space left on the device while writing the store; free some "
                                "space and run the same command again to resume") from err
        raise


def _extract(cfg: ExtractConfig, dist: TorchrunRanks) -> FeatureStore:
    keep_freed_memory()
    device = resolve_device(cfg.device)
    if dist.active and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    models = VideoFeatures.from_config(cfg, device)
    log = console(quiet=cfg.quiet or dist.rank != 0)
    if dist.rank == 0:  # rank 0 creates the store, the others open it after
        store = open_store(cfg, models, log)
    dist.barrier()
    if dist.rank != 0:
        store = open_store(cfg, models, log)
    writer = ChunkWriter(store, chunks_for_rank(store.pending_chunks(), dist.rank, dist.world),
                         models.extractor.spec.feature_dim, models.recognizer.spec.feature_dim,
                         models.num_logit_classes)
    if dist.rank == 0:
        report_resume(store, log)
    rows = writer.rows
    paths = store.read(S.PATH)
    dataset = VideoFrames(rows, [str(paths[r]) for r in rows], cfg.frames, *models.transforms(), cfg.decoder)
    with progress_bar(disable=cfg.quiet or dist.rank != 0) as bar:
        task = bar.add_task("extract", total=len(rows))
        for item in _iter_loader(dataset, cfg.workers, pin=device.type == "cuda"):
            row = int(item["row"])
            if "error" in item:
                log_failure(log, str(paths[row]), item["error"])
                writer.add(row, error=item["error"])
            else:
                writer.add(row, models(item))
            bar.advance(task)
    dist.barrier()
    if dist.rank == 0:
        store = finish_store(cfg, log)
    return store


def open_store(cfg: ExtractConfig, models: VideoFeatures, log: Console) -> FeatureStore:
    """Returns the store of ``cfg.out`` for these models, created when it does not exist (and says how
    many videos are missing). Raises StoreMismatchError for a store made with another configuration."""
    manifest = load_manifest(cfg.annotations, format=cfg.format, root=cfg.root)
    layout = _layout(cfg, manifest, models.extractor, models.recognizer, models.grid)
    if models.num_logit_classes and models.num_logit_classes != len(layout.class_names):
        raise ConfigError(f"recognizer checkpoint has {models.num_logit_classes} classes, annotations have "
                          f"{len(layout.class_names)}")
    missing = manifest.missing()
    if missing:
        log.print(f"[yellow]{len(missing)} of {len(manifest.entries)} videos are missing; they are recorded as failed")
    return FeatureStore.open_or_create(cfg.out, layout, models.extractor.spec.feature_dim,
                                       models.recognizer.spec.feature_dim)


def report_resume(store: FeatureStore, log: Console) -> None:
    """Prints how many videos a resumed run skips (nothing for a new store); returns nothing."""
    pending = store.pending_chunks()
    ranges = store.chunk_ranges()
    todo = sum(hi - lo for c in pending for lo, hi in [ranges[c]])
    if store.num_videos - todo:
        log.print(f"resuming: {store.num_videos - todo} videos already done, {todo} to go")


def log_failure(log: Console, path: str, reason: str) -> None:
    """Prints one line for a video that could not be decoded; returns nothing."""
    log.print(f"[red]failed[/red] {escape(path)}: {escape(reason)}", markup=True, highlight=False, soft_wrap=True)


def finish_store(cfg: ExtractConfig, log: Console) -> FeatureStore:
    """Records the final status counts, prints them (and, even when quiet, the failures); returns the store."""
    store = FeatureStore.open(cfg.out, mode="r+")
    counts = store.status_counts()
    store.update_attrs(status=counts)
    log.print(f"store {escape(str(cfg.out))}: {counts['done']} videos done, {counts['failed']} failed, "
              f"{counts['pending']} pending", soft_wrap=True)
    if counts["failed"]:  # -q silences progress, never the failures
        console().print(failure_summary(store, cfg.out), markup=False, highlight=False, soft_wrap=True)
    return store


def failure_summary(store: FeatureStore, where: object) -> str:
    """Returns one line: how many videos failed, the most common reason and how to list them all."""
    failures = store.failures()
    reasons = Counter(reason for _, reason in failures)
    reason, count = reasons.most_common(1)[0]
    path = next(p for p, r in failures if r == reason)
    return (f"warning: {len(failures)} of {store.num_videos} videos failed; most often ({count}x) {reason!r}, "
            f"e.g. {path}; `nsnet info {where}` lists them all")
