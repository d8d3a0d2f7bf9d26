"""The ``auto`` sampler: the method ``fit-sampler --variant auto`` chose, built from that run.

An auto run is a plain run of the winning variant whose ``config.json`` records the choice under
``run.auto`` (or, when nothing beat Uniform, a model-less run of variant ``auto`` whose choice is
``uniform``). The commands key it as ``auto`` besides its variant (:func:`run_keys`), so ``-m auto``
evaluates and ``predict`` uses the chosen method.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from nsnet.sampler.base import BuildContext, Sampler, SamplerError, SamplerInputs
from nsnet.sampler.registry import register_sampler, sampler_class

AUTO = "auto"


def auto_record(run: Any) -> dict[str, Any] | None:
    """Returns the ``auto`` record of a loaded run (its choice, candidates' holdout scores...), or None."""
    meta = getattr(run, "meta", None) or {}
    record = meta.get(AUTO)
    return record if isinstance(record, dict) else None


def run_keys(run: Any) -> list[str]:
    """Returns the keys a loaded run is known by in a command: its variant, plus ``auto`` for the run of
    an automatic choice."""
    keys = [run.config.variant]
    if auto_record(run) is not None and AUTO not in keys:
        keys.append(AUTO)
    return keys


def chosen_method(run: Any) -> str:
    """Returns the registered sampler an auto run chose (e.g. ``tqm``, ``fsm``, ``uniform``)."""
    record = auto_record(run)
    if record is None:
        raise SamplerError(f"{getattr(run, 'run_dir', 'run')} is not the run of fit-sampler --variant auto")
    return str(record["method"])


@register_sampler(AUTO)
class AutoSampler(Sampler):
    """Frames chosen by the method an auto run picked on its train holdout (see nsnet.sampler.auto):
    ``create_sampler("auto", run_dir=RUN)``; scores and selections are the chosen sampler's."""

    trained = True
    variants = (AUTO,)
    table_order = 5

    def __init__(self, run_dir: str | Path | None = None, *, run: Any = None, store: Any = None, device: str = "cpu",
                 context: BuildContext | None = None) -> None:
        from nsnet.sampler.run import check_run_matches, load_run

        if run is None:
            if run_dir is None:
                raise SamplerError("sampler 'auto' needs the run of fit-sampler --variant auto: pass run_dir=... or run=...")
            run = load_run(run_dir, store=store, device=device)
        elif store is not None:
            check_run_matches(run.meta, store, run.run_dir)
        self.run = run
        self.method = chosen_method(run)
        ctx = context or BuildContext(device=device)
        runs = {**ctx.runs, run.config.variant: run}
        self.inner = sampler_class(self.method).build(dataclasses.replace(ctx, runs=runs))
        self.requires = self.inner.requires

    @classmethod
    def build(cls, ctx: BuildContext) -> "AutoSampler":
        """Returns the auto sampler of the loaded auto run (the chosen method built from it)."""
        run = ctx.runs.get(AUTO)
        if run is None:
            raise SamplerError("sampler 'auto' needs the run of fit-sampler --variant auto")
        return cls(run=run, device=ctx.device, context=ctx)

    def scores(self, inputs: SamplerInputs) -> np.ndarray:
        """Returns the chosen sampler's [N, T] saliency scores."""
        return self.inner.scores(inputs)

    def select(self, inputs: SamplerInputs, k: int) -> np.ndarray:
        """Returns the chosen sampler's [N, K] frame indices (its own rule: a fusion is not top-K of scores)."""
        return self.inner.select(inputs, k)

    def __repr__(self) -> str:
        return f"AutoSampler(method={self.method!r})"
