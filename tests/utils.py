"""Synthetic test videos (pytorchvideo-style helpers) shared by the test suite.

* :func:`make_video` writes a tiny mp4; with ``pattern="index"`` every frame encodes its own
  index so that :func:`decode_index` recovers it after lossy H.264 decoding.
* :func:`make_corrupt_files` writes files that no decoder can open, one per failure kind.
* :func:`make_csv_dataset` writes small videos plus an ``annotations.csv`` (path,label,split).
"""

from __future__ import annotations

import csv
from pathlib import Path

import av
import numpy as np

from nsnet.demo import write_video

# "index" pattern: the frame is cut into vertical grey stripes, one per base-8 digit of the
# frame index (least significant on the left). Digit d is drawn at grey level 16 + 32*d, so a
# decoder may be off by up to +-15 levels and the index is still recovered exactly. Only luma is
# used (grey), so chroma subsampling cannot blur digits together, and each stripe is sampled in
# its central half, away from the edges where ringing happens.
INDEX_BASE = 8
INDEX_DIGITS = 3
INDEX_STEP = 256 // INDEX_BASE
MAX_INDEX_FRAMES = INDEX_BASE**INDEX_DIGITS  # 512


def index_frame(index: int, size: tuple[int, int] = (64, 48)) -> np.ndarray:
    """Returns the ``[H, W, 3]`` uint8 RGB frame (``size`` is (width, height)) that encodes
    ``index`` for :func:`decode_index`."""
    if not 0 <= index < MAX_INDEX_FRAMES:
        raise ValueError(f"index must be in [0, {MAX_INDEX_FRAMES}), got {index}")
    width, height = size
    frame = np.empty((height, width, 3), dtype=np.uint8)
    bounds = np.linspace(0, width, INDEX_DIGITS + 1).round().astype(int)
    for k in range(INDEX_DIGITS):
        digit = (index // INDEX_BASE**k) % INDEX_BASE
        frame[:, bounds[k] : bounds[k + 1]] = INDEX_STEP // 2 + INDEX_STEP * digit
    return frame


def decode_index(frame: np.ndarray) -> int:
    """Returns the frame index encoded by :func:`index_frame` in ``frame`` (``[H, W, 3]`` or
    ``[H, W]``, any integer or float dtype in 0..255, possibly degraded by lossy coding)."""
    grey = np.asarray(frame, dtype=np.float64)
    if grey.ndim == 3:
        grey = grey.mean(axis=2)
    height, width = grey.shape
    bounds = np.linspace(0, width, INDEX_DIGITS + 1)
    index = 0
    for k in range(INDEX_DIGITS):
        lo, hi = bounds[k], bounds[k + 1]
        x0, y0 = int(lo + (hi - lo) / 4), height // 4  # central half of the stripe
        x1, y1 = max(x0 + 1, int(hi - (hi - lo) / 4)), max(y0 + 1, 3 * height // 4)
        patch = grey[y0:y1, x0:x1]
        digit = int(np.clip(np.floor(np.median(patch) / INDEX_STEP), 0, INDEX_BASE - 1))
        index += digit * INDEX_BASE**k
    return index


def _random_frames(rng: np.random.Generator, num_frames: int, size: tuple[int, int]) -> np.ndarray:
    """Returns ``[num_frames, H, W, 3]`` uint8 frames: a random colour blob drifting over a
    random-colour background (cheap, smooth content that differs between videos)."""
    width, height = size
    bg, fg = rng.integers(0, 256, size=(2, 3), dtype=np.uint8)
    frames = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    frames[:] = bg
    yy, xx = np.mgrid[0:height, 0:width]
    start, end = rng.uniform(0, 1, size=(2, 2)) * (width, height)
    radius = max(2.0, min(width, height) / 4)
    for i in range(num_frames):
        cx, cy = start + (end - start) * (i / max(1, num_frames - 1))
        frames[i][(xx - cx) ** 2 + (yy - cy) ** 2 < radius**2] = fg
    return frames


def make_video(
    path: Path,
    num_frames: int = 30,
    size: tuple[int, int] = (64, 48),
    fps: float = 10,
    pattern: str = "index",
    codec: str | None = None,
    seed: int = 0,
) -> Path:
    """Writes a ``num_frames``-frame mp4 of ``size`` = (width, height) at ``fps`` and returns
    its path. ``pattern="index"``: frame i encodes i (see :func:`decode_index`; at most 512
    frames); ``pattern="random"``: a coloured blob drifting over a background (``seed``)."""
    if pattern == "index":
        if num_frames > MAX_INDEX_FRAMES:
            raise ValueError(f"pattern 'index' supports at most {MAX_INDEX_FRAMES} frames, got {num_frames}")
        frames = np.stack([index_frame(i, size) for i in range(num_frames)])
    elif pattern == "random":
        frames = _random_frames(np.random.default_rng(seed), num_frames, size)
    else:
        raise ValueError(f"unknown pattern {pattern!r}; expected 'index' or 'random'")
    return write_video(Path(path), frames, fps, codec=codec)


CORRUPT_KINDS = ("zero_byte", "truncated", "not_video", "missing", "garbage")
# Kinds whose container looks valid at first: "truncated_data" fails while decord indexes the
# packets at open time; "scrambled" opens fine (right frame count) and fails only when a frame
# past the first few is decoded.
DECODE_ERROR_KINDS = ("truncated_data", "scrambled")


def _faststart_copy(src: Path, dst: Path) -> Path:
    """Remuxes ``src`` into ``dst`` with the moov atom in front (``movflags=faststart``);
    returns ``dst``."""
    faststart = {"movflags": "faststart"}
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4", options=faststart) as out:
        in_stream = inp.streams.video[0]
        out_stream = out.add_stream_from_template(in_stream)
        for packet in inp.demux(in_stream):
            if packet.dts is None:  # the demuxer's final flush packet
                continue
            packet.stream = out_stream
            out.mux(packet)
    return dst


def make_corrupt_files(directory: Path, include_decode_errors: bool = False) -> dict[str, Path]:
    """Writes one unreadable ``.mp4`` per kind in :data:`CORRUPT_KINDS` under ``directory`` and
    returns {kind: path}: "zero_byte" (empty file), "truncated" (a valid mp4 cut to its first
    30%, so the moov atom at the end is gone), "not_video" (text), "missing" (a path that does
    not exist) and "garbage" (random bytes). With ``include_decode_errors`` it also writes the
    :data:`DECODE_ERROR_KINDS`: "truncated_data" (moov in front, media data cut in half) and
    "scrambled" (valid container, packet bytes from 40% to 95% of the media data overwritten
    with random bytes, so early frames decode and later ones fail)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    kinds = CORRUPT_KINDS + (DECODE_ERROR_KINDS if include_decode_errors else ())
    paths = {kind: directory / f"{kind}.mp4" for kind in kinds}
    rng = np.random.default_rng(0)

    paths["zero_byte"].write_bytes(b"")
    full = make_video(directory / "_full.mp4", num_frames=30, pattern="random")
    data = full.read_bytes()
    paths["truncated"].write_bytes(data[: int(len(data) * 0.3)])
    paths["not_video"].write_text("this is not a video, just text with an .mp4 extension\n" * 20)
    paths["missing"].unlink(missing_ok=True)
    paths["garbage"].write_bytes(rng.integers(0, 256, size=4096, dtype=np.uint8).tobytes())

    if include_decode_errors:
        faststart_path = _faststart_copy(full, directory / "_faststart.mp4")
        faststart = faststart_path.read_bytes()
        faststart_path.unlink()
        paths["truncated_data"].write_bytes(faststart[: int(len(faststart) * 0.5)])

        big_path = make_video(directory / "_big.mp4", num_frames=60, size=(160, 120), pattern="random")
        big = big_path.read_bytes()
        big_path.unlink()
        start, stop = big.find(b"mdat") + 4, big.find(b"moov") - 4  # moov is written last
        lo, hi = start + int(0.4 * (stop - start)), start + int(0.95 * (stop - start))
        scrambled = bytearray(big)
        scrambled[lo:hi] = rng.integers(0, 256, size=hi - lo, dtype=np.uint8).tobytes()
        paths["scrambled"].write_bytes(bytes(scrambled))
    full.unlink()
    return paths


def make_csv_dataset(
    directory: Path,
    num_videos: int = 8,
    classes: tuple[str, ...] = ("a", "b"),
    num_frames: int = 20,
    size: tuple[int, int] = (64, 48),
    fps: float = 10,
    val_fraction: float = 0.25,
    pattern: str = "random",
    seed: int = 0,
) -> Path:
    """Writes ``num_videos`` small videos (labels cycle through ``classes``; the last
    ``round(val_fraction * n)`` videos of each class are "val", the rest "train") under
    ``directory/videos`` and returns the path of ``directory/annotations.csv`` (header
    ``path,label,split``, paths relative to the CSV's folder)."""
    directory = Path(directory)
    per_class: dict[str, list[int]] = {c: [] for c in classes}
    for i in range(num_videos):
        per_class[classes[i % len(classes)]].append(i)
    rows: list[dict[str, str]] = []
    for i in range(num_videos):
        label = classes[i % len(classes)]
        members = per_class[label]
        n_val = int(round(val_fraction * len(members)))
        split = "val" if members.index(i) >= len(members) - n_val else "train"
        rel = Path("videos") / label / f"{label}_{i:03d}.mp4"
        make_video(directory / rel, num_frames=num_frames, size=size, fps=fps, pattern=pattern, seed=seed + i)
        rows.append({"path": rel.as_posix(), "label": label, "split": split})
    csv_path = directory / "annotations.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return csv_path


def assert_reload_equals_cached(reload_ctx, cached_ctx, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Asserts, for every method of two EvalContexts (reload and cached path, same store/runs),
    that both decode every video, select the same K positions and give the same per-frame logits
    (atol 2e-2: cached logits come from float16-cached features through the fitted head).
    Returns the (reload, cached) logits of each method, in method order."""
    from nsnet.evaluate.run import _score

    out = []
    for spec in reload_ctx.methods:
        pos_r, logits_r, ok_r, _ = _score(reload_ctx, spec, reload_ctx.samplers[spec.name], k)
        pos_c, logits_c, ok_c, _ = _score(cached_ctx, spec, cached_ctx.samplers[spec.name], k)
        assert ok_r.all() and ok_c.all()
        np.testing.assert_array_equal(pos_r, pos_c, err_msg=spec.name)
        np.testing.assert_allclose(logits_r, logits_c, atol=2e-2, err_msg=spec.name)
        out.append((logits_r, logits_c))
    return out


def assert_one_line_error(stderr: str, *words: str) -> None:
    """Asserts ``stderr`` is one ``error: ...`` line (no traceback) holding every one of ``words``."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
