"""Build the controlled untrimmed benchmark: real surveillance footage as class-agnostic background,
one event of the video's class (a real ImageNet photo shown with camera-like motion) and look-alike
distractor shots (photos of classes that are *not* labelled).

Sources, read in place and never copied into the repository:

* ``--photos`` (default ``../shared/data/imagenet-samples``): 1,000 real photos, one per ImageNet-1k
  class, with ``classes.tsv`` (index order = the ImageNet-1k head). Related ImageNet classes are
  grouped into coarse classes (:data:`LABELLED_GROUPS`); another set of groups
  (:data:`DISTRACTOR_GROUPS`) is never labelled and provides the distractor photos. Every group's
  photos are split train/val **disjointly**, so a val event or distractor is a photo that no train
  video shows (and that the recognizer head never saw).
* ``--background`` (default ``../shared/data/fight-surv``): the 150 real ``noFight`` clips (about 2 s
  each). They are grouped by their YouTube source (``videos.txt``) and split train/val so that no
  source straddles the two splits (the grouping and split of ``build_untrimmed.py``).

Every video (``--min-seconds``..``--max-seconds`` long, 24 fps, 320x180, H.264 GOP 48) is a sequence
of whole background clips with hard cuts, and between them ``1 + distractors + confusers`` *shots*:
exactly one event (a photo of the video's class), ``--distractors`` photos of unlabelled groups and
``--confusers`` photos of *other* labelled classes. A shot pans and zooms over its photo (a 16:9
window moving between two random positions/zooms); the event lasts ``--event-frac`` of the video's
frames, each other shot the same length times U(0.7, 1.3). Background clips are normalised once
(``fps=24``, scaled to cover 320x180 and centre-cropped) and every shot is encoded with identical
x264 settings, so a video is composed by stream copy (no re-encode of the background).

``--pip`` shows the photos picture-in-picture instead (the moving photo scaled to 1/4-1/2 of the
frame, over the background clip's first frame, at a random place), for spatial samplers.

Outputs in ``--out``: ``annotations.csv`` (``path,label,split``: the plain CSV reader of ``nsnet
extract``), ``spans.json`` ({video_id: {label, split, num_frames, fps, event: [start, end),
distractors: [[s, e), ...], confusers: [...], shots: [...], clips: [...]}}, frames), ``groups.json``
(the coarse classes, their ImageNet members and the train/val photo split), the videos under
``train/`` and ``val/``. Files are written as ``.part`` and renamed, so an interrupted build resumes;
the plan (CSV, JSON) is deterministic for a seed.

Usage: ``python benchmarks/build_controlled.py --out DIR --seed 0 [--train-videos 1000 --val-videos 1500]``
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.build_untrimmed import (  # noqa: E402
    NOFIGHT,
    BuildError,
    EncodeConfig,
    PlanError,
    _atomic_write,
    _check_manifest,
    _concat_list,
    _encoder_args,
    _extradata,
    _Job,
    _list_path,
    _part,
    _remove_stale_parts,
    _run_job,
    _run_jobs,
    annotations_csv,
    concat_command,
    count_frames,
    discover_clips,
    ffmpeg_exe,
    split_clips_by_source,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CLIP_CACHE = "_clips"
SPLITS = ("train", "val")
KINDS = ("event", "distractor", "confuser")


def _r(a: int, b: int) -> tuple[int, ...]:
    return tuple(range(a, b + 1))


# Coarse labelled classes: groups of related ImageNet-1k classes (indices of ``classes.tsv``).
LABELLED_GROUPS: dict[str, tuple[int, ...]] = {
    "dog": _r(151, 268),
    "bird": _r(7, 24) + _r(80, 100) + _r(127, 146),
    "snake": _r(52, 68),
    "lizard": _r(38, 50),
    "insect": _r(300, 326),
    "fish": _r(0, 6) + _r(389, 397),
    "primate": _r(365, 384),
    "cat": _r(281, 293),
    "road_vehicle": (407, 436, 468, 511, 555, 569, 609, 627, 654, 656, 661, 675, 717, 734, 751, 779,
                     817, 864, 867, 874),
    "boat": (403, 472, 484, 510, 554, 576, 625, 628, 694, 724, 780, 814, 833, 871, 914),
    "instrument": (401, 402, 420, 432, 486, 494, 513, 541, 546, 558, 566, 577, 579, 593, 594, 641,
                   642, 683, 684, 687, 699, 776, 822, 875, 881, 889),
    "fruit_vegetable": _r(936, 957),
}

# Never-labelled groups: the distractor photos. Several are look-alikes of labelled classes (wild
# canids of dogs, bears and other mammals of cats/primates, amphibians and turtles of lizards,
# spiders of insects, sea creatures of fish, dishes of fruit, trains and aircraft of vehicles).
DISTRACTOR_GROUPS: dict[str, tuple[int, ...]] = {
    "wild_canid": _r(269, 280),
    "bear_mammal": _r(294, 299) + _r(330, 364) + _r(101, 106) + _r(385, 388) + _r(147, 150),
    "amphibian_turtle": _r(25, 37),
    "spider": _r(69, 79),
    "sea_creature": _r(107, 126) + _r(327, 329),
    "dish": _r(923, 935) + _r(958, 969),
    "rail_air": (404, 405, 466, 547, 565, 705, 812, 820, 829, 895, 908),
    "fungus_plant": _r(984, 997),
    "furniture": (423, 453, 492, 493, 495, 516, 520, 526, 532, 559, 564, 765, 831, 857),
    "tool": (462, 477, 491, 587, 596, 677, 740, 769, 783, 784, 792, 813),
}


@dataclass(frozen=True)
class Photo:
    """One ImageNet sample photo: its class index, class name, file and coarse group."""

    index: int
    name: str
    file: str
    group: str


@dataclass(frozen=True)
class Motion:
    """A 16:9 window moving linearly (smoothstep-eased) between two states. ``zoom`` is the window
    width relative to the widest 16:9 window that fits the photo; ``x``/``y`` in [0, 1] place the
    window within the free margin."""

    zoom0: float
    x0: float
    y0: float
    zoom1: float
    x1: float
    y1: float
    # picture-in-picture placement (fractions of the frame), unused for full-frame shots
    pip_scale: float = 1.0
    pip_x: float = 0.0
    pip_y: float = 0.0


@dataclass(frozen=True)
class Shot:
    """One photo shot inserted after background clip ``gap - 1`` (``gap`` = 0: before the first)."""

    kind: str
    photo: Photo
    n_frames: int
    gap: int
    motion: Motion


@dataclass(frozen=True)
class ControlledPlan:
    """One output video: id, split, coarse label, background clips in order, and its shots."""

    video_id: str
    split: str
    label: str
    clips: tuple[str, ...]
    shots: tuple[Shot, ...]
    event_frac: float = 0.05

    @property
    def path(self) -> str:
        """Return the output path relative to the build directory."""
        return f"{self.split}/{self.video_id}.mp4"


@dataclass(frozen=True)
class ControlledConfig:
    """Everything :func:`build` needs (the knobs of the generator)."""

    out: Path
    photos: Path = SHARED / "imagenet-samples"
    background: Path = SHARED / "fight-surv"
    seed: int = 0
    n_train: int = 1000
    n_val: int = 1500
    min_seconds: float = 16.0
    max_seconds: float = 40.0
    event_frac: float = 0.05
    distractors: int = 2
    confusers: int = 0
    min_shot_frames: int = 8
    # difficulty grid: each video draws one (event_frac, distractors) cell, balanced over the cells
    # and the labels (spans.json records the cell); None = every video uses the two fields above
    cells: tuple[tuple[float, int], ...] | None = None
    pip: bool = False
    val_photo_fraction: float = 0.4
    val_clip_fraction: float = 0.3
    workers: int = 2
    encode: EncodeConfig = field(default_factory=lambda: EncodeConfig(width=320, height=180, fps=24,
                                                                      crf=23, preset="veryfast", gop=48))


# --------------------------------------------------------------------------- photos


def read_photos(photos_dir: Path) -> dict[int, Photo]:
    """Return {ImageNet index: Photo} for every class of a grouped set, read from ``classes.tsv``."""
    tsv = Path(photos_dir) / "classes.tsv"
    if not tsv.exists():
        raise BuildError(f"{tsv} not found (expected the imagenet-samples folder)")
    group_of = {i: g for groups in (LABELLED_GROUPS, DISTRACTOR_GROUPS) for g, idx in groups.items()
                for i in idx}
    out: dict[int, Photo] = {}
    with tsv.open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            i = int(row["index"])
            if i in group_of:
                out[i] = Photo(i, row["name"], row["file"], group_of[i])
    missing = sorted(set(group_of) - set(out))
    if missing:
        raise BuildError(f"{tsv} lacks classes {missing[:5]}...")
    return out


def split_photos(photos: Mapping[int, Photo], seed: int, val_fraction: float
                 ) -> dict[str, dict[str, list[Photo]]]:
    """Return {split: {group: [Photo]}}: each group's photos shuffled and split disjointly, at least
    one photo per split."""
    rng = np.random.default_rng([seed, 10])
    out: dict[str, dict[str, list[Photo]]] = {s: {} for s in SPLITS}
    for group in [*LABELLED_GROUPS, *DISTRACTOR_GROUPS]:
        members = sorted((p for p in photos.values() if p.group == group), key=lambda p: p.index)
        if len(members) < 2:
            raise PlanError(f"group {group} has {len(members)} photos; need at least 2")
        order = [members[i] for i in rng.permutation(len(members))]
        n_val = min(len(members) - 1, max(1, round(val_fraction * len(members))))
        out["val"][group], out["train"][group] = order[:n_val], order[n_val:]
    return out


# --------------------------------------------------------------------------- planning


def _motion(rng: np.random.Generator, pip: bool) -> Motion:
    z0, z1 = rng.uniform(0.55, 1.0, size=2)
    x0, y0, x1, y1 = rng.uniform(0.0, 1.0, size=4)
    if not pip:
        return Motion(float(z0), float(x0), float(y0), float(z1), float(x1), float(y1))
    scale = float(rng.uniform(0.25, 0.5))
    return Motion(float(z0), float(x0), float(y0), float(z1), float(x1), float(y1),
                  pip_scale=scale, pip_x=float(rng.uniform()), pip_y=float(rng.uniform()))


def plan_videos(cfg: ControlledConfig, photo_split: Mapping[str, Mapping[str, Sequence[Photo]]],
                clip_pools: Mapping[str, Sequence[str]], clip_frames: Mapping[str, int]
                ) -> list[ControlledPlan]:
    """Plan every video without touching the disk (deterministic for ``cfg.seed``).

    Per split, labels are balanced over :data:`LABELLED_GROUPS` and shuffled. A video draws a target
    length ``U(min_seconds, max_seconds)``; background clips are dealt from the split's pool (no
    repeat inside a video) until they fill the non-shot part; the shot lengths are then set from
    the final frame count ``N = B / (1 - sum of shot fractions)`` so the event covers
    ``event_frac`` of the video exactly (up to rounding, at least ``min_shot_frames``). Shots go
    into distinct gaps between clips, in random order.
    """
    cells = cfg.cells or ((cfg.event_frac, cfg.distractors),)
    for frac, n_dis in cells:
        if not 0.0 < frac < 0.5:
            raise PlanError(f"event_frac must be in (0, 0.5), got {frac}")
        if n_dis < 0 or cfg.confusers < 0:
            raise PlanError("distractors and confusers must be >= 0")
    if not 0 < cfg.min_seconds <= cfg.max_seconds:
        raise PlanError(f"need 0 < min_seconds <= max_seconds, got {cfg.min_seconds}, {cfg.max_seconds}")
    fps = cfg.encode.fps
    labels = list(LABELLED_GROUPS)
    rng = np.random.default_rng([cfg.seed, 11])
    plans: list[ControlledPlan] = []
    for split, n in (("train", cfg.n_train), ("val", cfg.n_val)):
        pool = list(clip_pools[split])
        if n and len(pool) < 2:
            raise PlanError(f"{split} background pool has {len(pool)} clips; need at least 2")
        combos = [(labels[i % len(labels)], cells[(i // len(labels)) % len(cells)]) for i in range(n)]
        combos = [combos[i] for i in rng.permutation(n)]
        deck: list[str] = []
        for i, (label, (event_frac, n_distractors)) in enumerate(combos):
            n_shots = 1 + n_distractors + cfg.confusers
            fracs = [event_frac] + list(event_frac * rng.uniform(0.7, 1.3, size=n_shots - 1))
            target = rng.uniform(cfg.min_seconds, cfg.max_seconds) * fps
            need_bg = target * (1.0 - sum(fracs))
            clips: list[str] = []
            bg = 0
            while bg < need_bg or len(clips) < max(2, n_shots - 1):
                if not deck:
                    deck = [pool[j] for j in rng.permutation(len(pool))]
                pick = next((j for j, c in enumerate(deck) if c not in clips), None)
                if pick is None:  # every remaining deck clip is in this video: reshuffle
                    deck = []
                    if len(clips) >= len(pool):
                        break
                    continue
                clip = deck.pop(pick)
                clips.append(clip)
                bg += clip_frames[clip]
            total = bg / (1.0 - sum(fracs))
            lengths = [max(cfg.min_shot_frames, int(round(f * total))) for f in fracs]
            kinds = ["event"] + ["distractor"] * n_distractors + ["confuser"] * cfg.confusers
            photos: list[Photo] = []
            for kind in kinds:
                if kind == "event":
                    choices = photo_split[split][label]
                elif kind == "distractor":
                    group = list(DISTRACTOR_GROUPS)[int(rng.integers(len(DISTRACTOR_GROUPS)))]
                    choices = photo_split[split][group]
                else:
                    others = [g for g in labels if g != label]
                    choices = photo_split[split][others[int(rng.integers(len(others)))]]
                photos.append(choices[int(rng.integers(len(choices)))])
            gaps = rng.choice(len(clips) + 1, size=n_shots, replace=n_shots > len(clips) + 1)
            shots = tuple(sorted(
                (Shot(kind, photo, n_frames, int(gap), _motion(rng, cfg.pip))
                 for kind, photo, n_frames, gap in zip(kinds, photos, lengths, gaps)),
                key=lambda s: s.gap))
            plans.append(ControlledPlan(f"{split}_{i:05d}", split, label, tuple(clips), shots, event_frac))
    return plans


def timeline(plan: ControlledPlan, clip_frames: Mapping[str, int]) -> list[tuple[str, Any, int]]:
    """Return the video's segments in order: ``("clip", src, n)`` or ``("shot", Shot, n)``."""
    by_gap: dict[int, list[Shot]] = {}
    for shot in plan.shots:
        by_gap.setdefault(shot.gap, []).append(shot)
    out: list[tuple[str, Any, int]] = []
    for i in range(len(plan.clips) + 1):
        out.extend(("shot", s, s.n_frames) for s in by_gap.get(i, []))
        if i < len(plan.clips):
            out.append(("clip", plan.clips[i], clip_frames[plan.clips[i]]))
    return out


