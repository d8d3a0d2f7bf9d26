"""``SamplerConfig``: one training run (saved as ``config.json``) -- the common fields plus the
variant's typed options.

The common fields (``name``, ``variant``, ``seed``, ``device``, ``train_split``, ``val_split``) are
the same for every variant; everything else is a field of the variant's options dataclass
(:mod:`nsnet.sampler.options`), registered by its paper package (:mod:`nsnet.sampler.variants`):
``--option KEY=VALUE`` on the CLI, ``"KEY": VALUE`` in an ablate grid entry, ``config["options"]``
in a run's ``config.json``. ``nsnet fit-sampler --variant V --help-options`` lists them.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import asdict, dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

from nsnet.options import Device
from nsnet.sampler.options import SamplerConfigError, make_options, validate_options
from nsnet.sampler.variants import variant_spec

__all__ = ["COMMON_FIELDS", "SamplerConfig", "SamplerConfigError", "sampler_config"]

COMMON_FIELDS = ("name", "variant", "seed", "device", "train_split", "val_split")


@dataclass
class SamplerConfig:
    """Everything that defines one sampler training run. ``options`` is the variant's options
    dataclass; a dict (or None) is turned into one through :func:`nsnet.sampler.options.make_options`."""

    name: str = "run"
    variant: str = "nsnet"
    seed: int = 0
    device: str = "auto"
    train_split: str = "train"
    val_split: str = "val"
    options: Any = None

    def __post_init__(self) -> None:
        if isinstance(self.device, Enum):
            self.device = self.device.value
        devices = [d.value for d in Device]
        if self.device not in devices:
            raise SamplerConfigError(f"device={self.device!r} is not one of {devices}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise SamplerConfigError(f"seed must be an integer, got {self.seed!r}")
        spec = variant_spec(self.variant)
        if self.options is None or isinstance(self.options, Mapping):
            self.options = make_options(self.variant, spec.options, self.options or {})
        elif type(self.options) is not spec.options:
            raise SamplerConfigError(f"variant {self.variant} takes {spec.options.__name__}, "
                                     f"got {type(self.options).__name__}")
        else:
            validate_options(self.variant, self.options)

    def resolved(self) -> "SamplerConfig":
        """Returns a validated deep copy (the options are complete and checked at construction)."""
        return dataclasses.replace(self, options=copy.deepcopy(self.options))

    def needs_rec_logits(self) -> bool:
        """Returns True when training reads the recognizer logits (guides, prototypes)."""
        return self.options.needs_rec_logits()

    def needs_rec_features(self) -> bool:
        """Returns True when training reads the recognizer features."""
        return self.options.needs_rec_features()

    def needs_patches(self) -> bool:
        """Returns True when training reads the AdaFocus arrays (light maps, candidate patch features)."""
        return self.options.needs_patches()

    def to_dict(self) -> dict[str, Any]:
        """Returns the config as a JSON-able dict: the common fields plus ``options``."""
        out = {name: getattr(self, name) for name in COMMON_FIELDS}
        out["options"] = asdict(self.options)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SamplerConfig":
        """Returns a config built from ``data`` (``to_dict``'s form, or the flat form of runs saved
        before the options scheme); unknown keys raise SamplerConfigError."""
        if "options" not in data:
            return _from_legacy(data)
        unknown = sorted(set(data) - set(COMMON_FIELDS) - {"options"})
        if unknown:
            raise SamplerConfigError(f"unknown sampler config keys {unknown}; known: {[*COMMON_FIELDS, 'options']}")
        options = {**_former_defaults(str(data.get("variant", "nsnet"))), **dict(data["options"])}
        return cls(**{k: data[k] for k in COMMON_FIELDS if k in data}, options=options)

    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> None:
        """Writes the config (plus ``extra`` entries under ``"run"``) as pretty JSON."""
        payload: dict[str, Any] = {"config": self.to_dict()}
        if extra:
            payload["run"] = extra
        Path(path).write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def sampler_config(variant: str = "nsnet", *, text: bool = False, **values: Any) -> SamplerConfig:
    """Returns the SamplerConfig of ``variant`` from flat ``values``: the common fields (name, seed,
    device, train_split, val_split) and the variant's options (``text``: CLI strings to convert).
    An option of another variant, a bad key or a bad value raise SamplerConfigError naming the key."""
    common = {k: values.pop(k) for k in COMMON_FIELDS if k in values}
    common.pop("variant", None)
    spec = variant_spec(variant)
    return SamplerConfig(variant=variant, **common, options=make_options(variant, spec.options, values, text=text))


def _from_legacy(data: Mapping[str, Any]) -> SamplerConfig:
    """Returns the config of a run saved before the options scheme: flat NSNet fields plus the
    resolved ``tsqnet`` / ``adafocus`` dicts. The variant's options are taken from the flat fields
    it has, then from its own dict (complete in a saved run); the other fields are dropped."""
    variant = str(data.get("variant", "nsnet"))
    spec = variant_spec(variant)
    names = {f.name for f in fields(spec.options)}
    values = {**_former_defaults(variant), **{k: v for k, v in data.items() if k in names and v is not None}}
    values.update({k: v for k, v in dict(data.get(variant) or {}).items() if k in names})
    common = {k: data[k] for k in COMMON_FIELDS if k in data and k != "variant"}
    return SamplerConfig(variant=variant, **common, options=make_options(variant, spec.options, values))


def _former_defaults(variant: str) -> dict[str, Any]:
    """Returns the options of ``variant`` whose default changed, at the value that a run saved before
    the change (its config lacks the key) was trained with: a saved run loads as it was trained."""
    return dict(variant_spec(variant).options.former_defaults)
