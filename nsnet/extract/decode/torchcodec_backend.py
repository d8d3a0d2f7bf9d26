"""torchcodec (optional): exact seeking in its own index, decoding to RGB at full size, then the
shared scaling path from RGB. Its wheel links the CUDA build of torch, so on CPU-only installs it
does not load; it is then reported unavailable in one line and never required."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from nsnet.extract.decode.base import InexactDecodeError, VideoInfo, VideoReadError
from nsnet.errors import first_line


@functools.lru_cache(maxsize=1)
def _load() -> tuple[object | None, str | None]:
    try:
        import torchcodec.decoders as decoders
    except Exception as err:  # noqa: BLE001 -- any failure to load (ImportError, OSError, RuntimeError) means absent
        return None, f"torchcodec is not available here ({first_line(err)})"
    return decoders, None


class TorchCodecBackend:
    """torchcodec's VideoDecoder in exact seek mode. Its pixels come from an RGB conversion at full
    size before scaling, so they are not bit-equal to the pyav path: it claims no codec as exact,
    and ``nsnet check-decode --decoder torchcodec`` shows how far it is."""

    name = "torchcodec"

    def version(self) -> str:
        """Returns torchcodec's version (or 'unavailable')."""
        import importlib.metadata

        try:
            return importlib.metadata.version("torchcodec")
        except importlib.metadata.PackageNotFoundError:
            return "unavailable"

    def unavailable(self) -> str | None:
        """Returns why torchcodec cannot run here (one line), or None."""
        return _load()[1]

    def claims(self, info: VideoInfo) -> bool:
        """Returns False: never bit-equal to the shared scaling path."""
        return False

    def read(self, path: Path, indices: np.ndarray, width: int, height: int, info: VideoInfo) -> np.ndarray:
        """Returns uint8 RGB ``[len(indices), height, width, 3]`` resized with the same filter graph."""
        decoders, why = _load()
        if decoders is None:
            raise VideoReadError(why or "torchcodec is not available")
        if info.rotation:
            raise InexactDecodeError("torchcodec: rotated videos are not supported here; use --decoder pyav")
        import av

        from nsnet.extract.decode.scale import RgbScaler

        try:
            decoder = decoders.VideoDecoder(str(path), seek_mode="exact", dimension_order="NHWC")
            batch = decoder.get_frames_at(indices.tolist()).data.numpy()
        except (RuntimeError, ValueError, IndexError) as err:
            raise VideoReadError(f"decoding failed ({first_line(err)})") from err
        scale = RgbScaler(width, height, 0)
        return np.stack([scale(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")) for f in batch])
