"""The command line as a whole: every command spells the common options the same way."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nsnet.cli import app

runner = CliRunner()
QUIET = ("extract", "fit-recognizer", "fit-sampler", "ablate", "evaluate")
DEVICE = ("extract", "fit-sampler", "ablate", "evaluate", "predict")
SEED = ("fit-recognizer", "fit-sampler", "evaluate", "demo-data")


def _help(command: str) -> str:
    result = runner.invoke(app, [command, "--help"], terminal_width=200, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", sorted(set(QUIET + DEVICE + SEED)))
def test_common_options(command: str) -> None:
    text = _help(command)
    assert ("--quiet" in text and "-q" in text) == (command in QUIET), text
    assert ("--device" in text) == (command in DEVICE), text
    assert ("--seed" in text) == (command in SEED), text


def test_choices_come_from_the_registries() -> None:
    from nsnet.evaluate.config import PATHS
    from nsnet.extract.annotations import FORMATS
    from nsnet.sampler.fusion import FUSIONS

    evaluate, extract = _help("evaluate"), _help("extract")
    # the choice lists typer prints, exactly (every name also appears in free help text, so look for the list)
    assert f"<{'|'.join(FUSIONS)}>" in evaluate and f"<{'|'.join(PATHS)}>" in evaluate, evaluate
    assert f"<{'|'.join(FORMATS)}>" in extract, extract


def test_an_unknown_method_lists_every_registered_sampler(restore_sampler_registry) -> None:
    from nsnet.evaluate.config import EvaluateError, parse_method
    from nsnet.sampler.base import Sampler

    @restore_sampler_registry.register_sampler("test-new-sampler")
    class NewSampler(Sampler):
        def scores(self, inputs):
            return inputs.light[..., 0]

    assert parse_method("test-new-sampler") == "test-new-sampler"  # no second edit needed
    with pytest.raises(EvaluateError, match="test-new-sampler"):
        parse_method("nope")


def test_no_live_progress_display_when_stderr_is_not_a_terminal() -> None:
    from nsnet.progress import progress_bar

    assert progress_bar().disable  # pytest captures stderr: a pipe, so plain lines only
