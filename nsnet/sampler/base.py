"""The common sampler interface: ``SamplerInputs`` in, saliency scores / K frame indices out."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, ClassVar, Mapping

import numpy as np

from nsnet.errors import UserError
from nsnet.numeric import check_budget, top_k


class SamplerError(UserError, ValueError):
    """A sampler cannot run on the given inputs (missing arrays, bad budget K, wrong shapes)."""


@dataclass
class SamplerInputs:
    """A batch of N videos with T pre-sampled frames each: what a sampler reads.

    ``light`` [N, T, D] float32 light features; optional ``rec_logits`` [N, T, C] and
    ``rec_features`` [N, T, D2] from the recognizer, and multi-hot ``labels`` [N, C]. One split of a
    store, with the store's identity, is the subclass :class:`nsnet.sampler.data.SamplerArrays`.
    """

    light: np.ndarray
    rec_logits: np.ndarray | None = None
    rec_features: np.ndarray | None = None
    labels: np.ndarray | None = None
    error: ClassVar[type[Exception]] = SamplerError  # what a bad shape raises

    def __post_init__(self) -> None:
        self.light = np.asarray(self.light, dtype=np.float32)
        if self.light.ndim != 3:
            raise self.error(f"light features must be [N, T, D], got shape {self.light.shape}")
        n, t = self.light.shape[:2]
        for name in ("rec_logits", "rec_features"):
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value, dtype=np.float32)
                if value.ndim != 3 or value.shape[:2] != (n, t):
                    raise self.error(f"{name} must be [N={n}, T={t}, *], got shape {value.shape}")
                setattr(self, name, value)
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.float32)
            if self.labels.ndim != 2 or self.labels.shape[0] != n:
                raise self.error(f"labels must be [N={n}, C], got shape {self.labels.shape}")

    @property
    def N(self) -> int:
        """Returns the number of videos."""
        return int(self.light.shape[0])

    @property
    def T(self) -> int:
        """Returns the number of frames per video."""
        return int(self.light.shape[1])


@dataclass(frozen=True)
class BuildContext:
    """What a command hands a sampler class to build one: the loaded ``runs`` by variant, the
    fusion / ``alpha`` of a two-branch sampler (None: its default), the ``seed`` of random ones,
    whether the store is ``multilabel`` and the ``device``."""

    runs: Mapping[str, Any] = dataclass_field(default_factory=dict)
    fusion: str | None = None
    alpha: float | None = None
    seed: int = 0
    multilabel: bool = False
    device: str = "cpu"


class Sampler:
    """Base class: subclasses implement :meth:`scores`; :meth:`select` takes their top-K."""

    name: ClassVar[str] = ""
    trained: ClassVar[bool] = False
    requires: ClassVar[tuple[str, ...]] = ()  # optional SamplerInputs fields this sampler needs
    # How `nsnet evaluate` treats it: the run variants it can be built from (the first one names its
    # --run option), the sampler network branches that run (their cost counts), whether the recognizer
    # sees all T frames (cost P_rec * T), and its row in the default table (then registration order).
    variants: ClassVar[tuple[str, ...]] = ()
    branches: ClassVar[tuple[str, ...]] = ()
    all_frames: ClassVar[bool] = False
    table_order: ClassVar[int] = 100
    ignores_budget: ClassVar[bool] = False  # looks at all T frames whatever K (dense, the AdaFocus family)
    aliases: ClassVar[tuple[str, ...]] = ()  # other method names that mean this sampler
    fusions: ClassVar[tuple[str, ...]] = ()  # strategies it is also evaluated with, as ``fused:<strategy>``

    @classmethod
    def build(cls, ctx: BuildContext) -> "Sampler":
        """Returns this sampler built for a command: from the run of its first variant (trained
        samplers) or with no argument (rule-based ones); subclasses that take settings override it."""
        if cls.variants:
            return cls(run=ctx.runs[cls.variants[0]], device=ctx.device)
        return cls()

    def check(self, inputs: SamplerInputs) -> None:
        """Raises SamplerError when ``inputs`` lacks an array this sampler needs."""
        for field in self.requires:
            if getattr(inputs, field) is None:
                raise SamplerError(f"sampler {self.name!r} needs {field} in its inputs")

    def scores(self, inputs: SamplerInputs) -> np.ndarray:
        """Returns float [N, T] saliency scores (higher = more salient)."""
        raise NotImplementedError

    def select(self, inputs: SamplerInputs, k: int) -> np.ndarray:
        """Returns np.int64 [N, K] frame indices in 0..T-1, most salient first."""
        k = check_budget(k, inputs.T)
        return top_k(self.scores(inputs), k)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
