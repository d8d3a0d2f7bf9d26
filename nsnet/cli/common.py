"""Options every command spells the same way (typer ``Annotated`` types) and choices built from
the registries, so a new sampler or fusion needs no edit here."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Iterable, Optional

import typer

from nsnet.options import Device


def choices(name: str, values: Iterable[str]) -> type[Enum]:
    """Returns a ``str`` Enum (what typer shows as a choice) with one member per value."""
    return Enum(name, {v: v for v in values}, type=str)  # type: ignore[return-value]


Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or log lines (results still print).")]
DeviceOption = Annotated[Device, typer.Option("--device", help="auto = cuda when present, else cpu.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed.")]
StoreArg = Annotated[str, typer.Argument(
    help="Feature store: a folder or a URL (s3://bucket/prefix/store.zarr, gs://..., memory://...).")]
StorageOptions = Annotated[Optional[list[str]], typer.Option("--storage-option",
    help="KEY=VALUE for the store URL's filesystem (fsspec / s3fs), repeatable, e.g. "
    "endpoint_url=http://127.0.0.1:9000 or anon=true; credentials also come from the usual environment variables.")]


def use_storage_options(pairs: list[str] | None) -> None:
    """Sets the ``--storage-option`` pairs for every store URL this command opens; returns nothing."""
    from nsnet.store import parse_storage_options, set_storage_options

    set_storage_options(parse_storage_options(pairs or []))

DECODERS = ("auto", "pyav", "decord", "torchcodec")  # nsnet.extract.decode.policy.DECODERS
Decoder = choices("Decoder", DECODERS)
StoreDecoder = choices("StoreDecoder", ("store", *DECODERS))
DecoderOption = Annotated[Decoder, typer.Option(
    "--decoder", help="Frame decoder: auto = exact (pyav) on every codec; decord only where it is exact.")]
StoreDecoderOption = Annotated[StoreDecoder, typer.Option(
    "--decoder", help="Frame decoder: store = the one the store was extracted with (reloaded frames = stored).")]
JitOption = Annotated[bool, typer.Option(
    "--jit/--no-jit", help="Frozen TorchScript inference on CPU (outputs within 1e-4 of eager; faster).")]


def apply_runtime_options(decoder: str, jit: bool) -> None:
    """Makes --decoder ('store': leave the store's) and --jit/--no-jit this process's; returns nothing."""
    from nsnet.extract.inference import use_jit
    from nsnet.extract.video import use_decoder

    use_jit(jit)
    if decoder != "store":
        use_decoder(decoder)
