"""`nsnet predict`: recognise a video file end to end with the light extractor, a sampler and the
recognizer.

For a trained sampler the T pre-sampled frames (the store's sampling rule) are decoded once, at the
same shorter side as extraction (:mod:`nsnet.evaluate.predict_decode`); the light extractor (rebuilt
from the store's spec and hash-checked) embeds all T; the sampler picks K positions; the recognizer
(backbone + head) runs on those K frames only, taken from the decoded buffer -- they are the very
pixels a second decode would return -- and the video prediction is the mean of their softmax
(sigmoid for multi-label stores). A rule-based method whose frames do not depend on the video
(``uniform``, ``dense``, ``random``) decodes only its frames. Patch methods (AdaFocus family) look
at one candidate patch per frame. The light features are rounded through float16, as the store keeps
them, so a video of the store gets the same selection here as in `nsnet evaluate`. Every method is
found in the sampler registry; the runs are keyed by the variant they record.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from nsnet.device import resolve_device
from nsnet.errors import ConfigError
from nsnet.evaluate.prediction import FrameChoice, Prediction, frame_choice, make_prediction
from nsnet.evaluate.predict_decode import Decoded, DecodeDataset, identity
from nsnet.extract.models import FrameModel, run_model
from nsnet.extract.transforms import FrameTransform, decode_short_side
from nsnet.extract.video import VideoReadError, decode_worker_init, probe_video, use_store_decoder
from nsnet.metrics import average_frame_predictions
from nsnet.numeric import check_budget
from nsnet.sampler.auto.sampler import AUTO, run_keys
from nsnet.sampler.base import BuildContext, SamplerError, SamplerInputs
from nsnet.sampler.fusion import DEFAULT_ALPHA, DEFAULT_FUSION
from nsnet.sampler.registry import sampler_class, table_order

__all__ = ["FrameChoice", "Prediction", "PredictError", "VideoPipeline", "predict_video"]


class PredictError(ConfigError):
    """`nsnet predict` cannot run as asked (no store for the run, bad budget, unknown method)."""


class VideoPipeline:
    """End-to-end recognition from video files with a store's models and trained sampler runs."""

    def __init__(self, store: Any, run: Any = None, device: str | torch.device = "cpu", fusion: str = DEFAULT_FUSION,
                 alpha: float = DEFAULT_ALPHA, extractor: FrameModel | None = None, recognizer: FrameModel | None = None,
                 extra_runs: Sequence[Any] = ()) -> None:
        from nsnet.extract.recognizer import load_extractor, load_recognizer

        self.store = store
        self.device = resolve_device(device)
        self.T = int(store.T)
        self.class_names = list(store.class_names)
        self.multilabel = bool(store.multilabel)
        self.extractor = extractor or load_extractor(store.extractor_spec, self.device)
        self.recognizer = recognizer or load_recognizer(store, self.device)
        self.light_tf = FrameTransform.from_spec(store.extractor_spec)
        self.rec_tf = FrameTransform.from_spec(store.recognizer_spec)
        self.short_side = decode_short_side(self.light_tf, self.rec_tf)
        self.runs = {key: r for r in [run, *extra_runs] if r is not None for key in run_keys(r)}
        self.context = BuildContext(runs=self.runs, fusion=fusion, alpha=alpha, multilabel=self.multilabel,
                                    device=str(self.device))
        self.samplers: dict[str, Any] = {}
        for name in table_order():  # every trained sampler the runs allow, in table order
            cls = sampler_class(name)
            if cls.variants and cls.variants[0] in self.runs:
                try:
                    self.samplers[name] = cls.build(self.context)
                except SamplerError:  # e.g. vgm of an FSM-only run, adafocus+ without the skip policy
                    continue
        self.grid, self.map_stride = None, None
        if any(getattr(s, "patch_policy", False) for s in self.samplers.values()):
            from nsnet.evaluate.patch_eval import require_patch_arrays

            self.grid = require_patch_arrays(store)
            self.map_stride = store.patches.get("map_stride")

    @property
    def default_method(self) -> str:
        """Returns the method of the main run (the first trained sampler, in table order)."""
        if AUTO in self.samplers:  # the run of fit-sampler --variant auto: the method it chose
            return AUTO
        main = next(iter(self.runs), None)
        return next((n for n, s in self.samplers.items() if main in type(s).variants[:1]), "uniform")

    @classmethod
    def from_run(cls, run_dir: str | Path, store: str | Path | None = None, device: str = "cpu",
                 fusion: str = DEFAULT_FUSION, alpha: float = DEFAULT_ALPHA,
                 extra_runs: Sequence[str | Path] = ()) -> "VideoPipeline":
        """Returns the pipeline of a sampler run (plus more runs, e.g. an AdaFocus run for
        nsnet+adafocus); the store comes from ``store`` or the run's record.

        Raises RunError / RunMismatchError / PredictError / RecognizerError (one line).
        """
        from nsnet.sampler.run import check_run_matches, load_run
        from nsnet.store import FeatureStore

        runs = [load_run(r, device=str(resolve_device(device))) for r in [run_dir, *extra_runs]]
        store_path = store or runs[0].meta.get("store") or runs[0].meta.get("store_path")
        if not store_path:
            raise PredictError(f"{run_dir}: the run does not record its feature store; pass --store STORE "
                               "(the recognizer head and model specs live there)")
        opened = FeatureStore.open(store_path)
        use_store_decoder(opened.attrs)  # the frames are decoded as the store's were
        for run in runs:
            check_run_matches(run.meta, opened, run.run_dir)
        return cls(opened, runs[0], device=device, fusion=fusion, alpha=alpha, extra_runs=runs[1:])

    def _fixed_positions(self, method: str, k: int) -> np.ndarray:
        """Returns the [K] positions of a rule-based method that does not read the video (uniform,
        dense, random); raises PredictError for one that needs a run or the recognizer's outputs."""
        cls = sampler_class(method)
        if cls.trained:
            raise PredictError(f"method {method} needs a trained {cls.variants[0] if cls.variants else ''} run "
                               f"(--run); this pipeline has: {', '.join(self.samplers) or 'none'}")
        try:
            return cls.build(self.context).select(SamplerInputs(light=np.zeros((1, self.T, 1), np.float32)), k)[0]
        except SamplerError as err:
            raise PredictError(f"method {method} cannot run on a video alone ({err})") from None

    def _check(self, k: int, method: str) -> int:
        from nsnet.evaluate.config import EvaluateError, parse_method

        try:
            parse_method(method)
        except EvaluateError as err:
            raise PredictError(str(err)) from None
        if sampler_class(method).ignores_budget:
            return self.T
        return check_budget(k, self.T)

    def _loader(self, videos: list[str | Path], positions: np.ndarray | None, workers: int) -> DataLoader:
        dataset = DecodeDataset([str(v) for v in videos], self.T, positions, self.light_tf, self.rec_tf, self.short_side)
        return DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers, collate_fn=identity,
                          worker_init_fn=decode_worker_init if workers else None)

    def predict_batch(self, videos: list[str | Path], k: int, method: str | None = None, top: int = 5,
                      workers: int = 0, batch_size: int = 64) -> list[Prediction]:
        """Returns one Prediction per video, processing all of them as one batch (decoding in
        ``workers`` DataLoader processes); ``method`` None is the main run's. Raises VideoReadError
        naming the first unreadable video."""
        method = method or self.default_method
        k = self._check(k, method)
        sampler = self.samplers.get(method)
        if getattr(sampler, "patch_policy", False):
            return self._predict_patches(videos, k, method, top, workers, batch_size)
        fixed = None if sampler is not None else self._fixed_positions(method, k)
        start = time.perf_counter()
        items: list[Decoded] = list(self._loader(videos, fixed, workers))
        for item in items:
            if item.error:
                raise VideoReadError(f"{item.path}: {item.error}")
        seconds = {"decode": time.perf_counter() - start, "light": 0.0, "sampler": 0.0}
        if sampler is not None:
            t0 = time.perf_counter()
            light, _ = run_model(self.extractor, torch.cat([it.light for it in items]), batch_size, self.device)
            light = light.reshape(len(items), self.T, -1).astype(np.float16).astype(np.float32)
            rec_features = None
            if "rec_features" in getattr(sampler, "requires", ()):  # e.g. TSQNet objects from the recognizer
                all_t = torch.cat([self.rec_tf(it.frames) for it in items])
                rec_features = run_model(self.recognizer, all_t, batch_size, self.device)[0]
                rec_features = rec_features.reshape(len(items), self.T, -1).astype(np.float16).astype(np.float32)
            t1 = time.perf_counter()
            positions = sampler.select(SamplerInputs(light=light, rec_features=rec_features), k)
            t2 = time.perf_counter()
            seconds["light"], seconds["sampler"] = t1 - t0, t2 - t1
            rec_in = torch.cat([self.rec_tf(it.frames[torch.from_numpy(np.asarray(p))]) for it, p in zip(items, positions)])
        else:
            positions = np.stack([it.positions for it in items])
            rec_in = torch.cat([it.rec for it in items])
        t3 = time.perf_counter()
        _, logits = run_model(self.recognizer, rec_in, batch_size, self.device)
        probs = average_frame_predictions(logits.reshape(len(items), positions.shape[1], -1), self.multilabel)
        seconds["recognizer"] = time.perf_counter() - t3
        seconds["total"] = time.perf_counter() - start
        return [make_prediction(it.path, method, self.T, p, self.class_names, top,
                                [frame_choice(q, it.planned, it.fps) for q in pos],
                                {**seconds, "decode_per_video": it.decode_s})
                for it, pos, p in zip(items, positions, probs)]

    def _predict_patches(self, videos: list[str | Path], k: int, method: str, top: int, workers: int,
                         batch_size: int) -> list[Prediction]:
        """Returns one Prediction per video from a patch method: light CNN on the T frames (maps
        and pooled features, rounded through float16 as the store keeps them), the method picks
        the frames and one candidate per frame, the local CNN sees only the chosen patches, f_C
        classifies. Each FrameChoice carries its patch box in video pixels."""
        from nsnet.evaluate.patch_eval import as_stored, classify_frames
        from nsnet.extract.patches import box_in_video, feature_maps
        from nsnet.sampler.base import SamplerInputs

        sampler = self.samplers[method]
        start = time.perf_counter()
        loader = self._loader(videos, None, workers)
        boxes = self.grid.boxes()
        out = []
        for it in loader:
            if it.error:
                raise VideoReadError(f"{it.path}: {it.error}")
            t0 = time.perf_counter()
            maps, pooled = feature_maps(self.extractor, it.light, batch_size, self.device, self.map_stride)
            maps, pooled = as_stored(maps)[None], as_stored(pooled)[None]
            t1 = time.perf_counter()
            pos = sampler.frames(SamplerInputs(light=pooled), k)
            t2 = time.perf_counter()
            rec_in = self.rec_tf(it.frames[torch.from_numpy(pos[0])])
            choices, keep, probs = classify_frames(sampler, maps[:, pos[0]], pooled[:, pos[0]], rec_in, self.recognizer,
                                                   self.grid, batch_size, self.device)
            choices, keep, probs = choices[None], keep[None], probs[0]
            t3 = time.perf_counter()
            frames = []
            for j, q in enumerate(pos[0]):
                box = None
                if keep[0, j]:
                    box = tuple(round(v, 1) for v in box_in_video(boxes[choices[0, j]], it.size[0], it.size[1],
                                                                  self.store.recognizer_spec,
                                                                  decode_short=self.short_side))
                frames.append(frame_choice(q, it.planned, it.fps, patch=int(choices[0, j]) if keep[0, j] else None,
                                           box=box))
            out.append(make_prediction(it.path, method, self.T, probs, self.class_names, top, frames, {
                "decode": it.decode_s, "light": t1 - t0, "sampler": t2 - t1, "patches": t3 - t2,
                "total": time.perf_counter() - start}))
        return out

    def predict(self, video: str | Path, k: int, method: str | None = None, top: int = 5) -> Prediction:
        """Returns the Prediction of one video (decoding in this process)."""
        return self.predict_batch([video], k, method=method, top=top, workers=0)[0]


def predict_video(video: str | Path, run_dir: str | Path, k: int, *, store: str | Path | None = None,
                  device: str = "cpu", fusion: str = DEFAULT_FUSION, alpha: float = DEFAULT_ALPHA,
                  method: str | None = None, top: int = 5, extra_runs: Sequence[str | Path] = ()) -> Prediction:
    """Returns the Prediction of ``video`` with the sampler run ``run_dir`` (plus ``extra_runs``) at
    budget ``k``; ``method`` None is the main run's own.

    Raises VideoReadError (one line naming the file) for an unreadable video.
    """
    path = Path(video)
    try:
        probe_video(path)
    except VideoReadError as err:
        raise VideoReadError(f"{path}: {err}") from None
    pipeline = VideoPipeline.from_run(run_dir, store, device=device, fusion=fusion, alpha=alpha, extra_runs=extra_runs)
    return pipeline.predict(path, k, method, top)
