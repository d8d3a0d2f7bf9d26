"""`nsnet extract --engine ray` on a local 2-CPU Ray cluster: the same store as the local pipeline,
a killed model actor costs nothing, resuming works, failed videos are recorded the same way."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import SMALL_CLI, add_rows, small_config
from nsnet.cli import app
from nsnet.extract.pipeline import extract
from nsnet.store import FeatureStore
from nsnet.store import schema as S

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow  # a Ray cluster takes ~10 s to start on this machine


def assert_same_store(a: Path, b: Path) -> None:
    sa, sb = FeatureStore.open(a), FeatureStore.open(b)
    assert sa.fingerprint == sb.fingerprint
    for name in S.PER_FRAME_ARRAYS + S.PER_VIDEO_ARRAYS + (S.DECODE_BACKEND,):
        np.testing.assert_array_equal(sa.read(name), sb.read(name), err_msg=name)


def _model_actor_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"MapBatches(_ModelActor)" in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


class ActorKiller(threading.Thread):
    """SIGKILLs the model actor's process once, as soon as the store has its first finished chunk."""

    def __init__(self, out: Path) -> None:
        super().__init__(daemon=True)
        self.out, self.killed, self.stop = out, [], False

    def run(self) -> None:
        while not self.stop and not self.killed:
            try:
                done = FeatureStore.open(self.out).read(S.DONE).any()
            except Exception:  # the store is not there yet
                done = False
            pids = _model_actor_pids() if done else []
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                self.killed.append(pids[0])
            time.sleep(0.05)


def test_ray_engine_equals_the_local_store_though_its_model_actor_is_killed(
        ray_cluster, dataset12: Path, reference12: Path, tmp_path: Path) -> None:
    from nsnet.extract.ray_engine import extract_with_ray

    out = tmp_path / "ray.zarr"
    killer = ActorKiller(out)
    killer.start()
    try:
        extract_with_ray(small_config(dataset12, out, chunk_videos=2))
    finally:
        killer.stop = True
        killer.join(timeout=5)
    assert killer.killed, "the model actor was never seen running"
    assert_same_store(reference12, out)

    # resume: chunk 3 lost its done flags and holds garbage; only it is recomputed
    store = FeatureStore.open(out, mode="r+")
    lo, hi = store.chunk_ranges()[3]
    store.array(S.DONE)[lo:hi] = False
    store.array(S.LIGHT_FEATURES)[lo:hi] = np.ones_like(store.read(S.LIGHT_FEATURES)[lo:hi])
    extract_with_ray(small_config(dataset12, out, chunk_videos=2))
    assert_same_store(reference12, out)


def test_ray_engine_records_failed_videos_like_the_local_one(ray_cluster, dataset: Path, tmp_path: Path) -> None:
    from nsnet.extract.ray_engine import extract_with_ray

    csv_path = tmp_path / "annotations.csv"
    shutil.copy(dataset, csv_path)
    shutil.copytree(dataset.parent / "videos", tmp_path / "videos")
    (tmp_path / "videos" / "empty.mp4").write_bytes(b"")
    add_rows(csv_path, [("videos/gone.mp4", "a", "val"), ("videos/empty.mp4", "b", "train")])
    extract(small_config(csv_path, tmp_path / "local.zarr", chunk_videos=4))
    extract_with_ray(small_config(csv_path, tmp_path / "ray.zarr", chunk_videos=4))
    assert FeatureStore.open(tmp_path / "ray.zarr").status_counts()["failed"] == 2
    assert_same_store(tmp_path / "local.zarr", tmp_path / "ray.zarr")


def test_ray_options_need_the_ray_engine(dataset: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["extract", str(dataset), "--out", str(tmp_path / "s.zarr"), *SMALL_CLI,
                                      "--model-actors", "2"])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and "need --engine ray" in lines[0], result.output
