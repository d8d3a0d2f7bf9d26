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

import dataclasses
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from rich.markup import escape
from torch.utils.data import DataLoader, Dataset

from nsnet.errors import ConfigError, DiskFullError, is_disk_full
from nsnet.extract.annotations import Manifest
from nsnet.extract.config import ExtractConfig
from nsnet.extract.frames import plan_frame_indices
from nsnet.device import resolve_device
from nsnet.extract.models import FrameModel, create_frame_model, run_model
from nsnet.extract.patches import PatchGrid, feature_map_shape, feature_maps, patch_features
from nsnet.extract.transforms import FrameTransform, decode_short_side
from nsnet.extract.decode.policy import decoder_version
from nsnet.extract.video import (VideoReadError, backend_for, decode_worker_init, keep_freed_memory, probe_video,
                                 read_frames)
from nsnet.extract.weights import sha256_state_dict
from nsnet.progress import progress_bar, console
from nsnet.store import DEFAULT_CHUNK_VIDEOS, FeatureStore, StoreLayout
from nsnet.store import schema as S
from nsnet.store.feature_store import iter_chunks_for_rank


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


class _Dist:
    """torchrun environment: rank, world size, and a barrier (no-op when not distributed)."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.active = self.world > 1
        if self.active and not torch.distributed.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            torch.distributed.init_process_group(backend)
        if self.active:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // self.world))

    def barrier(self) -> None:
        if self.active:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.active and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def patch_grid(cfg: ExtractConfig, recognizer: FrameModel) -> PatchGrid | None:
    """Returns the candidate grid on the recognizer's input frame (None without ``--patches``)."""
    if cfg.patches is None:
        return None
    size = recognizer.spec.input_size
    return PatchGrid(cfg.patches, cfg.patch_side, size, size)


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
        patches=grid.to_attrs(feature_map_shape(extractor)) if grid else None,
        decoder={"name": cfg.decoder, "version": decoder_version(cfg.decoder)},
    )


def _empty_chunk(n: int, T: int, d_light: int, d_rec: int, c: int | None,
                 patches: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    out = {
        S.LIGHT_FEATURES: np.zeros((n, T, d_light), np.float16),
        S.REC_FEATURES: np.zeros((n, T, d_rec), np.float16),
        S.FRAME_INDICES: np.full((n, T), -1, np.int32),
        S.NUM_FRAMES: np.zeros(n, np.int64),
        S.FPS: np.zeros(n, np.float32),
        S.ERROR: np.full(n, "", dtype=object),
        S.DECODE_BACKEND: np.full(n, "", dtype=object),
    }
    if c:
        out[S.REC_LOGITS] = np.full((n, T, c), np.nan, np.float32)
    if patches:
        out[S.LIGHT_MAPS] = np.zeros((n, T, *patches["map_shape"]), np.float16)
        out[S.PATCH_FEATURES] = np.zeros((n, T, len(patches["boxes"]), d_rec), np.float16)
    return out


def _iter_loader(dataset: VideoFrames, workers: int, pin: bool) -> Iterator[dict[str, Any]]:
    loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers,
                        worker_init_fn=decode_worker_init if workers else None, pin_memory=pin,
                        prefetch_factor=2 if workers else None, persistent_workers=False)
    yield from loader


