"""The typer commands fit-sampler and ablate: happy paths, typer errors, one-line errors."""

from __future__ import annotations

import csv
import dataclasses
import json

import pytest
import typer
from typer.testing import CliRunner

from nsnet.cli.sampler import ablate_command, fit_sampler_command
from nsnet.toys.planted import PlantedSpec, planted_saliency_arrays, write_store

SPEC = PlantedSpec(num_videos=24, num_classes=3, num_frames=8, light_dim=8, rec_dim=6, salient=2)
FAST = ["--epochs", "1", "--width", "16", "--device", "cpu"]

app = typer.Typer()
app.command("fit-sampler")(fit_sampler_command)
app.command("ablate")(ablate_command)
runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    train = planted_saliency_arrays(SPEC, "train")[0]
    val = planted_saliency_arrays(dataclasses.replace(SPEC, num_videos=9), "val")[0]
    return write_store(tmp_path_factory.mktemp("s") / "store.zarr", {"train": train, "val": val})


def test_fit_sampler_writes_a_run(store, tmp_path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["fit-sampler", str(store.path), "--out", str(out), "--option", "fsm=baseline+", *FAST])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "config.json").read_text())
    opts = saved["config"]["options"]
    assert opts["fsm"] == "baseline+" and opts["epochs"] == 1 and opts["gamma"] == 0.2  # every option recorded
    assert opts["fsm_saliency"] == "max"
    assert saved["run"]["fingerprint"] == store.fingerprint


def test_fit_sampler_fsm_saliency_option(store, tmp_path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["fit-sampler", str(store.path), "--out", str(out), "--fsm-saliency", "salient", *FAST])
    assert result.exit_code == 0, result.output
    from nsnet.sampler.run import load_run

    run = load_run(out, store=store.path)
    assert run.config.options.fsm_saliency == "salient" and run.model.cfg.fsm_saliency == "salient"


