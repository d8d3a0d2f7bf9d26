"""AdaFocus candidate patches: geometry, crops, cached features, and `nsnet extract --patches`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import SIZE, SMALL_CLI, T, add_rows, small_config
from nsnet.cli import app
from nsnet.errors import ConfigError, UserError
from nsnet.extract.models import create_frame_model, run_model
from nsnet.extract.patches import (
    PatchError,
    PatchGrid,
    box_in_video,
    feature_map_shape,
    feature_maps,
    patch_features,
)
from nsnet.extract.pipeline import VideoFrames, extract
from nsnet.extract.transforms import FrameTransform
from nsnet.extract.video import scaled_size
from nsnet.store import FeatureStore
from nsnet.store import schema as S
from utils import make_csv_dataset

runner = CliRunner()
G, P = 2, 32  # on the tests' 64 x 64 recognizer input


# ------------------------------------------------------------------------------------ geometry
def test_boxes_hand_values_square() -> None:
    boxes = PatchGrid(3, 96, 224, 224).boxes()
    xs = ys = [0, 64, 128]  # linspace(0, 224 - 96, 3)
    want = [[x, y, x + 96, y + 96] for y in ys for x in xs]  # row-major: index = row * 3 + col
    assert boxes.dtype == np.int64 and boxes.tolist() == want
    assert boxes[1].tolist() == [64, 0, 160, 96] and boxes[3].tolist() == [0, 64, 96, 160]


def test_boxes_hand_values_non_square_with_half_pixels() -> None:
    # x: linspace(0, 11 - 4, 3) = 0, 3.5, 7 -> 0, 4, 7 (half up); y: linspace(0, 8 - 4, 3) = 0, 2, 4
    boxes = PatchGrid(3, 4, 11, 8).boxes()
    want = [[x, y, x + 4, y + 4] for y in (0, 2, 4) for x in (0, 4, 7)]
    assert boxes.tolist() == want
    # portrait frame, 2 x 2: x 0 / 5, y 0 / 9
    assert PatchGrid(2, 3, 8, 12).boxes().tolist() == [[0, 0, 3, 3], [5, 0, 8, 3], [0, 9, 3, 12], [5, 9, 8, 12]]


@pytest.mark.parametrize(("grid", "patch", "width", "height"),
                         [(6, 96, 224, 224), (7, 128, 224, 224), (5, 17, 100, 60), (4, 30, 40, 90), (3, 60, 60, 60),
                          (2, 1, 5, 9)])
def test_boxes_cover_the_frame_border_to_border(grid: int, patch: int, width: int, height: int) -> None:
    g = PatchGrid(grid, patch, width, height)
    b = g.boxes()
    assert b.shape == (grid * grid, 4) and g.num_candidates == grid * grid
    assert ((b[:, 2] - b[:, 0]) == patch).all() and ((b[:, 3] - b[:, 1]) == patch).all()
    assert b[:, 0].min() == 0 and b[:, 1].min() == 0 and b[:, 2].max() == width and b[:, 3].max() == height
    assert (b[:, :2] >= 0).all() and (b[:, 2] <= width).all() and (b[:, 3] <= height).all()
    x0 = b[:grid, 0]  # first row: x increases with the column, y constant
    assert (np.diff(x0) >= 0).all() and (b[:grid, 1] == 0).all()
    assert (b[::grid, 0] == 0).all() and (np.diff(b[::grid, 1]) >= 0).all()  # first column: y increases


def test_single_candidate_is_centred() -> None:
    assert PatchGrid(1, 4, 10, 7).boxes().tolist() == [[3, 1, 7, 5]]
    assert PatchGrid(1, 224, 224, 224).boxes().tolist() == [[0, 0, 224, 224]]


def test_centre_index() -> None:
    assert PatchGrid(3, 96, 224, 224).centre_index() == 4
    assert PatchGrid(7, 128, 224, 224).centre_index() == 24
    assert PatchGrid(1, 4, 10, 7).centre_index() == 0
    # x/y starts 0, 2, 5, 7 (centres 1, 3, 6, 8 around 4.5): columns/rows 1 and 2 tie -> lowest index 1 * 4 + 1
    assert PatchGrid(4, 2, 9, 9).centre_index() == 5
    assert PatchGrid(2, 3, 10, 7).centre_index() == 0  # all four equally far


def test_crop_and_crop_all_equal_slicing() -> None:
    g = PatchGrid(3, 4, 11, 8)
    frames = torch.arange(2 * 3 * 8 * 11, dtype=torch.float32).reshape(2, 3, 8, 11)
    got = g.crop(frames, np.array([1, 8]))
    assert got.shape == (2, 3, 4, 4)
    assert torch.equal(got[0], frames[0, :, 0:4, 4:8])  # box 1: x 4..8, y 0..4
    assert torch.equal(got[1], frames[1, :, 4:8, 7:11])  # box 8: x 7..11, y 4..8
    everything = g.crop_all(frames)
    assert everything.shape == (2, 9, 3, 4, 4)
    for k in range(9):
        for idx in (torch.tensor([k, k]), [k, k], np.array([k, k])):
            assert torch.equal(g.crop(frames, idx), everything[:, k])


def test_attrs_round_trip() -> None:
    g = PatchGrid(6, 96, 224, 160)
    attrs = g.to_attrs((1280, 7, 7))
    assert json.loads(json.dumps(attrs)) == attrs
    assert attrs["grid"] == 6 and attrs["patch_size"] == 96 and attrs["frame_size"] == [224, 160]
    assert attrs["map_shape"] == [1280, 7, 7] and attrs["boxes"] == g.boxes().tolist() and len(attrs["boxes"]) == 36
    assert PatchGrid.from_attrs(attrs) == g
    with pytest.raises(PatchError, match="boxes differ"):
        PatchGrid.from_attrs({**attrs, "boxes": [[0, 0, 96, 96]] * 36})
    with pytest.raises(PatchError, match="not a patch geometry"):
        PatchGrid.from_attrs({"grid": 6})


@pytest.mark.parametrize(("args", "message"), [
    ((0, 4, 10, 10), "patch grid G must be >= 1"),
    ((-2, 4, 10, 10), "patch grid G must be >= 1"),
    ((2, 0, 10, 10), "patch size P must be between 1 and 10"),
    ((2, 8, 10, 7), "patch size P must be between 1 and 7 (the 10x7 frame), got 8"),
    ((2, 300, 224, 224), "between 1 and 224"),
    ((2.5, 4, 10, 10), "patch grid G must be an integer, got 2.5"),
    ((True, 4, 10, 10), "must be an integer"),
    ((2, 4, 0, 10), "frame size must be positive"),
])
def test_bad_geometry_is_a_one_line_patch_error(args: tuple, message: str) -> None:
    with pytest.raises(PatchError) as info:
        PatchGrid(*args)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, UserError)


def test_bad_crop_requests() -> None:
    g = PatchGrid(2, 4, 10, 8)
    frames = torch.zeros(2, 3, 8, 10)
    with pytest.raises(PatchError, match="out of range 0..3"):
        g.crop(frames, [0, 4])
    with pytest.raises(PatchError, match="one candidate index per frame: 2 frames, 1 indices"):
        g.crop(frames, [0])
    with pytest.raises(PatchError, match="frames are 8x10, the patch grid is for 10x8"):
        g.crop_all(torch.zeros(2, 3, 10, 8))
    with pytest.raises(PatchError, match=r"expected frames \[B, 3, H, W\]"):
        g.crop_all(torch.zeros(3, 8, 10))
    with pytest.raises(PatchError, match="map_shape must be"):
        g.to_attrs((1280, 7))


# ------------------------------------------------------------------------------------ box_in_video
def test_box_in_video_hand_values() -> None:
    spec = {"resize_short": 256, "input_size": 224}
    # 320x240 decoded at short side 256: 342x256 (even width), no further resize; crop offset (59, 16)
    got = box_in_video((0, 0, 96, 96), 320, 240, spec)
    want = (59 * 320 / 342, 16 * 240 / 256, 155 * 320 / 342, 112 * 240 / 256)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    # a square video at the crop size: the identity up to the crop offset (16, 16) and the scale 224 / 256
    got = box_in_video((10, 20, 30, 40), 256, 256, {"resize_short": 256, "input_size": 224})
    np.testing.assert_allclose(got, (26, 36, 46, 56), atol=1e-9)
    with pytest.raises(PatchError, match="video size must be positive"):
        box_in_video((0, 0, 1, 1), 0, 240, spec)


@pytest.mark.parametrize(("width", "height", "decode_short"), [(320, 240, 240), (200, 300, 200), (320, 240, 256)])
def test_box_in_video_follows_the_pixels_of_frame_transform(width: int, height: int, decode_short: int) -> None:
    """A frame whose red channel is its x coordinate and green its y: after the decoder's scaling and
    FrameTransform, the centre of box_in_video(1-pixel box) is where that pixel came from."""
    rs, size = 224, 160
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    ramp = np.stack([xx * 255 / (width - 1), yy * 255 / (height - 1), np.zeros_like(xx)], axis=-1)
    frame = torch.from_numpy(np.round(ramp).astype(np.uint8))[None]
    dw, dh = scaled_size(width, height, decode_short)
    if (dw, dh) != (width, height):  # the decoder scales while decoding
        frame = torch.nn.functional.interpolate(frame.permute(0, 3, 1, 2).float(), size=(dh, dw), mode="bilinear",
                                                align_corners=False, antialias=True)
        frame = frame.round().clamp(0, 255).permute(0, 2, 3, 1).to(torch.uint8)
    tf = FrameTransform(rs, size, (0.0, 0.0, 0.0), (1 / 255, 1 / 255, 1 / 255))  # output = pixel values
    out = tf(frame)[0]
    spec = {"resize_short": rs, "input_size": size}
    for cx, cy in [(5, 7), (80, 80), (150, 20), (40, 155)]:  # away from the image border (filter edge effects)
        x0, y0, x1, y1 = box_in_video((cx, cy, cx + 1, cy + 1), width, height, spec, decode_short=decode_short)
        # pixel centres: the source pixel whose centre is at video coordinate u has index u - 0.5
        want_x = float(out[0, cy, cx]) * (width - 1) / 255
        want_y = float(out[1, cy, cx]) * (height - 1) / 255
        assert abs((x0 + x1) / 2 - 0.5 - want_x) < 2.0, (cx, cy)
        assert abs((y0 + y1) / 2 - 0.5 - want_y) < 2.0, (cx, cy)


# ------------------------------------------------------------------------------------ features
@pytest.fixture(scope="module")
def tiny_models() -> tuple:
    torch.manual_seed(0)
    light = create_frame_model("mobilenetv2_100", "none", input_size=SIZE, resize_short=SIZE)
    rec = create_frame_model("tf_efficientnet_lite0", "none", input_size=SIZE, resize_short=SIZE)
    return light, rec


def test_feature_maps_pool_to_the_frame_model_features(tiny_models: tuple) -> None:
    light, _ = tiny_models
    x = torch.randn(5, 3, SIZE, SIZE)
    maps, pooled = feature_maps(light, x, batch_size=2)
    feats, _ = run_model(light, x, batch_size=2)
    assert maps.shape == (5, 1280, 2, 2) and maps.dtype == np.float32 and pooled.shape == (5, 1280)
    np.testing.assert_array_equal(pooled, feats)  # the same forward as a plain extraction
    np.testing.assert_allclose(maps.mean(axis=(2, 3)), pooled, rtol=1e-5, atol=1e-6)
    assert feature_map_shape(light) == (1280, 2, 2)
    with pytest.raises(PatchError, match=r"expected a \[B, 3, H, W\]"):
        feature_maps(light, x[0], batch_size=2)


def test_feature_maps_refuse_a_model_that_pools_before_its_head_conv() -> None:
    model = create_frame_model("mobilenetv3_small_050", "none", input_size=SIZE, resize_short=SIZE)
    with pytest.raises(PatchError, match="not a pooling of its feature map"):
        feature_map_shape(model)


def test_patch_features_all_and_chosen_candidates(tiny_models: tuple) -> None:
    _, rec = tiny_models
    grid = PatchGrid(G, P, SIZE, SIZE)
    frames = torch.randn(3, 3, SIZE, SIZE)
    every = patch_features(rec, frames, grid, batch_size=5)
    assert every.shape == (3, G * G, 1280) and every.dtype == np.float32
    want, _ = run_model(rec, grid.crop_all(frames).flatten(0, 1), batch_size=5)
    np.testing.assert_allclose(every, want.reshape(3, G * G, -1), rtol=1e-5, atol=1e-6)
    index = np.array([3, 0, 2])
    chosen = patch_features(rec, frames, grid, batch_size=2, index=index)
    assert chosen.shape == (3, 1280)
    np.testing.assert_allclose(chosen, every[np.arange(3), index], rtol=1e-5, atol=1e-6)
    # a recognizer with a dataset head: the local CNN is its backbone only
    with_head = rec.with_head(torch.nn.Linear(1280, 3))
    np.testing.assert_array_equal(patch_features(with_head, frames, grid, batch_size=5), every)


def test_cached_patch_feature_equals_the_local_cnn_on_the_crop_of_a_photo() -> None:
    """The float16 feature cached for a candidate equals timm's Lite0 backbone (offline ImageNet
    weights) run on that P x P crop of a real photo, made independently from the uint8 pixels."""
    from skimage import data as skdata

    import nsnet._compat
    from nsnet.extract.weights import load_package_state_dict

    name, size = "tf_efficientnet_lite0", 224
    rec = create_frame_model(name, "package", input_size=size, resize_short=size)
    photo = np.ascontiguousarray(skdata.astronaut()[40:264, 130:354])  # 224 x 224 uint8: no resize in the transform
    frames = FrameTransform.from_spec(dataclasses.asdict(rec.spec))(torch.from_numpy(photo)[None])
    grid = PatchGrid(3, 96, size, size)
    cached = patch_features(rec, frames, grid, batch_size=4).astype(np.float16)[0]  # [9, 1280], as stored

    timm = nsnet._compat.import_timm()
    local = timm.create_model(name, pretrained=False, num_classes=0).eval()
    state = {k: v for k, v in load_package_state_dict(name)[0].items() if not k.startswith("classifier.")}
    local.load_state_dict(state, strict=True)
    mean, std = torch.tensor(rec.spec.mean)[:, None, None], torch.tensor(rec.spec.std)[:, None, None]
    for k, (x0, y0, x1, y1) in enumerate(grid.boxes().tolist()):
        crop = torch.from_numpy(photo[y0:y1, x0:x1]).permute(2, 0, 1).float() / 255.0
        with torch.no_grad():
            want = local(((crop - mean) / std)[None])[0].numpy()
        assert want.shape == (1280,)
        np.testing.assert_allclose(cached[k].astype(np.float32), want, rtol=2e-3, atol=2e-3 * np.abs(want).max())
    assert np.abs(cached[0].astype(np.float32) - cached[8].astype(np.float32)).max() > 0.1  # crops differ


# ------------------------------------------------------------------------------------ extraction
PATCH_CLI = ["--patches", str(G), "--patch-size", str(P)]


@pytest.fixture(scope="module")
def patch_store(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns a store extracted by `nsnet extract --patches 2 --patch-size 32` from the shared dataset
    (10 videos incl. a looped 5-frame one and a portrait one; chunks of 4)."""
    out = tmp_path_factory.mktemp("patch_store") / "store.zarr"
    result = runner.invoke(app, ["extract", str(dataset), "--out", str(out), "--chunk-videos", "4", "--quiet",
                                 *SMALL_CLI, *PATCH_CLI])
    assert result.exit_code == 0, result.output
    return out


