"""AdaFocus (Wang et al., "Adaptive Focus for Efficient Video Recognition", ICCV 2021) on cached tensors.

* :mod:`~.model` -- f_C, π, π' in one file; :mod:`~.options` -- the typed options of variant
  ``adafocus`` (``skip=true``: AdaFocus+) and its stages;
* training: :mod:`~.train` (entry point), :mod:`~.stages` (stages I and III), :mod:`~.policy`
  (stage II, PPO from :mod:`~.ppo`), :mod:`~.rewards`, :mod:`~.checkpoints` (``stage{s}.pt``);
* :mod:`~.methods` -- the patch methods (``adafocus``, ``adafocus+``, ``random-patch``,
  ``centre-patch``, ``nsnet+adafocus``, ``tsqnet+adafocus``); :mod:`~.hooks` -- GFLOPs parts, ablation.

Importing the package registers its variant and samplers.
"""

from nsnet.sampler.adafocus import hooks, methods  # noqa: F401  (registers the samplers)
from nsnet.sampler.adafocus.options import AdaFocusOptions
from nsnet.sampler.adafocus.train import load_model, train_adafocus
from nsnet.sampler.variants import VariantSpec, register_variant

register_variant(VariantSpec("adafocus", AdaFocusOptions, train_adafocus, model=load_model, cost_parts=hooks.cost_parts,
                             ablate=hooks.ablate_scores, staged=True,
                             summary="AdaFocus: one policy-chosen patch per frame (skip=true: AdaFocus+)"))
