"""``fit-sampler --variant auto``: the best registered sampler for a store, chosen on a train holdout.

* :mod:`~.options` -- the typed options (candidates, seeds, holdout share, budget);
* :mod:`~.select` -- train the candidates on ``train[:80%]``, score them on ``train[80%:]`` against
  Uniform, retrain the winner on the whole train split;
* :mod:`~.sampler` -- the ``auto`` sampler (the chosen method) and how commands key an auto run;
* :mod:`~.report` -- the table of the choice (``fit-sampler``, ``nsnet info RUN``).

The candidates are registered by the paper packages (:mod:`nsnet.sampler.candidates`). Importing
the package registers the variant and the sampler.
"""

from nsnet.sampler.auto.options import AutoOptions
from nsnet.sampler.auto.sampler import AutoSampler, auto_record, chosen_method, run_keys
from nsnet.sampler.auto.select import train_auto
from nsnet.sampler.candidates import get_candidate, list_candidates
from nsnet.sampler.variants import VariantSpec, register_variant


def _candidate_lines() -> list[str]:
    """Returns one --help-options line per registered candidate."""
    return ["candidates:"] + [f"  {c}: {get_candidate(c).summary} (variant {get_candidate(c).variant}, sampler "
                              f"{get_candidate(c).method})" for c in list_candidates()]


register_variant(VariantSpec("auto", AutoOptions, train_auto, uses_run_dir=True, help_notes=_candidate_lines,
                             summary="the best registered candidate, chosen on a train holdout"))

__all__ = ["AutoOptions", "AutoSampler", "auto_record", "chosen_method", "run_keys", "train_auto"]
