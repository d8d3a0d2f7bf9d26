"""`nsnet ablate --jobs N` and `--engine ray`: the serial run's table, resumable, failures recorded."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from nsnet.cli.sampler import ablate_command
from nsnet.toys.planted import PlantedSpec, planted_saliency_arrays, write_store

SPEC = PlantedSpec(num_videos=24, num_classes=3, num_frames=8, light_dim=8, rec_dim=6, salient=2)
COMMON = {"epochs": 1, "width": 16, "heads": 4, "batch_size": 8, "device": "cpu"}
GRID = [{"name": "ns", **COMMON}, {"name": "mlp", "encoder": "mlp", **COMMON},
        {"name": "diverges", **{**COMMON, "lr": 1e12}}, {"name": "maxconf-l", "variant": "maxconf-l", **COMMON}]
app = typer.Typer()
app.command("ablate")(ablate_command)
app.command("other")(lambda: None)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    train = planted_saliency_arrays(SPEC, "train")[0]
    val = planted_saliency_arrays(dataclasses.replace(SPEC, num_videos=9), "val")[0]
    return write_store(tmp_path_factory.mktemp("s") / "store.zarr", {"train": train, "val": val})


def _ablate(store, grid: Path, out: Path, *extra: str) -> list[dict]:
    result = CliRunner().invoke(app, ["ablate", str(store.path), "--grid", str(grid), "--out", str(out), "-q", *extra])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(open(out / "ablation.csv")))


def _without_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "train_s"} for r in rows]


@pytest.mark.slow
def test_two_jobs_give_the_serial_table_resume_and_record_a_diverged_entry(store, tmp_path: Path) -> None:
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(GRID))
    serial = _ablate(store, grid, tmp_path / "serial", "--threads", "1")
    parallel = _ablate(store, grid, tmp_path / "parallel", "--jobs", "2", "--threads", "1")
    assert [r["name"] for r in parallel] == ["uniform (untrained)", "ns", "mlp", "diverges", "maxconf-l"]
    assert _without_time(parallel) == _without_time(serial)
    assert parallel[3]["error"] and not parallel[3]["mAP"] and parallel[1]["mAP"]
    again = _ablate(store, grid, tmp_path / "parallel", "--jobs", "2", "--threads", "1")  # every run resumed
    assert again == parallel


@pytest.mark.slow
def test_ray_engine_gives_the_serial_table(ray_cluster, store, tmp_path: Path) -> None:
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(GRID[:2]))
    serial = _ablate(store, grid, tmp_path / "serial", "--threads", "1")
    on_ray = _ablate(store, grid, tmp_path / "ray", "--engine", "ray", "--threads", "1")
    assert _without_time(on_ray) == _without_time(serial)


def test_ray_address_needs_the_ray_engine(store, tmp_path: Path) -> None:
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps(GRID[:1]))
    result = CliRunner().invoke(app, ["ablate", str(store.path), "--grid", str(grid), "--out", str(tmp_path / "o"),
                                      "--ray-address", "auto"])
    assert result.exit_code == 2 and "needs --engine ray" in result.stderr
