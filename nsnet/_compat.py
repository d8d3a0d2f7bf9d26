"""Import-time compatibility fixes. Import ``nsnet._compat`` (or use :func:`import_timm`)
before anything imports ``timm`` or ``torchvision``.

Why this exists: PyPI's torchvision wheels are built against CUDA torch. Next to the CPU build of
torch, ``import torchvision`` fails while registering fake kernels for its C++ detection ops
(``RuntimeError: operator torchvision::nms does not exist``) because the compiled extension that
would have defined those op schemas did not load. ``timm`` imports torchvision, so without a fix
``import timm`` fails too. timm's classifiers never call the detection ops, so we define the
missing schemas ourselves (schemas only, no kernels) and retry the import. Calling one of those
ops afterwards raises a clear "no kernel" error instead of silently doing something wrong.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import torch

# Schemas as torchvision declares them in torchvision/csrc/ops/*.cpp.
_TORCHVISION_OP_SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
}
_library_handles: list[torch.library.Library] = []
_patched = False


def _define_missing_torchvision_ops() -> None:
    """Defines schemas for torchvision ops that are missing from the dispatcher."""
    global _patched
    if _patched:
        return
    lib = torch.library.Library("torchvision", "FRAGMENT")
    for name, schema in _TORCHVISION_OP_SCHEMAS.items():
        try:
            torch._C._dispatch_find_schema_or_throw(f"torchvision::{name}", "")
        except RuntimeError:
            lib.define(schema)
    _library_handles.append(lib)  # keep the registration alive for the process lifetime
    _patched = True


def ensure_torchvision_importable() -> bool:
    """Imports torchvision, patching the missing op schemas if needed.

    Returns True when torchvision imported (patched or not), False when it is not installed.
    """
    try:
        importlib.import_module("torchvision")
        return True
    except ModuleNotFoundError:
        return False
    except RuntimeError as err:
        if "torchvision::" not in str(err):
            raise
    import sys

    for mod in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[mod]
    _define_missing_torchvision_ops()
    importlib.import_module("torchvision")
    return True


def import_timm() -> ModuleType:
    """Returns the ``timm`` module, imported after the torchvision fix above."""
    ensure_torchvision_importable()
    return importlib.import_module("timm")


ensure_torchvision_importable()
