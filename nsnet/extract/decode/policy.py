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
    """Returns the backend that decodes this video: the named one, or for 'auto' decord where the
    corpus proves it exact (it is the faster one there) and pyav everywhere else."""
    if decoder != "auto":
        return get_backend(decoder)
    decord = DecordBackend()
    if decord.claims(info) and decord.unavailable() is None:
        return decord
    return get_backend("pyav")


def decoder_version(decoder: str) -> str:
    """Returns a version string for the store's provenance: one backend's, or all of auto's."""
    names = ["pyav", "decord"] if decoder == "auto" else [decoder]
    return "; ".join(f"{n} {get_backend(n).version()}" for n in names)
