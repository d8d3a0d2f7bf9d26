"""Training: planted saliency is found, seeds are reproducible, checkpoints round-trip and are
refused on another store."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from nsnet.sampler.config import sampler_config
from nsnet.sampler.registry import create_sampler
from nsnet.toys.planted import PlantedSpec, planted_saliency_arrays, top_k_precision
from nsnet.sampler.run import RunError, RunMismatchError, load_run, save_run
from nsnet.sampler.train import train_sampler

# Small enough for a CPU test; lr 0.03 because 30 epochs of 4 steps are far fewer than the paper's.
PLANTED = dict(width=64, heads=8, epochs=30, lr=0.03, device="cpu", seed=0)
TINY = PlantedSpec(num_videos=16, num_classes=3, num_frames=8, light_dim=8, rec_dim=8, salient=2)
TINY_CFG = dict(width=16, heads=4, epochs=2, batch_size=8, device="cpu")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def planted():
    spec = PlantedSpec(num_videos=256)  # C=4, T=20, 5 planted frames per video
    train, _ = planted_saliency_arrays(spec, "train")
    val, mask = planted_saliency_arrays(spec, "val")
    return train, val, mask


@pytest.fixture(scope="module")
def tiny():
    return planted_saliency_arrays(TINY)[0]


def _precision(name: str, result, inputs, mask) -> float:
    from nsnet.sampler.run import SamplerRun

    meta = {"T": inputs.T, "D": inputs.light.shape[2]}
    run = SamplerRun("memory", result.config, result.model, result.prototypes, meta)
    return top_k_precision(create_sampler(name, run=run).select(inputs, 5), mask)


@pytest.mark.slow
def test_ns_sampler_finds_planted_frames_and_beats_video_label_baseline(planted) -> None:
    train, val_inputs, mask = planted
    ns = train_sampler(train, sampler_config(variant="nsnet", **PLANTED))
    baseline = train_sampler(train, sampler_config(variant="maxconf-l", **PLANTED))  # FSM with video labels
    p_ns = _precision("nsnet", ns, val_inputs, mask)
    p_fsm = _precision("fsm", ns, val_inputs, mask)
    p_base = _precision("maxconf-l", baseline, val_inputs, mask)
    assert p_ns >= 0.9, (p_ns, p_fsm, p_base)
    assert p_fsm >= 0.9, (p_ns, p_fsm, p_base)
    assert p_ns > p_base + 0.2, (p_ns, p_base)


def test_same_seed_same_weights(tiny) -> None:
    a = train_sampler(tiny, sampler_config(seed=7, **TINY_CFG)).model.state_dict()
    b = train_sampler(tiny, sampler_config(seed=7, **TINY_CFG)).model.state_dict()
    c = train_sampler(tiny, sampler_config(seed=8, **TINY_CFG)).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.slow
def test_lr_schedule_and_history(tiny, monkeypatch) -> None:
    seen = []
    real = torch.optim.lr_scheduler.MultiStepLR

    def spy(opt, milestones, gamma):
        seen.append((list(milestones), gamma))
        return real(opt, milestones=milestones, gamma=gamma)

    monkeypatch.setattr(torch.optim.lr_scheduler, "MultiStepLR", spy)
    cfg = sampler_config(**{**TINY_CFG, "epochs": 120, "lr_milestones": [50 / 120, 75 / 120], "max_shift": 0.0,
                            "width": 8, "heads": 2, "branches": "fsm", "fsm": "video"})
    result = train_sampler(tiny, cfg)
    assert seen == [([50, 75], 0.1)]
    assert len(result.history) == 120 and all(np.isfinite(result.history))


def test_checkpoint_round_trip(tiny, tmp_path) -> None:
    result = train_sampler(tiny, sampler_config(name="rt", **TINY_CFG))
    run_dir = save_run(tmp_path / "run", result, tiny)
    payload = torch.load(run_dir / "sampler.pt", weights_only=True)
    assert payload["meta"]["T"] == tiny.T and payload["meta"]["C"] == tiny.C
    assert payload["meta"]["class_names"] == tiny.class_names
    assert payload["meta"]["fingerprint"] == tiny.fingerprint
    assert payload["prototypes"]["features"].shape == (tiny.C, tiny.rec_features.shape[2])
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["config"]["options"]["fsm"] == "ns" and saved["run"]["extractor"] == tiny.extractor_spec
    run = load_run(run_dir, store=tiny)
    assert run.config == result.config
    for k, v in result.model.state_dict().items():
        assert torch.equal(v, run.model.state_dict()[k])
    inputs = tiny
    np.testing.assert_array_equal(create_sampler("nsnet", run=run).select(inputs, 3),
                                  create_sampler("nsnet", run_dir=run_dir, store=tiny).select(inputs, 3))


@pytest.mark.parametrize("change,match", [
    (dict(fingerprint="another-store"), "fingerprint"),
    (dict(extractor_spec={"name": "other-net", "feature_dim": 8}), "extractor"),
])
def test_checkpoint_refuses_another_store(tiny, tmp_path, change, match) -> None:
    run_dir = save_run(tmp_path / "run", train_sampler(tiny, sampler_config(**TINY_CFG)), tiny)
    other = dataclasses.replace(tiny, **change)
    with pytest.raises(RunMismatchError, match=match):
        load_run(run_dir, store=other)
    with pytest.raises(RunMismatchError):
        create_sampler("fsm", run_dir=run_dir, store=other)


def test_checkpoint_refuses_other_t_and_c(tiny, tmp_path) -> None:
    run_dir = save_run(tmp_path / "run", train_sampler(tiny, sampler_config(**TINY_CFG)), tiny)
    other_t = planted_saliency_arrays(dataclasses.replace(TINY, num_frames=10))[0]
    with pytest.raises(RunMismatchError, match="T 8 vs 10"):
        load_run(run_dir, store=other_t)
    other_c = planted_saliency_arrays(dataclasses.replace(TINY, num_classes=4))[0]
    with pytest.raises(RunMismatchError, match="C 3 vs 4"):
        load_run(run_dir, store=other_c)


def test_not_a_run(tmp_path) -> None:
    with pytest.raises(RunError, match="not a sampler run"):
        load_run(tmp_path)