def _crop_batch(batch_size: int, grid: PatchGrid) -> int:
    """Returns how many P x P crops go through one forward: about the pixels of ``batch_size`` frames."""
    return max(batch_size, batch_size * (grid.width * grid.height) // (grid.patch_size**2))


def create_models(cfg: ExtractConfig, device: torch.device | str = "cpu") -> tuple[FrameModel, FrameModel]:
    """Returns (light extractor, recognizer) as configured.

    Random-init models (``weights="none"``) are built from a fixed seed, so every run and every
    rank gets the same weights, and the hash of those weights is recorded in their spec (a resumed
    run with other random weights would otherwise be mixed silently into the store).
    """
    models = []
    for name, weights, kwargs in (
        (cfg.extractor, cfg.weights, {"input_size": cfg.extractor_size, "resize_short": cfg.extractor_size}),
        (cfg.recognizer, cfg.recognizer_weights,
         {"input_size": cfg.recognizer_size, "checkpoint": cfg.recognizer_checkpoint}),
    ):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = create_frame_model(name, weights, device=device, **kwargs)
        if model.spec.weights_sha256 is None:
            model.spec = dataclasses.replace(model.spec, weights_sha256=sha256_state_dict(model.backbone.state_dict()))
        models.append(model)
    return models[0], models[1]


def extract(cfg: ExtractConfig) -> FeatureStore:
    """Runs the extraction described by ``cfg`` and returns the (complete) store.

    Resumes an existing store at ``cfg.out`` when it matches; refuses one that does not.
    Under ``torchrun`` each rank processes its own chunks; rank 0 creates the store.
    """
    cfg.validate()
    decoder_version(cfg.decoder)  # an unknown or unusable decoder (torchcodec not loading) fails here, in one line
    dist = _Dist()
    try:
        return _extract(cfg, dist)
    except Exception as err:
        if is_disk_full(err):  # the store survives: finished chunks stay done, the rest is redone
            raise DiskFullError(f"{cfg.out}: no space left on the device while writing the store; free some "
                                "space and run the same command again to resume") from err
        raise
    finally:
        dist.close()


def _extract(cfg: ExtractConfig, dist: _Dist) -> FeatureStore:
    keep_freed_memory()
    device = resolve_device(cfg.device)
    if dist.active and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    manifest = Manifest.load(cfg.annotations, format=cfg.format, root=cfg.root)
    extractor, recognizer = create_models(cfg, device)
    grid = patch_grid(cfg, recognizer)
    layout = _layout(cfg, manifest, extractor, recognizer, grid)
    log = console(quiet=cfg.quiet or dist.rank != 0)
    if dist.rank == 0:
        missing = manifest.missing()
        if missing:
            log.print(f"[yellow]{len(missing)} of {len(manifest.entries)} videos are missing; they are recorded as failed")
        store = FeatureStore.open_or_create(cfg.out, layout, extractor.spec.feature_dim, recognizer.spec.feature_dim)
    dist.barrier()
    if dist.rank != 0:
        store = FeatureStore.open_or_create(cfg.out, layout, extractor.spec.feature_dim, recognizer.spec.feature_dim)

    pending = store.pending_chunks()
    mine = iter_chunks_for_rank(pending, dist.rank, dist.world)
    ranges = store.chunk_ranges()
    rows = [r for c in mine for r in range(*ranges[c])]
    skipped = store.num_videos - sum(hi - lo for c in pending for lo, hi in [ranges[c]])
    if skipped and dist.rank == 0:
        log.print(f"resuming: {skipped} videos already done, {len(rows)} to go")

    light_tf = FrameTransform.from_spec(asdict(extractor.spec))
    rec_tf = FrameTransform.from_spec(asdict(recognizer.spec))
    paths = store.read(S.PATH)
    dataset = VideoFrames(rows, [str(paths[r]) for r in rows], cfg.frames, light_tf, rec_tf, cfg.decoder)
    num_logit_classes = recognizer.spec.num_classes if recognizer.spec.num_classes else None
    if num_logit_classes and num_logit_classes != store.num_classes:
        raise ConfigError(f"recognizer checkpoint has {num_logit_classes} classes, annotations have {store.num_classes}")

    chunk_of_row = {r: c for c in mine for r in range(*ranges[c])}
    buffers: dict[int, dict[str, np.ndarray]] = {}
    remaining = {c: ranges[c][1] - ranges[c][0] for c in mine}
    failures = 0
    with progress_bar(disable=cfg.quiet or dist.rank != 0) as bar:
        task = bar.add_task("extract", total=len(rows))
        for item in _iter_loader(dataset, cfg.workers, pin=device.type == "cuda"):
            row = int(item["row"])
            c = chunk_of_row[row]
            lo = ranges[c][0]
            buf = buffers.setdefault(c, _empty_chunk(ranges[c][1] - lo, cfg.frames, extractor.spec.feature_dim,
                                                     recognizer.spec.feature_dim, num_logit_classes,
                                                     layout.patches))
            i = row - lo
            if "error" in item:
                failures += 1
                buf[S.ERROR][i] = item["error"]
                log.print(f"[red]failed[/red] {escape(str(paths[row]))}: {escape(item['error'])}", markup=True,
                          highlight=False, soft_wrap=True)
            else:
                if grid is None:
                    lf, _ = run_model(extractor, item["light"], cfg.batch_size, device)
                else:  # the map and its pooled features from one forward
                    maps, lf = feature_maps(extractor, item["light"], cfg.batch_size, device)
                    buf[S.LIGHT_MAPS][i] = maps
                    buf[S.PATCH_FEATURES][i] = patch_features(recognizer, item["rec"], grid,
                                                              _crop_batch(cfg.batch_size, grid), device)
                rf, rl = run_model(recognizer, item["rec"], cfg.batch_size, device)
                buf[S.LIGHT_FEATURES][i] = lf
                buf[S.REC_FEATURES][i] = rf
                if rl is not None:
                    buf[S.REC_LOGITS][i] = rl
                buf[S.FRAME_INDICES][i] = item["frame_indices"]
                buf[S.NUM_FRAMES][i] = item["num_frames"]
                buf[S.FPS][i] = item["fps"]
                buf[S.DECODE_BACKEND][i] = item["backend"]
            remaining[c] -= 1
            if remaining[c] == 0:
                data = buffers.pop(c)
                data[S.ERROR] = data[S.ERROR].astype(str)
                data[S.DECODE_BACKEND] = data[S.DECODE_BACKEND].astype(str)
                if S.DECODE_BACKEND not in store.group:  # a store from before decoders were recorded
                    del data[S.DECODE_BACKEND]
                store.write_chunk(c, data)
            bar.advance(task)
    dist.barrier()
    if dist.rank == 0:
        store = FeatureStore.open(cfg.out, mode="r+")
        counts = store.status_counts()
        store.update_attrs(status=counts)
        log.print(f"store {escape(str(cfg.out))}: {counts['done']} videos done, {counts['failed']} failed, "
                  f"{counts['pending']} pending", soft_wrap=True)
    return store
