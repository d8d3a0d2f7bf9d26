"""TSQNet (Xia et al., "Temporal Saliency Query Network for Efficient Video Recognition", ECCV 2022).

* :mod:`~.model` -- VQM + TQM in one file; :mod:`~.options` -- the typed options of variant ``tsqnet``;
* :mod:`~.train` -- priors, query initialisation, training; :mod:`~.text_embed` -- offline MiniLM
  embeddings of class and object names;
* :mod:`~.samplers` -- ``tsqnet`` (VQM + TQM union), ``vqm``, ``tqm``; :mod:`~.hooks` -- GFLOPs
  parts, ablation scores, saliency curves.

Importing the package registers its variant and samplers.
"""

from nsnet.sampler.tsqnet import hooks, samplers  # noqa: F401  (registers the samplers)
from nsnet.sampler.tsqnet.options import TSQNetOptions
from nsnet.sampler.tsqnet.train import load_model, train_tsqnet
from nsnet.sampler.candidates import AutoCandidate, register_candidate
from nsnet.sampler.variants import VariantSpec, register_variant

register_variant(VariantSpec("tsqnet", TSQNetOptions, train_tsqnet, model=load_model, cost_parts=hooks.cost_parts,
                             ablate=hooks.ablate_scores, curves=hooks.saliency_curves,
                             summary="TSQNet: visual + textual saliency queries"))

# What `fit-sampler --variant auto` may choose from this paper (nsnet.sampler.candidates).
register_candidate(AutoCandidate("tsqnet", "tsqnet", "tsqnet", summary="TSQNet: VQM + TQM union"))
register_candidate(AutoCandidate("tqm", "tsqnet", "tqm", {"modality": "textual"}, summary="TSQNet's TQM alone"))
