"""The Zarr feature store: creation, schema, chunk-wise writes, reads, identity checks, HDF5 interop."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import zarr

from nsnet import __version__
from nsnet.store import FeatureStore, StoreError, StoreLayout, StoreMismatchError
from nsnet.store import schema as S
from nsnet.store.splits import SplitError
from nsnet.extract.ranks import chunks_for_rank
from nsnet.store.h5 import export_h5, import_h5

N, T, D_LIGHT, D_REC = 10, 4, 6, 5
CLASSES = ["a", "b", "c"]


def spec(name: str, dim: int, sha: str) -> dict:
    return {"name": name, "input_size": 64, "resize_short": 73, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
            "interpolation": "bilinear", "weights": "none", "weights_sha256": sha, "feature_dim": dim,
            "num_classes": 0}


def make_layout(**overrides) -> StoreLayout:
    labels = np.zeros((N, len(CLASSES)), np.uint8)
    labels[np.arange(N), np.arange(N) % len(CLASSES)] = 1
    base = dict(
        video_ids=[f"v{i:02d}" for i in range(N)],
        paths=[f"/videos/v{i:02d}.mp4" for i in range(N)],
        splits=["train"] * 6 + ["val"] * 3 + ["test"],
        labels=labels,
        class_names=list(CLASSES),
        multilabel=False,
        T=T,
        extractor=spec("light", D_LIGHT, "1" * 64),
        recognizer=spec("rec", D_REC, "2" * 64),
        annotations={"path": "/data/ann.csv", "format": "csv", "root": None},
        command="nsnet extract /data/ann.csv --out store.zarr",
        chunk_videos=4,
    )
    base.update(overrides)
    return StoreLayout(**base)


def chunk_data(lo: int, hi: int, seed: int = 0, errors: dict[int, str] | None = None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed + lo)
    n = hi - lo
    err = np.array([(errors or {}).get(i, "") for i in range(lo, hi)], dtype=str)
    return {
        S.LIGHT_FEATURES: rng.standard_normal((n, T, D_LIGHT)).astype(np.float16),
        S.REC_FEATURES: rng.standard_normal((n, T, D_REC)).astype(np.float16),
        S.REC_LOGITS: rng.standard_normal((n, T, len(CLASSES))).astype(np.float32),
        S.FRAME_INDICES: np.tile(np.arange(T, dtype=np.int32) * 3 + 1, (n, 1)),
        S.NUM_FRAMES: np.full(n, 12 + lo, np.int64),
        S.FPS: np.full(n, 25.0, np.float32),
        S.ERROR: err,
    }


def fill(store: FeatureStore, errors: dict[int, str] | None = None) -> FeatureStore:
    for c, (lo, hi) in enumerate(store.chunk_ranges()):
        store.write_chunk(c, chunk_data(lo, hi, errors=errors))
    return store


@pytest.fixture
def store(tmp_path: Path) -> FeatureStore:
    return FeatureStore.create(tmp_path / "s.zarr", make_layout(), D_LIGHT, D_REC)


# ------------------------------------------------------------------------------------ creation
def test_create_allocates_every_array_with_the_schema_shapes(store: FeatureStore) -> None:
    shapes = {
        S.LIGHT_FEATURES: ((N, T, D_LIGHT), np.float16), S.REC_FEATURES: ((N, T, D_REC), np.float16),
        S.REC_LOGITS: ((N, T, 3), np.float32), S.FRAME_INDICES: ((N, T), np.int32), S.LABELS: ((N, 3), np.uint8),
        S.NUM_FRAMES: ((N,), np.int64), S.FPS: ((N,), np.float32), S.DONE: ((N,), np.bool_),
    }
    for name, (shape, dtype) in shapes.items():
        arr = store.read(name)
        assert arr.shape == shape and arr.dtype == dtype, name
        assert store.array(name).chunks[0] == 4, name  # chunked by whole videos
    assert not store.read(S.DONE).any()
    assert (store.read(S.FRAME_INDICES) == -1).all()
    assert np.isnan(store.read(S.REC_LOGITS)).all()
    assert store.read(S.VIDEO_ID).tolist() == [f"v{i:02d}" for i in range(N)]
    assert store.read(S.SPLIT).tolist() == make_layout().splits
    assert store.read(S.ERROR).tolist() == [""] * N
    np.testing.assert_array_equal(store.read(S.LABELS), make_layout().labels)


def test_schema_attributes(store: FeatureStore) -> None:
    reopened = FeatureStore.open(store.path)
    a = reopened.attrs
    assert a["schema_version"] == S.SCHEMA_VERSION
    assert a["T"] == T and reopened.T == T
    assert a["sampling"] == S.SAMPLING_RULE and "floor((i + 0.5) * n / T)" in a["sampling"]
    assert a["extractor"]["weights_sha256"] == "1" * 64 and a["recognizer"]["weights_sha256"] == "2" * 64
    assert reopened.extractor_spec == spec("light", D_LIGHT, "1" * 64)
    assert a["class_names"] == CLASSES and reopened.num_classes == 3
    assert a["nsnet_version"] == __version__
    assert a["command"] == "nsnet extract /data/ann.csv --out store.zarr"
    assert a["fingerprint"] == make_layout().identity().fingerprint() == reopened.identity().fingerprint()
    assert len(a["fingerprint"]) == 64
    assert a["num_videos"] == N and a["chunk_videos"] == 4 and a["multilabel"] is False
    assert a["annotations"]["format"] == "csv" and "created" in a
    json.dumps(a)  # JSON-able


def test_plain_zarr_reads_every_array(store: FeatureStore) -> None:
    fill(store)
    group = zarr.open(str(store.path), mode="r")
    assert group.attrs["schema_version"] == S.SCHEMA_VERSION
    for name in S.PER_FRAME_ARRAYS + S.PER_VIDEO_ARRAYS:
        values = np.asarray(group[name][...])
        assert values.shape[0] == N, name
        np.testing.assert_array_equal(values, store.read(name))


def test_create_refuses_an_existing_store(store: FeatureStore) -> None:
    with pytest.raises(StoreError, match="exists already"):
        FeatureStore.create(store.path, make_layout(), D_LIGHT, D_REC)


def test_create_refuses_a_non_empty_folder_and_accepts_an_empty_one(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("x")
    with pytest.raises(StoreError, match="not an empty folder"):
        FeatureStore.create(tmp_path / "full", make_layout(), D_LIGHT, D_REC)
    (tmp_path / "empty").mkdir()
    assert FeatureStore.create(tmp_path / "empty", make_layout(), D_LIGHT, D_REC).num_videos == N


def test_create_leaves_nothing_next_to_the_store(tmp_path: Path) -> None:
    FeatureStore.create(tmp_path / "s.zarr", make_layout(), D_LIGHT, D_REC)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]


def test_create_without_videos_raises(tmp_path: Path) -> None:
    layout = make_layout(video_ids=[], paths=[], splits=[], labels=np.zeros((0, 3), np.uint8))
    with pytest.raises(StoreError, match="no videos"):
        FeatureStore.create(tmp_path / "s.zarr", layout, D_LIGHT, D_REC)


def test_open_errors(tmp_path: Path, store: FeatureStore) -> None:
    with pytest.raises(StoreError, match="no feature store"):
        FeatureStore.open(tmp_path / "nothing")
    zarr.open_group(str(tmp_path / "other.zarr"), mode="w", attributes={"schema_version": 99})
    with pytest.raises(StoreError, match="schema"):
        FeatureStore.open(tmp_path / "other.zarr")
    with pytest.raises(StoreError, match="no array"):
        store.array("nope")


# ------------------------------------------------------------------------------------ chunks
def test_chunk_ranges_and_pending_chunks_after_writes(store: FeatureStore) -> None:
    assert store.chunk_ranges() == [(0, 4), (4, 8), (8, 10)]
    assert store.pending_chunks() == [0, 1, 2]
    store.write_chunk(1, chunk_data(4, 8))
    assert store.pending_chunks() == [0, 2]
    assert store.read(S.DONE).tolist() == [False] * 4 + [True] * 4 + [False] * 2
    store.write_chunk(2, chunk_data(8, 10))  # the last, partial chunk
    assert FeatureStore.open(store.path).pending_chunks() == [0]
    expected = chunk_data(4, 8)
    for name, values in expected.items():
        np.testing.assert_array_equal(store.read(name, slice(4, 8)), values)
    assert (store.read(S.FRAME_INDICES)[:4] == -1).all()  # untouched chunk keeps its fill value


def test_write_chunk_with_wrong_rows_raises(store: FeatureStore) -> None:
    with pytest.raises(StoreError, match="expected 4"):
        store.write_chunk(0, chunk_data(0, 3))
    assert not store.read(S.DONE).any()


def test_valid_indices_status_and_failures(store: FeatureStore) -> None:
    store.write_chunk(0, chunk_data(0, 4, errors={1: "empty file (0 bytes)"}))
    store.write_chunk(2, chunk_data(8, 10, errors={9: "cannot decode (x)"}))
    assert store.valid_indices().tolist() == [0, 2, 3, 8]
    assert store.valid_indices("train").tolist() == [0, 2, 3]
    assert store.valid_indices("val").tolist() == [8]
    assert store.valid_indices("test").tolist() == []
    # percent slices of a split's valid videos, in store order: 3 train rows -> floor(3 a / 100)
    assert store.valid_indices("train[:67%]").tolist() == [0, 2]  # rows 0..floor(2.01)
    assert store.valid_indices("train[67%:]").tolist() == [3]
    assert store.valid_indices("train[0%:100%]").tolist() == [0, 2, 3]
    assert store.valid_indices("val[:50%]").tolist() == []  # floor(0.5) = 0 rows
    assert store.status_counts() == {"total": 10, "done": 4, "failed": 2, "pending": 4}
    assert store.failures() == [("/videos/v01.mp4", "empty file (0 bytes)"), ("/videos/v09.mp4", "cannot decode (x)")]


@pytest.mark.parametrize("bad", ["train[80%]", "train[:120%]", "train[50%:50%]", "train[a:b]"])
def test_valid_indices_rejects_a_malformed_split_slice(store: FeatureStore, bad: str) -> None:
    with pytest.raises(SplitError, match="bad split"):
        store.valid_indices(bad)


@pytest.mark.parametrize("index", [[7, 2, 9, 0, 3], [5], [9, 9, 0, 9], [3, 2, 1, 0], [-1, 0, -10, 4]])
def test_read_with_an_integer_index_equals_numpy_fancy_indexing(store: FeatureStore, index: list[int]) -> None:
    fill(store, errors={3: "bad"})
    for name in S.PER_FRAME_ARRAYS + S.PER_VIDEO_ARRAYS:
        full = store.read(name)
        got = store.read(name, np.array(index))
        assert got.shape == full[index].shape and got.dtype == full.dtype, name
        np.testing.assert_array_equal(got, full[np.array(index)], err_msg=name)


def test_read_with_boolean_mask_empty_index_and_slice(store: FeatureStore) -> None:
    fill(store)
    full = store.read(S.LIGHT_FEATURES)
    mask = np.arange(N) % 3 == 0
    np.testing.assert_array_equal(store.read(S.LIGHT_FEATURES, mask), full[mask])
    assert store.read(S.LIGHT_FEATURES, np.array([], dtype=np.int64)).shape == (0, T, D_LIGHT)
    assert store.read(S.LIGHT_FEATURES, []).shape == (0, T, D_LIGHT)
    np.testing.assert_array_equal(store.read(S.LIGHT_FEATURES, slice(2, 7)), full[2:7])
    with pytest.raises(IndexError):
        store.read(S.LIGHT_FEATURES, [0, N])


def test_iter_chunks_for_rank_partitions_the_chunks() -> None:
    chunks = [0, 2, 3, 5, 6, 7, 10]
    for world in (1, 2, 3):
        mine = [chunks_for_rank(chunks, r, world) for r in range(world)]
        assert sorted(sum(mine, [])) == chunks
        assert sum(len(m) for m in mine) == len(chunks)  # each chunk to exactly one rank
    assert chunks_for_rank(chunks, 1, 2) == [3, 5, 7]


# ------------------------------------------------------------------------------------ identity
def test_open_or_create_creates_then_reopens_a_matching_store(tmp_path: Path) -> None:
    path = tmp_path / "s.zarr"
    created = FeatureStore.open_or_create(path, make_layout(), D_LIGHT, D_REC)
    created.write_chunk(0, chunk_data(0, 4))
    again = FeatureStore.open_or_create(path, make_layout(command="a different command line"), D_LIGHT, D_REC)
    assert again.pending_chunks() == [1, 2]  # kept, not recreated
    assert again.attrs["command"] == make_layout().command


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (dict(T=5), ["T: store has 4, asked 5"]),
        (dict(extractor=spec("light", D_LIGHT, "3" * 64)), ["extractor.weights_sha256"]),
        (dict(extractor={**spec("light", D_LIGHT, "1" * 64), "input_size": 112}), ["extractor.input_size", "112"]),
        (dict(recognizer=spec("other-rec", D_REC, "2" * 64)), ["recognizer.name", "other-rec"]),
        (dict(class_names=["a", "b", "d"]), ["class names"]),
        (dict(class_names=["a", "b"], labels=np.zeros((N, 2), np.uint8)), ["class names", "3 classes", "give 2"]),
        (dict(video_ids=[f"w{i:02d}" for i in range(N)]), ["video list"]),
    ],
)
def test_open_or_create_refuses_a_different_configuration(tmp_path: Path, change: dict, words: list[str]) -> None:
    path = tmp_path / "s.zarr"
    FeatureStore.create(path, make_layout(), D_LIGHT, D_REC)
    with pytest.raises(StoreMismatchError) as info:
        FeatureStore.open_or_create(path, make_layout(**change), D_LIGHT, D_REC)
    message = str(info.value)
    assert "\n" not in message and "refusing" in message
    for word in words:
        assert word in message
    assert isinstance(info.value, StoreError) and isinstance(info.value, ValueError)


def test_informational_spec_fields_do_not_change_the_identity() -> None:
    base = make_layout()
    other = make_layout(extractor={**spec("light", D_LIGHT, "1" * 64), "weights": "file:/elsewhere.pth"})
    assert S.identity_differences(base.identity(), other.identity()) == []
    assert base.identity().fingerprint() == other.identity().fingerprint()
    assert base.identity().fingerprint() != make_layout(T=5).identity().fingerprint()


# ------------------------------------------------------------------------------------ HDF5
def _metadata(s: FeatureStore) -> dict:
    keys = ("schema_version", "T", "sampling", "extractor", "recognizer", "class_names", "num_classes",
            "multilabel", "num_videos", "chunk_videos", "command", "fingerprint", "logits_source", "recognizer_head")
    return {k: s.attrs.get(k) for k in keys}


@pytest.mark.parametrize("logits", [False, True])
def test_hdf5_round_trip_is_identical(store: FeatureStore, tmp_path: Path, logits: bool) -> None:
    fill(store, errors={5: "empty file (0 bytes)"})
    if logits:
        store.update_attrs(logits_source="fit-recognizer head")
    h5 = export_h5(store, tmp_path / "dump.h5", chunk_videos=3)
    back = import_h5(h5, tmp_path / "back.zarr")
    for name in S.PER_FRAME_ARRAYS + S.PER_VIDEO_ARRAYS:
        a, b = store.read(name), back.read(name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert _metadata(back) == _metadata(store)
    assert back.has_logits == logits
    assert back.valid_indices("train").tolist() == store.valid_indices("train").tolist()


def test_hdf5_export_layout(store: FeatureStore, tmp_path: Path) -> None:
    fill(store)
    with h5py.File(export_h5(store, tmp_path / "d.h5"), "r") as f:
        assert f[S.LIGHT_FEATURES].shape == (N, T, D_LIGHT) and f[S.LIGHT_FEATURES].dtype == np.float16
        assert json.loads(f.attrs["nsnet_attrs"])["fingerprint"] == store.fingerprint
        assert [v.decode() for v in f[S.VIDEO_ID][...]] == store.read(S.VIDEO_ID).tolist()


def test_import_of_a_minimal_hdf5_with_only_light_features(tmp_path: Path) -> None:
    light = np.random.default_rng(0).standard_normal((7, 3, 4)).astype(np.float16)
    with h5py.File(tmp_path / "min.h5", "w") as f:
        f[S.LIGHT_FEATURES] = light
    s = import_h5(tmp_path / "min.h5", tmp_path / "min.zarr", chunk_videos=3)
    np.testing.assert_array_equal(s.read(S.LIGHT_FEATURES), light)
    assert (s.num_videos, s.T, s.num_classes, s.chunk_videos) == (7, 3, 0, 3)
    assert s.read(S.VIDEO_ID).tolist() == [f"video{i:05d}" for i in range(7)]
    assert s.read(S.SPLIT).tolist() == ["train"] * 7
    assert s.read(S.DONE).all() and s.valid_indices("train").tolist() == list(range(7))
    assert s.read(S.REC_FEATURES).shape == (7, 3, 1) and not s.has_logits


def test_import_with_light_features_and_labels(tmp_path: Path) -> None:
    labels = np.eye(3, dtype=np.uint8)[[0, 1, 2, 1]]
    with h5py.File(tmp_path / "l.h5", "w") as f:
        f[S.LIGHT_FEATURES] = np.ones((4, 2, 5), np.float32)
        f[S.LABELS] = labels
        f[S.SPLIT] = np.array([b"train", b"train", b"val", b"test"])
    s = import_h5(tmp_path / "l.h5", tmp_path / "l.zarr")
    assert s.class_names == ["class0", "class1", "class2"]
    np.testing.assert_array_equal(s.read(S.LABELS), labels)
    assert s.valid_indices("val").tolist() == [2]
    assert s.read(S.LIGHT_FEATURES).dtype == np.float16


def _write_h5(path: Path, **datasets: np.ndarray) -> Path:
    with h5py.File(path, "w") as f:
        for name, data in datasets.items():
            f[name.replace("__", "/")] = data
    return path


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: d / "missing.h5", "no such HDF5 file"),
        (lambda d: (d / "text.h5").write_text("not hdf5") and d / "text.h5", "not an HDF5 file"),
        (lambda d: _write_h5(d / "nolight.h5", labels=np.zeros((3, 2), np.uint8)), "light/features"),
        (lambda d: _write_h5(d / "ndim.h5", light__features=np.zeros((3, 4), np.float16)), r"\[N, T, D\]"),
        (lambda d: _write_h5(d / "shape.h5", light__features=np.zeros((3, 2, 4), np.float16),
                             frame_indices=np.zeros((3, 5), np.int32)), "frame_indices has shape"),
        (lambda d: _write_h5(d / "labels.h5", light__features=np.zeros((3, 2, 4), np.float16),
                             labels=np.zeros((5, 2), np.uint8)), "labels"),
        (lambda d: _write_h5(d / "ids.h5", light__features=np.zeros((3, 2, 4), np.float16),
                             video_id=np.array([b"a", b"b"])), "video_id"),
    ],
)
def test_bad_hdf5_raises_store_error_and_creates_nothing(tmp_path: Path, make, match: str) -> None:
    src = make(tmp_path)
    with pytest.raises(StoreError, match=match) as info:
        import_h5(src, tmp_path / "out.zarr")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out.zarr").exists()
