"""The candidates of ``fit-sampler --variant auto``: each a registered variant with fixed options and the
sampler that selects frames from its run.

A paper package registers the configurations it offers to the automatic choice (NSNet: the paper's
model, FSM-only, MaxConf-L, SCSampler; TSQNet: VQM + TQM, TQM alone) with :func:`register_candidate`;
``auto`` (:mod:`nsnet.sampler.auto`) trains every candidate it is given on a part of the train split and
keeps the one that scores best on the rest. A new candidate is one call in its package.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nsnet.sampler.options import SamplerConfigError

if TYPE_CHECKING:
    from nsnet.sampler.config import SamplerConfig

UNIFORM = "uniform"  # the untrained floor every automatic choice is compared with


@dataclass(frozen=True)
class AutoCandidate:
    """One configuration ``auto`` may choose: ``variant`` trained with ``options``, frames selected by the
    registered sampler ``method`` built from that run (e.g. FSM-only NSNet: variant nsnet, options
    branches=fsm, method fsm)."""

    label: str
    variant: str
    method: str
    options: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


_CANDIDATES: dict[str, AutoCandidate] = {}


def register_candidate(candidate: AutoCandidate) -> AutoCandidate:
    """Returns ``candidate`` after registering it under its label (a second, different one is a bug)."""
    if candidate.label == UNIFORM:
        raise ValueError("uniform is the floor of every automatic choice, not a candidate")
    if candidate.label in _CANDIDATES and _CANDIDATES[candidate.label] != candidate:
        raise ValueError(f"an auto candidate named {candidate.label!r} is registered already")
    _CANDIDATES[candidate.label] = candidate
    return candidate


def list_candidates() -> list[str]:
    """Returns the registered candidate labels in registration order."""
    from nsnet.sampler.registry import load_builtins

    load_builtins()
    return list(_CANDIDATES)


def get_candidate(label: str) -> AutoCandidate:
    """Returns the candidate registered as ``label``; raises SamplerConfigError listing the known ones."""
    from nsnet.sampler.registry import load_builtins

    load_builtins()
    try:
        return _CANDIDATES[label]
    except KeyError:
        raise SamplerConfigError(f"unknown auto candidate {label!r}; available: {', '.join(_CANDIDATES)}") from None


def parse_candidates(text: str) -> list[AutoCandidate]:
    """Returns the candidates named in ``text`` (comma-separated labels, or ``all``), in the given order;
    an unknown or repeated label raises SamplerConfigError."""
    labels = list_candidates() if text.strip() == "all" else [p.strip() for p in text.split(",") if p.strip()]
    if not labels:
        raise SamplerConfigError("option candidates names no candidate; give labels such as nsnet,tqm or all")
    if len(set(labels)) != len(labels):
        raise SamplerConfigError(f"option candidates repeats a label: {text}")
    return [get_candidate(label) for label in labels]


def training_config(candidate: AutoCandidate, shared: dict[str, Any], *, seed: int, device: str) -> "SamplerConfig":
    """Returns the SamplerConfig that trains ``candidate`` at ``seed``: its own options plus those of
    ``shared`` (e.g. epochs, width, lr) that its variant has; named ``<label>-seed<seed>``."""
    from nsnet.sampler.config import sampler_config
    from nsnet.sampler.variants import variant_spec

    names = {f.name for f in dataclasses.fields(variant_spec(candidate.variant).options)}
    extra = {k: v for k, v in shared.items() if k in names and k not in candidate.options}
    return sampler_config(candidate.variant, name=f"{candidate.label}-seed{seed}", seed=seed, device=device,
                          **candidate.options, **extra)
