"""`nsnet predict`: recognise a video file end to end with the light extractor, a sampler and the
recognizer.

For ``method="nsnet"`` the T pre-sampled frames (the store's sampling rule) are decoded once, at
the same shorter side as extraction; the light extractor (rebuilt from the store's spec and
hash-checked) embeds all T; the trained sampler picks K positions; the recognizer (backbone + head)
runs on those K frames only, taken from the decoded buffer -- they are the very pixels a second
decode would return -- and the video prediction is the mean of their softmax (sigmoid for
multi-label stores). ``uniform`` decodes only its K frames; ``dense`` runs the recognizer on all T.
The light features are rounded through float16, as the store keeps them, so a video of the store
gets the same selection here as in `nsnet evaluate`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from nsnet.device import resolve_device
from nsnet.errors import ConfigError
from nsnet.evaluate.config import PREDICT_METHODS
from nsnet.extract.frames import plan_frame_indices
from nsnet.extract.models import FrameModel, run_model
from nsnet.extract.transforms import FrameTransform, decode_short_side
from nsnet.extract.video import VideoReadError, decode_worker_init, probe_video, read_frames, use_store_decoder
from nsnet.metrics import average_frame_predictions
from nsnet.numeric import check_budget, uniform_positions
from nsnet.sampler.fusion import DEFAULT_ALPHA, DEFAULT_FUSION

SAMPLER_METHODS: tuple[str, ...] = ("nsnet", "fsm", "vgm", "tsqnet", "vqm", "tqm")  # methods that run a sampler network
PATCH_METHODS: tuple[str, ...] = ("adafocus", "adafocus+", "random-patch", "centre-patch", "nsnet+adafocus",
                                  "tsqnet+adafocus")  # AdaFocus family: one patch per frame, f_C classifies


class PredictError(ConfigError):
    """`nsnet predict` cannot run as asked (no store for the run, bad budget, unknown method)."""


@dataclass
class FrameChoice:
    """One chosen frame: its position among the T, its frame number in the file and its time; for
    patch methods (AdaFocus) also the chosen candidate ``patch`` and its ``box`` (x0, y0, x1, y1)
    in pixels of the video frame (None when AdaFocus+ skipped the local CNN on this frame)."""

    position: int
    frame: int
    time_s: float
    patch: int | None = None
    box: tuple[float, float, float, float] | None = None


@dataclass
class Prediction:
    """The top classes of one video and the frames the recognizer saw."""

    video: str
    method: str
    T: int
    K: int
    top: list[dict[str, Any]]
    frames: list[FrameChoice]
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Returns the prediction as a JSON-able dict."""
        return asdict(self)


@dataclass
class _Decoded:
    """One decoded video (produced in a DataLoader worker)."""

    path: str
    planned: np.ndarray  # [T] frame numbers of the T pre-sampled frames
    fps: float
    size: tuple[int, int] = (0, 0)  # video width, height
    frames: torch.Tensor | None = None  # uint8 [n, H, W, 3] for the positions kept
    light: torch.Tensor | None = None  # light-transformed [T, 3, s, s]
    rec: torch.Tensor | None = None  # recognizer-transformed frames
    positions: np.ndarray | None = None  # positions (among T) of ``rec`` when decoded up front
    decode_s: float = 0.0
    error: str | None = None


class _DecodeDataset(Dataset):
    """Decodes what a method needs from each video: all T frames (nsnet, dense) or K (uniform)."""

    def __init__(self, paths: list[str], T: int, k: int, method: str, light: FrameTransform,
                 rec: FrameTransform, short_side: int) -> None:
        self.paths, self.T, self.k, self.method = paths, T, k, method
        self.light_tf, self.rec_tf, self.short_side = light, rec, short_side

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> _Decoded:
        path = self.paths[i]
        start = time.perf_counter()
        try:
            info = probe_video(path)
            planned = plan_frame_indices(info.num_frames, self.T)
            item = _Decoded(path=path, planned=planned, fps=info.fps, size=(info.width, info.height))
            if self.method == "uniform":
                item.positions = uniform_positions(self.T, self.k)
                frames = torch.from_numpy(read_frames(path, planned[item.positions], self.short_side, info))
                item.rec = self.rec_tf(frames)
            else:
                frames = torch.from_numpy(read_frames(path, planned, self.short_side, info))
                if self.method == "dense":
                    item.positions = np.arange(self.T, dtype=np.int64)
                    item.rec = self.rec_tf(frames)
                else:
                    item.frames = frames
                    item.light = self.light_tf(frames)
        except VideoReadError as err:  # decoder failures only: anything else is a bug and fails loudly
            return _Decoded(path=path, planned=np.zeros(0, np.int64), fps=0.0, error=str(err))
        item.decode_s = time.perf_counter() - start
        return item


