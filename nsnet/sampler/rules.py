"""Untrained, rule-based frame selectors (TSQNet §4.2 baselines).

* ``uniform`` -- K evenly spaced frames: the centre of each of K equal segments of the T frames,
  frame floor((j + 0.5) * T / K), j = 0..K-1.
* ``random``  -- K distinct frames drawn with a seeded generator (same seed -> same frames).
* ``dense``   -- all T frames (K is ignored).
* ``topk``    -- MaxConf: the recognizer's maximum class confidence per frame (softmax over its
  cached logits; per-class sigmoid with ``multilabel=True``), top-K frames.
"""

from __future__ import annotations

import numpy as np

from nsnet.numeric import class_probabilities, uniform_positions
from nsnet.sampler.base import BuildContext, Sampler, SamplerInputs
from nsnet.sampler.registry import register_sampler


@register_sampler("uniform")
class UniformSampler(Sampler):
    """K evenly spaced frames (segment centres); saliency is flat."""

    table_order = 3

    def scores(self, inputs: SamplerInputs) -> np.ndarray:
        """Returns a flat [N, T] score of 1/T."""
        return np.full((inputs.N, inputs.T), 1.0 / inputs.T, dtype=np.float32)

    def select(self, inputs: SamplerInputs, k: int) -> np.ndarray:
        """Returns np.int64 [N, K]: the same segment centres for every video."""
        return np.tile(uniform_positions(inputs.T, k), (inputs.N, 1))


@register_sampler("random")
class RandomSampler(Sampler):
    """K random distinct frames per video, reproducible through ``seed``."""

    table_order = 4

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)

    @classmethod
    def build(cls, ctx: BuildContext) -> "RandomSampler":
        """Returns the sampler seeded with the context's seed."""
        return cls(seed=ctx.seed)

    def scores(self, inputs: SamplerInputs) -> np.ndarray:
        """Returns [N, T] uniform random scores from a generator seeded with ``seed``."""
        return np.random.default_rng(self.seed).random((inputs.N, inputs.T))


@register_sampler("dense")
class DenseSampler(Sampler):
    """All T frames."""

    table_order = 5
    all_frames = True
    ignores_budget = True

    def scores(self, inputs: SamplerInputs) -> np.ndarray:
        """Returns a flat [N, T] score of 1/T."""
        return np.full((inputs.N, inputs.T), 1.0 / inputs.T, dtype=np.float32)

    def select(self, inputs: SamplerInputs, k: int | None = None) -> np.ndarray:
        """Returns np.int64 [N, T]: every frame, in temporal order (``k`` is ignored)."""
        return np.tile(np.arange(inputs.T, dtype=np.int64), (inputs.N, 1))


@register_sampler("topk")
class TopKSampler(Sampler):
    """MaxConf: frames ranked by the recognizer's maximum class confidence."""

    table_order = 6
    all_frames = True
    requires = ("rec_logits",)
    aliases = ("maxconf", "top-k")

    def __init__(self, multilabel: bool = False) -> None:
        self.multilabel = bool(multilabel)

    @classmethod
    def build(cls, ctx: BuildContext) -> "TopKSampler":
        """Returns the sampler for the context's store (sigmoid confidences when multi-label)."""
        return cls(multilabel=ctx.multilabel)

    def scores(self, inputs: SamplerInputs) -> np.ndarray:
        """Returns [N, T]: max over classes of the softmax (sigmoid if multilabel) of the logits."""
        self.check(inputs)
        return class_probabilities(inputs.rec_logits, self.multilabel).max(axis=2)
