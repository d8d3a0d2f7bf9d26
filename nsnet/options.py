"""Choices shared by several commands' options."""

from __future__ import annotations

from enum import Enum


class Device(str, Enum):
    """Where models run: ``auto`` = CUDA when present, else CPU."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"