def _identity(item: _Decoded) -> _Decoded:
    return item




class VideoPipeline:
    """End-to-end recognition from video files with a store's models and a trained sampler run."""

    def __init__(self, store: Any, run: Any = None, device: str | torch.device = "cpu", fusion: str = DEFAULT_FUSION,
                 alpha: float = DEFAULT_ALPHA, extractor: FrameModel | None = None, recognizer: FrameModel | None = None,
                 adafocus_run: Any = None) -> None:
        from nsnet.extract.recognizer import load_extractor, load_recognizer

        self.store, self.run = store, run
        self.device = resolve_device(device)
        self.T = int(store.T)
        self.class_names = list(store.class_names)
        self.multilabel = bool(store.multilabel)
        self.extractor = extractor or load_extractor(store.extractor_spec, self.device)
        self.recognizer = recognizer or load_recognizer(store, self.device)
        self.light_tf = FrameTransform.from_spec(store.extractor_spec)
        self.rec_tf = FrameTransform.from_spec(store.recognizer_spec)
        self.short_side = decode_short_side(self.light_tf, self.rec_tf)
        self.samplers: dict[str, Any] = {}
        if run is not None and run.config.variant == "adafocus":  # --run of an AdaFocus run
            run, adafocus_run = None, run
        self.run, self.adafocus_run = run, adafocus_run
        if run is not None:
            from nsnet.sampler.registry import create_sampler

            if run.config.variant == "tsqnet":  # TSQNet: the union, and each module present
                mods = [m for m in ("vqm", "tqm") if getattr(run.model, m, None) is not None]
                for name in (["tsqnet"] if len(mods) == 2 else []) + mods:
                    self.samplers[name] = create_sampler(name, run=run, device=str(self.device))
            else:
                self.samplers["nsnet"] = create_sampler("nsnet", run=run, fusion=fusion, alpha=alpha,
                                                        device=str(self.device))
                for branch in ("fsm", "vgm"):
                    if getattr(run.model, branch, None) is not None:
                        self.samplers[branch] = create_sampler(branch, run=run, device=str(self.device))
        if adafocus_run is not None:
            self._add_patch_methods(adafocus_run, fusion, alpha)

    def _add_patch_methods(self, adafocus_run: Any, fusion: str, alpha: float) -> None:
        """Adds the AdaFocus methods the runs allow (``nsnet+adafocus`` / ``tsqnet+adafocus`` with a
        frame-sampler run) to ``self.samplers``."""
        from nsnet.evaluate.patch_eval import require_patch_arrays
        from nsnet.sampler.registry import create_sampler

        self.grid = require_patch_arrays(self.store)
        names = ["adafocus", "random-patch", "centre-patch"]
        if getattr(adafocus_run.model, "skip", None) is not None:
            names.append("adafocus+")
        frame_variant = None if self.run is None else self.run.config.variant
        if frame_variant in ("nsnet", "tsqnet"):
            names.append(f"{frame_variant}+adafocus")
        for name in names:
            frame_kwargs = {"fusion": fusion, "alpha": alpha} if name == "nsnet+adafocus" else {}
            self.samplers[name] = create_sampler(name, run=adafocus_run, frame_run=self.run, device=str(self.device),
                                                 frame_kwargs=frame_kwargs)

    @classmethod
    def from_run(cls, run_dir: str | Path, store: str | Path | None = None, device: str = "cpu",
                 fusion: str = DEFAULT_FUSION, alpha: float = DEFAULT_ALPHA,
                 adafocus_run: str | Path | None = None) -> "VideoPipeline":
        """Returns the pipeline of a sampler run (plus an AdaFocus run for nsnet+adafocus); the store
        comes from ``store`` or the run's record.

        Raises RunError / RunMismatchError / PredictError / RecognizerError (one line).
        """
        from nsnet.sampler.run import check_run_matches, load_run
        from nsnet.store import FeatureStore

        run = load_run(run_dir, device=str(resolve_device(device)))
        adafocus = None if adafocus_run is None else load_run(adafocus_run, device=str(resolve_device(device)))
        store_path = store or run.meta.get("store") or run.meta.get("store_path")
        if not store_path:
            raise PredictError(f"{run_dir}: the run does not record its feature store; pass --store STORE "
                               "(the recognizer head and model specs live there)")
        opened = FeatureStore.open(store_path)
        use_store_decoder(opened.attrs)  # the frames are decoded as the store's were
        check_run_matches(run.meta, opened, run.run_dir)
        if adafocus is not None:
            check_run_matches(adafocus.meta, opened, adafocus.run_dir)
        return cls(opened, run, device=device, fusion=fusion, alpha=alpha, adafocus_run=adafocus)

    def _check(self, k: int, method: str) -> int:
        if method not in PREDICT_METHODS:
            raise PredictError(f"unknown method {method!r}; expected one of {', '.join(PREDICT_METHODS)}")
        if method in SAMPLER_METHODS + PATCH_METHODS and method not in self.samplers:
            needs = "an AdaFocus run (and for nsnet+adafocus an NSNet --run with --run-adafocus)" \
                if method in PATCH_METHODS else "a trained run with that branch"
            raise PredictError(f"method {method} needs {needs}")
        if method == "dense" or (method in PATCH_METHODS and not method.endswith("+adafocus")):
            return self.T
        return check_budget(k, self.T)

    def predict_batch(self, videos: list[str | Path], k: int, method: str = "nsnet", top: int = 5,
                      workers: int = 0, batch_size: int = 64) -> list[Prediction]:
        """Returns one Prediction per video, processing all of them as one batch (decoding in
        ``workers`` DataLoader processes). Raises VideoReadError naming the first unreadable video."""
        from nsnet.sampler.base import SamplerInputs

        if method == "nsnet" and "nsnet" not in self.samplers and self.samplers:  # a TSQNet run: its own default
            method = next(iter(self.samplers))
        k = self._check(k, method)
        if method in PATCH_METHODS:
            return self._predict_patches(videos, k, method, top, workers, batch_size)
        start = time.perf_counter()
        dataset = _DecodeDataset([str(v) for v in videos], self.T, k, method, self.light_tf, self.rec_tf,
                                 self.short_side)
        loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers, collate_fn=_identity,
                            worker_init_fn=decode_worker_init if workers else None)
        items: list[_Decoded] = list(loader)
        for item in items:
            if item.error:
                raise VideoReadError(f"{item.path}: {item.error}")
        decoded_at = time.perf_counter()
        seconds = {"decode": decoded_at - start, "light": 0.0, "sampler": 0.0}
        if method in SAMPLER_METHODS:
            t0 = time.perf_counter()
            light, _ = run_model(self.extractor, torch.cat([it.light for it in items]), batch_size, self.device)
            light = light.reshape(len(items), self.T, -1).astype(np.float16).astype(np.float32)
            rec_features = None
            if "rec_features" in getattr(self.samplers[method], "requires", ()):  # TSQNet objects from the recognizer
                all_t = torch.cat([self.rec_tf(it.frames) for it in items])
                rec_features = run_model(self.recognizer, all_t, batch_size, self.device)[0]
                rec_features = rec_features.reshape(len(items), self.T, -1).astype(np.float16).astype(np.float32)
            t1 = time.perf_counter()
            positions = self.samplers[method].select(SamplerInputs(light=light, rec_features=rec_features), k)
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
        out = []
        for it, pos, p in zip(items, positions, probs):
            order = np.argsort(-p, kind="stable")[: max(1, min(top, p.size))]
            rate = it.fps if it.fps > 0 else 1.0
            frames = [FrameChoice(int(q), int(it.planned[q]), round(float(it.planned[q]) / rate, 3)) for q in pos]
            out.append(Prediction(
                video=it.path, method=method, T=self.T, K=int(positions.shape[1]),
                top=[{"class": self.class_names[c], "score": float(p[c])} for c in order],
                frames=sorted(frames, key=lambda f: f.frame), seconds={**seconds, "decode_per_video": it.decode_s},
            ))
        return out

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
        dataset = _DecodeDataset([str(v) for v in videos], self.T, k, method, self.light_tf, self.rec_tf,
                                 self.short_side)
        loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers, collate_fn=_identity,
                            worker_init_fn=decode_worker_init if workers else None)
        boxes = self.grid.boxes()
        out = []
        for it in loader:
            if it.error:
                raise VideoReadError(f"{it.path}: {it.error}")
            t0 = time.perf_counter()
            maps, pooled = feature_maps(self.extractor, it.light, batch_size, self.device)
            maps, pooled = as_stored(maps)[None], as_stored(pooled)[None]
            t1 = time.perf_counter()
            pos = sampler.frames(SamplerInputs(light=pooled), k)
            t2 = time.perf_counter()
            rec_in = self.rec_tf(it.frames[torch.from_numpy(pos[0])])
            choices, keep, probs = classify_frames(sampler, maps[:, pos[0]], pooled[:, pos[0]], rec_in, self.recognizer,
                                                   self.grid, batch_size, self.device)
            choices, keep, probs = choices[None], keep[None], probs[0]
            t3 = time.perf_counter()
            order = np.argsort(-probs, kind="stable")[: max(1, min(top, probs.size))]
            rate = it.fps if it.fps > 0 else 1.0
            frames = []
            for j, q in enumerate(pos[0]):
                box = None
                if keep[0, j]:
                    box = tuple(round(v, 1) for v in box_in_video(boxes[choices[0, j]], it.size[0], it.size[1],
                                                                  self.store.recognizer_spec,
                                                                  decode_short=self.short_side))
                frames.append(FrameChoice(int(q), int(it.planned[q]), round(float(it.planned[q]) / rate, 3),
                                          patch=int(choices[0, j]) if keep[0, j] else None, box=box))
            out.append(Prediction(
                video=it.path, method=method, T=self.T, K=int(pos.shape[1]),
                top=[{"class": self.class_names[c], "score": float(probs[c])} for c in order], frames=frames,
                seconds={"decode": it.decode_s, "light": t1 - t0, "sampler": t2 - t1, "patches": t3 - t2,
                         "total": time.perf_counter() - start},
            ))
        return out

    def predict(self, video: str | Path, k: int, method: str = "nsnet", top: int = 5) -> Prediction:
        """Returns the Prediction of one video (decoding in this process)."""
        return self.predict_batch([video], k, method=method, top=top, workers=0)[0]


def predict_video(video: str | Path, run_dir: str | Path, k: int, *, store: str | Path | None = None,
                  device: str = "cpu", fusion: str = DEFAULT_FUSION, alpha: float = DEFAULT_ALPHA, method: str = "nsnet",
                  top: int = 5, adafocus_run: str | Path | None = None) -> Prediction:
    """Returns the Prediction of ``video`` with the sampler run ``run_dir`` at budget ``k``.

    Raises VideoReadError (one line naming the file) for an unreadable video.
    """
    path = Path(video)
    try:
        probe_video(path)
    except VideoReadError as err:
        raise VideoReadError(f"{path}: {err}") from None
    pipeline = VideoPipeline.from_run(run_dir, store, device=device, fusion=fusion, alpha=alpha, adafocus_run=adafocus_run)
    if method == "nsnet" and pipeline.run is None and "adafocus" in pipeline.samplers:  # --run of an AdaFocus run
        method = "adafocus"
    return pipeline.predict(path, k, method, top)
