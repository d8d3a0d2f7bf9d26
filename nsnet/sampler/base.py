"""The common sampler interface: ``SamplerInputs`` in, saliency scores / K frame indices out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np


class SamplerError(ValueError):
    """A sampler cannot run on the given inputs (missing arrays, bad budget K, wrong shapes)."""


@dataclass
class SamplerInputs:
    """A batch of N videos with T pre-sampled frames each.

    ``light`` [N, T, D] float32 light features; optional ``rec_logits`` [N, T, C] and
    ``rec_features`` [N, T, D2] from the recognizer, and multi-hot ``labels`` [N, C].
    """

    light: np.ndarray
    rec_logits: np.ndarray | None = None
    rec_features: np.ndarray | None = None
    labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.light = np.asarray(self.light, dtype=np.float32)
        if self.light.ndim != 3:
            raise SamplerError(f"light features must be [N, T, D], got shape {self.light.shape}")
        n, t = self.light.shape[:2]
        for name in ("rec_logits", "rec_features"):
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value, dtype=np.float32)
                if value.ndim != 3 or value.shape[:2] != (n, t):
                    raise SamplerError(f"{name} must be [N={n}, T={t}, *], got shape {value.shape}")
                setattr(self, name, value)
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.float32)
            if self.labels.ndim != 2 or self.labels.shape[0] != n:
                raise SamplerError(f"labels must be [N={n}, C], got shape {self.labels.shape}")

    @classmethod
    def from_arrays(cls, arrays: object) -> "SamplerInputs":
        """Returns the inputs view of a :class:`nsnet.sampler.data.SamplerArrays`."""
        return cls(
            light=arrays.light, rec_logits=arrays.rec_logits,  # type: ignore[attr-defined]
            rec_features=arrays.rec_features, labels=arrays.labels,  # type: ignore[attr-defined]
        )

    @property
    def N(self) -> int:
        """Returns the number of videos."""
        return int(self.light.shape[0])

    @property
    def T(self) -> int:
        """Returns the number of frames per video."""
        return int(self.light.shape[1])


def check_budget(k: int, t: int) -> int:
    """Returns ``k`` as int after checking 1 <= k <= t (raises SamplerError otherwise)."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise SamplerError(f"budget K must be an integer, got {k!r}")
    if not 1 <= int(k) <= t:
        raise SamplerError(f"budget K must satisfy 1 <= K <= T={t}, got K={k}")
    return int(k)


def topk_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Returns np.int64 [N, K]: per row the indices of the K highest scores, highest first;
    ties go to the lower index (stable sort), as :func:`nsnet.sampler.fusion.topk_indices`."""
    scores = np.asarray(scores, dtype=np.float64)
    k = check_budget(k, scores.shape[1])
    return np.argsort(-scores, axis=1, kind="stable")[:, :k].astype(np.int64)


class Sampler:
    """Base class: subclasses implement :meth:`scores`; :meth:`select` takes their top-K."""

    name: ClassVar[str] = ""
    trained: ClassVar[bool] = False
    requires: ClassVar[tuple[str, ...]] = ()  # optional SamplerInputs fields this sampler needs

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
        check_budget(k, inputs.T)
        return topk_rows(self.scores(inputs), k)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
