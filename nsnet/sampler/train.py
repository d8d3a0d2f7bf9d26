"""Training a sampler variant on cached tensors and writing its run directory.

:func:`train_sampler` hands the in-memory arrays to the variant's registered trainer
(:mod:`nsnet.sampler.variants`); :func:`fit_sampler` reads what that variant needs from a store
and writes the run (:mod:`nsnet.sampler.run`). The shared SGD loop, seeding and progress bar are in
:mod:`nsnet.sampler.loop`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from nsnet.sampler.config import SamplerConfig, SamplerConfigError
from nsnet.sampler.data import SamplerArrays, load_sampler_arrays
from nsnet.sampler.loop import TrainResult, drop_unlabelled
from nsnet.sampler.run import save_run
from nsnet.sampler.variants import VariantSpec, list_variants, variant_spec

__all__ = ["TrainResult", "fit_sampler", "train_sampler"]


def _check_stages(spec: VariantSpec, stages: object) -> None:
    """Raises SamplerConfigError when ``stages`` are given for a variant that is not trained in stages."""
    if stages is not None and not spec.staged:
        staged = [v for v in list_variants() if variant_spec(v).staged]
        raise SamplerConfigError(f"--stages is for the variants trained in stages ({', '.join(staged)}), "
                                 f"not {spec.name}")


def train_sampler(
    arrays: SamplerArrays, cfg: SamplerConfig, *, progress: bool = False, stages: Sequence[int] | str | None = None,
    run_dir: str | Path | None = None,
) -> TrainResult:
    """Returns a :class:`TrainResult` after training ``cfg`` on in-memory ``arrays`` (train split).

    Videos without any positive label are dropped. ``stages`` / ``run_dir`` are for the variants
    trained in stages (AdaFocus: which stages to run; where the per-stage checkpoints are written
    and resumed from); other variants refuse ``stages``.
    """
    cfg = cfg.resolved()
    spec = variant_spec(cfg.variant)
    _check_stages(spec, stages)
    return spec.train(drop_unlabelled(arrays), cfg, progress=progress, stages=stages, run_dir=run_dir)


def fit_sampler(
    store_path: str | Path, out_dir: str | Path, cfg: SamplerConfig, *, progress: bool = True,
    stages: Sequence[int] | str | None = None,
) -> Path:
    """Trains ``cfg`` on the store's train split and returns the run directory ``out_dir``.

    A variant trained in stages runs ``stages`` (default all), each leaving its checkpoint in
    ``out_dir``; a call starting at a later stage resumes from the one before it there.
    """
    cfg = cfg.resolved()
    spec = variant_spec(cfg.variant)
    _check_stages(spec, stages)
    arrays = load_sampler_arrays(
        store_path, cfg.train_split, rec_features=cfg.needs_rec_features(), rec_logits=cfg.needs_rec_logits(),
        patches=cfg.needs_patches(),
    )
    keeps_dir = spec.staged or spec.uses_run_dir
    result = train_sampler(arrays, cfg, progress=progress, stages=stages, run_dir=out_dir if keeps_dir else None)
    return save_run(out_dir, result, arrays, store=store_path)
