"""Tests for `nsnet predict`: end-to-end recognition of a video file with a store's models and a
trained sampler run (the tiny setup of tests/test_evaluate.py)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from test_evaluate import T, build_tiny_setup  # tests/test_evaluate.py (shared, built once per session)
from utils import make_corrupt_files, make_video  # tests/utils.py


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    return build_tiny_setup(tmp_path_factory.mktemp("tiny_eval"))


def _cli() -> typer.Typer:
    from nsnet.cli.evaluate import predict_command

    app = typer.Typer(pretty_exceptions_enable=False)
    app.command("predict")(predict_command)
    app.command("other")(lambda: None)
    return app


def test_predict_json_on_generated_video(tiny: SimpleNamespace, tmp_path: Path) -> None:
    video = make_video(tmp_path / "new.mp4", num_frames=37, size=(64, 48), fps=12.5, pattern="random", seed=7)
    args = ["predict", str(video), "--run", str(tiny.run), "--store", str(tiny.store), "--budget", "3", "--json",
            "--device", "cpu"]
    res = CliRunner().invoke(_cli(), args)
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["K"] == 3 and data["T"] == T and data["method"] == "nsnet"
    assert {e["class"] for e in data["top"]} == {"a", "b"}
    assert sum(e["score"] for e in data["top"]) == pytest.approx(1.0, abs=1e-5)
    frames = data["frames"]
    assert len(frames) == 3 and len({f["frame"] for f in frames}) == 3
    planned = np.floor((np.arange(T) + 0.5) * 37 / T).astype(int)  # the store's sampling rule
    for f in frames:
        assert f["frame"] == planned[f["position"]]
        assert f["time_s"] == pytest.approx(f["frame"] / 12.5, abs=1e-3)
    assert [f["time_s"] for f in frames] == sorted(f["time_s"] for f in frames)


def test_predict_matches_evaluation_on_a_store_video(tiny: SimpleNamespace) -> None:
    from nsnet.evaluate.config import EvaluateConfig
    from nsnet.metrics import average_frame_predictions
    from nsnet.evaluate.predict import VideoPipeline
    from nsnet.evaluate.run import EvalContext, _score

    ctx = EvalContext(EvaluateConfig(store=tiny.store, runs=[tiny.run], budgets=[3], methods=["nsnet", "uniform"],
                                     path="reload", workers=0, quiet=True, device="cpu"))
    pipe = VideoPipeline(ctx.store, ctx.runs["nsnet"], device="cpu", extractor=None, recognizer=ctx.recognizer)
    for spec in ctx.methods:
        positions, logits, _, _ = _score(ctx, spec, ctx.samplers[spec.name], 3)
        probs = average_frame_predictions(logits, multilabel=False)
        method = "nsnet" if spec.sampler == "nsnet" else spec.name
        for v in range(2):
            pred = pipe.predict(ctx.paths[v], 3, method=method)
            assert sorted(f.position for f in pred.frames) == sorted(positions[v].tolist())
            got = {e["class"]: e["score"] for e in pred.top}
            np.testing.assert_allclose([got["a"], got["b"]], probs[v], atol=1e-5)


def test_predict_uniform_and_dense_and_text_output(tiny: SimpleNamespace, tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.mp4", num_frames=30, pattern="random", seed=3)
    app, runner = _cli(), CliRunner()
    base = ["predict", str(video), "--run", str(tiny.run), "--store", str(tiny.store), "--device", "cpu"]
    dense = json.loads(runner.invoke(app, base + ["--method", "dense", "--json"]).output)
    assert dense["K"] == T and len(dense["frames"]) == T
    uniform = json.loads(runner.invoke(app, base + ["--method", "uniform", "--budget", "2", "--json"]).output)
    assert [f["position"] for f in uniform["frames"]] == [2, 6]  # floor((j + 0.5) * 8 / 2)
    text = runner.invoke(app, base + ["--budget", "2"])
    assert text.exit_code == 0 and "frames:" in text.output


def test_predict_errors_are_one_line(tiny: SimpleNamespace, tmp_path: Path) -> None:
    app, runner = _cli(), CliRunner()
    bad = make_corrupt_files(tmp_path / "bad")
    for kind in ("not_video", "missing", "zero_byte"):
        res = runner.invoke(app, ["predict", str(bad[kind]), "--run", str(tiny.run), "--store", str(tiny.store)])
        assert res.exit_code == 2, res.output
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and str(bad[kind]) in lines[0]
    video = make_video(tmp_path / "ok.mp4", num_frames=20, pattern="random")
    res = runner.invoke(app, ["predict", str(video), "--run", str(tiny.run), "--store", str(tiny.store),
                              "--budget", str(T + 1)])
    assert res.exit_code == 2 and "1 <= K <= T=8" in res.output
    from nsnet.sampler.run import load_run

    assert load_run(tiny.run).meta["store"] == str(Path(tiny.store).resolve())  # fit-sampler records its store
    res = runner.invoke(app, ["predict", str(video), "--run", str(tiny.run), "--budget", "2"])
    assert res.exit_code == 0, res.output  # so --store is optional
    import shutil

    import torch

    bare = tmp_path / "bare_run"  # a run that does not record its store needs --store
    shutil.copytree(tiny.run, bare)
    payload = torch.load(bare / "sampler.pt", weights_only=True)
    del payload["meta"]["store"]
    torch.save(payload, bare / "sampler.pt")
    res = runner.invoke(app, ["predict", str(video), "--run", str(bare), "--budget", "2"])
    assert res.exit_code == 2 and "--store" in res.output and len(res.output.strip().splitlines()) == 1