def compose_spans(plan: ControlledPlan, clip_frames: Mapping[str, int], fps: int) -> dict[str, Any]:
    """Return the ``spans.json`` entry of one video (frame spans ``[start, end)``)."""
    cursor = 0
    clips: list[dict[str, Any]] = []
    shots: list[dict[str, Any]] = []
    for kind, item, n in timeline(plan, clip_frames):
        if kind == "clip":
            clips.append({"src": item, "start_frame": cursor, "end_frame": cursor + n})
        else:
            shots.append({"kind": item.kind, "group": item.photo.group, "imagenet_index": item.photo.index,
                          "imagenet_name": item.photo.name, "start_frame": cursor, "end_frame": cursor + n})
            if item.motion.pip_scale < 1.0:  # where the photo sits (fractions of the frame), for "where it looks"
                m = item.motion
                shots[-1]["pip"] = {"scale": m.pip_scale, "x": m.pip_x, "y": m.pip_y}
        cursor += n
    spans = {k: [[s["start_frame"], s["end_frame"]] for s in shots if s["kind"] == k] for k in KINDS}
    return {"label": plan.label, "split": plan.split, "num_frames": cursor, "fps": fps,
            "cell": {"event_frac": plan.event_frac, "distractors": len(spans["distractor"])},
            "event": spans["event"][0], "distractors": spans["distractor"], "confusers": spans["confuser"],
            "shots": shots, "clips": clips}


