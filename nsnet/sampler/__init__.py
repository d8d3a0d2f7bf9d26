"""The sampler floor: a shared core and one package per paper.

Core (paper-neutral): :mod:`~nsnet.sampler.base` (``SamplerInputs``, the ``Sampler`` interface,
``BuildContext``), :mod:`~nsnet.sampler.registry` (samplers: ``register_sampler``,
``create_sampler``), :mod:`~nsnet.sampler.variants` (trainable variants: ``register_variant``,
``VariantSpec``), :mod:`~nsnet.sampler.options` (typed options, one validation boundary),
:mod:`~nsnet.sampler.config` (``SamplerConfig``), :mod:`~nsnet.sampler.data` (``SamplerArrays``),
:mod:`~nsnet.sampler.loop` (the shared SGD loop, seeding, ``TrainResult``),
:mod:`~nsnet.sampler.train` (``train_sampler``, ``fit_sampler``), :mod:`~nsnet.sampler.run` (run
directories), :mod:`~nsnet.sampler.rules` (uniform, random, dense, topk),
:mod:`~nsnet.sampler.prototypes` (guiding scores), :mod:`~nsnet.sampler.fusion` (two-branch score
fusion), :mod:`~nsnet.sampler.losses` (shared classification losses), :mod:`~nsnet.sampler.cost`
(GFLOPs counting) and :mod:`~nsnet.sampler.ablate` (a grid of runs on one store).

Papers: :mod:`nsnet.sampler.nsnet` (NSNet and its baselines), :mod:`nsnet.sampler.tsqnet`,
:mod:`nsnet.sampler.adafocus`; each registers its variants and samplers when imported (the
registry imports the built-in ones on first use). The CLI commands live in :mod:`nsnet.cli.sampler`.
"""
