"""Build an untrimmed fight-detection benchmark from the Surveillance Camera Fight Dataset.

The source dataset (Akti et al., IPTA 2019, MIT licence) holds 150 ``fight/fiNNN.mp4`` and 150
``noFight/nofiNNN.mp4`` real clips of about 2 s each. This script composes them into longer
"untrimmed" videos: a *fight* video holds exactly one fight clip at a random position among
noFight clips, a *noFight* video holds only noFight clips. The source data is read in place and
never copied into the repository.

Pipeline (measured on this machine: ~0.3 s per source clip, ~0.05 s per output video):

1. **Group and split.** ``videos.txt`` maps clips to the YouTube video they were cut from (and two
   range lines, ``nofi062 - nofi076 : CamNet Dataset`` etc., to public surveillance datasets).
   Sources that share a clip are merged (union-find), clips not listed form their own group. Groups
   are split ~70/30 train/val, stratified by label, so near-duplicate clips of one source never
   straddle train and val.
2. **Plan** (pure, seeded): per split, half fight and half noFight videos, 8-12 clips each, drawn
   from that split's pool without repetition inside a video; clips are dealt from reshuffled decks
   so usage stays even.
3. **Normalise** each used source clip once into ``DIR/_clips/``: ``fps=25`` resampling, letterbox
   to 640x360 (scale to fit keeping the aspect ratio, pad with black, SAR 1), yuv420p, BT.709 tags,
   libx264 ``-preset veryfast -crf 23 -g 50``, no audio. Every cached clip starts with an IDR
   frame and shares identical encoder settings (so identical SPS/PPS).
4. **Compose** each output video with ffmpeg's concat demuxer and stream copy (no re-encode), so
   consecutive clips meet at a *hard cut* (default; ``--gap-frames N`` inserts N black frames
   between clips instead). The GOP stays <= 50 because each cached clip was encoded with
   ``-g 50`` and starts on a keyframe. The frame count of every output is checked.

Outputs: ``DIR/annotations.csv`` (``path,label,split``; paths relative to ``DIR``),
``DIR/spans.json`` ({video_id: {label, split, num_frames, fps, event, clips}}), the videos in
``DIR/train/`` and ``DIR/val/``. Files are written under a ``.part`` name and renamed, so an
interrupted build resumes by skipping finished files. The composition, CSV and JSON are
deterministic for a seed (the mp4 bytes need not be).

Usage: ``python benchmarks/build_untrimmed.py --src ../shared/data/fight-surv --out DIR --seed 0``
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

FIGHT = "fight"
NOFIGHT = "noFight"
LABELS: tuple[str, str] = (FIGHT, NOFIGHT)
SPLITS: tuple[str, str] = ("train", "val")
CLIP_CACHE = "_clips"
MANIFEST = "build_manifest.json"
PART = ".part"

_CLIP_LINE = re.compile(r"^\s*((?:no)?fi\d+)\s*:")
_RANGE_LINE = re.compile(r"^\s*((?:no)?fi)(\d+)\s*-\s*(?:no)?fi(\d+)\s*:\s*(.+?)\s*$")
_URL_LINE = re.compile(r"^\s*(https?://\S+)")


class PlanError(ValueError):
    """Bad planning parameters or a clip pool too small for them."""


class BuildError(RuntimeError):
    """The build could not run or produced an inconsistent output."""


@dataclass(frozen=True, order=True)
class ClipInfo:
    """One source clip: ``src`` relative to the dataset root (e.g. ``fight/fi001.mp4``), its
    ``label`` (``fight``/``noFight``) and ``source``, the key of its group of near-duplicates."""

    src: str
    label: str
    source: str

    @property
    def clip_id(self) -> str:
        """Return the clip id, e.g. ``fi001``."""
        return Path(self.src).stem


@dataclass(frozen=True)
class VideoPlan:
    """One output video: its id, split, label, ordered source clips, and the index of the fight
    clip in ``clips`` (``None`` for noFight videos)."""

    video_id: str
    split: str
    label: str
    clips: tuple[str, ...]
    event_index: int | None

    @property
    def path(self) -> str:
        """Return the output path relative to the build directory."""
        return f"{self.split}/{self.video_id}.mp4"


@dataclass(frozen=True)
class EncodeConfig:
    """How source clips are normalised (everything that changes the cached clips' bytes)."""

    width: int = 640
    height: int = 360
    fps: int = 25
    crf: int = 23
    preset: str = "veryfast"
    gop: int = 50


@dataclass(frozen=True)
class BuildConfig:
    """Everything :func:`build` needs."""

    src: Path
    out: Path
    seed: int = 0
    n_train: int = 400
    n_val: int = 200
    clips_min: int = 8
    clips_max: int = 12
    val_fraction: float = 0.3
    gap_frames: int = 0
    workers: int = 2
    encode: EncodeConfig = field(default_factory=EncodeConfig)


@dataclass(frozen=True)
class BuildReport:
    """What :func:`build` did and how long each stage took (seconds)."""

    n_videos: int
    n_videos_written: int
    n_clips: int
    n_clips_normalised: int
    output_bytes: int
    seconds_normalise: float
    seconds_compose: float
    seconds_total: float


# --------------------------------------------------------------------------- grouping / split


def parse_source_groups(text: str) -> dict[str, str]:
    """Parse ``videos.txt`` and return {clip_id: source_key}.

    URL lines open a source; ``fi001: ...`` rows below belong to it. Range lines
    (``nofi062 - nofi076 : CamNet Dataset``) make every clip in the inclusive range a member of
    the named source. Sources that share a clip are merged (union-find); the key of a merged
    group is its lexicographically smallest source name.
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            lo, hi = sorted((ra, rb))
            parent[hi] = lo

    member_of: dict[str, str] = {}  # clip_id -> first source seen

    def add(clip_id: str, source: str) -> None:
        parent.setdefault(source, source)
        if clip_id in member_of:
            union(member_of[clip_id], source)
        else:
            member_of[clip_id] = source

    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if m := _URL_LINE.match(line):
            current = m.group(1)
            parent.setdefault(current, current)
        elif m := _RANGE_LINE.match(line):
            prefix, lo, hi, name = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
            width = len(m.group(2))
            for i in range(min(lo, hi), max(lo, hi) + 1):
                add(f"{prefix}{i:0{width}d}", name)
        elif (m := _CLIP_LINE.match(line)) and current is not None:
            add(m.group(1), current)
    return {clip: find(src) for clip, src in member_of.items()}


def discover_clips(src_dir: Path) -> list[ClipInfo]:
    """Return the dataset's clips (``fight/*.mp4``, ``noFight/*.mp4``) sorted by path, grouped by
    ``videos.txt`` when present; clips it does not list get their own group ``clip:<id>``."""
    src_dir = Path(src_dir)
    if not src_dir.is_dir():
        raise BuildError(f"source directory not found: {src_dir}")
    listing = src_dir / "videos.txt"
    groups = parse_source_groups(listing.read_text(errors="replace")) if listing.exists() else {}
    clips = [
        ClipInfo(src=f"{label}/{path.name}", label=label,
                 source=groups.get(path.stem, f"clip:{path.stem}"))
        for label in LABELS
        for path in sorted((src_dir / label).glob("*.mp4"))
    ]
    if not clips:
        raise BuildError(f"no clips found under {src_dir}/fight or {src_dir}/noFight")
    return sorted(clips)


def split_clips_by_source(
    clips: Sequence[ClipInfo], seed: int, val_fraction: float = 0.3
) -> tuple[list[ClipInfo], list[ClipInfo]]:
    """Split clips into (train, val) pools so that no source group straddles the two.

    Groups are taken largest first (random order among equal sizes) and each goes to the split
    whose per-label deficit w.r.t. the ``1 - val_fraction`` / ``val_fraction`` targets is larger,
    which keeps both labels close to the requested ratio. Returns two sorted lists.
    """
    if not 0.0 < val_fraction < 1.0:
        raise PlanError(f"val_fraction must be in (0, 1), got {val_fraction}")
    _check_clips(clips)
    rng = np.random.default_rng([seed, 0])
    groups: dict[str, list[ClipInfo]] = {}
    for clip in sorted(clips):
        groups.setdefault(clip.source, []).append(clip)
    keys = sorted(groups)
    order = [keys[i] for i in rng.permutation(len(keys))]
    order.sort(key=lambda k: -len(groups[k]))  # stable: ties keep the random order

    totals = {lab: sum(c.label == lab for c in clips) for lab in LABELS}
    target = {"val": {lab: val_fraction * n for lab, n in totals.items()},
              "train": {lab: (1 - val_fraction) * n for lab, n in totals.items()}}
    have = {s: dict.fromkeys(LABELS, 0) for s in SPLITS}
    pools: dict[str, list[ClipInfo]] = {s: [] for s in SPLITS}
    for key in order:
        members = groups[key]
        size = {lab: sum(c.label == lab for c in members) for lab in LABELS}
        score = sum(size[lab] * ((target["val"][lab] - have["val"][lab])
                                 - (target["train"][lab] - have["train"][lab])) for lab in LABELS)
        if score == 0:
            split = "val" if rng.random() < val_fraction else "train"
        else:
            split = "val" if score > 0 else "train"
        pools[split].extend(members)
        for lab in LABELS:
            have[split][lab] += size[lab]
    return sorted(pools["train"]), sorted(pools["val"])


def _check_clips(clips: Sequence[ClipInfo]) -> None:
    seen: set[str] = set()
    for clip in clips:
        if clip.label not in LABELS:
            raise PlanError(f"clip {clip.src} has label {clip.label!r}; expected one of {LABELS}")
        if clip.src in seen:
            raise PlanError(f"clip {clip.src} is listed twice")
        seen.add(clip.src)


# --------------------------------------------------------------------------- planning


class _Deck:
    """Deals items in reshuffled rounds so that usage stays even; no repeats within one draw."""

    def __init__(self, items: Sequence[str], rng: np.random.Generator) -> None:
        self._items = list(items)
        self._rng = rng
        self._queue: list[str] = []

    def draw(self, k: int) -> list[str]:
        out: list[str] = []
        while len(out) < k:
            if not self._queue:
                self._queue = [self._items[i] for i in self._rng.permutation(len(self._items))]
            idx = next(i for i, x in enumerate(self._queue) if x not in out)
            out.append(self._queue.pop(idx))
        return out


def plan_videos(
    clips: Sequence[ClipInfo],
    seed: int,
    n_train: int,
    n_val: int,
    clips_min: int,
    clips_max: int,
    val_fraction: float = 0.3,
) -> list[VideoPlan]:
    """Plan the benchmark without touching the disk. Returns ``n_train + n_val`` videos: per split
    ``n // 2`` fight videos (one fight clip at a uniform random position) and the rest noFight,
    each of ``clips_min..clips_max`` distinct clips from that split's pool (see
    :func:`split_clips_by_source`). Video ids are ``train_0000``..., ``val_0000``...
    """
    if n_train < 0 or n_val < 0:
        raise PlanError(f"video counts must be >= 0, got n_train={n_train}, n_val={n_val}")
    if not 1 <= clips_min <= clips_max:
        raise PlanError(f"need 1 <= clips_min <= clips_max, got {clips_min}, {clips_max}")
    train_pool, val_pool = split_clips_by_source(clips, seed, val_fraction)
    rng = np.random.default_rng([seed, 1])
    plans: list[VideoPlan] = []
    for split, n, pool in (("train", n_train, train_pool), ("val", n_val, val_pool)):
        if n == 0:
            continue
        n_fight = n // 2
        fights = [c.src for c in pool if c.label == FIGHT]
        calm = [c.src for c in pool if c.label == NOFIGHT]
        if n_fight and not fights:
            raise PlanError(f"{split} pool has no fight clips; cannot make fight videos")
        if len(calm) < clips_max - (1 if n - n_fight == 0 else 0):
            raise PlanError(f"{split} pool has {len(calm)} noFight clips; need at least "
                            f"clips_max={clips_max} (lower --clips-max or add clips)")
        fight_deck, calm_deck = _Deck(fights, rng), _Deck(calm, rng)
        labels = [FIGHT] * n_fight + [NOFIGHT] * (n - n_fight)
        labels = [labels[i] for i in rng.permutation(n)]
        for i, label in enumerate(labels):
            k = int(rng.integers(clips_min, clips_max + 1))
            if label == FIGHT:
                members = calm_deck.draw(k - 1)
                pos = int(rng.integers(0, k))
                members.insert(pos, fight_deck.draw(1)[0])
                event: int | None = pos
            else:
                members, event = calm_deck.draw(k), None
            plans.append(VideoPlan(f"{split}_{i:04d}", split, label, tuple(members), event))
    return plans


def compose_spans(
    plan: VideoPlan, clip_frames: Mapping[str, int], fps: int, gap_frames: int = 0
) -> dict[str, Any]:
    """Return the ``spans.json`` entry of one video: label, split, num_frames, fps, the fight
    clip's ``[start_frame, end_frame)`` (or ``None``) and every clip's frame span, given the
    frame count of each normalised clip and ``gap_frames`` black frames between clips."""
    spans: list[dict[str, Any]] = []
    cursor = 0
    for i, src in enumerate(plan.clips):
        if i:
            cursor += gap_frames
        n = clip_frames[src]
        if n <= 0:
            raise BuildError(f"normalised clip {src} has no frames")
        spans.append({"src": src, "start_frame": cursor, "end_frame": cursor + n})
        cursor += n
    event = None
    if plan.event_index is not None:
        s = spans[plan.event_index]
        event = [s["start_frame"], s["end_frame"]]
    return {"label": plan.label, "split": plan.split, "num_frames": cursor, "fps": fps,
            "event": event, "clips": spans}


# --------------------------------------------------------------------------- ffmpeg jobs


def ffmpeg_exe() -> str:
    """Return the path of imageio-ffmpeg's ffmpeg binary (built with libx264)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def _encoder_args(enc: EncodeConfig) -> list[str]:
    return ["-an", "-sn", "-dn", "-c:v", "libx264", "-preset", enc.preset, "-crf", str(enc.crf),
            "-g", str(enc.gop), "-pix_fmt", "yuv420p", "-threads", "1",
            "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709",
            "-color_range", "tv", "-movflags", "+faststart", "-f", "mp4"]