# --------------------------------------------------------------------------- rendering


def _smooth(t: float) -> float:
    return t * t * (3.0 - 2.0 * t)


def window(width: int, height: int, aspect: float, zoom: float, x: float, y: float
           ) -> tuple[float, float, float, float]:
    """Return the crop box ``(left, top, right, bottom)`` of a window of ``aspect`` (w/h) and
    relative ``zoom`` inside a ``width x height`` photo, placed at ``x``/``y`` of the free margin."""
    if width / height > aspect:
        full_w, full_h = height * aspect, float(height)
    else:
        full_w, full_h = float(width), width / aspect
    w, h = full_w * zoom, full_h * zoom
    left, top = x * (width - w), y * (height - h)
    return left, top, left + w, top + h


def render_shot(photo_path: Path, shot: Shot, width: int, height: int,
                background: np.ndarray | None = None) -> np.ndarray:
    """Return the shot's frames, uint8 ``[n_frames, height, width, 3]`` (RGB). Full frame: the
    moving window filled to the frame; picture-in-picture: the window scaled to ``pip_scale`` of
    the frame over ``background`` (an RGB frame; black when None)."""
    from PIL import Image

    m = shot.motion
    with Image.open(photo_path) as img:
        img = img.convert("RGB")
        out_w, out_h = width, height
        if m.pip_scale < 1.0:
            out_w, out_h = max(2, int(round(width * m.pip_scale))), max(2, int(round(height * m.pip_scale)))
        frames = np.empty((shot.n_frames, height, width, 3), dtype=np.uint8)
        base = background if background is not None else np.zeros((height, width, 3), np.uint8)
        ox, oy = int(round(m.pip_x * (width - out_w))), int(round(m.pip_y * (height - out_h)))
        for i in range(shot.n_frames):
            t = _smooth(i / max(1, shot.n_frames - 1))
            box = window(img.width, img.height, width / height, m.zoom0 + t * (m.zoom1 - m.zoom0),
                         m.x0 + t * (m.x1 - m.x0), m.y0 + t * (m.y1 - m.y0))
            tile = np.asarray(img.resize((out_w, out_h), Image.Resampling.BILINEAR, box=box))
            if m.pip_scale < 1.0:
                frames[i] = base
                frames[i, oy:oy + out_h, ox:ox + out_w] = tile
            else:
                frames[i] = tile
    return frames


