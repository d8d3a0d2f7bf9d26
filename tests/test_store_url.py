"""Stores at a URL: extract / info / fit-recognizer / resume / refusal against a real S3 endpoint
(moto's server on 127.0.0.1, spoken to over HTTP by s3fs; nothing inside nsnet is mocked)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import SMALL_CLI
from nsnet.cli import app
from nsnet.extract.recognizer import HEAD_FILE
from nsnet.store import FeatureStore, StoreError, StoreLocation, set_storage_options
from nsnet.store import schema as S

pytest.importorskip("s3fs")
pytest.importorskip("moto")
BUCKET = "nsnet-test"
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_moto(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """Starts moto's S3 server on a free loopback port; returns (process, endpoint URL)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("moto's S3 server did not start within 30 s")


CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """Yields the endpoint of a local S3 server with bucket BUCKET; AWS_* variables point at it."""
    proc, endpoint = _start_moto({**os.environ, **CREDENTIALS})
    saved = {k: os.environ.get(k) for k in [*CREDENTIALS, "AWS_ENDPOINT_URL"]}
    os.environ.update({**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint})
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        set_storage_options({})
        proc.terminate()
        proc.wait(timeout=10)


def _one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def _bucket_keys(endpoint: str, prefix: str) -> list[str]:
    import boto3

    listing = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for item in listing.get("Contents", [])]


def test_a_store_url_keeps_its_scheme() -> None:
    assert StoreLocation.parse("s3://b/p/s.zarr/").text == "s3://b/p/s.zarr"
    assert StoreLocation.parse("s3://b/p/s.zarr").is_url
    local = StoreLocation.parse("file:///tmp/x.zarr")
    assert not local.is_url and local.local_path == Path("/tmp/x.zarr")


def test_extract_to_s3_equals_the_local_store_and_every_command_reads_it(
        s3: str, dataset: Path, store_path: Path, tmp_path: Path) -> None:
    url = f"s3://{BUCKET}/runs/store.zarr"
    # the session's local store_path was made with chunks of 4 videos and one worker
    result = runner.invoke(app, ["extract", str(dataset), "--out", url, "--chunk-videos", "4", *SMALL_CLI, "-q"])
    assert result.exit_code == 0, result.output
    assert not Path("s3:").exists()  # no local folder named after the scheme
    remote, local = FeatureStore.open(url), FeatureStore.open(store_path)
    assert remote.path == url and remote.fingerprint == local.fingerprint
    for name in S.PER_FRAME_ARRAYS + S.PER_VIDEO_ARRAYS:
        np.testing.assert_array_equal(remote.read(name), local.read(name), err_msg=name)

    again = runner.invoke(app, ["extract", str(dataset), "--out", url, "--chunk-videos", "4", *SMALL_CLI])
    assert again.exit_code == 0 and "already done, 0 to go" in again.stderr, again.output  # resumes: nothing left

    mixed = runner.invoke(app, ["extract", str(dataset), "--out", url, *SMALL_CLI[:-6], "--frames", "3",
                                *SMALL_CLI[-4:]])
    assert "refusing to mix" in _one_error_line(mixed)

    info = runner.invoke(app, ["info", url, "--json"])
    assert info.exit_code == 0 and f'"path": "{url}"' in info.stdout, info.output

    fitted = runner.invoke(app, ["fit-recognizer", url, "-q"])
    assert fitted.exit_code == 0, fitted.output
    assert f"runs/store.zarr/{HEAD_FILE}" in _bucket_keys(s3, "runs/store.zarr/")
    assert FeatureStore.open(url).has_logits


def test_a_missing_bucket_is_one_line_and_nothing_is_written(s3: str, dataset: Path) -> None:
    result = runner.invoke(app, ["extract", str(dataset), "--out", "s3://no-such-bucket/s.zarr", *SMALL_CLI])
    assert "bucket does not exist" in _one_error_line(result)


def test_no_store_at_a_url_is_one_line(s3: str) -> None:
    result = runner.invoke(app, ["info", f"s3://{BUCKET}/nothing/here.zarr"])
    assert "no feature store here" in _one_error_line(result)


def test_an_unreachable_endpoint_is_one_line(s3: str) -> None:
    port = _free_port()  # nothing listens there
    result = runner.invoke(app, ["info", f"s3://{BUCKET}/s.zarr", "--storage-option",
                                 f"endpoint_url=http://127.0.0.1:{port}"])
    assert "cannot reach the storage endpoint" in _one_error_line(result)


def test_wrong_credentials_are_one_line_and_nothing_is_written(dataset: Path, tmp_path: Path) -> None:
    # a second server that checks credentials (moto enforces IAM after INITIAL_NO_AUTH_ACTION_COUNT calls)
    proc, endpoint = _start_moto({**os.environ, **CREDENTIALS, "INITIAL_NO_AUTH_ACTION_COUNT": "0"})
    try:
        result = runner.invoke(app, ["extract", str(dataset), "--out", f"s3://{BUCKET}/s.zarr", *SMALL_CLI,
                                     "--storage-option", f"endpoint_url={endpoint}",
                                     "--storage-option", "key=wrong", "--storage-option", "secret=wrong"])
        assert "access denied" in _one_error_line(result)
    finally:
        set_storage_options({})
        proc.terminate()
        proc.wait(timeout=10)


