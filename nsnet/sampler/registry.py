"""timm-style sampler registry: ``@register_sampler`` classes, ``create_sampler(name, **kw)``.

Built-in samplers (registered when the registry is first used):

* rule-based (:mod:`nsnet.sampler.rules`): ``uniform``, ``random``, ``dense``, ``topk`` (MaxConf);
* trained (:mod:`nsnet.sampler.nsnet.samplers`): ``nsnet`` (fused), ``fsm``, ``vgm``, ``maxconf-l``,
  ``scsampler``, ``oracle`` -- created from a run directory: ``create_sampler("nsnet",
  run_dir=RUN_DIR)``;
* TSQNet (:mod:`nsnet.sampler.tsqnet.samplers`): ``tsqnet`` (VQM + TQM union), ``vqm``, ``tqm``;
* AdaFocus (:mod:`nsnet.sampler.adafocus.methods`): ``adafocus``, ``adafocus+``, ``random-patch``,
  ``centre-patch``, ``nsnet+adafocus``, ``tsqnet+adafocus``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import Any, Callable, TypeVar

from nsnet.errors import UserError
from nsnet.sampler.base import Sampler

_REGISTRY: dict[str, type[Sampler]] = {}
# The built-in samplers and paper packages; each package registers its samplers and variants when
# imported. A new paper package is one more entry here.
BUILTIN_PACKAGES = ("nsnet.sampler.rules", "nsnet.sampler.nsnet", "nsnet.sampler.tsqnet", "nsnet.sampler.adafocus",
                    "nsnet.sampler.auto")
S = TypeVar("S", bound=type[Sampler])


class UnknownSamplerError(UserError, ValueError):
    """No sampler is registered under the requested name."""


def register_sampler(name: str) -> Callable[[S], S]:
    """Returns a class decorator that registers a :class:`Sampler` subclass under ``name``."""

    def wrap(cls: S) -> S:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"a sampler named {name!r} is registered already ({_REGISTRY[name].__name__})")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


PLUGIN_GROUP = "nsnet.samplers"  # entry points of outside packages that register samplers / variants
_PLUGINS: list[str] = []


def load_builtins() -> None:
    """Imports the modules that register the built-in samplers and variants, and (once) the modules
    of the installed packages' ``nsnet.samplers`` entry points."""
    for module in BUILTIN_PACKAGES:
        importlib.import_module(module)
    if not _PLUGINS:
        _PLUGINS.append("loaded")
        for entry in importlib.metadata.entry_points(group=PLUGIN_GROUP):
            entry.load()


def list_samplers(trained: bool | None = None) -> list[str]:
    """Returns the sorted registered sampler names (only trained / untrained ones if asked)."""
    load_builtins()
    return sorted(n for n, c in _REGISTRY.items() if trained is None or c.trained == trained)


def table_order() -> list[str]:
    """Returns every registered sampler name in the order of the evaluation table (each class's
    ``table_order``, then registration order)."""
    load_builtins()
    names = list(_REGISTRY)
    return sorted(names, key=lambda n: (_REGISTRY[n].table_order, names.index(n)))


def sampler_class(name: str) -> type[Sampler]:
    """Returns the class registered under ``name`` (raises UnknownSamplerError)."""
    load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownSamplerError(f"unknown sampler {name!r}; available: {', '.join(sorted(_REGISTRY))}") from None


def resolve_alias(name: str) -> str:
    """Returns the registered name that ``name`` is an alias of (each class's ``aliases``), else ``name``."""
    load_builtins()
    for key, cls in _REGISTRY.items():
        if name in cls.aliases:
            return key
    return name


def create_sampler(name: str, **kwargs: Any) -> Sampler:
    """Returns a new sampler ``name`` built with ``kwargs`` (e.g. ``seed`` for ``random``,
    ``run_dir`` / ``run`` / ``store`` / ``fusion`` / ``alpha`` for the trained ones)."""
    return sampler_class(name)(**kwargs)
