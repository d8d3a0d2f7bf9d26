"""Samplers backed by a trained run directory (and the label-using oracle).

* ``nsnet``     -- NSNet: FSM and VGM saliency fused by :func:`nsnet.sampler.fusion.fuse_select_batch`
  (``fusion="union"``, ``alpha=0.6`` by default, supp. A.3). Its :meth:`scores` is the convex
  combination alpha * s^f + (1 - alpha) * s^v.
* ``fsm`` / ``vgm`` -- one NSNet branch alone (``fsm`` also accepts maxconf-l / scsampler runs).
* ``maxconf-l`` -- TSQNet's MaxConf-L: FEM + frame classifier trained with the video label on
  every frame; frames ranked by their max class confidence.
* ``scsampler`` -- SCSampler-style: a per-frame MLP (no temporal context) trained with the video
  label; frames ranked by their confidence on the video-level predicted class (argmax of the
  frame-averaged softmax), so a frame must be confident about *the video's* class, not any class.
* ``oracle``    -- the guiding score g_i itself (labels + recognizer features + train prototypes,
  or the recognizer's response): an upper bound that uses ground truth (supp. C).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from nsnet.sampler.base import BuildContext, Sampler, SamplerError, SamplerInputs
from nsnet.sampler.fusion import DEFAULT_ALPHA, DEFAULT_FUSION, FUSIONS, fuse_select_batch
from nsnet.sampler.prototypes import GUIDES_WITH_PROTOTYPES, Prototypes, compute_guide
from nsnet.sampler.registry import register_sampler
from nsnet.sampler.run import SamplerRun, check_run_matches, load_run


class TrainedSampler(Sampler):
    """A sampler whose saliency comes from a trained NSNet-family model."""

    trained = True

    def __init__(
        self, run_dir: str | Path | None = None, *, run: SamplerRun | None = None, store: Any = None,
        device: str = "cpu", batch_size: int = 256,
    ) -> None:
        if run is None:
            if run_dir is None:
                raise SamplerError(f"sampler {self.name!r} needs a trained run: pass run_dir=... or run=...")
            run = load_run(run_dir, store=store, device=device)
        elif store is not None:
            check_run_matches(run.meta, store, run.run_dir)
        if self.variants and run.config.variant not in self.variants:
            raise SamplerError(f"sampler {self.name!r} needs a run of variant {' or '.join(self.variants)}; "
                               f"{run.run_dir} is a {run.config.variant} run")
        self.run = run
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        if run.model is not None:
            have = {b for b in ("fsm", "vgm") if getattr(run.model, b) is not None}
            missing = [b for b in self.branches if b not in have]
            if missing:
                raise SamplerError(f"sampler {self.name!r} needs the {'/'.join(missing)} branch, "
                                   f"which run {run.run_dir} did not train")
            run.model.to(self.device).eval()

    def branch_scores(self, inputs: SamplerInputs) -> dict[str, np.ndarray]:
        """Returns ``{"fsm": s^f, "vgm": s^v}`` [N, T] float64 for the model's branches."""
        model = self.run.model
        meta = self.run.meta
        if inputs.T != int(meta["T"]) or inputs.light.shape[2] != int(meta["D"]):
            raise SamplerError(f"inputs are [*, T={inputs.T}, D={inputs.light.shape[2]}] but run {self.run.run_dir} "
                               f"was trained on T={meta['T']}, D={meta['D']}")
        parts: dict[str, list[np.ndarray]] = {}
        with torch.no_grad():
            for lo in range(0, inputs.N, self.batch_size):
                x = torch.from_numpy(inputs.light[lo : lo + self.batch_size]).to(self.device)
                for key, value in model.saliency(x).items():
                    parts.setdefault(key, []).append(value.double().cpu().numpy())
        return {key: np.concatenate(chunks) for key, chunks in parts.items()}


@register_sampler("fsm")
class FSMSampler(TrainedSampler):
    """Top-K of the FSM saliency s^f."""

    variants = ("nsnet", "maxconf-l", "scsampler")
    branches = ("fsm",)
    table_order = 1

    def scores(self, inputs: SamplerInputs) -> np.ndarray:
        """Returns s^f [N, T]."""
        return self.branch_scores(inputs)["fsm"]


@register_sampler("vgm")
class VGMSampler(TrainedSampler):
    """Top-K of the VGM attention s^v."""

    variants = ("nsnet",)
    branches = ("vgm",)
    table_order = 2

    def scores(self, inputs: SamplerInputs) -> np.ndarray:
        """Returns s^v = alpha [N, T]."""
        return self.branch_scores(inputs)["vgm"]


