"""Evaluation methods: each one a sampler from :mod:`nsnet.sampler.registry` plus how it is costed.

A :class:`MethodSpec` says which registered sampler selects the frames, which trained run it needs
(the first of the sampler class's ``variants``), whether the recognizer must see all T frames (dense,
topk / MaxConf and oracle: their cost is P_rec * T) and which sampler branches run. Each sampler
class builds itself from the loaded runs (:meth:`nsnet.sampler.base.Sampler.build`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from nsnet.evaluate.config import FUSED, EvaluateError, fusing_sampler, parse_method
from nsnet.sampler.auto import chosen_method
from nsnet.sampler.auto.sampler import AUTO
from nsnet.sampler.base import BuildContext, Sampler, SamplerInputs
from nsnet.sampler.fusion import DEFAULT_FUSION
from nsnet.sampler.registry import sampler_class, table_order


@dataclass(frozen=True)
class MethodSpec:
    """One evaluated method.

    ``name``: canonical name (``nsnet``, ``fused:sum``, ``fsm``...); ``sampler``: registry name;
    ``fusion``: NSNet fusion strategy (fused methods only); ``run_key``: the trained run it needs;
    ``all_frames``: the recognizer runs on all T frames; ``branches``: sampler heads that run;
    ``patch``: a patch method (AdaFocus family, :mod:`nsnet.sampler.adafocus.methods`) whose
    ``frame_key`` run (nsnet / tsqnet, or None: all T frames) picks the frames it looks at.
    """

    name: str
    sampler: str
    fusion: str | None = None
    run_key: str | None = None
    all_frames: bool = False
    branches: tuple[str, ...] = ()
    patch: bool = False
    frame_key: str | None = None
    ignores_budget: bool = False
    display: str = ""  # a label set by the caller (auto: ``auto (tqm)``)

    @property
    def label(self) -> str:
        """Returns the display name, e.g. ``nsnet (union)`` or ``auto (tqm)``."""
        if self.display:
            return self.display
        return f"{self.sampler} ({self.fusion})" if self.fusion else self.name

    @property
    def uses_sampler(self) -> bool:
        """Returns True when the light extractor + sampler network run (their cost counts)."""
        return bool(self.branches)


def method_spec(name: str, fusion: str = DEFAULT_FUSION) -> MethodSpec:
    """Returns the MethodSpec of a method name (``--fusion`` applies to the plain fusing sampler), read
    from the registered sampler class (its ``variants``, ``branches``, ``all_frames``...)."""
    name = parse_method(name)
    strategy = None
    if name.startswith(FUSED) or sampler_class(name).fusions:
        strategy = name[len(FUSED):] if name.startswith(FUSED) else fusion
        name = fusing_sampler() if name.startswith(FUSED) else name
    cls = sampler_class(name)
    run_key = cls.variants[0] if cls.variants else None
    label = f"{FUSED}{strategy}" if strategy else name
    patch = bool(getattr(cls, "patch_policy", False))
    frame = getattr(cls, "frame_sampler", None) if patch else None
    frame_key = sampler_class(frame).variants[0] if frame else None
    return MethodSpec(label, name, strategy, run_key, cls.all_frames, tuple(cls.branches), patch, frame_key,
                      cls.ignores_budget)


def auto_spec(run: Any, fusion: str = DEFAULT_FUSION) -> MethodSpec:
    """Returns the MethodSpec of ``auto`` for an auto run: costed and run as the method it chose (its
    network parts measured on that run, key ``auto``), shown as ``auto (<method>)``."""
    inner = method_spec(chosen_method(run), fusion)
    uses_run = inner.run_key is not None
    return dataclasses.replace(inner, name=AUTO, sampler=AUTO, run_key=AUTO if uses_run else None,
                               display=f"{AUTO} ({inner.label})")


def resolve_methods(names: list[str], fusion: str, runs: dict[str, Any]) -> tuple[list[MethodSpec], list[str]]:
    """Returns (methods to evaluate, notes about skipped ones).

    Every method (all registered ones when ``names`` is empty) whose run is missing is skipped with
    a note; when none is left, EvaluateError says what each one needs.
    """
    specs = [method_spec(n, fusion) for n in (names or table_order())]
    specs = [auto_spec(runs[AUTO], fusion) if s.name == AUTO and runs.get(AUTO) is not None else s for s in specs]
    specs = list({s.name: s for s in specs}.values())
    keep, notes = [], []
    for spec in specs:
        missing = [key for key in (spec.run_key, spec.frame_key) if key and runs.get(key) is None]
        if missing:
            need = " and ".join(f"a trained {key} run" for key in missing)
            notes.append(f"{spec.label} skipped: it needs {need} (--run DIR)")
            continue
        keep.append(spec)
    if not keep:
        raise EvaluateError("no method left to evaluate: " + "; ".join(notes))
    return keep, notes


def build_sampler(spec: MethodSpec, runs: dict[str, Any], *, alpha: float, seed: int, multilabel: bool,
                  device: str = "cpu") -> Sampler:
    """Returns the registry sampler for ``spec``, built by its class from the loaded runs."""
    ctx = BuildContext(runs=runs, fusion=spec.fusion, alpha=alpha, seed=seed, multilabel=multilabel, device=device)
    return sampler_class(spec.sampler).build(ctx)


def select_positions(sampler: Sampler, spec: MethodSpec, inputs: SamplerInputs, k: int) -> np.ndarray:
    """Returns np.int64 [N, K] chosen positions among the T frames (all T for a budget-free method)."""
    return np.asarray(sampler.select(inputs, k), dtype=np.int64)
