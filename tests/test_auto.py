"""``fit-sampler --variant auto``: the choice is made on the train holdout only, Uniform is the floor,
collapsed runs are reported and retried, and every command knows an auto run."""

from __future__ import annotations

import csv
import dataclasses
import io
import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from nsnet.cli.data import info
from nsnet.cli.evaluate import evaluate_command
from nsnet.cli.sampler import fit_sampler_command
from nsnet.sampler.auto import select
from nsnet.sampler.auto.select import choose, split_holdout
from nsnet.sampler.candidates import list_candidates, parse_candidates
from nsnet.sampler.config import SamplerConfigError, sampler_config
from nsnet.sampler.train import train_sampler
from nsnet.toys.planted import PlantedSpec, planted_saliency_arrays, write_store

SPEC = PlantedSpec(num_videos=300, num_classes=3, num_frames=12, light_dim=8, rec_dim=6, salient=2)
FAST = dict(epochs=8, width=16, lr=0.03, seeds=2, resamples=200, k=2, candidates="fsm-only,maxconf-l,scsampler")
quiet = lambda *a, **k: None  # noqa: E731


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def planted():
    return planted_saliency_arrays(SPEC, "train")[0]


def test_every_paper_registers_its_candidates() -> None:
    assert {"nsnet", "fsm-only", "maxconf-l", "scsampler", "tsqnet", "tqm"} <= set(list_candidates())
    fsm = parse_candidates("fsm-only")[0]
    assert (fsm.variant, fsm.method, fsm.options) == ("nsnet", "fsm", {"branches": "fsm"})


@pytest.mark.parametrize("value, match", [("nope", "unknown auto candidate 'nope'"), ("tqm,tqm", "repeats"),
                                          (",", "names no candidate")])
def test_bad_candidates_are_one_clear_error(value, match) -> None:
    with pytest.raises(SamplerConfigError, match=match):
        sampler_config("auto", candidates=value)


def test_holdout_is_the_last_share_of_the_train_videos_as_percent_slices_take_it(planted) -> None:
    fit, hold = split_holdout(planted, 0.2)
    assert (fit.N, hold.N) == (240, 60)  # floor(80 * 300 / 100)
    np.testing.assert_array_equal(np.concatenate([fit.light, hold.light]), planted.light)
    assert (fit.split, hold.split) == ("train[:80%]", "train[80%:]")


def test_choose_takes_the_best_mean_among_candidates_above_uniform() -> None:
    rec = lambda label, mean, low: {"label": label, "mean": mean, "vs_uniform": {"low": low}}  # noqa: E731
    assert choose([rec("a", 60, 1.0), rec("b", 70, -0.5), rec("c", 65, 0.2)])["label"] == "c"
    assert choose([rec("a", 60, -1.0), {"label": "d", "errors": ["diverged"]}]) is None


def test_auto_picks_a_learned_sampler_on_planted_saliency(planted) -> None:
    cfg = sampler_config("auto", **FAST)
    result = train_sampler(planted, cfg)
    record = result.extra["auto"]
    assert record["beats_uniform"] and record["choice"] in ("fsm-only", "maxconf-l", "scsampler")
    best = max((r for r in record["candidates"] if r["vs_uniform"]["low"] > 0), key=lambda r: r["mean"])
    assert record["choice"] == best["label"]
    for rec in record["candidates"]:
        assert len(rec["holdout_mAP"]) == 2 and rec["mean"] == pytest.approx(np.mean(rec["holdout_mAP"]))
        assert rec["std"] == pytest.approx(np.std(rec["holdout_mAP"], ddof=1))
    chosen = parse_candidates(record["choice"])[0]
    assert result.config.variant == chosen.variant and result.num_videos == planted.N  # retrained on all of train
    assert record["holdout"]["holdout_videos"] == 60 and record["final"][0]["seed"] == 0


def test_nothing_beats_uniform_when_every_frame_is_alike(planted) -> None:
    flat = planted_saliency_arrays(dataclasses.replace(SPEC, salient=SPEC.num_frames), "train")[0]
    flat.rec_logits[:] = flat.rec_logits.mean(axis=1, keepdims=True)  # every frame gives the same prediction
    result = train_sampler(flat, sampler_config("auto", **FAST))
    record = result.extra["auto"]
    assert not record["beats_uniform"] and record["choice"] == "uniform" and result.model is None
    assert all(all(r["at_uniform_level"]) for r in record["candidates"])


def test_a_final_run_at_uniform_level_is_retried_with_the_next_seed(planted, monkeypatch) -> None:
    calls = []
    real = select.compare

    def flaky(scores, floor, labels, opts, seed):
        out = real(scores, floor, labels, opts, seed)
        calls.append(scores.shape[0])
        return {**out, "low": -1.0} if len(calls) == 3 * (1 + 2) + 1 else out  # 3 candidates x (mean + 2 seeds), then the first final check

    monkeypatch.setattr(select, "compare", flaky)
    record = train_sampler(planted, sampler_config("auto", **FAST)).extra["auto"]
    assert [t["at_uniform_level"] for t in record["final"]] == [True, False]
    assert [t["seed"] for t in record["final"]] == [0, 1]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    train = planted_saliency_arrays(SPEC, "train")[0]
    val = planted_saliency_arrays(dataclasses.replace(SPEC, num_videos=30, seed=5), "val")[0]
    return str(write_store(tmp_path_factory.mktemp("s") / "store.zarr", {"train": train, "val": val}).path)