@register_sampler("maxconf-l")
class MaxConfLSampler(FSMSampler):
    """MaxConf-L: max class confidence of a video-label frame classifier on light features."""

    variants = ("maxconf-l",)
    table_order = 7


@register_sampler("scsampler")
class SCSampler(FSMSampler):
    """SCSampler-style: per-frame confidence on the video-level predicted class."""

    variants = ("scsampler",)
    table_order = 8


@register_sampler("nsnet")
class NSNetSampler(TrainedSampler):
    """NSNet: FSM and VGM saliency fused into K frames."""

    variants = ("nsnet",)
    branches = ("fsm", "vgm")
    table_order = 0
    aliases = ("ns",)
    fusions = FUSIONS  # evaluated as ``fused:<strategy>`` too

    @classmethod
    def build(cls, ctx: BuildContext) -> "NSNetSampler":
        """Returns the sampler of the context's nsnet run with its fusion and alpha (defaults if None)."""
        return cls(run=ctx.runs["nsnet"], fusion=ctx.fusion or DEFAULT_FUSION,
                   alpha=DEFAULT_ALPHA if ctx.alpha is None else ctx.alpha, device=ctx.device)

    def __init__(self, run_dir: str | Path | None = None, *, fusion: str = DEFAULT_FUSION, alpha: float = DEFAULT_ALPHA,
                 **kwargs: Any) -> None:
        if fusion not in FUSIONS:
            raise SamplerError(f"unknown fusion {fusion!r}; expected one of {FUSIONS}")
        self.fusion, self.alpha = fusion, float(alpha)
        super().__init__(run_dir, **kwargs)

    def scores(self, inputs: SamplerInputs) -> np.ndarray:
        """Returns alpha * n(s^f) + (1 - alpha) * n(s^v) [N, T] (n = min-max over the T frames)."""
        from nsnet.sampler.fusion import fused_scores

        s = self.branch_scores(inputs)
        return fused_scores(s["fsm"], s["vgm"], "sum", self.alpha)

    def select(self, inputs: SamplerInputs, k: int) -> np.ndarray:
        """Returns np.int64 [N, K]: the fused selection of the two branches."""
        s = self.branch_scores(inputs)
        return fuse_select_batch(s["fsm"], s["vgm"], k, strategy=self.fusion, alpha=self.alpha)


@register_sampler("oracle")
class OracleSampler(Sampler):
    """The guiding score g_i as saliency: uses the labels (an upper bound, not a real sampler)."""

    trained = True
    all_frames = True
    table_order = 9

    @classmethod
    def build(cls, ctx: BuildContext) -> "OracleSampler":
        """Returns the oracle of the context's oracle run (``fit-sampler --variant oracle``), else of its
        nsnet run, when that run kept prototypes (or used the response guide); else the response oracle
        (recognizer logits only)."""
        run = ctx.runs.get("oracle") or ctx.runs.get("nsnet")
        if run is not None and (run.prototypes is not None or run.config.options.guide == "response"):
            return cls(run=run)
        return cls(guide="response")

    def __init__(
        self, run_dir: str | Path | None = None, *, run: SamplerRun | None = None, store: Any = None,
        prototypes: Prototypes | None = None, guide: str | None = None, temperature: float | None = None,
    ) -> None:
        if run is None and run_dir is not None:
            run = load_run(run_dir, store=store)
        elif run is not None and store is not None:
            check_run_matches(run.meta, store, run.run_dir)
        opts = run.config.options if run is not None else None
        self.guide = guide or (opts.guide if opts is not None else "prototype")
        self.temperature = temperature or (opts.guide_temperature if opts is not None else 1.0)
        self.quantile = opts.guide_quantile if opts is not None else 0.02
        self.prototypes = prototypes if prototypes is not None else (run.prototypes if run is not None else None)
        if self.guide in GUIDES_WITH_PROTOTYPES and self.prototypes is None:
            raise SamplerError(f"the {self.guide} oracle needs prototypes: a run trained with guide={self.guide}, "
                               "or prototypes=...")
        self.requires = (("labels", "rec_features") if self.guide in GUIDES_WITH_PROTOTYPES
                         else ("labels", "rec_logits"))

    def scores(self, inputs: SamplerInputs) -> np.ndarray:
        """Returns g [N, T] computed from the inputs' labels and recognizer outputs."""
        self.check(inputs)
        guide = compute_guide(inputs.labels, mode=self.guide, rec_features=inputs.rec_features,
                              rec_logits=inputs.rec_logits, prototypes=self.prototypes, temperature=self.temperature,
                              quantile=self.quantile)
        return guide.g.astype(np.float64)
