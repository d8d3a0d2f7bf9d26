"""The variant registry: how a paper package plugs a trainable sampler into every command.

A paper package registers each variant it trains once, with :func:`register_variant`: its typed
options dataclass, its trainer, how to rebuild its saved model, and the optional hooks the commands
call (GFLOPs parts, ablation scores, saliency curves). ``fit-sampler``, ``ablate``, ``evaluate``,
``predict`` and the demo find everything here and in :mod:`nsnet.sampler.registry` (the samplers);
no command compares variant names. The built-in packages are imported on first use
(:data:`nsnet.sampler.registry.BUILTIN_PACKAGES`: a fourth paper adds its package there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from nsnet.sampler.options import SamplerConfigError, SamplerOptions


@dataclass(frozen=True)
class VariantSpec:
    """One trainable variant.

    ``train(arrays, cfg, *, progress, stages, run_dir)`` returns a TrainResult; ``model(config)``
    rebuilds the saved model from its ``model_config`` dict; ``cost_parts(model, ctx)`` returns its
    GFLOPs parts ({part: GFLOPs}, ctx a :class:`nsnet.sampler.cost.CostContext`); ``ablate(run, val,
    k, score)`` returns its ablation scores (``score(sampler_name, run)`` -> {"mAP", "top1"} of a
    K-frame sampler); ``curves(run, inputs, alpha, device)`` returns {label: [N, T]} saliency
    curves for ``evaluate --plots``; ``staged`` says the trainer accepts ``--stages``; the trainer of a
    ``staged`` or ``uses_run_dir`` variant gets the run directory.
    """

    name: str
    options: type[SamplerOptions]
    train: Callable[..., Any]
    model: Callable[[dict[str, Any]], Any] | None = None
    cost_parts: Callable[..., dict[str, float]] | None = None
    ablate: Callable[..., dict[str, float]] | None = None
    curves: Callable[..., dict[str, Any]] | None = None
    staged: bool = False
    uses_run_dir: bool = False  # the trainer keeps intermediate runs (auto: its candidates) in the run directory
    summary: str = ""
    help_notes: Callable[[], list[str]] | None = None  # more lines for --help-options (auto: the candidates)


_VARIANTS: dict[str, VariantSpec] = {}


def register_variant(spec: VariantSpec) -> VariantSpec:
    """Returns ``spec`` after registering it under ``spec.name`` (a second spec of that name is a bug)."""
    if spec.name in _VARIANTS and _VARIANTS[spec.name] != spec:
        raise ValueError(f"a variant named {spec.name!r} is registered already")
    _VARIANTS[spec.name] = spec
    return spec


def list_variants() -> list[str]:
    """Returns the registered variant names in registration order."""
    from nsnet.sampler.registry import load_builtins

    load_builtins()
    return list(_VARIANTS)


def variant_spec(name: str) -> VariantSpec:
    """Returns the VariantSpec registered as ``name``; raises SamplerConfigError listing the known ones."""
    from nsnet.sampler.registry import load_builtins

    load_builtins()
    try:
        return _VARIANTS[name]
    except KeyError:
        raise SamplerConfigError(f"unknown variant {name!r}; available: {', '.join(_VARIANTS)}") from None
