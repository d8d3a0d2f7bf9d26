"""NSNet frame sampler trained on cached feature-store tensors.

Modules: :mod:`~nsnet.sampler.config` (``SamplerConfig``), :mod:`~nsnet.sampler.base`
(``SamplerInputs``, the ``Sampler`` interface), :mod:`~nsnet.sampler.data` (``SamplerArrays``: one
split's inputs plus the store identity, ``load_sampler_arrays``), :mod:`~nsnet.sampler.prototypes`
(guiding scores, NS pseudo labels), :mod:`~nsnet.sampler.nsnet.model` (the model),
:mod:`~nsnet.sampler.nsnet.losses`, :mod:`~nsnet.sampler.train` (``fit_sampler``, ``train_sampler``),
:mod:`~nsnet.sampler.run` (a run directory: ``save_run``, ``load_run``, ``check_run_matches``),
:mod:`~nsnet.sampler.registry` (``create_sampler``, ``list_samplers``, ``register_sampler``),
:mod:`~nsnet.sampler.rules` / :mod:`~nsnet.sampler.nsnet.samplers` (the samplers),
:mod:`~nsnet.sampler.fusion` (FSM/VGM fusion), :mod:`~nsnet.sampler.ablate` (a grid of runs on one
store) and :mod:`~nsnet.toys.planted` (planted toy data). TSQNet: :mod:`~nsnet.sampler.tsqnet.model`
(model), :mod:`~nsnet.sampler.tsqnet.train`, :mod:`~nsnet.sampler.tsqnet.samplers`,
:mod:`~nsnet.sampler.tsqnet.text_embed`. AdaFocus: :mod:`~nsnet.sampler.adafocus.model` (f_C, π, π'),
:mod:`~nsnet.sampler.adafocus.ppo`, :mod:`~nsnet.sampler.adafocus.train` (stages I-III),
:mod:`~nsnet.sampler.adafocus.methods` (adafocus, adafocus+, random / centre patches, NSNet + AdaFocus
in the registry), :mod:`~nsnet.toys.quadrant` (quadrant toy). The CLI commands live in
:mod:`nsnet.cli.sampler`.
"""