def normalise_command(ffmpeg: str, src: Path, dst: Path, enc: EncodeConfig) -> list[str]:
    """Return the ffmpeg command that resamples ``src`` to ``enc.fps`` and letterboxes it to
    ``enc.width x enc.height`` (aspect kept, black padding) as H.264 into ``dst``."""
    w, h = enc.width, enc.height
    vf = (f"fps={enc.fps},"
          f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2"
          f":out_color_matrix=bt709:out_range=tv,"
          f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p")
    return [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-threads", "1",
            "-i", str(src), "-filter_threads", "1", "-vf", vf, *_encoder_args(enc), str(dst)]


def gap_command(ffmpeg: str, n_frames: int, dst: Path, enc: EncodeConfig) -> list[str]:
    """Return the ffmpeg command that writes ``n_frames`` black frames with the clip settings."""
    src = f"color=black:size={enc.width}x{enc.height}:rate={enc.fps}"
    return [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
            "-i", src, "-frames:v", str(n_frames), "-vf", "setsar=1,format=yuv420p",
            *_encoder_args(enc), str(dst)]


def concat_command(ffmpeg: str, list_file: Path, dst: Path) -> list[str]:
    """Return the ffmpeg command that stream-copies the files in ``list_file`` into ``dst``."""
    return [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "concat",
            "-safe", "0", "-i", str(list_file), "-map", "0:v:0", "-c", "copy",
            "-movflags", "+faststart", "-f", "mp4", str(dst)]


def count_frames(path: Path) -> int:
    """Return the number of video packets (= frames for H.264 without field coding) in ``path``."""
    import av

    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(video=0) if p.size)


