"""Locally generated demo video data (no downloads).

The demo set is a small *untrimmed* video set: each video is mostly background footage (slowly
panning/zooming colour-noise fields, moving gradients or tinted, blurred textures, none of which
is a class photo) with ONE short event in which the class photo (a real photo shipped with
scikit-image) is shown with a moving/zooming crop. Classes are therefore recognisable by ImageNet
features, but only on the few event frames, which is exactly what a frame sampler must find.

Layout written by :func:`make_demo_dataset` under ``cfg.out_dir``::

    annotations.csv        header ``path,label,split``; paths relative to the CSV's folder
    spans.json             {video_id: {label, start_frame, end_frame, num_frames, fps}}
    videos/<label>/<video_id>.mp4
    demo_config.json       stamp of the config; written last, marks the set as complete

``video_id`` is the file stem (e.g. ``cat_003``); ``end_frame`` is exclusive.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter
from skimage import data as skdata

from nsnet.demo.video import write_video
from nsnet.errors import ConfigError

__all__ = [
    "CLASS_PHOTOS",
    "DemoConfig",
    "DemoConfigError",
    "make_demo_dataset",
]

STAMP_NAME = "demo_config.json"
ANNOTATIONS_NAME = "annotations.csv"
SPANS_NAME = "spans.json"
VIDEOS_DIRNAME = "videos"
_FORMAT_VERSION = 1


class DemoConfigError(ConfigError):
    """A :class:`DemoConfig` field is out of range (a ``ValueError``)."""


def _rgb(image: np.ndarray) -> np.ndarray:
    """Returns ``image`` as an ``[H,W,3]`` uint8 RGB array (grey is replicated, alpha dropped)."""
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3].astype(np.uint8))


# Class name -> loader of one real photo that ships inside scikit-image (no download needed).
# Names are chosen to match ImageNet concepts (tabby cat, espresso, space shuttle/missile,
# motor scooter/moped, wall clock, ...). The demo uses the first ``num_classes`` entries.
CLASS_PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "cat": lambda: _rgb(skdata.chelsea()),
    "coffee": lambda: _rgb(skdata.coffee()),
    "rocket": lambda: _rgb(skdata.rocket()),
    "astronaut": lambda: _rgb(skdata.astronaut()),
    "motorcycle": lambda: _rgb(skdata.stereo_motorcycle()[0]),
    "clock": lambda: _rgb(skdata.clock()),
}

# Grey texture photos used (blurred and tinted) as neutral background; none is a class photo.
_TEXTURES: tuple[Callable[[], np.ndarray], ...] = (skdata.brick, skdata.grass, skdata.gravel)


@dataclass
class DemoConfig:
    """Settings of the generated demo set (defaults: 5 classes x 8 videos, 8 s at 10 fps)."""

    out_dir: Path
    num_classes: int = 5
    videos_per_class: int = 8
    seconds: float = 8.0
    fps: int = 10
    width: int = 320
    height: int = 240
    event_fraction: float = 0.15
    val_fraction: float = 0.3
    seed: int = 0

    @property
    def num_frames(self) -> int:
        """Returns the number of frames of every video."""
        return int(round(self.seconds * self.fps))

    @property
    def event_frames(self) -> int:
        """Returns the event length in frames (at least 1, never above ``event_fraction``)."""
        return max(1, int(self.event_fraction * self.num_frames + 1e-9))

    @property
    def val_per_class(self) -> int:
        """Returns how many videos of each class go to the ``val`` split."""
        n_val = int(round(self.val_fraction * self.videos_per_class))
        if self.val_fraction > 0 and self.videos_per_class >= 2:
            n_val = min(max(n_val, 1), self.videos_per_class - 1)
        return n_val

    def validate(self) -> None:
        """Raises :class:`DemoConfigError` on the first out-of-range field; returns None."""
        if not 1 <= self.num_classes <= len(CLASS_PHOTOS):
            raise DemoConfigError(f"num_classes must be in [1, {len(CLASS_PHOTOS)}], got {self.num_classes}")
        if self.videos_per_class < 1:
            raise DemoConfigError(f"videos_per_class must be >= 1, got {self.videos_per_class}")
        if self.fps < 1:
            raise DemoConfigError(f"fps must be >= 1, got {self.fps}")
        if self.width < 16 or self.height < 16 or self.width % 2 or self.height % 2:
            raise DemoConfigError(f"width/height must be even and >= 16, got {self.width}x{self.height}")
        if not 0.0 < self.event_fraction <= 0.5:
            raise DemoConfigError(f"event_fraction must be in (0, 0.5], got {self.event_fraction}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise DemoConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.num_frames < 2 or self.event_frames >= self.num_frames:
            raise DemoConfigError(
                f"seconds*fps gives {self.num_frames} frames: too few for an event plus background"
            )

    def stamp(self) -> dict[str, object]:
        """Returns the JSON-able identity of the generated content (everything but ``out_dir``)."""
        d = asdict(self)
        d.pop("out_dir")
        d["format_version"] = _FORMAT_VERSION
        return d


# --------------------------------------------------------------------------------------------
# Video writing
# --------------------------------------------------------------------------------------------


def _crop_path(
    rng: np.random.Generator,
    src_w: int,
    src_h: int,
    aspect: float,
    n: int,
    scale_range: tuple[float, float],
) -> np.ndarray:
    """Returns ``[n, 4]`` float crop boxes (x0, y0, x1, y1) of aspect ``aspect`` (w/h) inside a
    ``src_w x src_h`` image that pan and zoom linearly between two random states."""
    max_w = min(src_w, src_h * aspect)
    scales = rng.uniform(*scale_range, size=2)
    t = np.linspace(0.0, 1.0, n)[:, None]
    widths = max_w * (scales[0] + (scales[1] - scales[0]) * t[:, 0])
    heights = widths / aspect
    # Random start/end centres, each valid for the largest box used.
    w_big, h_big = widths.max(), heights.max()
    cx = rng.uniform(w_big / 2, src_w - w_big / 2, size=2)
    cy = rng.uniform(h_big / 2, src_h - h_big / 2, size=2)
    centre_x = cx[0] + (cx[1] - cx[0]) * t[:, 0]
    centre_y = cy[0] + (cy[1] - cy[0]) * t[:, 0]
    return np.stack(
        [centre_x - widths / 2, centre_y - heights / 2, centre_x + widths / 2, centre_y + heights / 2], axis=1
    )


def _render(source: Image.Image, boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Returns ``[len(boxes), height, width, 3]`` uint8 frames, each the box of ``source``
    resampled (sub-pixel, bilinear) to ``width x height``."""
    return np.stack(
        [np.asarray(source.resize((width, height), Image.Resampling.BILINEAR, box=tuple(b))) for b in boxes]
    )


