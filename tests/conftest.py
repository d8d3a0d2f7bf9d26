"""Shared fixtures for the feature-store and `nsnet extract` tests.

Everything is tiny on purpose: random-init models (``weights="none"``) at 64 px, T = 8 frames,
64x48 videos of 20 frames. The session fixtures build a small CSV dataset and extract it once.
"""

from __future__ import annotations

import contextlib
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import nsnet._compat  # noqa: E402,F401  (before anything imports timm/torchvision)
from nsnet.extract.config import ExtractConfig  # noqa: E402
from utils import make_csv_dataset, make_video  # noqa: E402

# One intra-op thread: on a small, shared CPU, OpenMP threads waiting on each other make these tiny
# forwards 10x slower. Subprocesses get OMP_NUM_THREADS=1 (see cli_env) for the same reason.
torch.set_num_threads(1)

T = 8
SIZE = 64
# The same settings as ExtractConfig keywords and as `nsnet extract` options.
SMALL = dict(weights="none", recognizer_weights="none", extractor_size=SIZE, recognizer_size=SIZE, frames=T,
             workers=0, device="cpu", quiet=True)
SMALL_CLI = ["--weights", "none", "--recognizer-weights", "none", "--extractor-size", str(SIZE),
             "--recognizer-size", str(SIZE), "--frames", str(T), "--workers", "0", "--device", "cpu"]

# Runs the real CLI (`nsnet.cli:app`) with test hooks that only observe or interrupt it, chosen by
# environment variables: NSNET_TEST_CHUNK_LOG (append "rank chunk" per chunk write),
# NSNET_TEST_WRITE_SLEEP (seconds to wait before each chunk write, to widen the kill window),
# NSNET_TEST_KILL_IN_WRITE=k (the k-th chunk write stores its data, then SIGKILLs itself before
# setting the done flags) and NSNET_TEST_KILL_IN_CREATE=k (SIGKILL at the k-th zarr array creation).
HOOKED_CLI = r'''
import os, signal, sys, time
import zarr
from nsnet.store import schema as S
from nsnet.store.feature_store import FeatureStore

_orig_write = FeatureStore.write_chunk
_calls = {"write": 0, "create": 0}

def _write_chunk(self, chunk_id, data):
    _calls["write"] += 1
    time.sleep(float(os.environ.get("NSNET_TEST_WRITE_SLEEP", "0")))
    if _calls["write"] == int(os.environ.get("NSNET_TEST_KILL_IN_WRITE", "0")):
        lo, hi = self.chunk_ranges()[chunk_id]
        for name, values in data.items():
            self.array(name)[lo:hi] = values
        os.kill(os.getpid(), signal.SIGKILL)
    log = os.environ.get("NSNET_TEST_CHUNK_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{os.environ.get('RANK', '0')} {chunk_id}\n")
    return _orig_write(self, chunk_id, data)

FeatureStore.write_chunk = _write_chunk

_orig_create_array = zarr.Group.create_array

def _create_array(self, *args, **kwargs):
    _calls["create"] += 1
    if _calls["create"] == int(os.environ.get("NSNET_TEST_KILL_IN_CREATE", "0")):
        os.kill(os.getpid(), signal.SIGKILL)
    return _orig_create_array(self, *args, **kwargs)

zarr.Group.create_array = _create_array

from nsnet.cli import app
app(prog_name="nsnet")
'''


def small_config(annotations: Path, out: Path, **overrides) -> ExtractConfig:
    """Returns an ExtractConfig with the tiny test settings (overridable)."""
    return ExtractConfig(annotations=Path(annotations), out=Path(out), **{**SMALL, **overrides})


def cli_env(**extra: str) -> dict[str, str]:
    """Returns an environment for running the CLI in a subprocess from the repository."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(OMP_NUM_THREADS="1", COLUMNS="300", **extra)
    return env


def add_rows(csv_path: Path, rows: list[tuple[str, str, str]]) -> None:
    """Appends (path, label, split) rows to an annotations CSV."""
    with open(csv_path, "a", newline="") as f:
        csv.writer(f).writerows(rows)


@pytest.fixture(scope="session")
def hooked_cli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns the path of a script that runs `nsnet` with the test hooks above."""
    path = tmp_path_factory.mktemp("hooks") / "hooked_cli.py"
    path.write_text(HOOKED_CLI)
    return path


