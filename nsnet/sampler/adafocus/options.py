"""AdaFocus's typed options (variant ``adafocus``; ``skip=true`` trains AdaFocus+) and its stages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

from nsnet.sampler.options import SamplerConfigError, SamplerOptions, option

STAGES = (1, 2, 3)
ARCH_OPTIONS = ("hidden", "policy_hidden", "policy_channels", "dropout", "skip", "policy_input")  # a stage checkpoint must match
_PROB = dict(min=0.0, max=1.0, max_open=True)


@dataclass
class AdaFocusOptions(SamplerOptions):
    """The options of variant ``adafocus`` and their defaults (the paper's where it gives them)."""

    hidden: int = option(256, "f_C GRU width (paper 1024)", min=1)
    policy_hidden: int = option(256, "π / π' GRU width (paper 1024)", min=1)
    policy_channels: int = option(32, "π's 1x1 conv output channels", min=1)
    dropout: float = option(0.2, "f_C dropout before its linear head", **_PROB)
    batch_size: int = option(64, "videos per step", min=1)
    stage1_epochs: int = option(10, "stage I epochs (f_C on random candidates)", min=1)
    stage2_epochs: int = option(15, "stage II epochs (PPO on π)", min=1)
    stage3_epochs: int = option(5, "stage III epochs (f_C fine-tuned on π's patches)", min=1)
    lr: float = option(1e-3, "Adam lr of stage I", min=0.0, min_open=True)
    stage3_lr: float = option(1e-4, "Adam lr of stage III", min=0.0, min_open=True)
    policy_lr: float = option(1e-3, "Adam lr of stage II", min=0.0, min_open=True)
    gamma: float = option(0.7, "reward discount (paper)", min=0.0, max=1.0)
    clip: float = option(0.2, "PPO clip epsilon", min=0.0, min_open=True)
    ppo_epochs: int = option(2, "PPO epochs on each rollout batch", min=1)
    value_coef: float = option(0.5, "PPO value loss weight", min=0.0)
    entropy_coef: float = option(0.01, "PPO entropy bonus weight", min=0.0)
    skip: bool = option(False, "AdaFocus+: also train π', which skips the local CNN on some frames")
    lam: float = option(1e-6, "lambda of AdaFocus+'s lambda P^2 penalty (paper 1e-6)", min=0.0)
    keep_ratio: float = option(0.7, "η: share of frames AdaFocus+ keeps at inference (paper 0.9 / 0.7 / 0.5)",
                               min=0.0, max=1.0, min_open=True)
    drop_local: float = option(0.0, "stage I: probability of zeroing a frame's local feature", **_PROB)
    policy_input: str = option("candidates", "π's input: candidates (each candidate scored from the map pooled over "
                               "its box, shared weights: the choice can follow the content) or map (the paper: the "
                               "flattened light map -> G*G logits)", choices=("map", "candidates"))
    shared_critic: bool = option(False, "stage II: false: the critic reads a detached state; true: its value loss also "
                                 "trains π's (and π''s) conv and GRU (the paper's shared network: a value target that "
                                 "the map cannot predict drives π's ReLUs dead and its choice to one fixed candidate)")
    reward: str = option("paper", "stage II reward baseline: paper (Eq. 7: f_C's confidence on one random candidate) "
                         "or mean (its mean confidence over all G*G candidates)", choices=("paper", "mean"))

    # the paper's π: the default until the candidate policy with a detached critic won on the train
    # holdout of both picture-in-picture stores (benchmarks/RESULTS.md, "A larger picture-in-picture set")
    former_defaults: ClassVar[dict[str, Any]] = {"policy_input": "map", "shared_critic": True}

    def needs_patches(self) -> bool:
        """Returns True: AdaFocus trains on the light maps and candidate patch features."""
        return True


def parse_stages(value: str | Sequence[int] | None) -> tuple[int, ...]:
    """Returns the stages to run as a sorted tuple of consecutive stages in 1..3 (None: all three)
    from "1,2,3" / "2,3" / [2, 3]; raises SamplerConfigError otherwise."""
    if value is None:
        return STAGES
    items = value.split(",") if isinstance(value, str) else list(value)
    try:
        stages = sorted({int(str(v).strip()) for v in items if str(v).strip()})
    except ValueError:
        raise SamplerConfigError(f"stages must be comma-separated numbers in 1..3 (e.g. 1,2,3), got {value!r}") from None
    if not stages or not set(stages) <= set(STAGES):
        raise SamplerConfigError(f"stages must be in 1..3 (e.g. 1,2,3 or 2,3), got {value!r}")
    if stages != list(range(stages[0], stages[-1] + 1)):
        raise SamplerConfigError(f"stages must be consecutive (e.g. 1,2,3 or 2,3), got {value!r}")
    return tuple(stages)
