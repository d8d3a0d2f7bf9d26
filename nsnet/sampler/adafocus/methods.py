"""Patch methods (AdaFocus, ICCV 2021): recognise a video from one P x P candidate patch per frame.

A patch method answers three questions, each from cached-or-recomputed tensors:

* **which frames** (:meth:`PatchMethod.frames`): all T (AdaFocus and its baselines) or the K an
  NSNet / TSQNet run selects, in time order (``nsnet+adafocus``, ``tsqnet+adafocus``);
* **which patch of each frame** (:meth:`PatchMethod.choose`): the AdaFocus policy π on the light
  extractor's feature maps (argmax), a random candidate, or the centre one;
* **what the video is** (:meth:`PatchMethod.predict`): the AdaFocus classifier f_C on the global
  (pooled light) and local (patch) features of those frames -- not the recognizer's head.

``adafocus+`` also skips the local CNN on the frames whose keep probability (π', Eq. 8) is below
the run's threshold ρ (:meth:`PatchMethod.keep`). The random and centre baselines (paper Table 5)
use the classifier of stage I, which was trained on random candidates, when the run kept it.

`nsnet evaluate` scores these methods on the cached path (index the stored candidate features)
or the reload path (decode, run the light CNN, crop, run the local CNN on the patch only):
:mod:`nsnet.evaluate.patch_eval`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from nsnet.numeric import check_budget
from nsnet.sampler.base import BuildContext, Sampler, SamplerError, SamplerInputs
from nsnet.sampler.adafocus.checkpoints import stage_model
from nsnet.sampler.registry import create_sampler, register_sampler, sampler_class


class PatchMethod(Sampler):
    """Base of the patch methods; built from an AdaFocus run (``run``), plus a frame-sampler run
    (``frame_run``) for the methods that look at K frames only."""

    trained = True
    patch_policy: ClassVar[bool] = True
    variants = ("adafocus",)
    branches = ("policy",)
    table_order = 20
    ignores_budget = True  # all T frames (the methods with a frame sampler set it False)
    frame_sampler: ClassVar[str | None] = None  # registry name that picks the K frames (None: all T)
    classifier_stage: ClassVar[str] = "final"  # which f_C predicts: "final" (stage III) or "random" (stage I)

    @classmethod
    def build(cls, ctx: BuildContext) -> "PatchMethod":
        """Returns the method of the context's AdaFocus run; its frame sampler (if any) is built from
        the same context (e.g. NSNet with the context's fusion and alpha)."""
        frames = None
        if cls.frame_sampler is not None:
            frame_cls = sampler_class(cls.frame_sampler)
            if ctx.runs.get(frame_cls.variants[0]) is None:
                raise SamplerError(f"sampler {cls.name!r} needs a {frame_cls.variants[0]} run for its frames")
            frames = frame_cls.build(ctx)
        return cls(ctx.runs[cls.variants[0]], device=ctx.device, seed=ctx.seed, frame_selector=frames)

    def __init__(self, run: Any, frame_run: Any = None, device: str = "cpu", seed: int = 0,
                 frame_kwargs: dict[str, Any] | None = None, frame_selector: Sampler | None = None) -> None:
        if run is None or getattr(run, "model", None) is None or run.config.variant != "adafocus":
            raise SamplerError(f"sampler {self.name!r} needs a trained AdaFocus run (--run-adafocus)")
        self.run, self.model = run, run.model
        self.device = torch.device(device)
        self.seed = int(seed)
        self.frame_selector: Sampler | None = frame_selector
        if self.frame_sampler is not None and frame_selector is None:
            if frame_run is None:
                raise SamplerError(f"sampler {self.name!r} needs a {self.frame_sampler} run for its frames")
            self.frame_selector = create_sampler(self.frame_sampler, run=frame_run, device=device,
                                                 **(frame_kwargs or {}))

    @property
    def num_candidates(self) -> int:
        """Returns G * G, the number of candidate patches per frame."""
        return int(self.model.cfg.num_candidates)

    def frames(self, inputs: SamplerInputs, k: int) -> np.ndarray:
        """Returns np.int64 [N, K] frame positions in time order (all T when no frame sampler)."""
        if self.frame_selector is None:
            return np.tile(np.arange(inputs.T, dtype=np.int64), (inputs.N, 1))
        k = check_budget(k, inputs.T)
        return np.sort(np.asarray(self.frame_selector.select(inputs, k), dtype=np.int64), axis=1)

    def scores(self, inputs: SamplerInputs) -> np.ndarray:
        """Returns [N, T] frame scores: the frame sampler's, or all ones (every frame is looked at)."""
        if self.frame_selector is not None:
            return self.frame_selector.scores(inputs)
        return np.ones((inputs.N, inputs.T), dtype=np.float64)

    @torch.no_grad()
    def choose(self, maps: np.ndarray, videos: np.ndarray | None = None) -> np.ndarray:
        """Returns np.int64 [N, K] candidate indices for the feature maps [N, K, D, h, w] (argmax of
        π). ``videos`` [N] (positions of the videos in the evaluated set; default 0..N-1) seeds the
        random baseline per video, so a video gets the same patches however it is batched."""
        x = torch.from_numpy(np.asarray(maps, dtype=np.float32)).to(self.device)
        return self.model.choose_patches(x).cpu().numpy().astype(np.int64)

    @torch.no_grad()
    def keep(self, maps: np.ndarray) -> np.ndarray:
        """Returns bool [N, K]: frames whose patch goes through the local CNN (all of them here)."""
        return np.ones(np.asarray(maps).shape[:2], dtype=bool)

    @torch.no_grad()
    def predict(self, global_feats: np.ndarray, local_feats: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
        """Returns float64 [N, C] class probabilities from f_C on the K frames' global [N, K, D] and
        local [N, K, D2] features (local features of frames with ``keep`` False are zeroed, Eq. 9)."""
        model = self._classifier()
        g = torch.from_numpy(np.asarray(global_feats, dtype=np.float32)).to(self.device)
        loc = torch.from_numpy(np.asarray(local_feats, dtype=np.float32)).to(self.device)
        mask = None if keep is None else torch.from_numpy(np.asarray(keep, dtype=bool)).to(self.device)
        return model.classify(g, loc, mask).double().cpu().numpy()

    def score_arrays(self, light: np.ndarray, maps: np.ndarray, patch_features: np.ndarray, positions: np.ndarray,
                     videos: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Returns (choices, keep, probs) on cached arrays: :func:`score_arrays` of this method."""
        return score_arrays(self, light, maps, patch_features, positions, videos)

    def _classifier(self) -> Any:
        """Returns the model whose f_C predicts: the stage-I one (trained on random candidates) for
        the random / centre baselines when the run kept ``stage1.pt``, else the final one."""
        if self.classifier_stage == "random":
            if not hasattr(self, "_stage1"):
                self._stage1 = stage_model(self.run, 1, self.device)
            return self._stage1 or self.model
        return self.model


@register_sampler("adafocus")
class AdaFocusMethod(PatchMethod):
    """AdaFocus: π picks one candidate per frame on all T frames, f_C classifies."""

    table_order = 20


@register_sampler("adafocus+")
class AdaFocusPlusMethod(PatchMethod):
    """AdaFocus+ (§3.3): AdaFocus, and π' skips the local CNN where p^B < ρ."""

    branches = ("policy", "skip")
    table_order = 21

    def __init__(self, run: Any, **kw: Any) -> None:
        super().__init__(run, **kw)
        if getattr(self.model, "skip", None) is None:
            raise SamplerError("adafocus+ needs an AdaFocus run trained with the skip policy (--option skip=true)")

    @torch.no_grad()
    def keep(self, maps: np.ndarray) -> np.ndarray:
        """Returns bool [N, K]: frames with keep probability p^B >= ρ (the run's threshold)."""
        x = torch.from_numpy(np.asarray(maps, dtype=np.float32)).to(self.device)
        return self.model.keep_mask(x).cpu().numpy().astype(bool)


@register_sampler("random-patch")
class RandomPatchMethod(PatchMethod):
    """Baseline: a random candidate per frame (seeded), classified by the stage-I f_C."""

    branches = ()
    table_order = 22
    classifier_stage = "random"

    def choose(self, maps: np.ndarray, videos: np.ndarray | None = None) -> np.ndarray:
        """Returns np.int64 [N, K] uniformly random candidate indices, drawn per video from
        ``(seed, video)`` (``videos`` default 0..N-1)."""
        n, k = np.asarray(maps).shape[:2]
        videos = np.arange(n) if videos is None else np.asarray(videos, dtype=np.int64)
        return np.stack([np.random.default_rng([self.seed, int(v)]).integers(0, self.num_candidates, size=k)
                         for v in videos]).astype(np.int64).reshape(n, k)


@register_sampler("centre-patch")
class CentrePatchMethod(PatchMethod):
    """Baseline: the candidate nearest the frame centre on every frame, stage-I f_C."""

    branches = ()
    table_order = 23
    classifier_stage = "random"

    def choose(self, maps: np.ndarray, videos: np.ndarray | None = None) -> np.ndarray:
        """Returns np.int64 [N, K] filled with the centre candidate's index."""
        n, k = np.asarray(maps).shape[:2]
        return np.full((n, k), centre_candidate(self.run), dtype=np.int64)


@register_sampler("nsnet+adafocus")
class NSNetAdaFocusMethod(PatchMethod):
    """NSNet picks K frames (its default fusion), AdaFocus looks at one patch of each."""

    table_order = 24
    frame_sampler = "nsnet"
    ignores_budget = False


@register_sampler("tsqnet+adafocus")
class TSQNetAdaFocusMethod(PatchMethod):
    """TSQNet picks K frames, AdaFocus looks at one patch of each."""

    table_order = 25
    frame_sampler = "tsqnet"
    ignores_budget = False


def score_arrays(method: PatchMethod, light: np.ndarray, maps: np.ndarray, patch_features: np.ndarray,
                 positions: np.ndarray, videos: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (choices [N, K], keep [N, K], probs [N, C]) of ``method`` on cached arrays of N videos:
    pooled ``light`` [N, T, D], ``maps`` [N, T, D, h, w], candidate ``patch_features`` [N, T, G*G, D2]
    and the frame ``positions`` [N, K] it looks at (``videos`` seeds the random baseline per video)."""
    take = lambda a: np.take_along_axis(a, positions.reshape(positions.shape + (1,) * (a.ndim - 2)), axis=1)  # noqa: E731
    frame_maps = take(maps)
    choices = method.choose(frame_maps, videos=videos)
    keep = method.keep(frame_maps)
    local = np.take_along_axis(take(patch_features), choices[:, :, None, None], axis=2)[:, :, 0]
    probs = method.predict(take(light), local.astype(np.float32), keep)
    return choices, keep, probs


def centre_candidate(run: Any) -> int:
    """Returns the index of the candidate box whose centre is nearest the frame centre (ties: lowest)."""
    from nsnet.extract.patches import PatchGrid

    geometry = run.meta.get("patches") or {}
    if not geometry.get("boxes"):
        raise SamplerError("the AdaFocus run does not record its candidate boxes")
    return PatchGrid.from_attrs(geometry).centre_index()
