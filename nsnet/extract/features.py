"""The two models of an extraction and what they compute for one decoded video."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from nsnet.extract.config import ExtractConfig
from nsnet.extract.models import FrameModel, create_frame_model, run_model
from nsnet.extract.patches import PatchGrid, feature_maps, patch_features
from nsnet.extract.transforms import FrameTransform
from nsnet.extract.weights import sha256_state_dict
from nsnet.store import schema as S


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


def patch_grid(cfg: ExtractConfig, recognizer: FrameModel) -> PatchGrid | None:
    """Returns the candidate grid on the recognizer's input frame (None without ``--patches``)."""
    if cfg.patches is None:
        return None
    size = recognizer.spec.input_size
    return PatchGrid(cfg.patches, cfg.patch_side, size, size)


def _crop_batch(batch_size: int, grid: PatchGrid) -> int:
    """Returns how many P x P crops go through one forward: about the pixels of ``batch_size`` frames."""
    return max(batch_size, batch_size * (grid.width * grid.height) // (grid.patch_size**2))


@dataclass
class VideoFeatures:
    """The extractor, the recognizer and the candidate grid of one extraction, on one device."""

    extractor: FrameModel
    recognizer: FrameModel
    grid: PatchGrid | None
    batch_size: int
    device: torch.device
    map_stride: int | None = None  # the light map's stride (None: the last map)

    @classmethod
    def from_config(cls, cfg: ExtractConfig, device: torch.device) -> "VideoFeatures":
        """Returns the models of ``cfg`` built on ``device``."""
        extractor, recognizer = create_models(cfg, device)
        return cls(extractor, recognizer, patch_grid(cfg, recognizer), cfg.batch_size, device, cfg.map_stride)

    def transforms(self) -> tuple[FrameTransform, FrameTransform]:
        """Returns the (light, recognizer) preprocessing of decoded frames."""
        return (FrameTransform.from_spec(asdict(self.extractor.spec)),
                FrameTransform.from_spec(asdict(self.recognizer.spec)))

    @property
    def num_logit_classes(self) -> int | None:
        """Returns the classes of the recognizer's dataset head (None: features only)."""
        return self.recognizer.spec.num_classes or None

    def __call__(self, item: dict[str, Any]) -> dict[str, np.ndarray]:
        """Returns one video's store rows (schema name -> array) from a decoded item of
        :class:`~nsnet.extract.pipeline.VideoFrames` (``light``/``rec`` frames and their metadata)."""
        out: dict[str, Any] = {}
        if self.grid is None:
            lf, _ = run_model(self.extractor, item["light"], self.batch_size, self.device)
        else:  # the map and its pooled features from one forward
            out[S.LIGHT_MAPS], lf = feature_maps(self.extractor, item["light"], self.batch_size, self.device,
                                                 self.map_stride)
            out[S.PATCH_FEATURES] = patch_features(self.recognizer, item["rec"], self.grid,
                                                   _crop_batch(self.batch_size, self.grid), self.device)
        rf, rl = run_model(self.recognizer, item["rec"], self.batch_size, self.device)
        out[S.LIGHT_FEATURES], out[S.REC_FEATURES] = lf, rf
        if rl is not None:
            out[S.REC_LOGITS] = rl
        out[S.FRAME_INDICES] = np.asarray(item["frame_indices"], np.int32)
        out[S.NUM_FRAMES] = int(item["num_frames"])
        out[S.FPS] = float(item["fps"])
        out[S.DECODE_BACKEND] = str(item["backend"])
        return out
