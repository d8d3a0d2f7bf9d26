"""benchmarks/gpu_check.sh on the CPU: every stage runs, prints its frames/s, features agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, cli_env


@pytest.mark.slow
def test_gpu_check_script_runs_on_cpu(tmp_path: Path) -> None:
    proc = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "cpu", str(tmp_path)], cwd=REPO,
                          env=cli_env(PY=sys.executable, GPU_CHECK_VIDEOS="2"), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for stage in ("extract", "fit-sampler", "evaluate"):
        assert any(line.startswith(stage) and "frames/s" in line for line in proc.stdout.splitlines()), proc.stdout
    assert "light/features" in proc.stdout and "features agree" in proc.stdout
