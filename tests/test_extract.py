"""`nsnet extract` end to end on generated videos, and `nsnet fit-recognizer` on the result."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import SIZE, T, add_rows, small_config
from nsnet.extract.annotations import load_manifest
from nsnet.extract.frames import plan_frame_indices
from nsnet.extract.features import create_models
from nsnet.extract.pipeline import extract
from nsnet.extract.fit_recognizer import FitRecognizerConfig, fit_recognizer
from nsnet.extract.recognizer import HEAD_FILE, head_state_sha256, load_head
from nsnet.extract.transforms import FrameTransform, decode_short_side
from nsnet.extract.video import probe_video, read_frames
from nsnet.extract.weights import sha256_state_dict
from nsnet.store import FeatureStore, StoreError, StoreMismatchError
from nsnet.store import schema as S
from utils import make_corrupt_files

NUM_VIDEOS = 10  # 8 from make_csv_dataset + short + portrait


@pytest.fixture(scope="module")
def store(store_path: Path) -> FeatureStore:
    return FeatureStore.open(store_path)


def test_shapes_dtypes_and_status(store: FeatureStore) -> None:
    d_light, d_rec = store.extractor_spec["feature_dim"], store.recognizer_spec["feature_dim"]
    expected = {
        S.LIGHT_FEATURES: ((NUM_VIDEOS, T, d_light), np.float16),
        S.REC_FEATURES: ((NUM_VIDEOS, T, d_rec), np.float16),
        S.REC_LOGITS: ((NUM_VIDEOS, T, 2), np.float32),
        S.FRAME_INDICES: ((NUM_VIDEOS, T), np.int32),
        S.LABELS: ((NUM_VIDEOS, 2), np.uint8),
        S.NUM_FRAMES: ((NUM_VIDEOS,), np.int64),
        S.FPS: ((NUM_VIDEOS,), np.float32),
        S.DONE: ((NUM_VIDEOS,), np.bool_),
    }
    for name, (shape, dtype) in expected.items():
        arr = store.read(name)
        assert arr.shape == shape and arr.dtype == dtype, name
    assert store.read(S.DONE).all()
    assert store.read(S.ERROR).tolist() == [""] * NUM_VIDEOS
    assert store.status_counts() == {"total": NUM_VIDEOS, "done": NUM_VIDEOS, "failed": 0, "pending": 0}
    assert store.attrs["status"]["done"] == NUM_VIDEOS
    assert store.pending_chunks() == []
    assert np.isfinite(store.read(S.LIGHT_FEATURES).astype(np.float32)).all()
    assert np.isfinite(store.read(S.REC_FEATURES).astype(np.float32)).all()
    assert np.isnan(store.read(S.REC_LOGITS)).all() and not store.has_logits  # no head yet


def test_metadata_follows_the_annotations(store: FeatureStore, dataset: Path) -> None:
    manifest = load_manifest(dataset)
    assert store.read(S.VIDEO_ID).tolist() == [e.video_id for e in manifest.entries]
    assert store.read(S.PATH).tolist() == [str(e.path) for e in manifest.entries]
    assert store.read(S.SPLIT).tolist() == [e.split for e in manifest.entries]
    np.testing.assert_array_equal(store.read(S.LABELS), manifest.label_matrix())
    assert store.class_names == ["a", "b"] and store.T == T
    assert store.valid_indices("val").size > 0 and store.valid_indices("train").size > 0
    assert store.read(S.NUM_FRAMES).tolist() == [20] * 8 + [5, 20]
    np.testing.assert_allclose(store.read(S.FPS), 10.0)
    assert store.extractor_spec["input_size"] == SIZE and store.recognizer_spec["input_size"] == SIZE
    # random-init weights are seeded and hashed, so a resumed run cannot mix different models
    assert len(store.extractor_spec["weights_sha256"]) == 64
    assert store.attrs["annotations"]["format"] == "csv"


def test_frame_indices_equal_the_plan(store: FeatureStore) -> None:
    indices = store.read(S.FRAME_INDICES)
    for row, n in enumerate(store.read(S.NUM_FRAMES)):
        np.testing.assert_array_equal(indices[row], plan_frame_indices(int(n), T))
    assert indices[8].tolist() == [0, 1, 2, 3, 4, 0, 1, 2]  # the 5-frame video is looped


def test_features_equal_running_the_models_on_the_frames_by_hand(store: FeatureStore, dataset: Path) -> None:
    extractor, recognizer = create_models(small_config(dataset, Path("unused")))
    assert sha256_state_dict(extractor.backbone.state_dict()) == store.extractor_spec["weights_sha256"]
    assert sha256_state_dict(recognizer.backbone.state_dict()) == store.recognizer_spec["weights_sha256"]
    light_tf = FrameTransform.from_spec(asdict(extractor.spec))
    rec_tf = FrameTransform.from_spec(asdict(recognizer.spec))
    assert (light_tf.resize_short, rec_tf.resize_short) == (64, 73)  # so the light frames get resized
    paths = store.read(S.PATH)
    for row in (0, 8, 9):  # a regular, the looped short and the portrait video
        info = probe_video(paths[row])
        frames = torch.from_numpy(read_frames(paths[row], plan_frame_indices(info.num_frames, T),
                                              decode_short_side(light_tf, rec_tf), info))
        with torch.inference_mode():
            light, _ = extractor(light_tf(frames))
            rec, _ = recognizer(rec_tf(frames))
        for name, by_hand in ((S.LIGHT_FEATURES, light), (S.REC_FEATURES, rec)):
            stored = store.read(name, [row])[0].astype(np.float32)
            by_hand = by_hand.numpy()
            scale = float(np.abs(by_hand).max())
            assert scale > 0
            # fp16 storage: relative rounding 2^-11, plus a little slack for float32 reordering
            np.testing.assert_allclose(stored, by_hand, rtol=2e-3, atol=1e-3 * scale, err_msg=f"{name} row {row}")


def test_rerun_on_a_complete_store_changes_nothing(store_path: Path, dataset: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.zarr"
    shutil.copytree(store_path, copy)
    before = {name: FeatureStore.open(copy).read(name) for name in S.PER_FRAME_ARRAYS}
    again = extract(small_config(dataset, copy, chunk_videos=4))
    for name, values in before.items():
        np.testing.assert_array_equal(again.read(name), values)


def test_rerun_with_different_frames_is_refused(store_path: Path, dataset: Path) -> None:
    with pytest.raises(StoreMismatchError, match="T: store has 8, asked 6"):
        extract(small_config(dataset, store_path, frames=6))


def test_rerun_with_a_different_extractor_size_is_refused(store_path: Path, dataset: Path) -> None:
    with pytest.raises(StoreMismatchError, match="extractor.input_size"):
        extract(small_config(dataset, store_path, extractor_size=96))


def test_a_bug_in_per_video_code_fails_loudly(dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Only decoder errors become "video failed"; a programming error must not be recorded as one.
    def broken(num_frames: int, T: int):
        raise ZeroDivisionError("a bug, not a bad video")

    monkeypatch.setattr("nsnet.extract.pipeline.plan_frame_indices", broken)
    with pytest.raises(ZeroDivisionError, match="a bug"):
        extract(small_config(dataset, tmp_path / "s.zarr"))


@pytest.mark.slow
def test_bad_videos_are_recorded_and_good_ones_extracted(dataset: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = tmp_path / "annotations.csv"
    csv_path.write_text(dataset.read_text())
    for video in (dataset.parent / "videos").rglob("*.mp4"):
        target = tmp_path / video.relative_to(dataset.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(video, target)
    bad = make_corrupt_files(tmp_path / "bad", include_decode_errors=True)
    add_rows(csv_path, [(str(p.relative_to(tmp_path)), "a", "train") for p in bad.values()])
    store = extract(small_config(csv_path, tmp_path / "s.zarr", chunk_videos=3, quiet=False))

    errors = store.read(S.ERROR)
    paths = store.read(S.PATH).tolist()
    assert store.read(S.DONE).all()
    good = [i for i in range(len(paths)) if "/bad/" not in paths[i]]
    assert len(good) == NUM_VIDEOS and all(errors[i] == "" for i in good)
    assert (store.read(S.FRAME_INDICES)[good] >= 0).all()
    for kind, path in bad.items():
        reason = errors[paths.index(str(path))]
        assert reason and "\n" not in reason, kind
    assert errors[paths.index(str(bad["missing"]))] == "file not found"
    assert errors[paths.index(str(bad["zero_byte"]))] == "empty file (0 bytes)"
    bad_rows = [paths.index(str(p)) for p in bad.values()]
    assert (store.read(S.FRAME_INDICES)[bad_rows] == -1).all()
    assert store.valid_indices().tolist() == good
    assert store.status_counts()["failed"] == len(bad)

    stderr = capsys.readouterr().err
    failed_lines = [line for line in stderr.splitlines() if line.startswith("failed ")]
    assert len(failed_lines) == len(bad)
    for path in bad.values():
        assert sum(str(path) in line for line in failed_lines) == 1
    assert "Traceback" not in stderr


# ------------------------------------------------------------------------------------ fit-recognizer
@pytest.fixture(scope="module")
def fitted(store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[FeatureStore, dict]:
    copy = tmp_path_factory.mktemp("fit") / "store.zarr"
    shutil.copytree(store_path, copy)
    summary = fit_recognizer(copy, FitRecognizerConfig(max_iter=30, quiet=True))
    return FeatureStore.open(copy), summary


def test_fit_recognizer_fills_logits_of_done_videos(fitted: tuple[FeatureStore, dict]) -> None:
    store, summary = fitted
    logits = store.read(S.REC_LOGITS)
    assert logits.shape == (NUM_VIDEOS, T, 2)
    assert np.isfinite(logits[store.valid_indices()]).all()
    assert store.has_logits and store.attrs["logits_source"] == "fit-recognizer head"
    assert summary["train_videos"] == store.valid_indices("train").size
    assert 0.0 <= summary["train_frame_accuracy"] <= 1.0


def test_fit_recognizer_saves_the_head_with_its_hash(fitted: tuple[FeatureStore, dict]) -> None:
    store, summary = fitted
    meta = store.attrs["recognizer_head"]
    assert meta["file"] == HEAD_FILE and (Path(store.path) / HEAD_FILE).is_file()
    state = torch.load(Path(store.path) / HEAD_FILE, weights_only=True)
    assert meta["sha256"] == summary["sha256"] == head_state_sha256(state)
    assert state["weight"].shape == (2, store.recognizer_spec["feature_dim"])


def test_load_head_reproduces_the_stored_logits(fitted: tuple[FeatureStore, dict]) -> None:
    store, _ = fitted
    head = load_head(store)
    assert isinstance(head, torch.nn.Linear) and not head.training
    rows = store.valid_indices()
    features = torch.from_numpy(store.read(S.REC_FEATURES, rows).astype(np.float32))
    with torch.no_grad():
        logits = head(features).numpy()
    np.testing.assert_allclose(logits, store.read(S.REC_LOGITS, rows), rtol=1e-5, atol=1e-5)


def test_load_head_detects_a_changed_head_file(fitted: tuple[FeatureStore, dict], tmp_path: Path) -> None:
    copy = tmp_path / "s.zarr"
    shutil.copytree(fitted[0].path, copy)
    store = FeatureStore.open(copy)
    state = torch.load(copy / HEAD_FILE, weights_only=True)
    state["bias"] = state["bias"] + 1
    torch.save(state, copy / HEAD_FILE)
    with pytest.raises(StoreError, match="does not match the hash"):
        load_head(store)
    (copy / HEAD_FILE).unlink()
    with pytest.raises(StoreError, match="missing"):
        load_head(store)


def test_load_head_without_a_head(store: FeatureStore) -> None:
    assert load_head(store) is None


def test_fit_recognizer_on_an_empty_split_raises(store_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "s.zarr"
    shutil.copytree(store_path, copy)
    with pytest.raises(StoreError, match="no extracted videos in split 'test'"):
        fit_recognizer(copy, FitRecognizerConfig(split="test", quiet=True))


# ------------------------------------------------------------------------------------ segments
def test_segment_mask_keeps_frames_inside_segments_only(store_path: Path, tmp_path: Path) -> None:
    from nsnet.extract.segments import load_segments, segment_frame_mask
    from nsnet.store import schema as S

    store = FeatureStore.open(store_path)
    rows = store.valid_indices("train")[:2]
    vids = store.read(S.VIDEO_ID, rows)
    frames = store.read(S.FRAME_INDICES, rows)
    lo, hi = int(frames[0, 2]), int(frames[0, 5])  # frames at positions 2, 3, 4 of video 0 fall in [lo, hi)
    spans = tmp_path / "spans.json"
    spans.write_text(json.dumps({Path(str(vids[0])).name: {"event": [lo, hi]}, str(vids[1]): {"event": None}}))
    mask = segment_frame_mask(store, rows, load_segments(spans))
    expected0 = (frames[0] >= lo) & (frames[0] < hi)
    assert mask[0].tolist() == expected0.tolist() and expected0[2:5].all()
    assert mask[1].all()  # no segment: the label covers the whole video


def test_fit_recognizer_with_segments_trains_on_fewer_frames(store_path: Path, tmp_path: Path) -> None:
    from nsnet.store import schema as S

    copy = tmp_path / "store.zarr"
    shutil.copytree(store_path, copy)
    store = FeatureStore.open(copy)
    rows = store.valid_indices("train")
    vid, frames = str(store.read(S.VIDEO_ID, rows[:1])[0]), store.read(S.FRAME_INDICES, rows[:1])[0]
    spans = tmp_path / "spans.json"
    spans.write_text(json.dumps({vid: {"event": [int(frames[0]), int(frames[2])]}}))
    summary = fit_recognizer(copy, FitRecognizerConfig(max_iter=10, quiet=True, segments=spans))
    assert summary["train_frames"] == rows.size * store.T - (store.T - 2)
    assert summary["config"]["segments"] == str(spans)


def test_bad_segment_file_is_a_store_error(store_path: Path, tmp_path: Path) -> None:
    from nsnet.extract.segments import load_segments

    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(StoreError):
        load_segments(bad)


@pytest.mark.parametrize("content", [{}, {"not-a-video-of-this-store": {"event": [0, 5]}}])
def test_fit_recognizer_refuses_a_segment_file_that_lists_no_store_video(store_path: Path, tmp_path: Path,
                                                                         content: dict) -> None:
    copy = tmp_path / "store.zarr"
    shutil.copytree(store_path, copy)
    before = FeatureStore.open(copy).attrs
    spans = tmp_path / "spans.json"
    spans.write_text(json.dumps(content))
    n_train = FeatureStore.open(copy).valid_indices("train").size
    with pytest.raises(StoreError, match=f"0 of {n_train} train videos are listed"):
        fit_recognizer(copy, FitRecognizerConfig(max_iter=10, quiet=True, segments=spans))
    assert FeatureStore.open(copy).attrs == before  # nothing written


def test_fit_recognizer_warns_with_the_count_when_a_segment_file_lists_some_videos(
        store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from nsnet.store import schema as S

    copy = tmp_path / "store.zarr"
    shutil.copytree(store_path, copy)
    store = FeatureStore.open(copy)
    rows = store.valid_indices("train")
    vids = [str(v) for v in store.read(S.VIDEO_ID, rows[:2])]
    spans = tmp_path / "spans.json"
    spans.write_text(json.dumps({v: {"event": None} for v in vids}))
    fit_recognizer(copy, FitRecognizerConfig(max_iter=5, quiet=True, segments=spans))  # quiet: the warning stays
    err = capsys.readouterr().err
    assert f"lists 2 of {rows.size} train videos; the other {rows.size - 2} keep all their frames" in err
