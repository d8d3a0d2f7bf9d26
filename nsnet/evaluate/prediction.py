"""What `nsnet predict` returns: the top classes of a video and the frames (and patches) it looked at."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np


@dataclass
class FrameChoice:
    """One chosen frame: its position among the T, its frame number in the file and its time; for
    patch methods (AdaFocus) also the chosen candidate ``patch`` and its ``box`` (x0, y0, x1, y1)
    in pixels of the video frame (None when AdaFocus+ skipped the local CNN on this frame)."""

    position: int
    frame: int
    time_s: float
    patch: int | None = None
    box: tuple[float, float, float, float] | None = None


@dataclass
class Prediction:
    """The top classes of one video and the frames the recognizer saw."""

    video: str
    method: str
    T: int
    K: int
    top: list[dict[str, Any]]
    frames: list[FrameChoice]
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Returns the prediction as a JSON-able dict."""
        return asdict(self)


def make_prediction(video: str, method: str, T: int, probs: np.ndarray, class_names: Sequence[str], top: int,
                    frames: list[FrameChoice], seconds: dict[str, float]) -> Prediction:
    """Returns the Prediction of one video from its class probabilities ``probs`` [C] (the ``top``
    classes, best first, ties in class order) and the frames it looked at (sorted by frame number)."""
    order = np.argsort(-probs, kind="stable")[: max(1, min(top, probs.size))]
    return Prediction(video=video, method=method, T=T, K=len(frames),
                      top=[{"class": class_names[c], "score": float(probs[c])} for c in order],
                      frames=sorted(frames, key=lambda f: f.frame), seconds=seconds)


def frame_choice(position: int, planned: np.ndarray, fps: float, **patch: Any) -> FrameChoice:
    """Returns the FrameChoice of ``position`` among the T planned frame numbers of a video at ``fps``."""
    rate = fps if fps > 0 else 1.0
    return FrameChoice(int(position), int(planned[position]), round(float(planned[position]) / rate, 3), **patch)