def test_patch_store_arrays_and_geometry(patch_store: Path) -> None:
    store = FeatureStore.open(patch_store)
    assert store.status_counts() == {"total": 10, "done": 10, "failed": 0, "pending": 0}
    maps, patches = store.read(S.LIGHT_MAPS), store.read(S.PATCH_FEATURES)
    assert maps.shape == (10, T, 1280, 2, 2) and maps.dtype == np.float16
    assert patches.shape == (10, T, G * G, 1280) and patches.dtype == np.float16
    assert store.patches == PatchGrid(G, P, SIZE, SIZE).to_attrs([1280, 2, 2])
    assert PatchGrid.from_attrs(store.patches) == PatchGrid(G, P, SIZE, SIZE)
    # the spatial mean of the map is the pooled light feature (both cached in float16)
    pooled = store.read(S.LIGHT_FEATURES).astype(np.float32)
    mean = maps.astype(np.float32).mean(axis=(3, 4))
    np.testing.assert_allclose(mean, pooled, rtol=2e-3, atol=2e-3 * np.abs(pooled).max())
    assert np.abs(patches).max() > 0 and np.isfinite(patches).all()


def test_patches_leave_the_other_arrays_unchanged(patch_store: Path, store_path: Path) -> None:
    """The same dataset extracted without --patches (the shared store) has identical per-frame arrays."""
    with_patches, plain = FeatureStore.open(patch_store), FeatureStore.open(store_path)
    for name in S.PER_FRAME_ARRAYS + S.PER_VIDEO_ARRAYS:
        np.testing.assert_array_equal(with_patches.read(name), plain.read(name), err_msg=name)
    assert with_patches.fingerprint != plain.fingerprint and plain.patches is None