def _extradata(path: Path) -> bytes:
    import av

    with av.open(str(path)) as container:
        return bytes(container.streams.video[0].codec_context.extradata or b"")


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise BuildError(f"ffmpeg failed on {what} (exit {proc.returncode}): {tail}")


def _part(path: Path) -> Path:
    return path.with_name(path.name + PART)


def _list_path(path: Path) -> Path:
    return path.with_name(path.name + ".txt" + PART)


@dataclass(frozen=True)
class _Job:
    """A picklable unit of work for the process pool: ``cmd`` writes ``_part(dst)``."""

    dst: Path
    cmd: tuple[str, ...]
    what: str
    expected_frames: int | None = None
    list_text: str | None = None


def _run_job(job: _Job) -> str:
    """Run one ffmpeg job into ``dst.part`` and rename it; return ``job.what``."""
    job.dst.parent.mkdir(parents=True, exist_ok=True)
    part, list_file = _part(job.dst), _list_path(job.dst)
    try:
        if job.list_text is not None:
            list_file.write_text(job.list_text)
        _run(list(job.cmd), job.what)
        if job.expected_frames is not None:
            got = count_frames(part)
            if got != job.expected_frames:
                raise BuildError(f"{job.what}: wrote {got} frames, expected {job.expected_frames}")
        os.replace(part, job.dst)
    finally:
        part.unlink(missing_ok=True)
        list_file.unlink(missing_ok=True)
    return job.what


