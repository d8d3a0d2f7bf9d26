"""`nsnet extract`, `info`, `store`, `fit-recognizer` on the command line; kill-and-resume; torchrun."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr
from click.testing import Result
from typer.testing import CliRunner

from conftest import REPO, SMALL_CLI, add_rows, cli_env, run_cli, small_config
from nsnet.cli import app
from nsnet.extract.pipeline import extract
from nsnet.extract.recognizer import HEAD_FILE
from nsnet.store import FeatureStore
from nsnet.store import schema as S
from utils import assert_one_line_error, make_corrupt_files

runner = CliRunner()
NUM_CHUNKS12 = 6  # 12 videos, --chunk-videos 2


def invoke(*args) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def assert_same_store(a: Path, b: Path) -> None:
    """Every array of the two stores is identical (and so is their identity)."""
    sa, sb = FeatureStore.open(a), FeatureStore.open(b)
    assert sa.fingerprint == sb.fingerprint
    for name in S.PER_FRAME_ARRAYS + S.PER_VIDEO_ARRAYS:
        np.testing.assert_array_equal(sa.read(name), sb.read(name), err_msg=name)


# ------------------------------------------------------------------------------------ options
@pytest.mark.parametrize(
    ("option", "value"),
    [("--frames", "0"), ("--format", "nope"), ("--device", "tpu"), ("--workers", "-1"), ("--extractor-size", "8"),
     ("--chunk-videos", "0"), ("--batch-size", "0"), ("--frames", "many"), ("--patches", "0"),
     ("--patch-size", "0"), ("--patches", "two")],
)
def test_bad_option_values_are_usage_errors(dataset: Path, tmp_path: Path, option: str, value: str) -> None:
    result = invoke("extract", dataset, "--out", tmp_path / "s.zarr", option, value)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert option in result.output
    assert not (tmp_path / "s.zarr").exists()


def test_missing_out_option_is_a_usage_error(dataset: Path) -> None:
    result = invoke("extract", dataset)
    assert result.exit_code == 2 and "--out" in result.output


def test_missing_annotation_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = invoke("extract", tmp_path / "nope.csv", "--out", tmp_path / "s.zarr", *SMALL_CLI)
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "nope.csv", "not found")
    assert not (tmp_path / "s.zarr").exists()


def test_rerun_with_different_frames_is_a_one_line_refusal(store_path: Path, dataset: Path) -> None:
    args = [a if a != "8" else "6" for a in SMALL_CLI]  # --frames 6 instead of 8
    result = invoke("extract", dataset, "--out", store_path, *args)
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "refusing", "T: store has 8, asked 6")
    assert FeatureStore.open(store_path).T == 8


def test_patch_size_without_patches_is_a_one_line_error(dataset: Path, tmp_path: Path) -> None:
    result = invoke("extract", dataset, "--out", tmp_path / "s.zarr", *SMALL_CLI, "--patch-size", "32")
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "--patch-size needs --patches G")
    assert not (tmp_path / "s.zarr").exists()


def test_patch_larger_than_the_recognizer_input_is_a_one_line_error(dataset: Path, tmp_path: Path) -> None:
    result = invoke("extract", dataset, "--out", tmp_path / "s.zarr", *SMALL_CLI, "--patches", "3")  # P = 96 > 64
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "patch size P must be between 1 and 64 (the 64x64 frame), got 96")
    assert not (tmp_path / "s.zarr").exists()


def test_store_without_patches_refuses_to_resume_with_patches(store_path: Path, dataset: Path) -> None:
    result = invoke("extract", dataset, "--out", store_path, *SMALL_CLI, "--patches", "2", "--patch-size", "32")
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "refusing", "patches: store has none, asked G=2 P=32")
    assert FeatureStore.open(store_path).patches is None


# ------------------------------------------------------------------------------------ bad videos
@pytest.fixture(scope="module")
def bad_dataset(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    root = tmp_path_factory.mktemp("bad_dataset")
    shutil.copytree(dataset.parent / "videos", root / "videos")
    csv_path = root / "annotations.csv"
    csv_path.write_text(dataset.read_text())
    bad = make_corrupt_files(root / "bad", include_decode_errors=True)
    add_rows(csv_path, [(f"bad/{p.name}", "b", "val") for p in bad.values()])
    return csv_path, bad


@pytest.mark.slow
def test_bad_videos_one_line_each_and_exit_codes(bad_dataset: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    csv_path, bad = bad_dataset
    out = tmp_path / "s.zarr"
    result = invoke("extract", csv_path, "--out", out, "--chunk-videos", "4", *SMALL_CLI)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed ")]
    assert len(failed) == len(bad)
    for path in bad.values():
        assert sum(line.startswith(f"failed {path}: ") for line in failed) == 1, path
    assert "1 of 17 videos are missing" in result.stderr
    store = FeatureStore.open(out)
    assert store.read(S.DONE).all()
    assert store.status_counts() == {"total": 17, "done": 10, "failed": len(bad), "pending": 0}
    reasons = dict(store.failures())
    assert set(reasons) == {str(p) for p in bad.values()}
    assert all(r and "\n" not in r for r in reasons.values())

    strict = invoke("extract", csv_path, "--out", out, "--strict", *SMALL_CLI)  # nothing left to do
    assert strict.exit_code == 1
    assert "7 videos failed (--strict)" in strict.stderr and "Traceback" not in strict.output


def test_quiet_extract_still_reports_the_failures(dataset: Path, tmp_path: Path) -> None:
    rows = dataset.read_text().splitlines()
    csv_path = tmp_path / "annotations.csv"
    first = rows[1].split(",")
    csv_path.write_text("\n".join([rows[0], ",".join([str(dataset.parent / first[0]), *first[1:]])]) + "\n")
    add_rows(csv_path, [(f"gone/{i}.mp4", "b", "val") for i in range(3)])
    result = invoke("extract", csv_path, "--out", tmp_path / "s.zarr", "--quiet", *SMALL_CLI)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr  # -q: no progress, no per-video lines, one summary
    assert lines[0].startswith("warning: 3 of 4 videos failed; most often (3x) 'file not found'"), lines[0]
    assert "nsnet info" in lines[0]


def test_strict_on_a_clean_dataset_exits_0(store_path: Path, dataset: Path) -> None:
    result = invoke("extract", dataset, "--out", store_path, "--strict", "--quiet", *SMALL_CLI)
    assert result.exit_code == 0, result.output


# ------------------------------------------------------------------------------------ info / store / fit
def test_info_table_and_json(store_path: Path) -> None:
    table = invoke("info", store_path)
    assert table.exit_code == 0, table.output
    for text in ("10 total: 10 done, 0 failed, 0 pending", "mobilenetv2_100", "tf_efficientnet_lite0", "light/features"):
        assert text in table.stdout
    as_json = invoke("info", store_path, "--json")
    assert as_json.exit_code == 0
    summary = json.loads(as_json.stdout)
    assert summary["T"] == 8 and summary["num_classes"] == 2
    assert summary["status"] == {"total": 10, "done": 10, "failed": 0, "pending": 0}
    assert sum(summary["videos_per_split"].values()) == 10
    assert summary["arrays"]["light/features"]["shape"] == [10, 8, 1280]
    assert summary["fingerprint"] == FeatureStore.open(store_path).fingerprint


def test_info_on_a_folder_that_is_no_store(tmp_path: Path) -> None:
    result = invoke("info", tmp_path)
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "no feature store")


def test_store_export_and_import_h5(store_path: Path, tmp_path: Path) -> None:
    h5 = tmp_path / "dump.h5"
    exported = invoke("store", "export-h5", store_path, h5)
    assert exported.exit_code == 0, exported.output and h5.is_file()
    imported = invoke("store", "import-h5", h5, tmp_path / "back.zarr", "--chunk-videos", "3")
    assert imported.exit_code == 0, imported.output
    assert_same_store(store_path, tmp_path / "back.zarr")
    assert FeatureStore.open(tmp_path / "back.zarr").chunk_videos == 3
    again = invoke("store", "import-h5", h5, tmp_path / "back.zarr")
    assert again.exit_code == 2
    assert_one_line_error(again.stderr, "exists already")


def test_store_import_of_a_bad_file(tmp_path: Path) -> None:
    (tmp_path / "x.h5").write_text("not hdf5")
    result = invoke("store", "import-h5", tmp_path / "x.h5", tmp_path / "s.zarr")
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "not an HDF5 file")


def test_fit_recognizer_command(store_path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "s.zarr"
    shutil.copytree(store_path, copy)
    result = invoke("fit-recognizer", copy, "--quiet")
    assert result.exit_code == 0, result.output
    store = FeatureStore.open(copy)
    assert np.isfinite(store.read(S.REC_LOGITS)).all() and store.attrs["recognizer_head"]["sha256"]
    empty = invoke("fit-recognizer", copy, "--split", "test", "--quiet")
    assert empty.exit_code == 2
    assert_one_line_error(empty.stderr, "no extracted videos in split 'test'")
    (copy / HEAD_FILE).write_bytes(b"not a torch file")  # a corrupt head: one line, not a traceback
    corrupt = invoke("evaluate", copy, "--method", "uniform", "--budget", "1", "--split", "train",
                     "--device", "cpu", "--workers", "0", "--quiet", "--out", tmp_path / "eval")
    assert corrupt.exit_code == 2, corrupt.output
    assert_one_line_error(corrupt.stderr, HEAD_FILE, "unreadable", "fit-recognizer")


@pytest.mark.slow
def test_full_disk_is_one_line_and_resuming_gives_the_clean_store(
        dataset12: Path, reference12: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "store.zarr"
    write_chunk = FeatureStore.write_chunk
    failed: list[int] = []

    def disk_fills_once(self, chunk_id, data):
        if chunk_id == 2 and not failed:  # half the chunk reaches the disk, then the disk is full
            failed.append(chunk_id)
            lo, hi = self.chunk_ranges()[chunk_id]
            self.array(S.LIGHT_FEATURES)[lo:hi] = data[S.LIGHT_FEATURES]
            raise OSError(errno.ENOSPC, "No space left on device", f"{self.path}/{S.REC_FEATURES}")
        return write_chunk(self, chunk_id, data)

    monkeypatch.setattr(FeatureStore, "write_chunk", disk_fills_once)
    full = invoke(*_extract_args(dataset12, out))
    assert full.exit_code == 2 and failed == [2], full.output
    assert_one_line_error(full.stderr, str(out), "no space left", "run the same command again")
    resumed = invoke(*_extract_args(dataset12, out))
    assert resumed.exit_code == 0, resumed.output
    assert_same_store(reference12, out)


# ------------------------------------------------------------------------------------ kill and resume
def _done_chunks(out: Path) -> int:
    """Returns how many chunks of 2 videos are complete (-1 while there is no store yet)."""
    if not (out / "zarr.json").is_file():
        return -1
    try:
        done = zarr.open_array(str(out / "done"), mode="r")[...]
    except Exception:  # created this instant
        return -1
    return int(done.reshape(-1, 2).all(1).sum())


def _popen(args: list, hooked: Path | None = None, **env: str) -> subprocess.Popen:
    cmd = [sys.executable, str(hooked)] if hooked else [sys.executable, "-m", "nsnet.cli"]
    return subprocess.Popen(cmd + [str(a) for a in args], cwd=REPO, env=cli_env(**env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _kill_when(proc: subprocess.Popen, out: Path, lo: int, hi: int, timeout: float = 120) -> int | None:
    """SIGKILLs ``proc`` as soon as lo <= done chunks <= hi; returns that count (None: it ended first)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        n = _done_chunks(out)
        if lo <= n <= hi:
            proc.kill()
            proc.wait()
            return n
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    return None