def _upsample(values: np.ndarray, width: int, height: int) -> Image.Image:
    """Returns ``values`` (``[h, w, 3]``, 0..255, any dtype) as a bicubically resized
    ``width x height`` RGB image."""
    image = Image.fromarray(np.clip(values, 0, 255).astype(np.uint8))
    return image.resize((width, height), Image.Resampling.BICUBIC)


def _background_canvas(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Returns a random neutral RGB canvas (twice the frame size) of one of three kinds: a smooth
    colour-noise field, a two-colour gradient with soft noise, or a blurred, tinted texture."""
    cw, ch = 2 * width, 2 * height
    kind = rng.integers(3)
    if kind == 0:  # smooth random colour noise
        grid = rng.uniform(0, 255, size=(int(rng.integers(3, 9)), int(rng.integers(4, 12)), 3))
        canvas = _upsample(grid, cw, ch)
        return canvas.filter(ImageFilter.GaussianBlur(radius=max(2, cw // 80)))
    if kind == 1:  # linear gradient between two colours at a random angle, plus soft noise
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:ch, 0:cw].astype(np.float32)
        proj = xx * np.cos(angle) + yy * np.sin(angle)
        proj = (proj - proj.min()) / max(float(np.ptp(proj)), 1e-6)
        c0, c1 = rng.uniform(20, 235, size=(2, 3))
        img = c0 + (c1 - c0) * proj[:, :, None]
        noise = np.asarray(_upsample(128 + rng.normal(0, 12, size=(6, 8, 3)), cw, ch), dtype=np.float32)
        return Image.fromarray(np.clip(img + noise - 128, 0, 255).astype(np.uint8))
    # blurred grey texture (brick/grass/gravel), tinted with a random colour
    texture = _TEXTURES[int(rng.integers(len(_TEXTURES)))]().astype(np.float32) / 255.0
    tint = rng.uniform(60, 255, size=3)
    blur = ImageFilter.GaussianBlur(radius=float(rng.uniform(2, 5)))
    return _upsample(texture[:, :, None] * tint, cw, ch).filter(blur)


def _background_frames(rng: np.random.Generator, n: int, width: int, height: int) -> np.ndarray:
    """Returns ``[n, height, width, 3]`` uint8 background footage: a slow pan/zoom over a random
    neutral canvas with a gentle brightness drift."""
    canvas = _background_canvas(rng, width, height)
    boxes = _crop_path(rng, canvas.width, canvas.height, width / height, n, (0.45, 0.9))
    frames = _render(canvas, boxes, width, height).astype(np.float32)
    gain = np.linspace(*rng.uniform(0.85, 1.1, size=2), n, dtype=np.float32)
    return np.clip(frames * gain[:, None, None, None], 0, 255).astype(np.uint8)


def _event_frames(
    rng: np.random.Generator, photo: Image.Image, n: int, width: int, height: int
) -> np.ndarray:
    """Returns ``[n, height, width, 3]`` uint8 frames of ``photo`` seen through a moving/zooming
    crop (random scale 0.6-1.0 of the largest fitting box) with slight per-frame brightness jitter."""
    boxes = _crop_path(rng, photo.width, photo.height, width / height, n, (0.6, 1.0))
    frames = _render(photo, boxes, width, height).astype(np.float32)
    gain = rng.uniform(0.9, 1.1) + rng.normal(0, 0.03, size=n).astype(np.float32)
    return np.clip(frames * gain[:, None, None, None], 0, 255).astype(np.uint8)


def _make_one_video(
    cfg: DemoConfig, photo: Image.Image, rng: np.random.Generator
) -> tuple[np.ndarray, int, int]:
    """Returns (frames, start_frame, end_frame_exclusive) of one untrimmed demo video."""
    n, n_event = cfg.num_frames, cfg.event_frames
    frames = _background_frames(rng, n, cfg.width, cfg.height)
    start = int(rng.integers(0, n - n_event + 1))
    frames[start : start + n_event] = _event_frames(rng, photo, n_event, cfg.width, cfg.height)
    return frames, start, start + n_event


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


def _is_complete(cfg: DemoConfig) -> bool:
    """Returns True when ``cfg.out_dir`` holds a finished demo set made with the same config."""
    out = Path(cfg.out_dir)
    stamp, csv_path = out / STAMP_NAME, out / ANNOTATIONS_NAME
    if not (stamp.is_file() and csv_path.is_file() and (out / SPANS_NAME).is_file()):
        return False
    try:
        if json.loads(stamp.read_text()) != cfg.stamp():
            return False
        with csv_path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, ValueError):
        return False
    expected = cfg.num_classes * cfg.videos_per_class
    return len(rows) == expected and all(
        (out / r["path"]).is_file() and (out / r["path"]).stat().st_size > 0 for r in rows
    )


def make_demo_dataset(cfg: DemoConfig, progress: bool = False) -> Path:
    """Generates the demo set described in the module docstring under ``cfg.out_dir`` (skipped
    when a complete set with the same config is already there) and returns the path of its
    ``annotations.csv``. Deterministic for ``cfg.seed``; each class gets exactly
    ``cfg.val_per_class`` validation videos. ``progress`` shows a rich progress bar."""
    cfg.validate()
    out = Path(cfg.out_dir)
    csv_path = out / ANNOTATIONS_NAME
    if _is_complete(cfg):
        return csv_path

    stamp = out / STAMP_NAME
    if stamp.exists():  # an older set of ours: drop it so no stale videos survive
        stamp.unlink()
        shutil.rmtree(out / VIDEOS_DIRNAME, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)

    labels = list(CLASS_PHOTOS)[: cfg.num_classes]
    jobs: list[tuple[int, str, int, str]] = []  # (class_idx, label, video_idx, split)
    for ci, label in enumerate(labels):
        split_rng = np.random.default_rng([cfg.seed, ci, 1_000_003])
        val_idx = set(split_rng.permutation(cfg.videos_per_class)[: cfg.val_per_class].tolist())
        jobs += [(ci, label, vi, "val" if vi in val_idx else "train") for vi in range(cfg.videos_per_class)]

    rows: list[dict[str, str]] = []
    spans: dict[str, dict[str, object]] = {}
    photos = {label: Image.fromarray(CLASS_PHOTOS[label]()) for label in labels}

    from rich.progress import Progress

    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("demo videos", total=len(jobs))
        for ci, label, vi, split in jobs:
            rng = np.random.default_rng([cfg.seed, ci, vi])
            frames, start, end = _make_one_video(cfg, photos[label], rng)
            video_id = f"{label}_{vi:03d}"
            rel = Path(VIDEOS_DIRNAME) / label / f"{video_id}.mp4"
            write_video(out / rel, frames, cfg.fps)
            rows.append({"path": rel.as_posix(), "label": label, "split": split})
            spans[video_id] = {
                "label": label,
                "start_frame": start,
                "end_frame": end,
                "num_frames": cfg.num_frames,
                "fps": cfg.fps,
            }
            bar.advance(task)

    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    (out / SPANS_NAME).write_text(json.dumps(spans, indent=1))
    stamp.write_text(json.dumps(cfg.stamp(), indent=1))
    return csv_path