@pytest.mark.parametrize("args,match", [
    (["--option", "fsm=nope"], "option fsm='nope' is not one of"), (["--fsm", "nope"], "option fsm='nope'"),
    (["--variant", "nope"], "unknown variant 'nope'"), (["--epochs", "0"], "option epochs must be >= 1, got 0"),
    (["-o", "epochs=0.5"], "option epochs must be an integer"), (["-o", "lr=fast"], "option lr must be a finite number"),
    (["-o", "gamma=-1"], "option gamma must be >= 0"), (["-o", "nope=1"], "variant nsnet has no option 'nope'"),
    (["-o", "modality=visual"], "variant nsnet has no option 'modality'"),
    (["-o", "epochs=2", "--epochs", "3"], "option epochs is given twice"),
    (["--variant", "maxconf-l", "-o", "hidden=4"], "variant maxconf-l has no option 'hidden'"),
    (["-o", "seed=3"], "seed is not an option of a variant: use --seed"),
])
def test_bad_option_values_are_one_error_line(store, tmp_path, args, match) -> None:
    result = runner.invoke(app, ["fit-sampler", str(store.path), "--out", str(tmp_path / "r"), *args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and match in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_bad_device_is_a_typer_error(store, tmp_path) -> None:
    result = runner.invoke(app, ["fit-sampler", str(store.path), "--out", str(tmp_path / "r"), "--device", "tpu"])
    assert result.exit_code == 2 and "Invalid value" in result.output and "Traceback" not in result.output


def test_help_options_lists_every_option_of_the_variant() -> None:
    from dataclasses import fields

    from nsnet.sampler.variants import variant_spec

    for variant in ("nsnet", "tsqnet", "adafocus"):
        result = runner.invoke(app, ["fit-sampler", "store", "--variant", variant, "--help-options"])
        assert result.exit_code == 0, result.output
        listed = {line.split()[0] for line in result.output.splitlines()[1:]}
        assert listed == {f.name for f in fields(variant_spec(variant).options)}
    assert "epochs (int, default 120, 1 <= x): training epochs" in runner.invoke(
        app, ["fit-sampler", "s", "--help-options"]).output


@pytest.mark.parametrize("args,match", [
    (["--variant", "maxconf-l", "--fsm", "ns"], "fixes fsm"),
    (["--width", "20"], "divisible by heads"),
    (["--fsm", "video", "--fsm-saliency", "salient"], "non-salient class"),
])
def test_inconsistent_options_give_one_line_error(store, tmp_path, args, match) -> None:
    result = runner.invoke(app, ["fit-sampler", str(store.path), "--out", str(tmp_path / "r"), *args])
    assert result.exit_code == 2
    assert match in result.output and len(result.output.strip().splitlines()) == 1


def test_missing_store_gives_one_line_error(tmp_path) -> None:
    result = runner.invoke(app, ["fit-sampler", str(tmp_path / "none.zarr"), "--out", str(tmp_path / "r"), *FAST])
    assert result.exit_code == 2 and result.output.startswith("error:")


def test_ablate_writes_tables(store, tmp_path) -> None:
    grid = tmp_path / "grid.json"
    common = {"epochs": 1, "width": 16, "heads": 4, "batch_size": 8, "device": "cpu"}
    grid.write_text(json.dumps([
        {"name": "ns", **common},
        {"name": "fsm-video", "fsm": "video", "branches": "fsm", **common},
        {"name": "maxconf-l", "variant": "maxconf-l", **common},
    ]))
    out = tmp_path / "abl"
    result = runner.invoke(app, ["ablate", str(store.path), "--grid", str(grid), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(out / "ablation.csv")))
    assert [r["name"] for r in rows] == ["uniform (untrained)", "ns", "fsm-video", "maxconf-l"]
    assert all(0.0 <= float(r["mAP"]) <= 1.0 for r in rows)
    assert rows[1]["mAP_fsm"] and rows[1]["mAP_vgm"] and float(rows[1]["train_s"]) > 0
    assert "| ns |" in (out / "ablation.md").read_text()
    assert (out / "ns" / "sampler.pt").is_file()


def test_ablate_resumes_finished_runs_and_records_diverged_ones(store, tmp_path, monkeypatch) -> None:
    import nsnet.sampler.ablate as ablate_module
    import nsnet.sampler.ablate_entry as entry_module

    common = {"epochs": 1, "width": 16, "heads": 4, "batch_size": 8, "device": "cpu"}
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps([{"name": "ns", **common}, {"name": "mlp", "encoder": "mlp", **common}]))
    out = tmp_path / "abl"
    ablate_module.ablate(store.path, grid, out, progress=False)
    first = list(csv.DictReader(open(out / "ablation.csv")))

    real_train = entry_module.train_sampler
    trained: list[str] = []

    def train_or_diverge(arrays, cfg, progress=True):
        trained.append(cfg.name)
        if cfg.name == "lstm":
            raise FloatingPointError("training loss became nan (lr 0.01 too high?)")
        return real_train(arrays, cfg, progress=progress)

    monkeypatch.setattr(entry_module, "train_sampler", train_or_diverge)
    grid.write_text(json.dumps([{"name": "ns", **common}, {"name": "lstm", "encoder": "lstm", **common},
                                {"name": "mlp", "encoder": "mlp", **{**common, "epochs": 2}}]))
    ablate_module.ablate(store.path, grid, out, progress=False)
    rows = {r["name"]: r for r in csv.DictReader(open(out / "ablation.csv"))}
    assert trained == ["lstm", "mlp"]  # ns resumed; mlp's config changed (epochs), so it is retrained
    assert rows["ns"]["mAP"] == first[1]["mAP"] and rows["ns"]["train_s"] == first[1]["train_s"]
    assert rows["lstm"]["mAP"] == "" and "nan" in rows["lstm"]["error"]
    assert "epochs=2" in rows["mlp"]["options"] and rows["mlp"]["mAP"] and not rows["mlp"]["error"]
    assert "| lstm |" in (out / "ablation.md").read_text()


@pytest.mark.parametrize("grid,match", [
    ([{"name": "a"}, {"name": "a"}], "duplicate"),
    ([{"epochs": 1}], "name"),
    ([{"name": "a", "fsm": "nope"}], "option fsm='nope'"),
    ([{"name": "a", "epochs": 2.5}], "entry 'a': option epochs must be an integer"),
    ([{"name": "a", "variant": "tsqnet", "tsqnet": {"layers": 2}}], "'tsqnet' holds a dict"),
    ([{"name": "a", "hidden": 8}], "variant nsnet has no option 'hidden'"),
    ({"name": "a"}, "list"),
])
def test_bad_grid_gives_one_line_error(store, tmp_path, grid, match) -> None:
    path = tmp_path / "grid.json"
    path.write_text(json.dumps(grid))
    result = runner.invoke(app, ["ablate", str(store.path), "--grid", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and match in result.output
