"""Where models run: one rule for ``--device`` shared by every stage (no timm, no torchvision)."""

from __future__ import annotations

import torch

from nsnet.errors import ConfigError

__all__ = ["DeviceError", "resolve_device"]


class DeviceError(ConfigError):
    """Unknown or unavailable device (one-line message)."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Returns the torch device: "auto" -> cuda if available else cpu; others are checked."""
    if isinstance(device, torch.device):
        resolved = device
    elif device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            resolved = torch.device(device)
        except (RuntimeError, TypeError):
            raise DeviceError(f"unknown device {device!r}; use auto, cpu or cuda[:N]") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {device!s} requested but CUDA is not available; use --device cpu or auto")
    return resolved
