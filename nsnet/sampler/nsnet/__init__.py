"""NSNet (Chen et al., "NSNet: Non-saliency Suppression Sampler", ECCV 2022) and its baselines.

* :mod:`~.model` -- the network (FEM + FSM + VGM) in one file; :mod:`~.losses` -- its objectives;
* :mod:`~.options` -- the typed options of ``nsnet``, ``maxconf-l``, ``scsampler`` and ``oracle``;
* :mod:`~.train` -- training on cached tensors; :mod:`~.samplers` -- the samplers of a run
  (``nsnet``, ``fsm``, ``vgm``, ``maxconf-l``, ``scsampler``, ``oracle``);
* :mod:`~.hooks` -- GFLOPs parts, ablation scores, saliency curves.

Importing the package registers its variants and samplers.
"""

from nsnet.sampler.nsnet import hooks, samplers  # noqa: F401  (registers the samplers)
from nsnet.sampler.nsnet.options import MaxConfLOptions, NSNetOptions, OracleOptions, SCSamplerOptions
from nsnet.sampler.nsnet.train import load_model, train_nsnet, train_oracle
from nsnet.sampler.candidates import AutoCandidate, register_candidate
from nsnet.sampler.variants import VariantSpec, register_variant

_HOOKS = dict(model=load_model, cost_parts=hooks.cost_parts, ablate=hooks.ablate_scores, curves=hooks.saliency_curves)
register_variant(VariantSpec("nsnet", NSNetOptions, train_nsnet, summary="NSNet: FEM + FSM + VGM", **_HOOKS))
register_variant(VariantSpec("maxconf-l", MaxConfLOptions, train_nsnet, summary="MaxConf-L baseline", **_HOOKS))
register_variant(VariantSpec("scsampler", SCSamplerOptions, train_nsnet, summary="SCSampler-style baseline",
                             **_HOOKS))
register_variant(VariantSpec("oracle", OracleOptions, train_oracle, ablate=hooks.ablate_scores,
                             summary="guiding-score upper bound (uses labels)"))

# What `fit-sampler --variant auto` may choose from this paper (nsnet.sampler.candidates).
register_candidate(AutoCandidate("nsnet", "nsnet", "nsnet", summary="NSNet with the paper's rules (FSM + VGM, union)"))
register_candidate(AutoCandidate("fsm-only", "nsnet", "fsm", {"branches": "fsm"}, summary="NSNet's FSM branch alone"))
register_candidate(AutoCandidate("vgm-guided", "nsnet", "vgm", {"branches": "vgm", "vgm_guide": 1.0},
                                 summary="NSNet's VGM alone, its attention supervised by the guide (vgm_guide=1)"))
register_candidate(AutoCandidate("maxconf-l", "maxconf-l", "maxconf-l", summary="MaxConf-L baseline"))
register_candidate(AutoCandidate("scsampler", "scsampler", "scsampler", summary="SCSampler-style baseline"))