def normalise_command(ffmpeg: str, src: Path, dst: Path, enc: EncodeConfig) -> list[str]:
    """Return the ffmpeg command that resamples ``src`` to ``enc.fps`` and scales it to cover
    ``enc.width x enc.height`` (aspect kept, centre crop) as H.264 into ``dst``."""
    w, h = enc.width, enc.height
    vf = (f"fps={enc.fps},scale={w}:{h}:force_original_aspect_ratio=increase"
          f":out_color_matrix=bt709:out_range=tv,crop={w}:{h},setsar=1,format=yuv420p")
    return [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-threads", "1",
            "-i", str(src), "-filter_threads", "1", "-vf", vf, *_encoder_args(enc), str(dst)]


def encode_frames(ffmpeg: str, frames: np.ndarray, dst: Path, enc: EncodeConfig) -> None:
    """Encode RGB ``frames`` into ``dst`` with the clips' exact x264 settings (raises BuildError)."""
    n, h, w, _ = frames.shape
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo",
           "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(enc.fps), "-i", "-", "-threads", "1",
           "-vf", "scale=out_color_matrix=bt709:out_range=tv,setsar=1,format=yuv420p",
           *_encoder_args(enc), str(dst)]
    proc = subprocess.run(cmd, input=np.ascontiguousarray(frames).tobytes(), capture_output=True)
    if proc.returncode != 0:
        raise BuildError(f"ffmpeg failed encoding {dst.name}: {proc.stderr.decode(errors='replace')[-300:]}")


