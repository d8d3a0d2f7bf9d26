"""Typed sampler options: one scheme for every variant.

Every option of a variant is a field of its options dataclass (a :class:`SamplerOptions` subclass)
declared with :func:`option` (default, help, choices, range). :func:`make_options` is the one
boundary that turns ``KEY=VALUE`` pairs -- strings from the CLI (``--option KEY=VALUE``) or JSON
values from an ablate grid -- into a validated instance: an unknown key, a value of the wrong type,
a value out of range or not among the choices is a :class:`SamplerConfigError` naming the key (one
``error:`` line, exit code 2). Nothing is remapped: what is given is what is used, and the run's
``config.json`` records every field.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import typing
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from nsnet.errors import UserError


class SamplerConfigError(UserError, ValueError):
    """A sampler option is unknown, of the wrong type, out of range or inconsistent with the variant."""


def option(default: Any, help: str, *, choices: tuple[str, ...] | None = None, min: float | None = None,
           max: float | None = None, min_open: bool = False, max_open: bool = False) -> Any:
    """Returns a dataclass field with its help text, choices and range in the metadata (lists are
    copied per instance). ``min_open`` / ``max_open`` exclude the bound itself."""
    meta = {"help": help, "choices": choices, "min": min, "max": max, "min_open": min_open, "max_open": max_open}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class SamplerOptions:
    """Base of every variant's options: which cached arrays training reads, and cross-field checks."""

    fixed: typing.ClassVar[tuple[str, ...]] = ()  # fields this variant pins to their default
    # options whose default changed: the value a run saved without them was trained with
    former_defaults: typing.ClassVar[dict[str, typing.Any]] = {}

    def check(self) -> None:
        """Raises SamplerConfigError when options contradict each other (subclasses add rules)."""

    def needs_rec_logits(self) -> bool:
        """Returns True when training reads the recognizer logits."""
        return False

    def needs_rec_features(self) -> bool:
        """Returns True when training reads the recognizer features."""
        return False

    def needs_patches(self) -> bool:
        """Returns True when training reads the AdaFocus patch arrays."""
        return False


_INT = re.compile(r"[+-]?\d+")


def _kind(cls: type, name: str) -> Any:
    """Returns the resolved type annotation of field ``name`` of ``cls``."""
    return typing.get_type_hints(cls)[name]


def _convert(key: str, kind: Any, value: Any, text: bool) -> Any:
    """Returns ``value`` as ``kind`` (int, float, bool, str or list[float]); ``text`` values are CLI
    strings. Raises SamplerConfigError naming ``key`` for a value of the wrong type."""
    def bad(what: str) -> SamplerConfigError:
        return SamplerConfigError(f"option {key} must be {what}, got {value!r}")

    if kind is bool:
        if text and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(value, bool):
            return value
        raise bad("true or false")
    if kind is int:
        if text and isinstance(value, str) and _INT.fullmatch(value.strip()):
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise bad("an integer")
    if kind is float:
        number = value
        if text and isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise bad("a finite number") from None
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            raise bad("a finite number")
        return float(number)
    if kind is str:
        if isinstance(value, str):
            return value
        raise bad("a string")
    if typing.get_origin(kind) is list:
        items = value
        if text and isinstance(value, str):
            try:
                items = json.loads(value) if value.strip().startswith("[") else value.split(",")
            except json.JSONDecodeError:
                raise bad("a list of numbers such as 0.25,0.5") from None
        if not isinstance(items, (list, tuple)):
            raise bad("a list of numbers")
        return [_convert(key, float, v, text) for v in items]
    raise TypeError(f"unsupported option type {kind!r} of {key}")  # a bug in an options class


def _check_field(variant: str, f: dataclasses.Field, value: Any) -> None:
    """Raises SamplerConfigError when ``value`` is not among the field's choices or out of its range."""
    meta = f.metadata
    if meta.get("choices") and value not in meta["choices"]:
        raise SamplerConfigError(f"option {f.name}={value!r} is not one of {list(meta['choices'])} "
                                 f"(variant {variant})")
    values = value if isinstance(value, list) else [value]
    lo, hi = meta.get("min"), meta.get("max")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if lo is not None and (v < lo or (meta["min_open"] and v == lo)):
            raise SamplerConfigError(f"option {f.name} must be {'>' if meta['min_open'] else '>='} {lo:g}, "
                                     f"got {value}")
        if hi is not None and (v > hi or (meta["max_open"] and v == hi)):
            raise SamplerConfigError(f"option {f.name} must be {'<' if meta['max_open'] else '<='} {hi:g}, "
                                     f"got {value}")


def validate_options(variant: str, opts: SamplerOptions) -> SamplerOptions:
    """Returns ``opts`` after checking every field's type, choices and range, the fields the variant
    pins and the variant's cross-field rules; raises SamplerConfigError (one line naming the key)."""
    defaults = type(opts)()
    for f in fields(opts):
        value = _convert(f.name, _kind(type(opts), f.name), getattr(opts, f.name), text=False)
        setattr(opts, f.name, value)
        _check_field(variant, f, value)
        if f.name in opts.fixed and value != getattr(defaults, f.name):
            raise SamplerConfigError(f"variant {variant} fixes {f.name}={getattr(defaults, f.name)!r}; "
                                     f"got {f.name}={value!r}")
    opts.check()
    return opts


def make_options(variant: str, cls: type[SamplerOptions], values: Mapping[str, Any] | None = None, *,
                 text: bool = False) -> SamplerOptions:
    """Returns a validated ``cls`` instance with ``values`` over the defaults. ``text`` says the
    values are CLI strings (``--option KEY=VALUE``); otherwise they are JSON values (grid, config.json).
    Raises SamplerConfigError for an unknown key (listing the valid ones) or a bad value."""
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, raw in (values or {}).items():
        if key not in known:
            raise SamplerConfigError(f"variant {variant} has no option {key!r}; its options: {', '.join(known)}")
        kwargs[key] = _convert(key, _kind(cls, key), raw, text)
    return validate_options(variant, cls(**kwargs))


def changed_options(opts: SamplerOptions) -> dict[str, Any]:
    """Returns the options whose value differs from the variant's default, in field order."""
    defaults = type(opts)()
    return {f.name: getattr(opts, f.name) for f in fields(opts) if getattr(opts, f.name) != getattr(defaults, f.name)}


def options_help(variant: str, cls: type[SamplerOptions]) -> list[str]:
    """Returns one line per option of ``cls``: ``KEY (type, default, choices / range): help``."""
    lines = []
    for f in fields(cls):
        kind = _kind(cls, f.name)
        name = getattr(kind, "__name__", str(kind)).replace("typing.", "")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        meta = f.metadata
        extra = f", one of {'|'.join(meta['choices'])}" if meta.get("choices") else ""
        if meta.get("min") is not None or meta.get("max") is not None:
            lo = "" if meta.get("min") is None else f"{meta['min']:g}{' <' if meta['min_open'] else ' <='} "
            hi = "" if meta.get("max") is None else f"{'< ' if meta['max_open'] else '<= '}{meta['max']:g}"
            extra += f", {lo}x {hi}".rstrip()
        fixed = " (fixed by this variant)" if f.name in cls.fixed else ""
        lines.append(f"{f.name} ({name}, default {default!r}{extra}){fixed}: {meta.get('help', '')}")
    return lines