def _concat_list(paths: Iterable[Path]) -> str:
    lines = []
    for p in paths:
        quoted = str(p.resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    return "\n".join(lines) + "\n"


def _run_jobs(jobs: Sequence[Any], workers: int, label: str, console: Console,
              run: Callable[[Any], str] = _run_job) -> None:
    """Run jobs with ``run`` (inline for ``workers <= 1``, else in a process pool; ``run`` must be a
    module-level function) under a rich progress bar; when the console is not a terminal, also
    print a line at every 10 %."""
    if not jobs:
        console.print(f"{label}: nothing to do")
        return
    total = len(jobs)
    step = max(1, total // 10)
    start = time.perf_counter()
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                        transient=False, disable=not console.is_terminal)

    def tick(done: int) -> None:
        progress.update(task, completed=done)
        if not console.is_terminal and (done % step == 0 or done == total):
            rate = done / max(time.perf_counter() - start, 1e-9)
            console.print(f"{label}: {done}/{total} ({time.perf_counter() - start:.0f} s, "
                          f"eta {(total - done) / rate:.0f} s)")

    with progress:
        task = progress.add_task(label, total=total)
        if workers <= 1:
            for i, job in enumerate(jobs, 1):
                run(job)
                tick(i)
            return
        with ProcessPoolExecutor(max_workers=workers) as pool:
            pending: set[Future[str]] = {pool.submit(run, j) for j in jobs}
            done_count = 0
            while pending:
                # FIRST_COMPLETED, not FIRST_EXCEPTION (which waits for every job): a tick per finished job
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    if fut.exception() is not None:
                        for other in pending:
                            other.cancel()
                        raise fut.exception()  # type: ignore[misc]
                    done_count += 1
                    tick(done_count)


# --------------------------------------------------------------------------- build


def _manifest(cfg: BuildConfig) -> dict[str, Any]:
    """Return the settings that determine the output; a resumed build must match them."""
    return {"seed": cfg.seed, "n_train": cfg.n_train, "n_val": cfg.n_val,
            "clips_min": cfg.clips_min, "clips_max": cfg.clips_max,
            "val_fraction": cfg.val_fraction, "gap_frames": cfg.gap_frames,
            "encode": asdict(cfg.encode)}


def _atomic_write(path: Path, text: str) -> None:
    part = _part(path)
    part.write_text(text)
    os.replace(part, path)


def _check_manifest(out: Path, manifest: dict[str, Any]) -> None:
    path = out / MANIFEST
    if path.exists():
        old = json.loads(path.read_text())
        if old != manifest:
            diff = sorted(k for k in manifest.keys() | old.keys() if old.get(k) != manifest.get(k))
            raise BuildError(f"{out} was built with different settings ({', '.join(diff)}); "
                             f"use another --out or delete it")
    else:
        out.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def _remove_stale_parts(out: Path) -> None:
    for part in out.rglob(f"*{PART}"):
        part.unlink(missing_ok=True)


def annotations_csv(plans: Sequence[VideoPlan]) -> str:
    """Return the ``annotations.csv`` text (``path,label,split``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["path", "label", "split"])
    for p in plans:
        writer.writerow([p.path, p.label, p.split])
    return buf.getvalue()


def build(cfg: BuildConfig, console: Console | None = None) -> BuildReport:
    """Build (or resume) the benchmark described by ``cfg`` and return a :class:`BuildReport`."""
    console = console or Console(stderr=True)
    t0 = time.perf_counter()
    if cfg.gap_frames < 0:
        raise PlanError(f"gap_frames must be >= 0, got {cfg.gap_frames}")
    out, src = Path(cfg.out), Path(cfg.src)
    if out.resolve() == src.resolve() or src.resolve() in out.resolve().parents:
        raise BuildError(f"--out {out} must not be inside --src {src}")
    clips = discover_clips(src)
    plans = plan_videos(clips, cfg.seed, cfg.n_train, cfg.n_val, cfg.clips_min, cfg.clips_max,
                        cfg.val_fraction)
    _check_manifest(out, _manifest(cfg))
    _remove_stale_parts(out)
    ffmpeg, enc, cache = ffmpeg_exe(), cfg.encode, out / CLIP_CACHE

    used = sorted({c for p in plans for c in p.clips})
    norm_jobs = [_Job(cache / c, tuple(normalise_command(ffmpeg, src / c, _part(cache / c), enc)),
                      c) for c in used if not (cache / c).exists()]
    gap_path = cache / f"_gap_{cfg.gap_frames}.mp4"
    if cfg.gap_frames and not gap_path.exists():
        cmd = gap_command(ffmpeg, cfg.gap_frames, _part(gap_path), enc)
        norm_jobs.append(_Job(gap_path, tuple(cmd), gap_path.name, cfg.gap_frames))
    console.print(f"{len(clips)} source clips, {len(used)} used; {len(plans)} videos planned "
                  f"(seed {cfg.seed}); {len(norm_jobs)} clips to normalise")
    t_norm = time.perf_counter()
    _run_jobs(norm_jobs, cfg.workers, "normalise clips", console)
    t_norm = time.perf_counter() - t_norm

    clip_frames = {c: count_frames(cache / c) for c in used}
    parts = [cache / c for c in used] + ([gap_path] if cfg.gap_frames else [])
    if len({_extradata(p) for p in parts}) != 1:
        raise BuildError(f"cached clips in {cache} have differing H.264 headers; delete the cache")
    spans = {p.video_id: compose_spans(p, clip_frames, enc.fps, cfg.gap_frames) for p in plans}

    compose_jobs: list[_Job] = []
    for p in plans:
        dst = out / p.path
        if dst.exists():
            continue
        files: list[Path] = []
        for i, c in enumerate(p.clips):
            if i and cfg.gap_frames:
                files.append(gap_path)
            files.append(cache / c)
        cmd = concat_command(ffmpeg, _list_path(dst), _part(dst))
        compose_jobs.append(_Job(dst, tuple(cmd), p.video_id, spans[p.video_id]["num_frames"],
                                 _concat_list(files)))
    t_comp = time.perf_counter()
    _run_jobs(compose_jobs, cfg.workers, "compose videos", console)
    t_comp = time.perf_counter() - t_comp

    _atomic_write(out / "annotations.csv", annotations_csv(plans))
    _atomic_write(out / "spans.json", json.dumps(spans, indent=1) + "\n")
    size = sum((out / p.path).stat().st_size for p in plans)
    return BuildReport(n_videos=len(plans), n_videos_written=len(compose_jobs), n_clips=len(used),
                       n_clips_normalised=len(norm_jobs), output_bytes=size,
                       seconds_normalise=t_norm, seconds_compose=t_comp,
                       seconds_total=time.perf_counter() - t0)


# --------------------------------------------------------------------------- CLI


def main(
    src: Annotated[Path, typer.Option(help="dataset root with fight/, noFight/, videos.txt")],
    out: Annotated[Path, typer.Option(help="output directory (outside the repo)")],
    seed: Annotated[int, typer.Option(help="seed for the split and the composition")] = 0,
    train_videos: Annotated[int, typer.Option(help="number of train videos")] = 400,
    val_videos: Annotated[int, typer.Option(help="number of val videos")] = 200,
    clips_min: Annotated[int, typer.Option(help="fewest clips per video")] = 8,
    clips_max: Annotated[int, typer.Option(help="most clips per video")] = 12,
    val_fraction: Annotated[float, typer.Option(help="share of source groups for val")] = 0.3,
    width: Annotated[int, typer.Option(help="output width (letterboxed)")] = 640,
    height: Annotated[int, typer.Option(help="output height (letterboxed)")] = 360,
    fps: Annotated[int, typer.Option(help="output frame rate")] = 25,
    crf: Annotated[int, typer.Option(help="libx264 CRF of the cached clips")] = 23,
    gap_frames: Annotated[int, typer.Option(help="black frames between clips; 0 = hard cut")] = 0,
    workers: Annotated[int, typer.Option(help="parallel ffmpeg processes")] = 2,
) -> None:
    """Build the untrimmed fight benchmark into OUT and print the time it took."""
    cfg = BuildConfig(src=src, out=out, seed=seed, n_train=train_videos, n_val=val_videos,
                      clips_min=clips_min, clips_max=clips_max, val_fraction=val_fraction,
                      gap_frames=gap_frames, workers=workers,
                      encode=EncodeConfig(width=width, height=height, fps=fps, crf=crf))
    console = Console(stderr=True)
    try:
        report = build(cfg, console)
    except (PlanError, BuildError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(code=2) from None
    console.print(
        f"{report.n_videos} videos ({report.n_videos_written} written) from {report.n_clips} "
        f"clips ({report.n_clips_normalised} normalised), {report.output_bytes / 2**20:.1f} MiB; "
        f"normalise {report.seconds_normalise:.1f} s, compose {report.seconds_compose:.1f} s, "
        f"total {report.seconds_total:.1f} s", soft_wrap=True)


if __name__ == "__main__":
    typer.run(main)
