"""The README's toy plug-in (mypkg/lastframes.py there): a variant "lastframes" with one option and its sampler."""

from dataclasses import dataclass

import numpy as np

from nsnet.sampler.base import Sampler
from nsnet.sampler.loop import TrainResult
from nsnet.sampler.options import SamplerOptions, option
from nsnet.sampler.registry import register_sampler
from nsnet.sampler.variants import VariantSpec, register_variant


@dataclass
class LastFramesOptions(SamplerOptions):
    decay: float = option(0.5, "weight ratio between neighbouring frames", min=0, max=1, min_open=True)


def train(arrays, cfg, **_):  # nothing to learn: the run keeps the options only
    return TrainResult(model=None, config=cfg, num_videos=arrays.N)


@register_sampler("lastframes")
class LastFrames(Sampler):
    trained, variants = True, ("lastframes",)

    def __init__(self, run=None, device="cpu"):
        self.decay = run.config.options.decay

    def scores(self, inputs):  # later frames score higher
        return np.tile(self.decay ** np.arange(inputs.T)[::-1], (inputs.N, 1))


register_variant(VariantSpec("lastframes", LastFramesOptions, train))
