"""A sampler variant registered from its own module (the README's toy, tests/lastframes_plugin.py) is
trained by `fit-sampler`, validated by the option boundary and evaluated by `evaluate`, with no edit
anywhere else."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import sampler_registry_snapshot
from nsnet.cli import app
from nsnet.sampler.registry import list_samplers
from nsnet.sampler.variants import list_variants


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from test_evaluate import build_tiny_setup

    return build_tiny_setup(tmp_path_factory.mktemp("plugin"))


def test_a_plugin_variant_trains_and_evaluates(tiny, tmp_path) -> None:
    from nsnet.evaluate.config import EvaluateConfig
    from nsnet.evaluate.run import evaluate
    from nsnet.metrics import average_frame_predictions, mean_average_precision

    runner = CliRunner()
    with sampler_registry_snapshot():
        sys.modules.pop("lastframes_plugin", None)
        importlib.import_module("lastframes_plugin")  # registers its variant and sampler inside the snapshot
        run = tmp_path / "last"
        res = runner.invoke(app, ["fit-sampler", str(tiny.store), "--variant", "lastframes", "-o", "decay=0.8",
                                  "--out", str(run), "--device", "cpu", "-q"])
        assert res.exit_code == 0, res.output
        bad = runner.invoke(app, ["fit-sampler", str(tiny.store), "--variant", "lastframes", "-o", "decay=2",
                                  "--out", str(tmp_path / "bad")])
        assert bad.exit_code == 2 and bad.output.strip() == "error: option decay must be <= 1, got 2.0"
        result = evaluate(EvaluateConfig(store=tiny.store, runs=[run], budgets=[3], methods=["lastframes"],
                                         path="cached", device="cpu", quiet=True, workers=0).validate())
        row = result.rows[0]
        positions = result.selections[("lastframes", 3)]
        t = result.context.T
        assert (row.method, row.K) == ("lastframes", 3) and positions.tolist() == [[t - 1, t - 2, t - 3]] * positions.shape[0]
        logits = np.take_along_axis(result.context.arrays.rec_logits, positions[..., None], axis=1)
        want = mean_average_precision(average_frame_predictions(logits, False), result.context.labels)
        assert row.mAP == pytest.approx(want)
        assert row.gflops == pytest.approx(result.costs.rec_per_frame * 3)  # no sampler network to count
    assert "lastframes" not in list_samplers() and "lastframes" not in list_variants()
