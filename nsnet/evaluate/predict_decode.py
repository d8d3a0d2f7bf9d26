"""Decoding for `nsnet predict`: the T pre-sampled frames of a video file (the store's sampling rule),
at the same shorter side as extraction, in DataLoader workers."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from nsnet.extract.frames import plan_frame_indices
from nsnet.extract.transforms import FrameTransform
from nsnet.extract.video import VideoReadError, probe_video, read_frames


@dataclass
class Decoded:
    """One decoded video (produced in a DataLoader worker)."""

    path: str
    planned: np.ndarray  # [T] frame numbers of the T pre-sampled frames
    fps: float
    size: tuple[int, int] = (0, 0)  # video width, height
    frames: torch.Tensor | None = None  # uint8 [n, H, W, 3] for the positions kept
    light: torch.Tensor | None = None  # light-transformed [T, 3, s, s]
    rec: torch.Tensor | None = None  # recognizer-transformed frames
    positions: np.ndarray | None = None  # positions (among T) of ``rec`` when decoded up front
    decode_s: float = 0.0
    error: str | None = None


class DecodeDataset(Dataset):
    """Decodes what a method needs from each video: all T frames for a sampler network (kept, with
    their light-transformed copy), or only the ``positions`` fixed up front (rule-based methods).
    Returns a :class:`Decoded` per video."""

    def __init__(self, paths: list[str], T: int, positions: np.ndarray | None, light: FrameTransform,
                 rec: FrameTransform, short_side: int) -> None:
        self.paths, self.T, self.fixed = paths, T, positions
        self.light_tf, self.rec_tf, self.short_side = light, rec, short_side

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Decoded:
        path = self.paths[i]
        start = time.perf_counter()
        try:
            info = probe_video(path)
            planned = plan_frame_indices(info.num_frames, self.T)
            item = Decoded(path=path, planned=planned, fps=info.fps, size=(info.width, info.height))
            if self.fixed is not None:
                item.positions = np.asarray(self.fixed, dtype=np.int64)
                frames = torch.from_numpy(read_frames(path, planned[item.positions], self.short_side, info))
                item.rec = self.rec_tf(frames)
            else:
                frames = torch.from_numpy(read_frames(path, planned, self.short_side, info))
                item.frames = frames
                item.light = self.light_tf(frames)
        except VideoReadError as err:  # decoder failures only: anything else is a bug and fails loudly
            return Decoded(path=path, planned=np.zeros(0, np.int64), fps=0.0, error=str(err))
        item.decode_s = time.perf_counter() - start
        return item


def identity(item: Decoded) -> Decoded:
    """Returns ``item`` (the DataLoader collate function: one video per item)."""
    return item
