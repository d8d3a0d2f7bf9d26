"""The errors that mean "bad input" (shown to users as one line, exit code 2), gathered in one place."""

from __future__ import annotations

import functools
import importlib
from typing import Any, Callable


class ConfigError(ValueError):
    """An option value is out of range or inconsistent with the others."""


# Every exception class whose message is meant for the user. Subclasses of ConfigError (ModelError,
# DeviceError, EvaluateError, RecognizerError, PredictError, CachedPathError, DemoConfigError...)
# are covered by ConfigError itself.
_USER_ERROR_NAMES = (
    "nsnet.extract.annotations:AnnotationError",
    "nsnet.extract.video:VideoReadError",
    "nsnet.extract.weights:WeightsError",
    "nsnet.store.feature_store:StoreError",
    "nsnet.sampler.config:SamplerConfigError",
    "nsnet.sampler.base:SamplerError",
    "nsnet.sampler.data:SamplerDataError",
    "nsnet.sampler.prototypes:PrototypeError",
    "nsnet.sampler.train:RunError",
    "nsnet.sampler.train:RunMismatchError",
    "nsnet.sampler.fusion:FusionError",
    "nsnet.evaluate.metrics:MetricError",
    "nsnet.evaluate.flops:CostError",
)


@functools.lru_cache(maxsize=1)
def user_error_types() -> tuple[type[BaseException], ...]:
    """Returns the exception types reported as one line instead of a traceback."""
    types: list[type[BaseException]] = [ConfigError, FloatingPointError]
    for name in _USER_ERROR_NAMES:
        module, cls = name.split(":")
        types.append(getattr(importlib.import_module(module), cls))
    return tuple(types)


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorates a typer command: user errors become one red ``error:`` line and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except user_error_types() as err:
            import typer
            from rich.console import Console
            from rich.markup import escape

            Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]error:[/red] {escape(str(err))}")
            raise typer.Exit(code=2) from None

    return wrapper
