"""Figures of `nsnet evaluate` (matplotlib, Agg canvas, PNG files).

* :func:`plot_tradeoff` -- mAP vs GFLOPs per video, one curve per method over K (paper Fig. 3).
* :func:`plot_saliency` -- per class, the mean saliency over time of NSNet, FSM and VGM with the
  guiding score g as reference (supp. Fig. 1; curves normalised to sum to 1 over the T frames and
  smoothed by an exponential moving average of weight 0.8, as in the paper).
* :func:`plot_frame_strips` -- the chosen frames of a few videos, one row per method, outlined in
  aqua when the frame is among the top-K by guiding score and red otherwise (paper Fig. 4).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from nsnet.evaluate.run import EvalRow

EMA_WEIGHT = 0.8


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path


def plot_tradeoff(rows: Sequence[EvalRow], path: str | Path, title: str = "") -> Path:
    """Draws mAP (%) vs GFLOPs per video, one line per method over its budgets; returns the PNG path."""
    by_method: dict[str, list[EvalRow]] = defaultdict(list)
    for r in rows:
        by_method[r.label].append(r)
    fig = Figure(figsize=(7, 5))
    ax = fig.add_subplot(1, 1, 1)
    for label, items in by_method.items():
        items = sorted(items, key=lambda r: (r.gflops, r.K))
        x = [r.gflops for r in items]
        y = [100 * r.mAP for r in items]
        if len(items) == 1:
            ax.scatter(x, y, marker="*", s=120, label=f"{label} (K={items[0].K})", zorder=3)
        else:
            ax.plot(x, y, marker="o", label=label)
            ends = (items[0], items[-1]) if items[0].gflops != items[-1].gflops else (items[-1],)
            for r in ends:
                ax.annotate(f"K={r.K}", (r.gflops, 100 * r.mAP), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("GFLOPs per video")
    ax.set_ylabel("mAP (%)")
    ax.set_title(title or "mAP vs GFLOPs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def ema(values: np.ndarray, weight: float = EMA_WEIGHT) -> np.ndarray:
    """Returns the exponential moving average of a 1-D series: s_t = w*s_{t-1} + (1-w)*x_t, s_0 = x_0."""
    out = np.empty(len(values), dtype=np.float64)
    acc = float(values[0]) if len(values) else 0.0
    for i, v in enumerate(values):
        acc = weight * acc + (1.0 - weight) * float(v) if i else float(v)
        out[i] = acc
    return out


def class_mean_curves(scores: Mapping[str, np.ndarray], labels: np.ndarray) -> dict[int, dict[str, np.ndarray]]:
    """Returns {class: {name: [T] mean curve}}: each video's [T] scores normalised to sum 1,
    averaged over the videos positive for the class (classes without videos are left out)."""
    out: dict[int, dict[str, np.ndarray]] = {}
    for c in range(labels.shape[1]):
        members = labels[:, c] > 0
        if not members.any():
            continue
        out[c] = {}
        for name, s in scores.items():
            s = np.asarray(s, dtype=np.float64)[members]
            s = s - s.min(axis=1, keepdims=True) if name == "guide (g)" and (s < 0).any() else s
            norm = s / np.clip(s.sum(axis=1, keepdims=True), 1e-12, None)
            out[c][name] = norm.mean(axis=0)
    return out


def plot_saliency(curves: Mapping[int, Mapping[str, np.ndarray]], class_names: Sequence[str], path: str | Path,
                  max_classes: int = 6, smooth: float = EMA_WEIGHT) -> Path:
    """Draws one panel per class (at most ``max_classes``) of mean saliency over time; returns the PNG path."""
    classes = list(curves)[:max_classes]
    if not classes:
        raise ValueError("no class has a video to draw")
    cols = min(3, len(classes))
    rows = (len(classes) + cols - 1) // cols
    fig = Figure(figsize=(4.2 * cols, 3.0 * rows))
    for i, c in enumerate(classes):
        ax = fig.add_subplot(rows, cols, i + 1)
        for name, curve in curves[c].items():
            y = ema(curve, smooth) if smooth else curve
            style = {"color": "black", "linestyle": "--"} if name.startswith("guide") else {}
            ax.plot(np.arange(len(y)), y, label=name, **style)
        ax.set_title(str(class_names[c]), fontsize=9)
        ax.set_xlabel("frame (of T)", fontsize=8)
        ax.set_ylabel("saliency", fontsize=8)
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.legend(fontsize=7)
    fig.suptitle(f"mean saliency per class (EMA {smooth})" if smooth else "mean saliency per class", fontsize=10)
    return _save(fig, path)


def plot_frame_strips(frames: Mapping[str, Sequence[np.ndarray]], captions: Mapping[str, Sequence[str]],
                      path: str | Path, outline: Mapping[str, Sequence[bool | None]] | None = None,
                      title: str = "") -> Path:
    """Draws one row per method of its chosen frames (uint8 [H, W, 3] each); returns the PNG path.

    ``captions`` label each tile (e.g. timestamps); ``outline`` marks tiles aqua (True), red
    (False) or leaves them plain (None).
    """
    methods = list(frames)
    if not methods:
        raise ValueError("no frames to draw")
    cols = max(len(v) for v in frames.values())
    first = next(f for v in frames.values() for f in v)
    tile_w = 1.6
    tile_h = tile_w * first.shape[0] / max(1, first.shape[1]) + 0.3  # room for the caption
    fig = Figure(figsize=(tile_w * cols + 1.0, tile_h * len(methods) + 0.5))
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.02, top=0.94 if title else 0.99, wspace=0.05, hspace=0.35)
    axes = fig.subplots(len(methods), cols, squeeze=False)  # a fixed grid: no layout engine over 70 tiles
    for r, method in enumerate(methods):
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(frames[method]):
                ax.axis("off")
                continue
            ax.imshow(frames[method][c])
            ax.set_xlabel(captions[method][c], fontsize=6)
            mark = None if outline is None else outline[method][c]
            for spine in ax.spines.values():
                spine.set_linewidth(3 if mark is not None else 0.5)
                spine.set_edgecolor({True: "aqua", False: "red"}.get(mark, "grey"))
            if c == 0:
                ax.set_ylabel(method, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return _save(fig, path)
