"""The calibrated guiding score (an extension of Eq. 1, nsnet.sampler.prototypes) on a 1-D case
computed by hand, and its path through training, the run file and the oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nsnet.sampler.prototypes import (
    PrototypeError,
    Prototypes,
    compute_guide,
    negative_calibration,
    with_negative_quantiles,
)

# Two classes with prototypes at 0 and 10 on a line; video A (class 0) has frames at 0, 10, 5,
# video B (class 1) at 10, 0, 7.
PROTOS = Prototypes(features=np.array([[0.0], [10.0]], np.float32), valid=np.array([True, True]),
                    num_videos=np.array([1, 1]), fallback=np.array([False, False]))
FEATS = np.array([[[0.0], [10.0], [5.0]], [[10.0], [0.0], [7.0]]], np.float32)
LABELS = np.array([[1, 0], [0, 1]], np.uint8)


def test_negative_quantiles_by_hand() -> None:
    protos = with_negative_quantiles(PROTOS, FEATS, LABELS, num_quantiles=3)
    # class 0's negatives are B's frames: distances to p_0 = 10, 0, 7 -> quantiles 0, 7, 10
    # class 1's negatives are A's frames: distances to p_1 = 10, 0, 5 -> quantiles 0, 5, 10
    np.testing.assert_allclose(protos.negative_quantiles, [[0, 7, 10], [0, 5, 10]])
    assert PROTOS.negative_quantiles is None  # a copy, the input is unchanged


def test_calibrated_guide_by_hand() -> None:
    protos = with_negative_quantiles(PROTOS, FEATS, LABELS, num_quantiles=3)
    cal = negative_calibration(FEATS[:1], protos, rho=0.5)
    # video A vs p_0: d = 0, 10, 5 -> u = interp(d, [0, 7, 10], [0, .5, 1]) = 0, 1, 5/14
    # cal = clip(1 - u / 0.5, 0, 1) = 1, 0, 1 - 10/14
    np.testing.assert_allclose(cal[0, :, 0], [1.0, 0.0, 1 - 10 / 14], rtol=1e-6)
    g = compute_guide(LABELS[:1], mode="calibrated", rec_features=FEATS[:1], prototypes=protos, quantile=0.5).g
    # q_i0 = softmax(-d)[0]: frame 0 (d = 0, 10) -> 1 / (1 + e^-10); frame 2 (d = 5, 5) -> 1/2
    q0 = 1 / (1 + math.exp(-10))
    np.testing.assert_allclose(g[0], [q0 * 1.0, 0.0, 0.5 * (1 - 10 / 14)], rtol=1e-5)
    # the paper's rule gives frame 2 (equidistant, far from both) g = 1/2 and frame 1 ~0
    g_paper = compute_guide(LABELS[:1], mode="prototype", rec_features=FEATS[:1], prototypes=protos).g
    np.testing.assert_allclose(g_paper[0], [q0, 1 - q0, 0.5], rtol=1e-5)


def test_calibration_needs_quantiles_and_a_valid_rho() -> None:
    with pytest.raises(PrototypeError, match="negative distance quantiles"):
        compute_guide(LABELS, mode="calibrated", rec_features=FEATS, prototypes=PROTOS)
    protos = with_negative_quantiles(PROTOS, FEATS, LABELS)
    with pytest.raises(PrototypeError, match="rho"):
        negative_calibration(FEATS, protos, rho=0.0)


def test_calibrated_run_round_trip_and_oracle(tmp_path) -> None:
    from nsnet.sampler.base import SamplerInputs
    from nsnet.sampler.config import sampler_config
    from nsnet.toys.planted import PlantedSpec, planted_saliency_arrays
    from nsnet.sampler.run import load_run, save_run
    from nsnet.sampler.train import train_sampler
    from nsnet.sampler.nsnet.samplers import OracleSampler

    arrays, _ = planted_saliency_arrays(PlantedSpec(num_videos=24, num_classes=3, num_frames=10, light_dim=16, rec_dim=8))
    cfg = sampler_config(guide="calibrated", guide_quantile=0.1, epochs=1, width=16, heads=2, batch_size=8, device="cpu")
    result = train_sampler(arrays, cfg)
    assert result.prototypes.negative_quantiles.shape == (3, 1001)
    run_dir = save_run(tmp_path / "run", result, arrays)
    run = load_run(run_dir)
    np.testing.assert_array_equal(run.prototypes.negative_quantiles, result.prototypes.negative_quantiles)
    oracle = OracleSampler(run=run)
    inputs = SamplerInputs(light=arrays.light, labels=arrays.labels, rec_features=arrays.rec_features)
    expected = compute_guide(arrays.labels, mode="calibrated", rec_features=arrays.rec_features,
                             prototypes=result.prototypes, quantile=0.1).g
    np.testing.assert_allclose(oracle.scores(inputs), expected)


def test_evaluate_builds_the_oracle_from_an_oracle_run_before_an_nsnet_run(tmp_path) -> None:
    # an oracle run (fit-sampler --variant oracle) passed to a command was ignored: the oracle fell back
    # to the response guide unless an nsnet run was there too
    from nsnet.sampler.base import BuildContext
    from nsnet.sampler.config import sampler_config
    from nsnet.sampler.nsnet.samplers import OracleSampler
    from nsnet.sampler.run import load_run, save_run
    from nsnet.sampler.train import train_sampler
    from nsnet.toys.planted import PlantedSpec, planted_saliency_arrays

    arrays, _ = planted_saliency_arrays(PlantedSpec(num_videos=24, num_classes=3, num_frames=10, light_dim=16, rec_dim=8))
    oracle_run = load_run(save_run(tmp_path / "oracle", train_sampler(arrays, sampler_config(
        "oracle", guide="calibrated", guide_quantile=0.1, device="cpu")), arrays))
    nsnet_run = load_run(save_run(tmp_path / "nsnet", train_sampler(arrays, sampler_config(
        guide="response", epochs=1, width=16, heads=2, batch_size=8, device="cpu")), arrays))
    assert OracleSampler.build(BuildContext(runs={"oracle": oracle_run})).guide == "calibrated"
    assert OracleSampler.build(BuildContext(runs={"oracle": oracle_run, "nsnet": nsnet_run})).guide == "calibrated"
    assert OracleSampler.build(BuildContext(runs={"nsnet": nsnet_run})).guide == "response"
    assert OracleSampler.build(BuildContext()).guide == "response"
