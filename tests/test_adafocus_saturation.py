"""AdaFocus+'s saturated skip policy π' is logged and reported: the per-epoch share of frames whose
keep probability is within 0.01 of 0 or 1, the warning a run ending stage II saturated carries, and
where fit-sampler and ``nsnet info`` show it."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from typer.testing import CliRunner

from nsnet.cli import app
from nsnet.sampler.adafocus.policy import saturated_share, saturation_warning
from nsnet.sampler.config import sampler_config
from nsnet.sampler.train import train_sampler
from nsnet.toys.quadrant import QuadrantSpec, quadrant_arrays, write_store


def test_saturated_share_counts_probabilities_within_001_of_0_or_1() -> None:
    # sigmoid: -10 -> 4.5e-5 (saturated), -1 -> 0.27, 0 -> 0.5, 5 -> 0.9933 (saturated), 4.5 -> 0.9890
    assert saturated_share(torch.tensor([-10.0, -1.0, 0.0, 5.0, 4.5])) == pytest.approx(2 / 5)
    assert saturated_share(torch.zeros(3, 4)) == 0.0


def test_saturation_warning_names_the_epoch_it_stayed_saturated_from() -> None:
    assert saturation_warning([]) is None  # not AdaFocus+
    assert saturation_warning([0.95, 0.97, 0.89]) is None  # not saturated at the end
    line = saturation_warning([0.1, 0.95, 0.5, 0.92, 0.97])
    assert line.startswith("warning: ") and "from epoch 4 of 5" in line and "97%" in line
    assert "entropy_coef=0.05" in line
    assert "from epoch 1 of 2" in saturation_warning([0.9, 0.9])


@pytest.mark.slow
def test_candidate_policy_pi_prime_saturates_on_the_toy_and_the_entropy_bonus_prevents_it() -> None:
    # the toy of RESULTS.md "Why, on the toy: π' saturates next to the candidate policy" (6/6 seeds there)
    from test_adafocus_train import TOY, TOY_OPTS

    train, _ = quadrant_arrays(dataclasses.replace(TOY, empty=0.3), "train")
    opts = {**TOY_OPTS, "skip": True, "keep_ratio": 0.7, "drop_local": 0.3}
    runs = {coef: train_sampler(train, sampler_config(variant="adafocus", batch_size=32, device="cpu",
                                                      entropy_coef=coef, **opts)).extra for coef in (0.01, 0.05)}
    saturated = {coef: extra["stage_history"]["2"]["keep_saturated"] for coef, extra in runs.items()}
    assert all(len(v) == TOY_OPTS["stage2_epochs"] for v in saturated.values())
    assert saturated[0.01][0] < 0.1 and saturated[0.01][-1] >= 0.9  # starts exploring, ends saturated
    assert runs[0.01]["warnings"] == [saturation_warning(saturated[0.01])]
    assert saturated[0.05][-1] < 0.9 and "warnings" not in runs[0.05]


def test_fit_sampler_and_info_print_the_runs_warnings(tmp_path) -> None:
    spec = QuadrantSpec(num_videos=16, num_frames=4, map_dim=8, map_size=2, local_dim=6, grid=3, patch_size=64,
                        frame_size=128, empty=0.5)
    store = write_store(tmp_path / "s.zarr", {"train": quadrant_arrays(spec, "train")[0],
                                             "val": quadrant_arrays(dataclasses.replace(spec, num_videos=4), "val")[0]},
                        patches=True, chunk_videos=8)
    out = tmp_path / "run"
    # a policy learning rate far too high drives π' to p(keep) in {0, 1} within its first epochs
    args = ["fit-sampler", str(store.path), "--out", str(out), "--variant", "adafocus", "--device", "cpu", "--quiet",
            *sum((["-o", kv] for kv in ("skip=true", "stage1_epochs=1", "stage2_epochs=3", "stage3_epochs=1",
                                        "batch_size=8", "hidden=8", "policy_hidden=8", "policy_channels=4",
                                        "policy_lr=1.0")), [])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    warnings = json.loads((out / "config.json").read_text())["run"]["warnings"]
    assert len(warnings) == 1 and "saturated in stage II" in warnings[0]
    assert warnings[0] in result.output
    info = CliRunner().invoke(app, ["info", str(out)])
    assert info.exit_code == 0 and warnings[0] in " ".join(info.output.split())
