"""Configuration of the extraction stage (mapped one-to-one to `nsnet extract` options)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nsnet.errors import ConfigError

DEFAULT_EXTRACTOR = "mobilenetv2_100"
DEFAULT_RECOGNIZER = "tf_efficientnet_lite0"
DEFAULT_PATCH_SIZE = 96  # AdaFocus's smallest patch (P^2 = 96^2, Fig. 5) when only --patches G is given


@dataclass
class ExtractConfig:
    """Everything `nsnet extract` needs; recorded (as the command line) in the store."""

    annotations: Path
    out: str | Path  # a folder or a store URL (s3://..., see nsnet.store.location)
    format: str = "auto"
    root: Path | None = None
    frames: int = 50
    extractor: str = DEFAULT_EXTRACTOR
    extractor_size: int = 224
    weights: str = "package"
    recognizer: str = DEFAULT_RECOGNIZER
    recognizer_size: int | None = None
    recognizer_weights: str = "package"
    recognizer_checkpoint: Path | None = None
    batch_size: int = 16
    workers: int = 2
    device: str = "auto"
    strict: bool = False
    decoder: str = "auto"  # auto | pyav | decord | torchcodec (nsnet.extract.decode)
    chunk_videos: int | None = None
    patches: int | None = None  # AdaFocus: G x G candidate patches per frame; None: no patch arrays
    patch_size: int | None = None  # AdaFocus: candidate side P in recognizer-input pixels (default 96)
    map_stride: int | None = None  # AdaFocus: the light map at this stride (e.g. 16); None: the last map
    command: str = ""
    quiet: bool = False
    extra: dict = field(default_factory=dict)

    def validate(self) -> None:
        """Raises ConfigError with one line when a value is out of range."""
        if self.frames < 1:
            raise ConfigError(f"--frames must be >= 1, got {self.frames}")
        if self.extractor_size < 32:
            raise ConfigError(f"--extractor-size must be >= 32, got {self.extractor_size}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.workers < 0:
            raise ConfigError(f"--workers must be >= 0, got {self.workers}")
        if self.decoder not in ("auto", "pyav", "decord", "torchcodec"):
            raise ConfigError(f"--decoder must be auto, pyav, decord or torchcodec, got {self.decoder!r}")
        if self.chunk_videos is not None and self.chunk_videos < 1:
            raise ConfigError(f"--chunk-videos must be >= 1, got {self.chunk_videos}")
        if self.patches is not None and self.patches < 1:
            raise ConfigError(f"--patches must be >= 1, got {self.patches}")
        if self.patch_size is not None and self.patches is None:
            raise ConfigError("--patch-size needs --patches G (the G x G grid of candidate patches)")
        if self.map_stride is not None and self.patches is None:
            raise ConfigError("--map-stride needs --patches G (the light map is cached for AdaFocus only)")
        if self.map_stride is not None and self.map_stride < 1:
            raise ConfigError(f"--map-stride must be >= 1, got {self.map_stride}")
        if self.patch_size is not None and self.patch_size < 1:
            raise ConfigError(f"--patch-size must be >= 1, got {self.patch_size}")

    @property
    def patch_side(self) -> int | None:
        """Returns the candidate patch side P (None when no patches are asked for)."""
        if self.patches is None:
            return None
        return self.patch_size if self.patch_size is not None else DEFAULT_PATCH_SIZE
