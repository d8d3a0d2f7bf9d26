"""Choosing a backend by name, and ``auto``'s rule per video."""

from __future__ import annotations

import functools

from nsnet.errors import ConfigError
from nsnet.extract.decode.base import Backend, VideoInfo
from nsnet.extract.decode.decord_backend import DecordBackend
from nsnet.extract.decode.pyav_backend import PyAVBackend
from nsnet.extract.decode.torchcodec_backend import TorchCodecBackend

DECODERS = ("auto", "pyav", "decord", "torchcodec")
DEFAULT_DECODER = "auto"


@functools.lru_cache(maxsize=None)
def get_backend(name: str) -> Backend:
    """Returns the backend called ``name`` (not 'auto'); raises ConfigError if unknown or unusable here."""
    backends = {"pyav": PyAVBackend, "decord": DecordBackend, "torchcodec": TorchCodecBackend}
    if name not in backends:
        raise ConfigError(f"unknown decoder {name!r}; expected one of {', '.join(DECODERS)}")
    backend = backends[name]()
    why = backend.unavailable()
    if why:
        raise ConfigError(why)
    return backend


def choose_backend(decoder: str, info: VideoInfo) -> Backend:
    """Returns the backend that decodes this video: the named one, or for 'auto' pyav, which is exact
    on every codec (it checks every frame's timestamp, and decodes sequentially where timestamps
    cannot be trusted) and measured as fast as decord on H.264 (benchmarks/RESULTS.md), so decord's
    blind seeking is never needed by default."""
    if decoder == "auto":
        return get_backend("pyav")
    return get_backend(decoder)


def decoder_version(decoder: str) -> str:
    """Returns the version of the backend(s) ``decoder`` uses, for the store's provenance."""
    name = "pyav" if decoder == "auto" else decoder
    return f"{name} {get_backend(name).version()}"
