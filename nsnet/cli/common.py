"""Options every command spells the same way (typer ``Annotated`` types) and choices built from
the registries, so a new sampler or fusion needs no edit here."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Iterable

import typer

from nsnet.options import Device


def choices(name: str, values: Iterable[str]) -> type[Enum]:
    """Returns a ``str`` Enum (what typer shows as a choice) with one member per value."""
    return Enum(name, {v: v for v in values}, type=str)  # type: ignore[return-value]


Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or log lines (results still print).")]
DeviceOption = Annotated[Device, typer.Option("--device", help="auto = cuda when present, else cpu.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed.")]