def test_a_half_made_url_store_is_refused_by_readers_and_recreated_by_extract(s3: str, dataset: Path,
                                                                             store_path: Path) -> None:
    import zarr

    from nsnet.store.create import CREATING_ATTR

    url = f"s3://{BUCKET}/half/store.zarr"
    zarr.open_group(store=StoreLocation.parse(url).zarr_store(read_only=False), mode="w-",  # what a creation killed
                    attributes={CREATING_ATTR: time.time() - 3600, "T": 4})     # an hour ago leaves behind
    assert "half-made store" in _one_error_line(runner.invoke(app, ["info", url]))
    result = runner.invoke(app, ["extract", str(dataset), "--out", url, "--chunk-videos", "4", *SMALL_CLI, "-q"])
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(FeatureStore.open(url).read(S.LIGHT_FEATURES),
                                  FeatureStore.open(store_path).read(S.LIGHT_FEATURES))


def _rows(result_dir: Path) -> list[tuple]:
    rows = json.loads((result_dir / "results.json").read_text())["rows"]
    return sorted((r["method"], r["K"], r["path"], round(r["mAP"], 10), round(r["top1"], 10), r["gflops"]) for r in rows)


@pytest.mark.slow
def test_fit_sampler_evaluate_and_predict_on_a_url_store_equal_the_local_ones(
        s3: str, dataset: Path, store_path: Path, tmp_path: Path) -> None:
    import shutil

    url = f"s3://{BUCKET}/e2e/store.zarr"
    local = tmp_path / "local.zarr"
    shutil.copytree(store_path, local)
    assert runner.invoke(app, ["extract", str(dataset), "--out", url, "--chunk-videos", "4", *SMALL_CLI, "-q"]).exit_code == 0
    fit = ["-o", "epochs=2", "-o", "width=16", "-o", "heads=4", "-o", "batch_size=4", "--device", "cpu", "-q"]
    results = {}
    for name, where in (("url", url), ("local", str(local))):
        assert runner.invoke(app, ["fit-recognizer", where, "-q"]).exit_code == 0
        run = tmp_path / f"run-{name}"
        done = runner.invoke(app, ["fit-sampler", where, "--out", str(run), *fit])
        assert done.exit_code == 0, done.output
        for path in ("cached", "reload"):
            out = tmp_path / f"eval-{name}-{path}"
            ev = runner.invoke(app, ["evaluate", where, "--run", str(run), "--budget", "2", "--path", path,
                                     "--method", "uniform", "--method", "nsnet", "--out", str(out), "--device", "cpu",
                                     "-q", "--workers", "0"])
            assert ev.exit_code == 0, ev.output
            results[name, path] = _rows(out)
        video = str(FeatureStore.open(where).read(S.PATH)[0])
        pred = runner.invoke(app, ["predict", video, "--run", str(run), "--budget", "2", "--json", "--device", "cpu"])
        assert pred.exit_code == 0, pred.output
        results[name, "predict"] = pred.stdout[pred.stdout.index("{"):]
    assert results["url", "cached"] == results["local", "cached"]
    assert results["url", "reload"] == results["local", "reload"]
    assert [r[3:5] for r in results["url", "reload"]] == [r[3:5] for r in results["url", "cached"]]
    def strip(text: str) -> dict:  # where the run and store live, and timings, differ by design
        return {k: v for k, v in json.loads(text).items() if k not in ("store", "run", "seconds")}

    assert strip(results["url", "predict"]) == strip(results["local", "predict"])


@pytest.mark.slow
def test_two_jobs_on_one_url_give_the_clean_store(s3: str, dataset12: Path, reference12: Path,
                                                  hooked_cli: Path) -> None:
    from conftest import cli_env

    url = f"s3://{BUCKET}/twice/store.zarr"
    args = [sys.executable, str(hooked_cli), "extract", str(dataset12), "--out", url, "--chunk-videos", "2",
            *SMALL_CLI, "-q"]
    first = subprocess.Popen(args, env=cli_env(NSNET_TEST_WRITE_SLEEP="0.5"), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    def first_chunk_done() -> bool:
        try:
            return bool(FeatureStore.open(url).read(S.DONE).any())
        except StoreError:  # not there yet, or still being created
            return False

    while not first_chunk_done():
        assert first.poll() is None and time.monotonic() < deadline, "the first job ended before the second began"
        time.sleep(0.2)
    second = subprocess.run(args, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert first.wait(timeout=300) == 0, first.stderr.read()
    remote, local = FeatureStore.open(url), FeatureStore.open(reference12)
    for name in S.PER_FRAME_ARRAYS + S.PER_VIDEO_ARRAYS:
        np.testing.assert_array_equal(remote.read(name), local.read(name), err_msg=name)
