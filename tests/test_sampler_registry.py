"""The sampler registry: rule-based selectors by hand, trained samplers' common interface."""

from __future__ import annotations

import numpy as np
import pytest

from nsnet.numeric import BudgetError
from nsnet.sampler.base import Sampler, SamplerError, SamplerInputs
from nsnet.sampler.config import sampler_config
from nsnet.sampler.registry import UnknownSamplerError, create_sampler, list_samplers, register_sampler, sampler_class
from nsnet.toys.planted import PlantedSpec, planted_saliency_arrays, top_k_precision
from nsnet.sampler.run import save_run
from nsnet.sampler.train import train_sampler

SPEC = PlantedSpec(num_videos=16, num_classes=3, num_frames=8, light_dim=8, rec_dim=16, salient=2)
SMALL = dict(width=16, heads=4, epochs=1, batch_size=8, device="cpu")
RUN_OF = {"nsnet": "nsnet", "fsm": "nsnet", "vgm": "nsnet", "maxconf-l": "maxconf-l", "scsampler": "scsampler",
          "oracle": "oracle", "tsqnet": "tsqnet", "vqm": "tsqnet", "tqm": "tsqnet", "auto": "auto"}


@pytest.fixture(scope="module")
def data():
    arrays, planted = planted_saliency_arrays(SPEC)
    return arrays, planted, arrays


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
    arrays = data[0]
    root = tmp_path_factory.mktemp("runs")
    runs = {v: save_run(root / v, train_sampler(arrays, sampler_config(variant=v, **SMALL)), arrays)
            for v in ("nsnet", "maxconf-l", "scsampler", "oracle")}
    from nsnet.sampler.tsqnet.train import TSQPriors, train_tsqnet

    g = np.random.default_rng(0)  # the planted store has no ImageNet classifier: random priors
    priors = TSQPriors(g.standard_normal((10, arrays.D)).astype(np.float32), np.zeros(10, np.float32),
                       g.standard_normal((10, 4)).astype(np.float32), g.standard_normal((arrays.C, 4)).astype(np.float32))
    cfg = sampler_config(variant="tsqnet", **SMALL).resolved()
    runs["tsqnet"] = save_run(root / "tsqnet", train_tsqnet(arrays, cfg, priors=priors), arrays)
    auto = sampler_config(variant="auto", candidates="fsm-only,maxconf-l", seeds=1, resamples=100, k=2, epochs=1,
                          width=16, batch_size=8, device="cpu")
    runs["auto"] = save_run(root / "auto", train_sampler(arrays, auto, run_dir=root / "auto"), arrays)
    return runs


def _make(name: str, runs) -> Sampler:
    return create_sampler(name, run_dir=runs[RUN_OF[name]]) if name in RUN_OF else create_sampler(name)


def test_registry_lists_all_builtins() -> None:
    assert set(list_samplers()) >= {"uniform", "random", "dense", "topk", "nsnet", "fsm", "vgm", "maxconf-l",
                                    "scsampler", "oracle"}
    assert set(list_samplers(trained=False)) == {"uniform", "random", "dense", "topk"}
    with pytest.raises(UnknownSamplerError, match="available"):
        create_sampler("nope")


def test_register_sampler_decorator(restore_sampler_registry) -> None:
    @register_sampler("test-first-frames")
    class FirstFrames(Sampler):
        def scores(self, inputs):
            return -np.arange(inputs.T, dtype=float)[None].repeat(inputs.N, 0)

    assert "test-first-frames" in list_samplers()
    sel = create_sampler("test-first-frames").select(SamplerInputs(np.zeros((2, 5, 1))), 2)
    assert sel.tolist() == [[0, 1], [0, 1]]


def test_registering_in_a_test_does_not_leak() -> None:
    from conftest import sampler_registry_snapshot

    with sampler_registry_snapshot():
        register_sampler("test-leak")(type("Leak", (Sampler,), {}))
        assert "test-leak" in list_samplers()
    assert "test-leak" not in list_samplers()  # whatever order the tests run in


FRAME_SAMPLERS = [n for n in list_samplers() if not getattr(sampler_class(n), "patch_policy", False)]  # patch
# methods (AdaFocus family) need an AdaFocus run and patch arrays: tests/test_adafocus_eval.py covers them


