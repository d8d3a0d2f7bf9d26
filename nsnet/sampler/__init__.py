"""NSNet frame sampler trained on cached feature-store tensors.

Modules: :mod:`~nsnet.sampler.config` (``SamplerConfig``), :mod:`~nsnet.sampler.base`
(``SamplerInputs``, the ``Sampler`` interface), :mod:`~nsnet.sampler.data` (``SamplerArrays``: one
split's inputs plus the store identity, ``load_sampler_arrays``), :mod:`~nsnet.sampler.prototypes`
(guiding scores, NS pseudo labels), :mod:`~nsnet.sampler.nsnet` (the model),
:mod:`~nsnet.sampler.losses`, :mod:`~nsnet.sampler.train` (``fit_sampler``, ``train_sampler``),
:mod:`~nsnet.sampler.run` (a run directory: ``save_run``, ``load_run``, ``check_run_matches``),
:mod:`~nsnet.sampler.registry` (``create_sampler``, ``list_samplers``, ``register_sampler``),
:mod:`~nsnet.sampler.rules` / :mod:`~nsnet.sampler.trained` (the samplers),
:mod:`~nsnet.sampler.fusion` (FSM/VGM fusion), :mod:`~nsnet.sampler.ablate` (a grid of runs on one
store) and :mod:`~nsnet.sampler.planted` (planted toy data). TSQNet: :mod:`~nsnet.sampler.tsqnet`
(model), :mod:`~nsnet.sampler.tsqnet_train`, :mod:`~nsnet.sampler.tsqnet_samplers`,
:mod:`~nsnet.sampler.text_embed`. AdaFocus: :mod:`~nsnet.sampler.adafocus` (f_C, π, π'),
:mod:`~nsnet.sampler.ppo`, :mod:`~nsnet.sampler.adafocus_train` (stages I-III),
:mod:`~nsnet.sampler.patch_methods` (adafocus, adafocus+, random / centre patches, NSNet + AdaFocus
in the registry), :mod:`~nsnet.sampler.adafocus_synthetic` (quadrant toy). The CLI commands live in
:mod:`nsnet.cli.sampler`.
"""