def test_stored_patch_features_are_the_local_cnn_on_the_decoded_crops(patch_store: Path, dataset: Path) -> None:
    """Video 9 (portrait 48x64) decoded again: its stored candidates equal patch_features on its frames."""
    from nsnet.extract.features import create_models

    store = FeatureStore.open(patch_store)
    cfg = small_config(dataset, patch_store)
    light, rec = create_models(cfg)
    row = 9
    item = VideoFrames([row], [str(store.read(S.PATH)[row])], T, FrameTransform.from_spec(store.extractor_spec),
                       FrameTransform.from_spec(store.recognizer_spec))[0]
    grid = PatchGrid.from_attrs(store.patches)
    want = patch_features(rec, item["rec"], grid, batch_size=16).astype(np.float16)
    np.testing.assert_allclose(store.read(S.PATCH_FEATURES, [row])[0].astype(np.float32), want.astype(np.float32),
                               rtol=1e-3, atol=1e-3 * np.abs(want).max())
    centre = grid.centre_index()
    chosen = patch_features(rec, item["rec"], grid, batch_size=16, index=np.full(T, centre))
    np.testing.assert_allclose(chosen, want[:, centre].astype(np.float32), rtol=1e-3, atol=1e-3 * np.abs(chosen).max())
    maps, _ = feature_maps(light, item["light"], batch_size=16)
    np.testing.assert_allclose(store.read(S.LIGHT_MAPS, [row])[0].astype(np.float32),
                               maps.astype(np.float16).astype(np.float32), rtol=1e-3, atol=1e-3)


