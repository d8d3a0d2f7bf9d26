"""The errors that mean "bad input" (shown to users as one line), gathered in one place."""

from __future__ import annotations


class ConfigError(ValueError):
    """An option value is out of range or inconsistent with the others."""


def _user_errors() -> tuple[type[BaseException], ...]:
    from nsnet.extract.annotations import AnnotationError
    from nsnet.extract.video import VideoReadError
    from nsnet.extract.weights import WeightsError
    from nsnet.store import StoreError

    errors: list[type[BaseException]] = [ConfigError, AnnotationError, VideoReadError, WeightsError, StoreError]
    try:
        from nsnet.sampler.train import RunMismatchError

        errors.append(RunMismatchError)
    except ImportError:
        pass
    return tuple(errors)


def __getattr__(name: str):
    if name == "USER_ERRORS":
        return _user_errors()
    raise AttributeError(name)