def first_frame(path: Path) -> np.ndarray:
    """Return the first frame of a video as RGB uint8 ``[H, W, 3]``."""
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return frame.to_ndarray(format="rgb24")
    raise BuildError(f"{path} has no frames")


@dataclass(frozen=True)
class _VideoJob:
    """Everything one worker needs to render the shots of a video and compose it."""

    plan: ControlledPlan
    out: Path
    photos_dir: Path
    cache: Path
    ffmpeg: str
    encode: EncodeConfig
    expected_frames: int
    clip_frames: tuple[tuple[str, int], ...]


def _compose_video(job: _VideoJob) -> str:
    """Render and encode the shots of one video, stream-copy it together, check its frame count."""
    dst = job.out / job.plan.path
    dst.parent.mkdir(parents=True, exist_ok=True)
    enc, frames_of = job.encode, dict(job.clip_frames)
    with tempfile.TemporaryDirectory(dir=job.out) as tmp:
        files: list[Path] = []
        for j, (kind, item, _) in enumerate(timeline(job.plan, frames_of)):
            if kind == "clip":
                files.append(job.cache / item)
                continue
            bg = first_frame(job.cache / job.plan.clips[min(item.gap, len(job.plan.clips) - 1)]) \
                if item.motion.pip_scale < 1.0 else None
            shot_path = Path(tmp) / f"shot{j}.mp4"
            encode_frames(job.ffmpeg, render_shot(job.photos_dir / item.photo.file, item, enc.width,
                                                  enc.height, bg), shot_path, enc)
            files.append(shot_path)
        concat = _Job(dst, tuple(concat_command(job.ffmpeg, _list_path(dst), _part(dst))),
                      job.plan.video_id, job.expected_frames, _concat_list(files))
        return _run_job(concat)


