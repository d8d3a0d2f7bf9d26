"""Evaluation methods: each one a sampler from :mod:`nsnet.sampler.registry` plus how it is costed.

A :class:`MethodSpec` says which registered sampler selects the frames, which trained run it needs
(``nsnet``, ``maxconf-l``, ``scsampler`` or ``tsqnet``), whether the recognizer must see all T frames (dense,
topk / MaxConf and oracle: their cost is P_rec * T) and which sampler branches run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nsnet.evaluate.config import EvaluateError, parse_method
from nsnet.sampler.base import Sampler, SamplerInputs
from nsnet.sampler.fusion import DEFAULT_FUSION
from nsnet.sampler.registry import create_sampler, sampler_class, table_order


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

    @property
    def label(self) -> str:
        """Returns the display name, e.g. ``nsnet (union)``."""
        return f"nsnet ({self.fusion})" if self.fusion else self.name

    @property
    def uses_sampler(self) -> bool:
        """Returns True when the light extractor + sampler network run (their cost counts)."""
        return bool(self.branches)


def method_spec(name: str, fusion: str = DEFAULT_FUSION) -> MethodSpec:
    """Returns the MethodSpec of a method name (``--fusion`` applies to plain ``nsnet``), read from
    the registered sampler class (its ``variants``, ``branches`` and ``all_frames``)."""
    name = parse_method(name)
    strategy = None
    if name == "nsnet" or name.startswith("fused:"):
        strategy = fusion if name == "nsnet" else name.split(":", 1)[1]
        name = "nsnet"
    cls = sampler_class(name)
    run_key = cls.variants[0] if cls.variants else None
    label = f"fused:{strategy}" if strategy else name
    patch = bool(getattr(cls, "patch_policy", False))
    frame_key = getattr(cls, "frame_sampler", None) if patch else None
    return MethodSpec(label, name, strategy, run_key, cls.all_frames, tuple(cls.branches), patch, frame_key)


def resolve_methods(names: list[str], fusion: str, runs: dict[str, Any]) -> tuple[list[MethodSpec], list[str]]:
    """Returns (methods to evaluate, notes about skipped ones).

    With no ``names`` every base method is tried and those whose run is missing are skipped with
    a note. Explicitly asked-for NSNet methods without ``--run`` raise EvaluateError; asked-for
    maxconf-l / scsampler without their run are skipped with a note.
    """
    explicit = bool(names)
    specs = [method_spec(n, fusion) for n in (names or table_order())]
    specs = list({s.name: s for s in specs}.values())
    keep, notes = [], []
    for spec in specs:
        if spec.frame_key and runs.get(spec.frame_key) is None:
            notes.append(f"{spec.label} skipped: it needs a trained {spec.frame_key} run for its frames "
                         f"({'--run' if spec.frame_key == 'nsnet' else '--run-' + spec.frame_key} DIR)")
            continue
        if spec.run_key and runs.get(spec.run_key) is None:
            option = "--run" if spec.run_key == "nsnet" else f"--run-{spec.run_key}"
            if explicit and spec.run_key == "nsnet":
                raise EvaluateError(f"method {spec.label} needs a trained NSNet run: pass {option} RUN_DIR")
            notes.append(f"{spec.label} skipped: it needs a trained run ({option} DIR)")
            continue
        keep.append(spec)
    if not keep:
        raise EvaluateError("no method left to evaluate: " + "; ".join(notes))
    return keep, notes


def build_sampler(spec: MethodSpec, runs: dict[str, Any], *, alpha: float, seed: int, multilabel: bool,
                  device: str = "cpu") -> Sampler:
    """Returns the registry sampler for ``spec`` (trained ones built from the loaded runs)."""
    if spec.sampler == "nsnet":
        return create_sampler("nsnet", run=runs["nsnet"], fusion=spec.fusion, alpha=alpha, device=device)
    if spec.patch:
        frame_kwargs = {"fusion": DEFAULT_FUSION, "alpha": alpha} if spec.frame_key == "nsnet" else {}
        return create_sampler(spec.sampler, run=runs[spec.run_key], device=device, seed=seed,
                              frame_run=runs.get(spec.frame_key) if spec.frame_key else None, frame_kwargs=frame_kwargs)
    if spec.run_key:
        return create_sampler(spec.sampler, run=runs[spec.run_key], device=device)
    if spec.sampler == "random":
        return create_sampler("random", seed=seed)
    if spec.sampler == "topk":
        return create_sampler("topk", multilabel=multilabel)
    if spec.sampler == "oracle":
        run = runs.get("nsnet")
        if run is not None and (run.prototypes is not None or run.config.guide == "response"):
            return create_sampler("oracle", run=run)
        return create_sampler("oracle", guide="response")
    return create_sampler(spec.sampler)


def select_positions(sampler: Sampler, spec: MethodSpec, inputs: SamplerInputs, k: int) -> np.ndarray:
    """Returns np.int64 [N, K] chosen positions among the T frames (dense: all T)."""
    if spec.sampler == "dense":
        return sampler.select(inputs)
    return np.asarray(sampler.select(inputs, k), dtype=np.int64)


def oracle_needs_features(sampler: Sampler) -> bool:
    """Returns True when an oracle sampler ranks frames by recognizer features (prototype guide)."""
    return "rec_features" in tuple(getattr(sampler, "requires", ()))
