"""`nsnet extract --map-stride`: the light map at an earlier stage (AdaFocus's policy input)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import SIZE, SMALL_CLI, T
from nsnet.cli import app
from nsnet.errors import ConfigError
from nsnet.evaluate.config import EvaluateConfig
from nsnet.evaluate.run import evaluate
from nsnet.extract.fit_recognizer import FitRecognizerConfig, fit_recognizer
from nsnet.extract.inference import eager
from nsnet.extract.map_layers import MapStrideError, available_strides, stage_index
from nsnet.extract.models import create_frame_model, run_model
from nsnet.extract.patches import PatchGrid, feature_map_shape, feature_maps
from nsnet.sampler.config import sampler_config
from nsnet.sampler.train import fit_sampler
from nsnet.store import FeatureStore
from nsnet.store import schema as S
from utils import assert_one_line_error

runner = CliRunner()
G, P = 2, 32
CLI = [*SMALL_CLI, "--patches", str(G), "--patch-size", str(P)]


@pytest.fixture(scope="module")
def light() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_frame_model("mobilenetv2_100", "none", input_size=SIZE, resize_short=SIZE)


def _stage_by_hand(backbone: torch.nn.Module, x: torch.Tensor, blocks: int) -> torch.Tensor:
    """MobileNetV2 run block by block up to ``blocks`` (timm's stride-16 stage is blocks.4)."""
    h = backbone.bn1(backbone.conv_stem(x))
    for block in backbone.blocks[:blocks]:
        h = block(h)
    return h


def test_the_stride_16_map_is_the_stage_at_stride_16_and_the_pooled_features_do_not_change(light) -> None:
    x = torch.randn(5, 3, SIZE, SIZE)
    maps, pooled = feature_maps(light, x, batch_size=2, map_stride=16)
    feats, _ = run_model(light, x, batch_size=2)
    assert maps.shape == (5, 96, SIZE // 16, SIZE // 16) and feature_map_shape(light, 16) == (96, 4, 4)
    np.testing.assert_array_equal(pooled, feats)  # every other sampler's features stay as they are
    with torch.no_grad():
        by_hand = _stage_by_hand(light.backbone.eval(), x, 5).numpy()
    scale = np.abs(by_hand).max()
    np.testing.assert_allclose(maps, by_hand, atol=1e-4 * scale)  # the frozen trace
    with eager():
        eager_maps, eager_pooled = feature_maps(light, x, batch_size=2, map_stride=16)
    np.testing.assert_allclose(eager_maps, by_hand, atol=1e-5 * scale)
    np.testing.assert_allclose(eager_pooled, feats, rtol=1e-4, atol=1e-5)
    stage32, _ = feature_maps(light, x, batch_size=2, map_stride=32)  # the last stage, before the head conv
    with torch.no_grad():
        np.testing.assert_allclose(stage32, _stage_by_hand(light.backbone, x, 7).numpy(), atol=1e-4 * scale)


def test_a_stride_the_extractor_lacks_is_one_line(light, tmp_path: Path) -> None:
    assert available_strides(light.backbone) == [2, 4, 8, 16, 32] and stage_index(light.backbone, 16) == 3
    with pytest.raises(MapStrideError, match=r"--map-stride 12: the light extractor has feature maps at strides "
                                             r"2, 4, 8, 16, 32"):
        feature_maps(light, torch.zeros(1, 3, SIZE, SIZE), batch_size=1, map_stride=12)
    result = runner.invoke(app, ["extract", "x.csv", "--out", str(tmp_path / "s.zarr"), *SMALL_CLI,
                                 "--map-stride", "16"])
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "--map-stride needs --patches")


def test_extract_with_a_stride_the_extractor_lacks_is_one_line_and_writes_no_store(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.zarr"
    result = runner.invoke(app, ["extract", str(dataset), "--out", str(out), *CLI, "--map-stride", "12"])
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "--map-stride 12", "strides 2, 4, 8, 16, 32")
    assert not out.exists()


@pytest.fixture(scope="module")
def s16(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Returns {"store", "ada"}: `nsnet extract --patches 2 --patch-size 32 --map-stride 16` of the
    shared test videos (head fitted) and a tiny AdaFocus run (candidate policy) on it."""
    root = tmp_path_factory.mktemp("s16")
    store = root / "store.zarr"
    result = runner.invoke(app, ["extract", str(dataset), "--out", str(store), "--chunk-videos", "4", "--quiet",
                                 *CLI, "--map-stride", "16"])
    assert result.exit_code == 0, result.output
    fit_recognizer(store, FitRecognizerConfig(quiet=True))
    cfg = sampler_config(name="ada", variant="adafocus", seed=0, hidden=16, policy_hidden=16, policy_channels=4,
                         stage1_epochs=2, stage2_epochs=2, stage3_epochs=1, policy_input="candidates")
    return {"store": store, "ada": fit_sampler(store, root / "ada", cfg, progress=False)}


def test_the_store_keeps_the_stride_16_map_and_everything_else_as_before(s16, store_path: Path) -> None:
    store, plain = FeatureStore.open(s16["store"]), FeatureStore.open(store_path)
    assert store.read(S.LIGHT_MAPS).shape == (10, T, 96, 4, 4)
    assert store.patches == PatchGrid(G, P, SIZE, SIZE).to_attrs([96, 4, 4], 16)
    assert store.patches["map_stride"] == 16
    for name in S.PER_FRAME_ARRAYS + S.PER_VIDEO_ARRAYS:
        if name != S.REC_LOGITS:  # the fitted head writes logits; the plain store has none
            np.testing.assert_array_equal(store.read(name), plain.read(name), err_msg=name)
    table = runner.invoke(app, ["info", str(s16["store"])], env={"COLUMNS": "300"})
    assert "light map 96x4x4 (stride 16)" in table.stdout
    assert json.loads(runner.invoke(app, ["info", str(s16["store"]), "--json"]).stdout)["patches"]["map_stride"] == 16


def test_resuming_with_another_map_is_refused(s16, dataset: Path) -> None:
    result = runner.invoke(app, ["extract", str(dataset), "--out", str(s16["store"]), *CLI])
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, f"patches: store has G={G} P={P} map stride 16, asked G={G} P={P}")


def test_reload_equals_cached_on_a_stride_16_store(s16) -> None:
    """The reload path recomputes the stride-16 map from the decoded frames, so π picks the same patches."""
    results = {}
    for path in ("cached", "reload"):
        cfg = EvaluateConfig(store=s16["store"], runs=[s16["ada"]], budgets=[T], methods=["adafocus"], path=path,
                             workers=0, device="cpu", quiet=True)
        results[path] = evaluate(cfg.validate()).patches[("adafocus", T)]
    np.testing.assert_array_equal(results["reload"].choices, results["cached"].choices)
    np.testing.assert_allclose(results["reload"].probs, results["cached"].probs, atol=1e-4)


def test_config_refuses_a_map_stride_without_patches(tmp_path: Path) -> None:
    from conftest import small_config

    with pytest.raises(ConfigError, match="--map-stride needs --patches"):
        small_config(tmp_path / "a.csv", tmp_path / "s.zarr", map_stride=16).validate()