# --------------------------------------------------------------------------- build


def groups_json(photo_split: Mapping[str, Mapping[str, Sequence[Photo]]]) -> dict[str, Any]:
    """Return the class groups with their ImageNet members per split (written as groups.json)."""
    def members(group: str) -> dict[str, list[str]]:
        return {s: [f"{p.index}:{p.name}" for p in photo_split[s][group]] for s in SPLITS}

    return {"labelled": {g: members(g) for g in LABELLED_GROUPS},
            "distractor": {g: members(g) for g in DISTRACTOR_GROUPS}}


def _manifest(cfg: ControlledConfig) -> dict[str, Any]:
    keep = asdict(cfg)
    for k in ("out", "photos", "background", "workers"):
        keep.pop(k)
    return json.loads(json.dumps(keep))  # tuples -> lists, as a resumed build reads them back


def build(cfg: ControlledConfig, console: Console | None = None) -> dict[str, Any]:
    """Build (or resume) the benchmark described by ``cfg``; return a report of counts and seconds."""
    console = console or Console(stderr=True)
    t0 = time.perf_counter()
    out = Path(cfg.out)
    photos = read_photos(cfg.photos)
    photo_split = split_photos(photos, cfg.seed, cfg.val_photo_fraction)
    clips = [c for c in discover_clips(cfg.background) if c.label == NOFIGHT]
    train_pool, val_pool = split_clips_by_source(clips, cfg.seed, cfg.val_clip_fraction)
    _check_manifest(out, _manifest(cfg))
    _remove_stale_parts(out)
    ffmpeg, enc, cache = ffmpeg_exe(), cfg.encode, out / CLIP_CACHE

    used = sorted(c.src for c in train_pool + val_pool)
    norm_jobs = [_Job(cache / c, tuple(normalise_command(ffmpeg, Path(cfg.background) / c, _part(cache / c), enc)), c)
                 for c in used if not (cache / c).exists()]
    t_norm = time.perf_counter()
    _run_jobs(norm_jobs, cfg.workers, "normalise background clips", console)
    t_norm = time.perf_counter() - t_norm
    clip_frames = {c: count_frames(cache / c) for c in used}
    pools = {"train": [c.src for c in train_pool], "val": [c.src for c in val_pool]}
    plans = plan_videos(cfg, photo_split, pools, clip_frames)
    spans = {p.video_id: compose_spans(p, clip_frames, enc.fps) for p in plans}

    probe = cache / "_probe_shot.mp4"
    if not probe.exists():
        encode_frames(ffmpeg, np.zeros((2, enc.height, enc.width, 3), np.uint8), probe, enc)
    if len({_extradata(cache / c) for c in used} | {_extradata(probe)}) != 1:
        raise BuildError(f"cached clips in {cache} and encoded shots have differing H.264 headers; delete the cache")

    frames_tuple = tuple(sorted(clip_frames.items()))
    jobs = [_VideoJob(p, out, Path(cfg.photos), cache, ffmpeg, enc, spans[p.video_id]["num_frames"], frames_tuple)
            for p in plans if not (out / p.path).exists()]
    console.print(f"{len(used)} background clips ({len(pools['train'])} train / {len(pools['val'])} val), "
                  f"{len(plans)} videos planned (seed {cfg.seed}), {len(jobs)} to write")
    t_comp = time.perf_counter()
    _run_jobs(jobs, cfg.workers, "compose videos", console, run=_compose_video)
    t_comp = time.perf_counter() - t_comp

    _atomic_write(out / "annotations.csv", annotations_csv(plans))
    _atomic_write(out / "spans.json", json.dumps(spans, indent=1) + "\n")
    _atomic_write(out / "groups.json", json.dumps(groups_json(photo_split), indent=1) + "\n")
    size = sum((out / p.path).stat().st_size for p in plans)
    return {"videos": len(plans), "written": len(jobs), "clips_normalised": len(norm_jobs),
            "bytes": size, "seconds_normalise": t_norm, "seconds_compose": t_comp,
            "seconds_total": time.perf_counter() - t0}


