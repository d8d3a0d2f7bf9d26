"""Loading SamplerArrays from a feature store, and training / loading runs against a store."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nsnet.sampler.config import sampler_config
from nsnet.sampler.data import SamplerArrays, SamplerDataError, load_sampler_arrays
from nsnet.toys.planted import PlantedSpec, planted_saliency_arrays, write_store
from nsnet.sampler.run import RunMismatchError, load_run
from nsnet.sampler.train import fit_sampler
from nsnet.store import FeatureStore

SPEC = PlantedSpec(num_videos=20, num_classes=3, num_frames=6, light_dim=8, rec_dim=5, salient=2)


@pytest.fixture(scope="module")
def parts():
    val_spec = dataclasses.replace(SPEC, num_videos=7)
    return planted_saliency_arrays(SPEC, "train")[0], planted_saliency_arrays(val_spec, "val")[0]


@pytest.fixture(scope="module")
def store(parts, tmp_path_factory):
    train, val = parts
    path = tmp_path_factory.mktemp("s") / "store.zarr"
    return write_store(path, {"train": train, "val": val}, failed=2, chunk_videos=8)


def test_load_split_skips_failed_videos(store, parts) -> None:
    train, val = parts
    a = load_sampler_arrays(store.path, "train")
    assert a.N == train.N - 2 and a.video_ids == train.video_ids[2:]
    assert a.light.dtype == np.float32 and a.light.shape == (a.N, SPEC.num_frames, SPEC.light_dim)
    np.testing.assert_allclose(a.light, train.light[2:], atol=2e-2)  # stored as float16
    np.testing.assert_allclose(a.rec_logits, train.rec_logits[2:])
    np.testing.assert_array_equal(a.labels, train.labels[2:])
    assert a.fingerprint == store.fingerprint and a.extractor_spec == store.extractor_spec
    assert a.class_names == store.class_names and a.split == "train"
    v = load_sampler_arrays(store, "val", rec_features=False)
    assert v.N == val.N and v.rec_features is None and v.rec_logits is not None


def test_empty_split_and_missing_logits(store, parts, tmp_path) -> None:
    with pytest.raises(SamplerDataError, match="no finished videos"):
        load_sampler_arrays(store, "test")
    no_logits = write_store(tmp_path / "nologits.zarr", {"train": parts[0]}, with_logits=False)
    assert not no_logits.has_logits
    with pytest.raises(SamplerDataError, match="no recognizer logits"):
        load_sampler_arrays(no_logits, "train")
    assert load_sampler_arrays(no_logits, "train", rec_logits=False).rec_logits is None


def test_arrays_validate_shapes() -> None:
    with pytest.raises(SamplerDataError, match="labels"):
        SamplerArrays(light=np.zeros((2, 3, 4)), labels=np.zeros((2, 5)), class_names=["a", "b"])
    with pytest.raises(SamplerDataError, match="logits"):
        SamplerArrays(light=np.zeros((2, 3, 4)), labels=np.zeros((2, 2)), class_names=["a", "b"],
                      rec_logits=np.zeros((2, 3, 3)))


def test_fit_sampler_on_store_and_refuse_other_store(store, parts, tmp_path) -> None:
    cfg = sampler_config(width=16, heads=4, epochs=1, batch_size=8, device="cpu")
    run_dir = fit_sampler(store.path, tmp_path / "run", cfg, progress=False)
    run = load_run(run_dir, store=FeatureStore.open(store.path))
    assert run.meta["fingerprint"] == store.fingerprint and run.meta["T"] == store.T
    assert run.meta["num_train_videos"] == parts[0].N - 2
    other = write_store(tmp_path / "other.zarr", {"train": parts[0]})  # other video list -> other fingerprint
    with pytest.raises(RunMismatchError, match="fingerprint"):
        load_run(run_dir, store=other.path)


def test_baselines_do_not_need_recognizer_arrays(parts, tmp_path) -> None:
    no_logits = write_store(tmp_path / "nologits.zarr", {"train": parts[0]}, with_logits=False)
    cfg = sampler_config(variant="maxconf-l", width=16, heads=4, epochs=1, batch_size=8, device="cpu")
    assert (fit_sampler(no_logits.path, tmp_path / "run", cfg, progress=False) / "sampler.pt").is_file()
    with pytest.raises(SamplerDataError, match="logits"):
        fit_sampler(no_logits.path, tmp_path / "run2", sampler_config(width=16, heads=4, epochs=1, batch_size=8, device="cpu"), progress=False)