def _extract_args(dataset12: Path, out: Path) -> list:
    return ["extract", dataset12, "--out", out, "--chunk-videos", "2", "--quiet", *SMALL_CLI]


def _resume(dataset12: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Re-runs the extraction in-process to completion; returns what it printed on stderr."""
    capsys.readouterr()
    extract(small_config(dataset12, out, chunk_videos=2, quiet=False))
    return capsys.readouterr().err


@pytest.mark.slow
def test_killed_runs_resume_to_the_same_store_as_an_uninterrupted_run(
        dataset12: Path, reference12: Path, hooked_cli: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Four runs on one store: killed while creating the store, killed very early (inside the first
    chunk write), killed mid-run by polling, then resumed to completion."""
    out = tmp_path / "s.zarr"
    # 1. SIGKILL at the 6th of the store's 12 arrays: a half-made store never appears under --out
    proc = run_cli(_extract_args(dataset12, out), hooked=hooked_cli, env=cli_env(NSNET_TEST_KILL_IN_CREATE="6"))
    assert proc.returncode == -9
    assert not out.exists()
    # 2. the re-run creates the store afresh; SIGKILL after chunk 0's data, before its done flags
    proc = run_cli(_extract_args(dataset12, out), hooked=hooked_cli, env=cli_env(NSNET_TEST_KILL_IN_WRITE="1"))
    assert proc.returncode == -9
    store = FeatureStore.open(out)
    assert store.pending_chunks() == list(range(NUM_CHUNKS12))
    assert (store.read(S.FRAME_INDICES, [0, 1]) >= 0).all() and not store.read(S.DONE).any()
    # 3. plain `python -m nsnet.cli extract`, SIGKILLed between its first and last chunk
    killed_at = _kill_when(_popen(_extract_args(dataset12, out)), out, 1, NUM_CHUNKS12 - 1)
    if killed_at is None:  # the plain run was too quick to catch: start afresh, each chunk write slowed down
        shutil.rmtree(out)
        killed_at = _kill_when(_popen(_extract_args(dataset12, out), hooked_cli, NSNET_TEST_WRITE_SLEEP="0.3"),
                               out, 1, NUM_CHUNKS12 - 1)
    assert killed_at is not None, "could not kill the run between its first and last chunk"
    assert 0 < len(FeatureStore.open(out).pending_chunks()) < NUM_CHUNKS12
    # 4. resume to completion: identical to the uninterrupted run
    err = _resume(dataset12, out, capsys)
    assert "resuming:" in err
    assert_same_store(reference12, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]  # no leftovers next to the store


# ------------------------------------------------------------------------------------ torchrun
@pytest.mark.slow
def test_two_rank_torchrun_equals_one_rank(dataset12: Path, reference12: Path, hooked_cli: Path, tmp_path: Path) -> None:
    out, log = tmp_path / "s.zarr", tmp_path / "chunks.log"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(hooked_cli),
           *[str(a) for a in _extract_args(dataset12, out)]]
    proc = subprocess.run(cmd, cwd=REPO, env=cli_env(NSNET_TEST_CHUNK_LOG=str(log)), capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    writes = sorted(tuple(map(int, line.split())) for line in log.read_text().splitlines())
    assert writes == sorted((c % 2, c) for c in range(NUM_CHUNKS12))  # every chunk written once, by its own rank
    assert_same_store(reference12, out)
    assert FeatureStore.open(out).attrs["status"]["done"] == 12