def run_cli(args: list[str], *, hooked: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs `python -m nsnet.cli ARGS` (or the hooked script) and returns the finished process."""
    cmd = [sys.executable, str(hooked)] if hooked else [sys.executable, "-m", "nsnet.cli"]
    return subprocess.run(cmd + [str(a) for a in args], cwd=REPO, env=env or cli_env(), capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The decode corpus (tests/decode_corpus.py), built once per session: {name: path}."""
    from decode_corpus import build_corpus

    return build_corpus(tmp_path_factory.mktemp("decode_corpus"))


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns annotations.csv of 8 random 20-frame 64x48 videos (2 classes, train/val) plus one
    5-frame video (n < T, looped) and one portrait 48x64 video."""
    root = tmp_path_factory.mktemp("dataset")
    csv_path = make_csv_dataset(root, num_videos=8, num_frames=20)
    make_video(root / "videos" / "short.mp4", num_frames=5, pattern="random", seed=100)
    make_video(root / "videos" / "portrait.mp4", num_frames=20, size=(48, 64), pattern="random", seed=101)
    add_rows(csv_path, [("videos/short.mp4", "a", "train"), ("videos/portrait.mp4", "b", "val")])
    return csv_path


@pytest.fixture(scope="session")
def store_path(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns a store extracted once from :func:`dataset` (chunks of 4 videos, one decode worker)."""
    from nsnet.extract.pipeline import extract

    out = tmp_path_factory.mktemp("store") / "store.zarr"
    extract(small_config(dataset, out, chunk_videos=4, workers=1))
    return out


@pytest.fixture(scope="session")
def dataset12(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns annotations.csv of 12 small videos (for kill/resume and multi-rank runs)."""
    return make_csv_dataset(tmp_path_factory.mktemp("dataset12"), num_videos=12, num_frames=20, classes=("a", "b", "c"))


@pytest.fixture(scope="session")
def reference12(dataset12: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Returns an uninterrupted single-process extraction of :func:`dataset12` (2 videos per chunk)."""
    from nsnet.extract.pipeline import extract

    out = tmp_path_factory.mktemp("ref12") / "store.zarr"
    extract(small_config(dataset12, out, chunk_videos=2))
    return out


@contextlib.contextmanager
def sampler_registry_snapshot():
    """Within the block samplers and variants may be registered; both registries are put back afterwards."""
    from nsnet.sampler import registry, variants

    registry.list_samplers()  # the built-ins are in before the snapshot
    saved, saved_variants = dict(registry._REGISTRY), dict(variants._VARIANTS)
    try:
        yield registry
    finally:
        registry._REGISTRY.clear()
        registry._REGISTRY.update(saved)
        variants._VARIANTS.clear()
        variants._VARIANTS.update(saved_variants)


@pytest.fixture
def restore_sampler_registry():
    """Lets a test register samplers (and variants): the registries are put back as they were afterwards."""
    with sampler_registry_snapshot() as registry:
        yield registry


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray cluster of 2 CPUs shared by the tests (the engines join it instead of starting one)."""
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    if started:
        ray.shutdown()


_PROCESS_SETTINGS = ("NSNET_JIT", "NSNET_DECODER", "NSNET_DECODER_CHOSEN")


@pytest.fixture(autouse=True)
def _restore_process_settings():
    """A command run in-process (CliRunner) sets its decoder and frozen inference for the whole process
    (environment variables, so decode workers inherit them): put them back after every test."""
    saved = {key: os.environ.get(key) for key in _PROCESS_SETTINGS}
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models train faster on one thread, especially on a shared CPU: torch runs a whole test
    module with one thread (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
