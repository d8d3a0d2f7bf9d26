"""The decoder in the store (provenance, refusal to mix), `nsnet extract` on files decord gets wrong,
and `nsnet check-decode`."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import run_cli, small_config
from nsnet.extract.decode.decord_backend import DecordBackend
from nsnet.extract.decode.sequential import read_sequential
from nsnet.extract.features import create_models
from nsnet.extract.pipeline import extract
from nsnet.extract.transforms import FrameTransform, decode_short_side
from nsnet.extract.video import probe_video, scaled_size
from nsnet.store import FeatureStore, StoreMismatchError
from nsnet.store import schema as S
from nsnet.store.info import store_summary

HARD = ("mpeg4_bframes_short", "hevc_open_gop", "xvid_bframes")  # decord returns other frames on these


@pytest.fixture(scope="module")
def hard_dataset(corpus: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV of the corpus files decord decodes wrongly, plus one corrupt file."""
    directory = tmp_path_factory.mktemp("hard")
    rows = [(str(corpus[name]), "a" if i % 2 else "b", "train") for i, name in enumerate(HARD)]
    rows.append((str(corpus["h264_corrupt_tail"]), "a", "val"))
    path = directory / "annotations.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label", "split"])
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def hard_store(hard_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> FeatureStore:
    return extract(small_config(hard_dataset, tmp_path_factory.mktemp("hs") / "store.zarr"))


def _features(model, transform, frames: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return model(transform(torch.from_numpy(frames)))[0].numpy()


def test_extract_stores_features_of_exactly_the_recorded_frames(hard_store: FeatureStore, hard_dataset: Path) -> None:
    extractor, _ = create_models(small_config(hard_dataset, Path("unused")))
    light_tf = FrameTransform.from_spec(asdict(extractor.spec))
    short = decode_short_side(light_tf, FrameTransform.from_spec(hard_store.recognizer_spec))
    paths, indices = hard_store.read(S.PATH), hard_store.read(S.FRAME_INDICES)
    for row in range(len(HARD)):
        path = Path(paths[row])
        info = probe_video(path)
        assert hard_store.read(S.NUM_FRAMES)[row] == info.num_frames
        w, h = scaled_size(info.width, info.height, short)
        unique, inverse = np.unique(indices[row], return_inverse=True)
        reference = read_sequential(path, unique, w, h, info)[inverse]
        wrong = DecordBackend(checked=False).read(path, unique, w, h, info)[inverse]
        assert not np.array_equal(wrong, reference)  # the check below would catch decord's frames
        stored = hard_store.read(S.LIGHT_FEATURES, [row])[0].astype(np.float32)
        by_hand = _features(extractor, light_tf, reference)
        scale = float(np.abs(by_hand).max())
        np.testing.assert_allclose(stored, by_hand, rtol=2e-3, atol=1e-3 * scale)
        assert np.abs(_features(extractor, light_tf, wrong) - by_hand).max() > 1e-2 * scale


def test_store_records_the_decoder_and_each_videos_backend(hard_store: FeatureStore) -> None:
    assert hard_store.attrs["decoder"]["name"] == "auto"
    assert hard_store.attrs["decoder"]["version"].startswith("pyav ")
    assert hard_store.read(S.DECODE_BACKEND).tolist() == ["pyav", "pyav", "pyav-sequential", ""]
    error = hard_store.read(S.ERROR)[3]
    assert error.startswith("decoding failed") and "\n" not in error  # the corrupt file: one line
    summary = store_summary(hard_store)["decoder"]
    assert summary["backends"] == {"pyav": 2, "pyav-sequential": 1}


def test_rerun_with_another_decoder_is_refused(hard_store: FeatureStore, hard_dataset: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.zarr"
    shutil.copytree(hard_store.path, copy)
    with pytest.raises(StoreMismatchError, match="decoder: store has 'auto', asked 'decord'"):
        extract(small_config(hard_dataset, copy, decoder="decord"))


def test_info_shows_the_decoder(hard_store: FeatureStore) -> None:
    done = run_cli(["info", hard_store.path])
    assert done.returncode == 0, done.stderr
    assert "decoder" in done.stdout and "auto (pyav " in done.stdout and "pyav-sequential: 1" in done.stdout


def test_check_decode_finds_decords_mismatches_and_none_for_the_default(corpus: dict[str, Path]) -> None:
    files = [corpus["mpeg4_bframes_short"], corpus["hevc_open_gop"], corpus["h264_bframes_long_gop"]]
    bad = run_cli(["check-decode", *files, "--decoder", "decord", "--json"])
    assert bad.returncode == 1, bad.stderr
    rows = {Path(r["path"]).name: r for r in json.loads(bad.stdout)}
    assert rows["mpeg4_short.avi"]["mismatches"] > 0 and rows["hevc.mp4"]["mismatches"] > 0
    assert rows["h264_bf.mp4"]["mismatches"] == 0
    good = run_cli(["check-decode", *files])
    assert good.returncode == 0, good.stdout + good.stderr
    assert "3 videos: 0 frames differ in 0 videos" in good.stdout


def test_check_decode_reads_annotations_and_fails_on_an_undecodable_video(hard_dataset: Path) -> None:
    done = run_cli(["check-decode", hard_dataset, "--frames", "4", "--json"])
    rows = json.loads(done.stdout)
    assert done.returncode == 1 and len(rows) == 4
    assert [r["mismatches"] for r in rows] == [0, 0, 0, 0] and rows[3]["status"].startswith("error: decoding failed")


def test_an_unusable_decoder_is_one_error_line(corpus: dict[str, Path], hard_dataset: Path, tmp_path: Path) -> None:
    from nsnet.extract.decode.torchcodec_backend import TorchCodecBackend

    if TorchCodecBackend().unavailable() is None:
        pytest.skip("torchcodec loads here")
    for args in (["check-decode", corpus["one_frame"], "--decoder", "torchcodec"],
                 ["extract", hard_dataset, "--out", tmp_path / "s.zarr", "--decoder", "torchcodec", "--weights", "none"]):
        done = run_cli(args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert lines[0].startswith("error: torchcodec is not available here")