@pytest.mark.parametrize("name", FRAME_SAMPLERS)
def test_common_interface(name, data, runs) -> None:
    arrays, _, inputs = data
    sampler = _make(name, runs)
    scores = sampler.scores(inputs)
    assert scores.shape == (arrays.N, arrays.T) and np.all(np.isfinite(scores))
    sel = sampler.select(inputs, 3)
    assert sel.dtype == np.int64
    if name == "dense":
        assert sel.shape == (arrays.N, arrays.T)
    else:
        assert sel.shape == (arrays.N, 3)
        assert all(len(set(row)) == 3 for row in sel.tolist())
    assert sel.min() >= 0 and sel.max() < arrays.T
    if name not in ("dense", "uniform", "nsnet", "tsqnet", "auto"):  # score-ranked samplers: select = top-K of scores
        np.testing.assert_array_equal(sel, np.argsort(-scores, axis=1, kind="stable")[:, :3])


def test_uniform_segment_centres() -> None:
    inputs = SamplerInputs(np.zeros((2, 50, 1)))
    assert create_sampler("uniform").select(inputs, 5).tolist() == [[5, 15, 25, 35, 45]] * 2
    assert create_sampler("uniform").select(SamplerInputs(np.zeros((1, 10, 1))), 4).tolist() == [[1, 3, 6, 8]]


def test_random_is_seeded() -> None:
    inputs = SamplerInputs(np.zeros((4, 20, 1)))
    a = create_sampler("random", seed=3).select(inputs, 5)
    np.testing.assert_array_equal(a, create_sampler("random", seed=3).select(inputs, 5))
    assert not np.array_equal(a, create_sampler("random", seed=4).select(inputs, 5))


def test_dense_returns_all_frames() -> None:
    assert create_sampler("dense").select(SamplerInputs(np.zeros((1, 4, 1))), 2).tolist() == [[0, 1, 2, 3]]


def test_topk_is_maxconf_on_cached_logits() -> None:
    logits = np.log(np.array([[[0.5, 0.5], [0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]]))
    inputs = SamplerInputs(np.zeros((1, 4, 1)), rec_logits=logits)
    assert create_sampler("topk").select(inputs, 2).tolist() == [[1, 2]]
    with pytest.raises(SamplerError, match="rec_logits"):
        create_sampler("topk").select(SamplerInputs(np.zeros((1, 4, 1))), 2)


@pytest.mark.parametrize("k", [0, 9, 2.5])
def test_bad_budget(k, data) -> None:
    with pytest.raises(BudgetError, match="budget"):
        create_sampler("uniform").select(data[2], k)


def test_nsnet_select_is_fusion_of_branches(data, runs) -> None:
    from nsnet.sampler.fusion import fuse_select_batch

    inputs = data[2]
    for fusion in ("union", "join", "sum"):
        sampler = create_sampler("nsnet", run_dir=runs["nsnet"], fusion=fusion, alpha=0.6)
        s = sampler.branch_scores(inputs)
        np.testing.assert_array_equal(sampler.select(inputs, 4), fuse_select_batch(s["fsm"], s["vgm"], 4, fusion, 0.6))
    with pytest.raises(SamplerError, match="fusion"):
        create_sampler("nsnet", run_dir=runs["nsnet"], fusion="median")


def test_oracle_finds_planted_frames(data, runs) -> None:
    _, planted, inputs = data
    assert top_k_precision(create_sampler("oracle", run_dir=runs["oracle"]).select(inputs, 2), planted) == 1.0
    with pytest.raises(SamplerError, match="labels"):
        create_sampler("oracle", run_dir=runs["oracle"]).select(SamplerInputs(inputs.light), 2)


def test_run_variant_and_branch_mismatch(runs, data) -> None:
    with pytest.raises(SamplerError, match="variant"):
        create_sampler("nsnet", run_dir=runs["maxconf-l"])
    with pytest.raises(SamplerError, match="run_dir"):
        create_sampler("maxconf-l")
    with pytest.raises(SamplerError, match="T="):
        create_sampler("fsm", run_dir=runs["nsnet"]).select(SamplerInputs(np.zeros((1, 5, 8))), 2)
