"""Data for the `--plots` figures: saliency curves per class and chosen-frame strips.

Drawing lives in :mod:`nsnet.evaluate.plots`; this module gathers what is drawn from an
:class:`nsnet.evaluate.run.EvaluationResult` (its context keeps the store, samplers and runs).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from nsnet.evaluate.methods import build_sampler, method_spec
from nsnet.evaluate.plots import class_mean_curves, plot_frame_strips, plot_saliency, plot_tradeoff
from nsnet.extract.video import VideoReadError, read_frames
from nsnet.sampler.base import SamplerError, SamplerInputs
from nsnet.sampler.variants import variant_spec
from nsnet.store import schema as S

STRIP_SHORT_SIDE = 128


def guide_scores(ctx: Any) -> np.ndarray | None:
    """Returns the guiding score g [N, T] of the evaluated videos (oracle sampler on the store's
    recognizer outputs), or None when it cannot be computed (no logits / prototypes)."""
    cached = getattr(ctx, "_guide", "unset")
    if not isinstance(cached, str):
        return cached
    g = None
    try:
        oracle = build_sampler(method_spec("oracle"), ctx.runs, alpha=ctx.cfg.alpha, seed=ctx.cfg.seed,
                               multilabel=ctx.store.multilabel)
        needs = getattr(oracle, "requires", ())
        inputs = SamplerInputs(
            light=ctx.inputs.light, labels=ctx.labels,
            rec_logits=ctx.store.read(S.REC_LOGITS, ctx.rows).astype(np.float32) if ctx.store.has_logits else None,
            rec_features=ctx.store.read(S.REC_FEATURES, ctx.rows).astype(np.float32) if "rec_features" in needs else None,
        )
        g = np.asarray(oracle.scores(inputs), dtype=np.float64)
    except (SamplerError, ValueError):
        g = None
    ctx._guide = g
    return g


def saliency_figure(result: Any, path: Path) -> tuple[Path | None, str | None]:
    """Draws the per-class saliency curves (supp. Fig. 1); returns (PNG path or None, note or None)."""
    ctx = result.context
    scores: dict[str, np.ndarray] = {}
    for run in ctx.runs.values():
        hook = variant_spec(run.config.variant).curves
        if hook is not None and run.model is not None:
            scores.update(hook(run, ctx.inputs, ctx.cfg.alpha, str(ctx.device)))
    if not scores:
        return None, "saliency plot skipped: it needs a run whose variant draws saliency curves (NSNet, TSQNet)"
    g = guide_scores(ctx)
    if g is not None:
        scores["guide (g)"] = g
    curves = class_mean_curves(scores, ctx.labels)
    order = sorted(curves, key=lambda c: -int((ctx.labels[:, c] > 0).sum()))
    curves = {c: curves[c] for c in order}
    note = None if g is not None else "saliency plot drawn without the guiding score (no prototypes / logits)"
    return plot_saliency(curves, ctx.store.class_names, path), note


def _strip_videos(labels: np.ndarray, count: int) -> list[int]:
    """Returns up to ``count`` video positions, one per class first (first video of each)."""
    chosen: list[int] = []
    for c in range(labels.shape[1]):
        members = np.nonzero(labels[:, c] > 0)[0]
        if members.size and int(members[0]) not in chosen:
            chosen.append(int(members[0]))
        if len(chosen) >= count:
            break
    for v in range(labels.shape[0]):
        if len(chosen) >= count:
            break
        if v not in chosen:
            chosen.append(v)
    return chosen[:count]


def _strip_names(ctx: Any, ids: np.ndarray, v: int) -> tuple[str, str]:
    """Returns (file-name-safe video id, its comma-separated class names) of video ``v``."""
    classes = ", ".join(ctx.store.class_names[c] for c in np.nonzero(ctx.labels[v] > 0)[0])
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(ids[v])), classes


def frame_strip_figures(result: Any, out_dir: Path) -> tuple[list[Path], str | None]:
    """Draws chosen-frame strips (Fig. 4) for a few videos; returns (PNG paths, note or None)."""
    ctx = result.context
    budgets = ctx.cfg.budgets or ctx.cfg.sweep
    k = int(budgets[0]) if ctx.cfg.budgets else int(sorted(budgets)[len(budgets) // 2])
    methods = [m for m in ctx.methods if not m.ignores_budget and not m.patch and (m.name, k) in result.selections]
    if not methods:
        return [], "frame strips skipped: no K-frame method was evaluated"
    paths = ctx.store.read(S.PATH, ctx.rows)
    fps = ctx.store.read(S.FPS, ctx.rows)
    frame_indices = ctx.store.read(S.FRAME_INDICES, ctx.rows).astype(np.int64)
    ids = ctx.store.read(S.VIDEO_ID, ctx.rows)
    g = guide_scores(ctx)
    files: list[Path] = []
    skipped = []
    for v in _strip_videos(ctx.labels, ctx.cfg.strip_videos):
        rows = {m.label: np.sort(result.selections[(m.name, k)][v]) for m in methods}
        numbers = np.unique(np.concatenate([frame_indices[v, p] for p in rows.values()]))
        try:
            decoded = read_frames(str(paths[v]), numbers, STRIP_SHORT_SIDE)
        except VideoReadError as err:
            skipped.append(f"{ids[v]} ({err})")
            continue
        lookup = {int(n): decoded[i] for i, n in enumerate(numbers)}
        top = set(np.argsort(-g[v], kind="stable")[:k].tolist()) if g is not None else None
        frames = {label: [lookup[int(frame_indices[v, p])] for p in pos] for label, pos in rows.items()}
        rate = float(fps[v]) or 1.0
        captions = {label: [f"#{int(frame_indices[v, p])} {frame_indices[v, p] / rate:.1f}s" for p in pos]
                    for label, pos in rows.items()}
        outline = None if top is None else {label: [int(p) in top for p in pos] for label, pos in rows.items()}
        name, classes = _strip_names(ctx, ids, v)
        files.append(plot_frame_strips(frames, captions, out_dir / f"frames_{name}.png", outline,
                                       title=f"{ids[v]} ({classes}), K={k}"))
    note = f"frame strips skipped for {', '.join(skipped)}" if skipped else None
    return files, note


PATCH_STRIP_FRAMES = 8  # frames drawn per patch-method row (evenly spaced over the K looked at)
BOX_COLOUR = np.array([255, 40, 40], dtype=np.uint8)


def draw_box(frame: np.ndarray, box: tuple[float, float, float, float], width: int = 2) -> np.ndarray:
    """Returns a copy of the uint8 [H, W, 3] ``frame`` with the (x0, y0, x1, y1) box outlined."""
    out = frame.copy()
    h, w = out.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, x1 = max(0, min(x0, w - 1)), max(0, min(x1 - 1, w - 1))
    y0, y1 = max(0, min(y0, h - 1)), max(0, min(y1 - 1, h - 1))
    out[y0:y0 + width, x0:x1 + 1] = BOX_COLOUR
    out[max(y1 - width + 1, 0):y1 + 1, x0:x1 + 1] = BOX_COLOUR
    out[y0:y1 + 1, x0:x0 + width] = BOX_COLOUR
    out[y0:y1 + 1, max(x1 - width + 1, 0):x1 + 1] = BOX_COLOUR
    return out


def patch_strip_figures(result: Any, out_dir: Path) -> tuple[list[Path], str | None]:
    """Draws, for a few videos, the frames a patch method (AdaFocus family) looked at with its
    chosen patch outlined (skipped frames of AdaFocus+ without a box); returns (PNG paths, note)."""
    from nsnet.extract.patches import box_in_video
    from nsnet.extract.transforms import FrameTransform, decode_short_side
    from nsnet.extract.video import probe_video

    ctx = result.context
    if not result.patches or ctx.grid is None:
        return [], None
    boxes = ctx.grid.boxes()
    budgets = ctx.cfg.budgets or ctx.cfg.sweep
    strip_k = int(budgets[0]) if ctx.cfg.budgets else int(sorted(budgets)[len(budgets) // 2])
    rec_spec = ctx.store.recognizer_spec
    short = decode_short_side(FrameTransform.from_spec(ctx.store.extractor_spec), FrameTransform.from_spec(rec_spec))
    paths = ctx.store.read(S.PATH, ctx.rows)
    frame_indices = ctx.store.read(S.FRAME_INDICES, ctx.rows).astype(np.int64)
    ids = ctx.store.read(S.VIDEO_ID, ctx.rows)
    files: list[Path] = []
    skipped = []
    for v in _strip_videos(ctx.labels, ctx.cfg.strip_videos):
        try:
            info = probe_video(str(paths[v]))
            rows: dict[str, tuple[np.ndarray, Any]] = {}
            for (name, k), score in result.patches.items():
                if k not in (strip_k, ctx.T):  # one budget per method, as in the frame strips
                    continue
                pos = score.positions[v]
                keep = np.linspace(0, pos.size - 1, min(PATCH_STRIP_FRAMES, pos.size)).round().astype(int)
                rows[f"{name} (K={k})"] = (keep, score)
            numbers = np.unique(np.concatenate([frame_indices[v, s.positions[v][j]] for j, s in rows.values()]))
            decoded = read_frames(str(paths[v]), numbers, STRIP_SHORT_SIDE)
        except VideoReadError as err:
            skipped.append(f"{ids[v]} ({err})")
            continue
        scale_x, scale_y = decoded.shape[2] / info.width, decoded.shape[1] / info.height
        lookup = {int(n): decoded[i] for i, n in enumerate(numbers)}
        frames: dict[str, list[np.ndarray]] = {}
        captions: dict[str, list[str]] = {}
        for label, (cols, score) in rows.items():
            frames[label], captions[label] = [], []
            for j in cols:
                p = int(score.positions[v, j])
                img = lookup[int(frame_indices[v, p])]
                if score.keep[v, j]:
                    x0, y0, x1, y1 = box_in_video(boxes[score.choices[v, j]], info.width, info.height, rec_spec,
                                                  decode_short=short)
                    img = draw_box(img, (x0 * scale_x, y0 * scale_y, x1 * scale_x, y1 * scale_y))
                frames[label].append(img)
                captions[label].append(f"#{int(frame_indices[v, p])} " + (f"p{int(score.choices[v, j])}"
                                                                          if score.keep[v, j] else "skip"))
        name, classes = _strip_names(ctx, ids, v)
        files.append(plot_frame_strips(frames, captions, out_dir / f"patches_{name}.png", None,
                                       title=f"{ids[v]} ({classes}): chosen patches"))
    note = f"patch strips skipped for {', '.join(skipped)}" if skipped else None
    return files, note


def draw_figures(result: Any, out_dir: str | Path, sweep: bool, plots: bool) -> tuple[list[Path], list[str]]:
    """Draws the asked-for figures of an EvaluationResult; returns (PNG paths, notes)."""
    out = Path(out_dir)
    files: list[Path] = []
    notes: list[str] = []
    if sweep:
        meta = result.meta
        files.append(plot_tradeoff(result.rows, out / "tradeoff.png",
                                   title=f"mAP vs GFLOPs ({meta['split']}, {meta['videos']} videos, T={meta['T']})"))
    if plots:
        path, note = saliency_figure(result, out / "saliency.png")
        files.extend([path] if path else [])
        notes.extend([note] if note else [])
        strips, note = frame_strip_figures(result, out)
        files.extend(strips)
        notes.extend([note] if note else [])
        strips, note = patch_strip_figures(result, out)
        files.extend(strips)
        notes.extend([note] if note else [])
    return files, notes