def test_cli_auto_writes_the_choice_shows_it_in_info_and_resumes(store, tmp_path) -> None:
    app = typer.Typer(pretty_exceptions_enable=False)
    app.command("fit-sampler")(fit_sampler_command)
    app.command("info")(info)
    runner = CliRunner()
    run = tmp_path / "auto"
    opts = [x for k, v in FAST.items() for x in ("-o", f"{k}={v}")]
    res = runner.invoke(app, ["fit-sampler", str(store), "--variant", "auto", "--out", str(run), "-q", *opts])
    assert res.exit_code == 0, res.output
    assert "Chosen:" in res.output and "holdout mAP" in res.output
    record = json.loads((run / "config.json").read_text())["run"]["auto"]
    assert sorted(p.name for p in (run / "candidates").iterdir()) == sorted(
        f"{c}-seed{s}" for c in FAST["candidates"].split(",") for s in (0, 1))
    shown = runner.invoke(app, ["info", str(run)])
    assert shown.exit_code == 0 and record["choice"] in shown.output and "Chosen:" in shown.output
    again = runner.invoke(app, ["fit-sampler", str(store), "--variant", "auto", "--out", str(run), "-q", *opts])
    assert again.exit_code == 0 and json.loads((run / "config.json").read_text())["run"]["auto"]["candidates"] == record["candidates"]
    # another holdout share into the same run: the candidates are retrained on the new fit split, not reused
    other = runner.invoke(app, ["fit-sampler", str(store), "--variant", "auto", "--out", str(run), "-q", *opts,
                                "-o", "holdout=0.3"])
    assert other.exit_code == 0, other.output
    fit = json.loads((run / "config.json").read_text())["run"]["auto"]["holdout"]
    assert fit["fit"].endswith("[:70%]")
    for cand in (run / "candidates").iterdir():
        meta = json.loads((cand / "config.json").read_text())["run"]
        assert (meta["train_split"], meta["num_train_videos"]) == (fit["fit"], fit["fit_videos"])


def test_evaluate_and_predict_use_the_chosen_method(tmp_path) -> None:
    from test_evaluate import build_tiny_setup  # the tiny extracted store of tests/test_evaluate.py
    from utils import make_video

    from nsnet.cli.evaluate import predict_command
    from nsnet.sampler.train import fit_sampler

    tiny = build_tiny_setup(tmp_path / "tiny")
    cfg = sampler_config("auto", candidates="fsm-only,maxconf-l", holdout=0.5, seeds=1, epochs=2, width=16,
                         resamples=100, k=2, device="cpu")
    run = fit_sampler(tiny.store, tmp_path / "auto", cfg, progress=False)
    record = json.loads((run / "config.json").read_text())["run"]["auto"]
    app = typer.Typer(pretty_exceptions_enable=False)
    app.command("evaluate")(evaluate_command)
    app.command("predict")(predict_command)
    runner = CliRunner()
    out = tmp_path / "ev"
    res = runner.invoke(app, ["evaluate", str(tiny.store), "--run", str(run), "--path", "cached", "-k", "2", "-m", "auto",
                              "-m", record["method"], "--out", str(out), "-q", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    rows = {r["method"]: r for r in json.loads((out / "results.json").read_text())["rows"]}
    assert rows["auto"]["label"].startswith(f"auto ({record['method']}")
    for key in ("mAP", "top1", "gflops"):
        assert rows["auto"][key] == rows[record["method"]][key]
    reload = tmp_path / "ev-reload"
    res = runner.invoke(app, ["evaluate", str(tiny.store), "--run", str(run), "--path", "reload", "-k", "2", "-m", "auto",
                              "--out", str(reload), "-q", "--device", "cpu", "--workers", "0"])
    assert res.exit_code == 0, res.output
    reloaded = json.loads((reload / "results.json").read_text())["rows"][0]
    assert reloaded["mAP"] == pytest.approx(rows["auto"]["mAP"], abs=1e-6)  # reload == cached
    video = make_video(tmp_path / "v.mp4", num_frames=30, pattern="random", seed=3)
    base = ["predict", str(video), "--run", str(run), "--store", str(tiny.store), "--device", "cpu", "--json", "-k", "2"]
    auto = json.loads(runner.invoke(app, base).output)
    chosen = json.loads(runner.invoke(app, base + ["--method", record["method"]]).output)
    assert auto["method"] == "auto" and auto["frames"] == chosen["frames"] and auto["top"] == chosen["top"]


def test_ablate_scores_an_auto_entry_as_its_choice_and_resumes_it(store, tmp_path) -> None:
    from nsnet.sampler.ablate import ablate

    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps([{"name": "auto", "variant": "auto", **{**FAST, "candidates": "fsm-only"}}]))
    ablate(store, grid, tmp_path / "ab", k=2, progress=False)
    first = (tmp_path / "ab" / "ablation.csv").read_text()
    row = list(csv.DictReader(io.StringIO(first)))[1]
    assert row["name"] == "auto" and row["auto_choice"] in ("fsm", "uniform") and float(row["mAP"]) > 0
    stamp = (tmp_path / "ab" / "auto" / "sampler.pt").stat().st_mtime_ns
    ablate(store, grid, tmp_path / "ab", k=2, progress=False)
    assert (tmp_path / "ab" / "auto" / "sampler.pt").stat().st_mtime_ns == stamp  # resumed, not retrained
    assert (tmp_path / "ab" / "ablation.csv").read_text() == first