def parse_grid(text: str) -> tuple[tuple[float, int], ...]:
    """Return the cells of a ``'0.02,0.05 x 0,2'`` grid: every (event fraction, distractors) pair."""
    try:
        fracs, counts = text.lower().split("x")
        return tuple((float(f), int(c)) for f in fracs.split(",") for c in counts.split(","))
    except ValueError:
        raise PlanError(f"bad --grid {text!r}; expected e.g. '0.02,0.05,0.1 x 0,2,4'") from None


def main(
    out: Annotated[Path, typer.Option(help="output directory (outside the repo)")],
    seed: Annotated[int, typer.Option(help="seed of the splits and the composition")] = 0,
    photos: Annotated[Path, typer.Option(help="imagenet-samples folder")] = SHARED / "imagenet-samples",
    background: Annotated[Path, typer.Option(help="fight-surv folder (noFight clips + videos.txt)")] = SHARED / "fight-surv",
    train_videos: Annotated[int, typer.Option(help="number of train videos")] = 1000,
    val_videos: Annotated[int, typer.Option(help="number of val videos")] = 1500,
    min_seconds: Annotated[float, typer.Option(help="shortest video (s)")] = 16.0,
    max_seconds: Annotated[float, typer.Option(help="longest video (s)")] = 40.0,
    event_frac: Annotated[float, typer.Option(help="share of the frames the event covers")] = 0.05,
    distractors: Annotated[int, typer.Option(help="shots of unlabelled photos per video")] = 2,
    confusers: Annotated[int, typer.Option(help="shots of other labelled classes per video")] = 0,
    grid: Annotated[str, typer.Option(help="difficulty grid 'FRACS x COUNTS', e.g. '0.02,0.05,0.1 x 0,2,4': each "
                                      "video draws one (event-frac, distractors) cell (overrides both)")] = "",
    pip: Annotated[bool, typer.Option(help="show photos picture-in-picture (1/4-1/2 of the frame)")] = False,
    workers: Annotated[int, typer.Option(help="parallel worker processes")] = 2,
) -> None:
    """Build the controlled benchmark into OUT and print the time it took."""
    cfg = ControlledConfig(out=out, photos=photos, background=background, seed=seed, n_train=train_videos,
                           n_val=val_videos, min_seconds=min_seconds, max_seconds=max_seconds,
                           event_frac=event_frac, distractors=distractors, confusers=confusers, pip=pip,
                           workers=workers, cells=parse_grid(grid) if grid else None)
    console = Console(stderr=True)
    try:
        report = build(cfg, console)
    except (PlanError, BuildError) as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(code=2) from None
    console.print(f"{report['videos']} videos ({report['written']} written, {report['bytes'] / 2**20:.1f} MiB); "
                  f"normalise {report['seconds_normalise']:.1f} s, compose {report['seconds_compose']:.1f} s, "
                  f"total {report['seconds_total']:.1f} s", soft_wrap=True)


if __name__ == "__main__":
    typer.run(main)