@pytest.mark.slow
def test_interrupted_patch_extraction_resumes_to_identical_arrays(
        patch_store: Path, dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Killed in its second chunk write after the data, before the done flags; the re-run redoes that
    chunk and the rest and ends with the same arrays as the uninterrupted store."""
    out = tmp_path / "s.zarr"
    original = FeatureStore.write_chunk
    calls = {"n": 0}

    def write_then_die(self: FeatureStore, chunk_id: int, data: dict) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            lo, hi = self.chunk_ranges()[chunk_id]
            for name, values in data.items():
                self.array(name)[lo:hi] = values
            raise KeyboardInterrupt
        original(self, chunk_id, data)

    monkeypatch.setattr(FeatureStore, "write_chunk", write_then_die)
    cfg = small_config(dataset, out, chunk_videos=4, patches=G, patch_size=P)
    with pytest.raises(KeyboardInterrupt):
        extract(cfg)
    monkeypatch.setattr(FeatureStore, "write_chunk", original)
    partial = FeatureStore.open(out)
    assert partial.pending_chunks() == [1, 2] and np.abs(partial.read(S.PATCH_FEATURES, [4])).max() > 0
    capsys.readouterr()
    extract(dataclasses.replace(cfg, quiet=False))
    assert "resuming: 4 videos already done, 6 to go" in capsys.readouterr().err
    done, ref = FeatureStore.open(out), FeatureStore.open(patch_store)
    assert done.fingerprint == ref.fingerprint
    for name in S.PER_FRAME_ARRAYS + S.PATCH_ARRAYS + S.PER_VIDEO_ARRAYS:
        np.testing.assert_array_equal(done.read(name), ref.read(name), err_msg=name)


def test_a_bad_video_in_a_patch_store_is_recorded_with_empty_patch_arrays(tmp_path: Path) -> None:
    csv_path = make_csv_dataset(tmp_path / "data", num_videos=2, num_frames=6)
    (tmp_path / "data" / "bad.mp4").write_text("not a video")
    add_rows(csv_path, [("bad.mp4", "a", "val")])
    store = extract(small_config(csv_path, tmp_path / "s.zarr", frames=3, patches=G, patch_size=P))
    assert store.status_counts() == {"total": 3, "done": 2, "failed": 1, "pending": 0}
    patches, maps = store.read(S.PATCH_FEATURES), store.read(S.LIGHT_MAPS)
    assert patches.shape == (3, 3, G * G, 1280) and maps.shape == (3, 3, 1280, 2, 2)
    assert not patches[2].any() and not maps[2].any()  # the failed video: fill values
    assert all(np.abs(patches[i]).max() > 0 and np.abs(maps[i]).max() > 0 for i in (0, 1))


def test_resuming_with_another_grid_is_refused(patch_store: Path, dataset: Path) -> None:
    result = runner.invoke(app, ["extract", str(dataset), "--out", str(patch_store), *SMALL_CLI,
                                 "--patches", "3", "--patch-size", str(P)])
    assert result.exit_code == 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "refusing" in lines[0] and f"patches: store has G={G} P={P}, asked G=3 P={P}" in lines[0]
    no_patches = runner.invoke(app, ["extract", str(dataset), "--out", str(patch_store), *SMALL_CLI])
    assert no_patches.exit_code == 2 and f"patches: store has G={G} P={P}, asked none" in no_patches.stderr


def test_info_shows_the_patch_arrays_and_geometry(patch_store: Path) -> None:
    table = runner.invoke(app, ["info", str(patch_store)], env={"COLUMNS": "300"})
    assert table.exit_code == 0, table.output
    for text in ("light/feature_maps", "patches/features", "[10, 8, 4, 1280] float16", "0.8 MiB",
                 f"G={G}: 4 candidates of P={P}px on the 64x64 recognizer input", "light map 1280x2x2"):
        assert text in table.stdout, text
    summary = json.loads(runner.invoke(app, ["info", str(patch_store), "--json"]).stdout)
    arrays = summary["arrays"]
    assert arrays[S.PATCH_FEATURES]["shape"] == [10, T, 4, 1280]
    assert arrays[S.PATCH_FEATURES]["size_mib"] == pytest.approx(10 * T * 4 * 1280 * 2 / 2**20)  # 0.78125
    assert arrays[S.LIGHT_MAPS]["size_mib"] == pytest.approx(10 * T * 1280 * 2 * 2 * 2 / 2**20)
    assert arrays[S.LIGHT_FEATURES]["size_mib"] == pytest.approx(10 * T * 1280 * 2 / 2**20)
    assert summary["patches"]["grid"] == G and summary["patches"]["candidates"] == 4
    assert summary["patches"]["boxes"] == [[0, 0, 32, 32], [32, 0, 64, 32], [0, 32, 32, 64], [32, 32, 64, 64]]


def test_info_of_a_store_without_patches(store_path: Path) -> None:
    summary = json.loads(runner.invoke(app, ["info", str(store_path), "--json"]).stdout)
    assert summary["patches"] is None and S.LIGHT_MAPS not in summary["arrays"]
    table = runner.invoke(app, ["info", str(store_path)])
    assert "patches (AdaFocus)" not in table.stdout and "feature_maps" not in table.stdout
