"""`nsnet extract --engine ray`: the same extraction on a Ray cluster (Ray Data).

* **decode**: one Ray task per video (``num_cpus=1``), the same :class:`~nsnet.extract.pipeline.VideoFrames`
  code as the local pipeline, so any CPU of the cluster decodes;
* **models**: the light extractor and the recognizer live in a pool of Ray actors (one GPU each when
  the cluster has GPUs, else CPU actors), built once per actor from the extraction config;
* **write**: the per-video features (kilobytes, not frames) stream back to the driver, which writes
  each store chunk whole as soon as its last video arrives (:class:`~nsnet.extract.chunks.ChunkWriter`),
  data first and ``done`` flags last -- exactly what the local pipeline writes.

Ray Data's streaming executor hands videos to whichever worker is free (a slow video holds up no
other); by Ray Data's defaults a task whose worker died runs again and a dead actor is restarted (a
video that cannot be decoded is a result, recorded as failed, not a retry). A killed job resumes like a local
one: finished chunks are skipped. Every video is computed by the same code on the same inputs, so the
store equals a single-process run's.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import torch

from nsnet.cluster import init_ray
from nsnet.extract.chunks import ChunkWriter
from nsnet.extract.config import ExtractConfig
from nsnet.extract.decode.policy import decoder_version
from nsnet.extract.features import VideoFeatures
from nsnet.extract.inference import jit_enabled, use_jit
from nsnet.extract.pipeline import (VideoFrames, disk_full_resumable, finish_store, log_failure, open_store,
                                    report_resume)
from nsnet.extract.transforms import FrameTransform
from nsnet.progress import console, progress_bar
from nsnet.store import FeatureStore
from nsnet.store import schema as S

# Per-video arrays an actor returns (the ones ChunkWriter knows); the optional ones only when present.
_OUTPUTS = (S.LIGHT_FEATURES, S.REC_FEATURES, S.REC_LOGITS, S.LIGHT_MAPS, S.PATCH_FEATURES, S.FRAME_INDICES,
            S.NUM_FRAMES, S.FPS, S.DECODE_BACKEND)


def _decode(item: dict[str, Any], T: int, light: dict, rec: dict, decoder: str) -> dict[str, Any]:
    """Returns one video's decoded, preprocessed frames (numpy) or its error, as a Ray Data row."""
    frames = VideoFrames([int(item["row"])], [str(item["path"])], T, FrameTransform.from_spec(light),
                         FrameTransform.from_spec(rec), decoder)[0]
    if "error" in frames:
        return {"row": frames["row"], "error": frames["error"], "light": np.zeros(0, np.float32),
                "rec": np.zeros(0, np.float32), "frame_indices": np.zeros(0, np.int32), "num_frames": 0,
                "fps": 0.0, "backend": ""}
    return {**frames, "error": "", "light": frames["light"].numpy(), "rec": frames["rec"].numpy()}


class _ModelActor:
    """A Ray actor holding the two models; maps a batch of decoded videos to their store rows."""

    def __init__(self, cfg: ExtractConfig, jit: bool, threads: int) -> None:
        use_jit(jit)
        torch.set_num_threads(max(1, threads))
        device = torch.device("cuda") if torch.cuda.is_available() and cfg.device != "cpu" else torch.device("cpu")
        self.models = VideoFeatures.from_config(cfg, device)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows: list[dict[str, Any]] = []
        for i in range(len(batch["row"])):
            if batch["error"][i]:
                rows.append({})
                continue
            item = {"light": torch.from_numpy(np.ascontiguousarray(batch["light"][i])),
                    "rec": torch.from_numpy(np.ascontiguousarray(batch["rec"][i])),
                    "frame_indices": batch["frame_indices"][i], "num_frames": batch["num_frames"][i],
                    "fps": batch["fps"][i], "backend": batch["backend"][i]}
            rows.append(self.models(item))
        template = next((r for r in rows if r), None)
        out: dict[str, np.ndarray] = {"row": batch["row"], "error": batch["error"]}
        for name in _OUTPUTS:
            if template is not None and name in template:
                like = np.asarray(template[name])
                out[name] = np.stack([np.asarray(r[name]) if r else np.zeros_like(like) for r in rows])
        return out


def extract_with_ray(cfg: ExtractConfig, address: str | None = None, actors: int | None = None) -> FeatureStore:
    """Runs the extraction of ``cfg`` on Ray and returns the (complete) store; resumes a matching store."""
    cfg.validate()
    decoder_version(cfg.decoder)  # an unknown or unusable decoder fails here, in one line
    with disk_full_resumable(cfg.out):
        return _extract_with_ray(cfg, address, actors)


def _extract_with_ray(cfg: ExtractConfig, address: str | None, actors: int | None) -> FeatureStore:
    log = console(cfg.quiet)
    driver_models = VideoFeatures.from_config(cfg, torch.device("cpu"))  # specs and weight hashes for the layout
    store = open_store(cfg, driver_models, log)
    spec = driver_models.extractor.spec.feature_dim, driver_models.recognizer.spec.feature_dim
    writer = ChunkWriter(store, store.pending_chunks(), *spec, driver_models.num_logit_classes)
    report_resume(store, log)
    rows = writer.rows
    if rows:
        ray = init_ray(address)
        gpus = int(ray.cluster_resources().get("GPU", 0)) if cfg.device != "cpu" else 0
        pool = actors or max(1, gpus)
        paths = store.read(S.PATH)
        ds = ray.data.from_items([{"row": r, "path": str(paths[r])} for r in rows], override_num_blocks=len(rows))
        ds = ds.map(_decode, num_cpus=1,
                    fn_kwargs={"T": cfg.frames, "light": asdict(driver_models.extractor.spec),
                               "rec": asdict(driver_models.recognizer.spec), "decoder": cfg.decoder})
        # num_cpus just under 1 keeps Ray from fusing decoding into the actors (decode stays a task)
        ds = ds.map_batches(_ModelActor, batch_size=1, batch_format="numpy",
                            fn_constructor_kwargs={"cfg": cfg, "jit": jit_enabled(), "threads": 1 if not gpus else 4},
                            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=pool),
                            num_gpus=1 if gpus else 0, num_cpus=0.99 if not gpus else 1)
        with progress_bar(disable=cfg.quiet) as bar:
            task = bar.add_task("extract (ray)", total=len(rows))
            for out in ds.iter_rows():
                row = int(out["row"])
                if out["error"]:
                    log_failure(log, str(paths[row]), str(out["error"]))
                    writer.add(row, error=str(out["error"]))
                else:
                    writer.add(row, {name: out[name] for name in _OUTPUTS if name in out})
                bar.advance(task)
    return finish_store(cfg, log)
