"""FrameModel creation: shapes, dataset heads, specs, hub failure without network."""

from __future__ import annotations

import dataclasses
import json
import socket

import pytest
import torch

import nsnet._compat
from nsnet.extract import models as models_mod
from nsnet.device import DeviceError, resolve_device
from nsnet.extract.models import FrameModel, ModelError, create_frame_model
from nsnet.extract.weights import WeightsError

timm = nsnet._compat.import_timm()


@pytest.fixture(scope="module")
def random_model() -> FrameModel:
    torch.manual_seed(0)
    return create_frame_model("mobilenetv2_100", "none")


@pytest.mark.parametrize(("size", "resize_short"), [(112, 112), (224, None)])
def test_features_shape(size: int, resize_short: int | None) -> None:
    model = create_frame_model("mobilenetv2_100", "none", input_size=size, resize_short=resize_short)
    assert model.spec.input_size == size
    assert model.spec.resize_short == (resize_short or 256)
    assert model.spec.feature_dim == 1280 and model.spec.num_classes == 0
    assert model.spec.weights == "none" and model.spec.weights_sha256 is None
    assert not model.training
    with torch.inference_mode():
        features, logits = model(torch.randn(2, 3, size, size))
    assert features.shape == (2, 1280) and features.dtype == torch.float32
    assert logits is None


def test_spec_defaults_from_timm_cfg_and_json() -> None:
    model = create_frame_model("tf_efficientnet_lite2", "none")
    spec = model.spec
    # timm's crop_pct for lite2 is 0.89 (TF's 260 / (260 + 32)), so 260 / 0.89 -> 292
    assert (spec.input_size, spec.resize_short) == (260, 292)
    assert spec.mean == (0.5, 0.5, 0.5) and spec.std == (0.5, 0.5, 0.5)
    assert spec.interpolation == "bicubic"
    decoded = json.loads(json.dumps(dataclasses.asdict(spec)))
    assert decoded["name"] == "tf_efficientnet_lite2" and decoded["mean"] == [0.5, 0.5, 0.5]


def test_model_is_channels_last(random_model: FrameModel) -> None:
    weight = random_model.backbone.conv_stem.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.slow
def test_checkpoint_with_dataset_head(tmp_path) -> None:
    torch.manual_seed(1)
    recognizer = timm.create_model("mobilenetv2_100", pretrained=False, num_classes=5).eval()
    path = tmp_path / "recognizer.pth"
    torch.save({"state_dict": recognizer.state_dict(), "epoch": 7}, path)

    model = create_frame_model("mobilenetv2_100", "none", checkpoint=path, input_size=112)
    assert model.spec.num_classes == 5 and model.spec.weights == f"file:{path.resolve()}"
    x = torch.randn(3, 3, 112, 112)
    with torch.inference_mode():
        features, logits = model(x)
        expected = recognizer(x)
    assert features.shape == (3, 1280) and logits.shape == (3, 5)
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)

    # A FrameModel's own state dict (backbone./head.) works as a checkpoint too.
    own = tmp_path / "frame_model.pth"
    torch.save(model.state_dict(), own)
    again = create_frame_model("mobilenetv2_100", "none", checkpoint=own, input_size=112)
    with torch.inference_mode():
        torch.testing.assert_close(again(x)[1], logits)


@pytest.mark.slow
def test_checkpoint_without_head_and_mismatched_checkpoint(tmp_path) -> None:
    backbone = timm.create_model("mobilenetv2_100", pretrained=False, num_classes=0)
    path = tmp_path / "backbone.pth"
    torch.save(backbone.state_dict(), path)
    model = create_frame_model("mobilenetv2_100", "none", checkpoint=path)
    assert model.head is None and model.spec.num_classes == 0

    with pytest.raises(WeightsError, match="do not match"):
        create_frame_model("tf_efficientnet_lite0", "none", checkpoint=path)


def test_with_head(random_model: FrameModel) -> None:
    head = torch.nn.Linear(1280, 7)
    with_head = random_model.with_head(head)
    assert with_head.spec.num_classes == 7 and random_model.spec.num_classes == 0
    assert with_head.backbone is random_model.backbone and random_model.head is None
    x = torch.randn(2, 3, 112, 112)
    with torch.inference_mode():
        features, logits = with_head(x)
        expected = head(features)
    assert logits.shape == (2, 7)
    torch.testing.assert_close(logits, expected)
    with pytest.raises(ModelError, match="in_features=1280"):
        random_model.with_head(torch.nn.Linear(512, 7))


def test_bad_inputs_raise_clear_errors(random_model: FrameModel, tmp_path) -> None:
    with pytest.raises(ModelError, match="unknown timm model"):
        create_frame_model("no_such_model_xyz", "none")
    with pytest.raises(ModelError, match="resize_short"):
        create_frame_model("mobilenetv2_100", "none", input_size=224, resize_short=200)
    with pytest.raises(WeightsError, match="hub, package, none or an existing file"):
        create_frame_model("mobilenetv2_100", str(tmp_path / "nope.pth"))
    with pytest.raises(ModelError, match=r"\[B, 3, H, W\]"):
        random_model(torch.randn(3, 112, 112))


def test_hub_without_network_names_offline_choice(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    def no_network(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known (network disabled by test)")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # empty caches: nothing to fall back on
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    offline_before = constants.HF_HUB_OFFLINE
    with pytest.raises(WeightsError, match="--weights package") as info:
        create_frame_model("mobilenetv2_100", "hub")
    assert "no network" in str(info.value) and "\n" not in str(info.value)
    assert constants.HF_HUB_OFFLINE == offline_before  # the cache-only switch is undone


def test_hub_network_error_during_download_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_create_model(*args, **kwargs):
        try:
            raise ConnectionResetError("connection reset by peer")
        except ConnectionResetError as err:
            raise RuntimeError("download failed") from err

    monkeypatch.setattr(models_mod, "_hub_reachable", lambda timeout=0: True)
    monkeypatch.setattr(timm, "create_model", failing_create_model)
    with pytest.raises(WeightsError, match="no network.*--weights package"):
        create_frame_model("mobilenetv2_100", "hub")


def test_resolve_device() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("toaster")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA is not available"):
            resolve_device("cuda")
