"""NSNet frame sampler trained on cached feature-store tensors.

Modules: :mod:`~nsnet.sampler.config` (``SamplerConfig``), :mod:`~nsnet.sampler.data`
(``SamplerArrays``, ``load_sampler_arrays``), :mod:`~nsnet.sampler.prototypes` (guiding scores,
NS pseudo labels), :mod:`~nsnet.sampler.nsnet` (the model), :mod:`~nsnet.sampler.losses`,
:mod:`~nsnet.sampler.train` (``fit_sampler``, ``train_sampler``, ``load_run``),
:mod:`~nsnet.sampler.registry` (``create_sampler``, ``list_samplers``, ``register_sampler``),
:mod:`~nsnet.sampler.rules` / :mod:`~nsnet.sampler.trained` (the samplers),
:mod:`~nsnet.sampler.fusion` (FSM/VGM fusion), :mod:`~nsnet.sampler.ablate` and
(the CLI commands live in :mod:`nsnet.cli.sampler`), :mod:`~nsnet.sampler.planted` (planted toy data).
"""
