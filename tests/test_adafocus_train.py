"""AdaFocus training: the planted quadrant toy (the policy must find where the class is), the
patch arrays of a store, fit-sampler end to end with per-stage checkpoints, resume and redo, run
checks, and the CLI."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from nsnet.cli import app
from nsnet.sampler.adafocus.model import AdaFocus
from nsnet.toys.quadrant import QuadrantSpec, candidate_quadrants, grid_geometry, quadrant_arrays, write_store
from nsnet.sampler.config import SamplerConfig, sampler_config
from nsnet.sampler.data import SamplerArrays, SamplerDataError, load_sampler_arrays
from nsnet.sampler.run import RunError, RunMismatchError, load_run
from nsnet.sampler.train import fit_sampler, train_sampler

# ----------------------------------------------------------------------------- the planted toy
TOY = QuadrantSpec(num_videos=256)
TOY_OPTS = dict(hidden=64, policy_hidden=64, policy_channels=16, dropout=0.0, stage1_epochs=15, stage2_epochs=20,
                stage3_epochs=5, lr=3e-3, policy_lr=3e-3)


def _evaluate(model: AdaFocus, arrays: SamplerArrays, target: np.ndarray) -> dict[str, float]:
    """Returns the share of frames whose chosen candidate lies in the focus quadrant, and top-1 of
    f_C with the policy's candidates and with random ones."""
    maps = torch.from_numpy(arrays.light_maps)
    cand = model.choose_patches(maps)
    keep = model.keep_mask(maps)
    feats = torch.from_numpy(arrays.patch_features)
    rows, steps = torch.arange(arrays.N)[:, None], torch.arange(arrays.T)[None]
    rand = torch.randint(feats.shape[2], cand.shape, generator=torch.Generator().manual_seed(1))
    g, y = torch.from_numpy(arrays.light), arrays.labels.argmax(1)
    acc = {name: float((model.classify(g, feats[rows, steps, c], keep).argmax(1).numpy() == y).mean())
           for name, c in (("policy", cand), ("random", rand))}
    hits = np.take_along_axis(target, cand.numpy()[..., None], axis=2)[..., 0]
    return {"hit": float(hits.mean()), **acc, "kept": float(keep.float().mean()), "keep_mask": keep.numpy()}


def test_toy_geometry() -> None:
    geo = grid_geometry(6, 96, 224, (16, 4, 4))
    boxes = np.array(geo["boxes"])
    assert boxes.shape == (36, 4) and boxes[0].tolist() == [0, 0, 96, 96] and boxes[-1].tolist() == [128, 128, 224, 224]
    quad = candidate_quadrants(boxes, 224, 224)
    assert np.bincount(quad).tolist() == [9, 9, 9, 9] and quad[:6].tolist() == [0, 0, 0, 1, 1, 1]
    arrays, target = quadrant_arrays(QuadrantSpec(num_videos=5))
    assert target.sum(axis=2).tolist() == [[9] * 8] * 5  # one quadrant of 9 candidates per frame
    assert arrays.light_maps.dtype == np.float16 and arrays.patch_features.dtype == np.float16
    assert np.allclose(arrays.light, arrays.light_maps.astype(np.float32).mean(axis=(3, 4)), atol=1e-2)


PAPER_PI = dict(policy_input="map", shared_critic=True)  # the paper's π (the default: the candidate policy)


@pytest.mark.parametrize("policy", [{}, PAPER_PI], ids=["default", "paper"])
def test_planted_toy_policy_picks_the_focus_quadrant(policy: dict) -> None:
    train, _ = quadrant_arrays(TOY, "train")
    val, target = quadrant_arrays(dataclasses.replace(TOY, num_videos=200), "val")
    cfg = sampler_config(variant="adafocus", batch_size=32, device="cpu", **TOY_OPTS, **policy)
    tic = time.perf_counter()
    result = train_sampler(train, cfg)
    seconds = time.perf_counter() - tic
    got = _evaluate(result.model, val, target)
    print(f"quadrant toy: {seconds:.1f} s {result.extra['stage_seconds']}, hit {got['hit']:.3f}, "
          f"top-1 policy {got['policy']:.3f} vs random {got['random']:.3f}")
    assert got["hit"] >= 0.8  # chance: 9 of 36 = 25 %
    assert got["policy"] >= got["random"] + 0.2
    reward = result.extra["stage_history"]["2"]["reward"]
    assert np.mean(reward[-3:]) > np.mean(reward[:3]) + 0.01  # Eq. 7 grows as π learns
    assert result.extra["threshold"] is None and got["kept"] == 1.0


@pytest.mark.slow
def test_adafocus_plus_keeps_informative_frames_rather_than_empty_ones() -> None:
    spec = dataclasses.replace(TOY, empty=0.3)
    train, _ = quadrant_arrays(spec, "train")
    val, target = quadrant_arrays(dataclasses.replace(spec, num_videos=200), "val")
    # the paper's π: next to the candidate policy π' keeps the informative frames less selectively on
    # this toy, where π' saturates at p(keep) ~ 1 (RESULTS.md, "Why, on the toy: π' saturates next to the candidate policy")
    opts = {**TOY_OPTS, "skip": True, "keep_ratio": 0.7, "drop_local": 0.3, **PAPER_PI}
    result = train_sampler(train, sampler_config(variant="adafocus", batch_size=32, device="cpu", **opts))
    got = _evaluate(result.model, val, target)
    informative = target.any(axis=2)
    keep = got["keep_mask"]
    assert result.model.cfg.threshold == result.extra["threshold"] is not None
    assert abs(got["kept"] - 0.7) < 0.1  # rho solved on train for eta = 70 %
    assert keep[informative].mean() > keep[~informative].mean() + 0.2
    assert got["hit"] / informative.mean() >= 0.8 and got["policy"] >= got["random"] + 0.2


# ----------------------------------------------------------------------------- stores and runs
SMALL = QuadrantSpec(num_videos=24, num_frames=4, map_dim=8, map_size=2, local_dim=6, grid=3, patch_size=64,
                     frame_size=128)
FAST = dict(hidden=8, policy_hidden=8, policy_channels=4, stage1_epochs=2, stage2_epochs=1, stage3_epochs=1)


def _write(path: Path, patches: bool = True, **changes):
    spec = dataclasses.replace(SMALL, **changes)
    train = quadrant_arrays(spec, "train")[0]
    val = quadrant_arrays(dataclasses.replace(spec, num_videos=6), "val")[0]
    return write_store(path, {"train": train, "val": val}, patches=patches, chunk_videos=8)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("af")
    return {"store": _write(root / "s.zarr"), "other": _write(root / "other.zarr", num_videos=20, seed=1),
            "bare": _write(root / "bare.zarr", patches=False)}


def _cfg(**opts) -> SamplerConfig:
    return sampler_config(name="af", variant="adafocus", batch_size=8, device="cpu", **{**FAST, **opts})


def _state(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "sampler.pt", weights_only=True)["state_dict"]


def test_load_sampler_arrays_reads_the_patch_arrays(stores) -> None:
    store = stores["store"]
    arrays = load_sampler_arrays(store.path, "train", rec_features=False, rec_logits=False, patches=True)
    want = quadrant_arrays(SMALL, "train")[0]
    assert arrays.light_maps.dtype == np.float16 and arrays.patch_features.dtype == np.float16
    assert np.array_equal(arrays.light_maps, want.light_maps) and np.array_equal(arrays.patch_features, want.patch_features)
    assert arrays.patches == store.patches and arrays.patches["grid"] == 3
    sub = arrays.subset(np.array([2, 0]))
    assert np.array_equal(sub.patch_features, want.patch_features[[2, 0]]) and sub.light_maps.shape[0] == 2
    plain = load_sampler_arrays(store.path, "train", rec_features=False, rec_logits=False)
    assert plain.light_maps is None and plain.patches is None
    with pytest.raises(SamplerDataError, match=r"nsnet extract --patches G --patch-size P"):
        train_sampler(plain, _cfg())  # e.g. arrays loaded by a caller that did not ask for patches


def test_store_without_patch_arrays_is_a_one_line_error(stores, tmp_path) -> None:
    with pytest.raises(SamplerDataError, match=r"no AdaFocus patch arrays; run `nsnet extract --patches G --patch-size P`"):
        load_sampler_arrays(stores["bare"].path, "train", patches=True)
    with pytest.raises(SamplerDataError, match="--patches"):
        fit_sampler(stores["bare"].path, tmp_path / "r", _cfg(), progress=False)


def test_fit_sampler_saves_stages_and_resume_equals_a_full_run(stores, tmp_path) -> None:
    store = stores["store"]
    full = fit_sampler(store.path, tmp_path / "full", _cfg(), progress=False)
    assert {p.name for p in full.iterdir()} >= {"sampler.pt", "config.json", "stage1.pt", "stage2.pt", "stage3.pt"}
    saved = json.loads((full / "config.json").read_text())
    assert saved["config"]["variant"] == "adafocus" and saved["config"]["options"]["hidden"] == 8
    assert sorted(saved["run"]["stage_seconds"]) == ["1", "2", "3"] and saved["run"]["stages"] == [1, 2, 3]
    assert all(v >= 0 for v in saved["run"]["stage_seconds"].values())
    assert len(saved["run"]["stage_history"]["1"]["loss"]) == 2 and "reward" in saved["run"]["stage_history"]["2"]
    assert saved["run"]["patches"]["grid"] == 3 and len(saved["run"]["patches"]["boxes"]) == 9
    run = load_run(full, store=store.path)
    assert isinstance(run.model, AdaFocus) and not run.model.training and run.config.variant == "adafocus"
    assert run.model.cfg.num_candidates == 9 and run.model.cfg.local_dim == SMALL.local_dim
    maps = torch.from_numpy(store.read("light/feature_maps", np.arange(3)))
    assert run.model.choose_patches(maps).shape == (3, SMALL.num_frames)
    assert torch.load(full / "stage2.pt", weights_only=True)["stage"] == 2

    # stage by stage in another directory: 1, then 2,3 resumed from stage1.pt -> the same model
    split = tmp_path / "split"
    fit_sampler(store.path, split, _cfg(), progress=False, stages="1")
    first = json.loads((split / "config.json").read_text())["run"]
    assert first["stages"] == [1] and sorted(first["stage_seconds"]) == ["1"] and not (split / "stage2.pt").exists()
    fit_sampler(store.path, split, _cfg(), progress=False, stages="2,3")
    resumed = json.loads((split / "config.json").read_text())["run"]
    assert resumed["stages_run"] == [2, 3] and resumed["stages"] == [1, 2, 3]
    assert resumed["stage_seconds"]["1"] == first["stage_seconds"]["1"]  # kept from stage1.pt
    a, b = _state(full), _state(split)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    # redo stage 2 only: stage3.pt (trained after the old stage 2) is stale and goes
    fit_sampler(store.path, split, _cfg(), progress=False, stages="2")
    assert not (split / "stage3.pt").exists() and (split / "stage2.pt").exists()
    assert json.loads((split / "config.json").read_text())["run"]["stages"] == [1, 2]
    with pytest.raises(RunError, match="no stage 2 checkpoint"):
        fit_sampler(store.path, tmp_path / "empty", _cfg(), progress=False, stages="3")


def test_resume_and_load_refuse_another_store_or_architecture(stores, tmp_path) -> None:
    store, other = stores["store"], stores["other"]
    out = fit_sampler(store.path, tmp_path / "run", _cfg(), progress=False, stages="1")
    with pytest.raises(RunMismatchError, match="different store"):
        load_run(out, store=other.path)
    with pytest.raises(RunMismatchError, match="different store"):
        fit_sampler(other.path, out, _cfg(), progress=False, stages="2,3")
    with pytest.raises(RunError, match="hidden=8"):
        fit_sampler(store.path, out, _cfg(hidden=16), progress=False, stages="2,3")
    # training options (epochs, lr, ...) may change between stages
    fit_sampler(store.path, out, _cfg(stage2_epochs=2, policy_lr=1e-2), progress=False, stages="2")
    assert len(json.loads((out / "config.json").read_text())["run"]["stage_history"]["2"]["loss"]) == 2


def test_cli_fit_sampler_adafocus(stores, tmp_path) -> None:
    store = stores["store"]
    out = tmp_path / "cli"
    fast = ["--option", "stage1_epochs=1", "-o", "stage2_epochs=1", "-o", "stage3_epochs=1",
            "-o", "batch_size=8", "--device", "cpu", "--quiet"]
    args = ["fit-sampler", str(store.path), "--out", str(out), "--variant", "adafocus", "--stages", "1,2,3",
            "--option", "hidden=64", *fast]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "config.json").read_text())
    assert saved["config"]["options"]["hidden"] == 64 and saved["config"]["options"]["stage2_epochs"] == 1
    assert load_run(out, store=store.path).model.cfg.hidden == 64
    again = CliRunner().invoke(app, [*args[:6], "--stages", "3", "--adafocus", "hidden=64", *fast])  # the old spelling of --option
    assert again.exit_code == 0, again.output
    assert json.loads((out / "config.json").read_text())["run"]["stages_run"] == [3]
    bad = [
        (["--variant", "adafocus", "--stages", "1,3"], "consecutive"),
        (["--variant", "adafocus", "--option", "nope=1"], "variant adafocus has no option 'nope'"),
        (["--variant", "adafocus", "--option", "skip=maybe"], "option skip must be true or false"),
        (["--variant", "adafocus", "--option", "skip=1"], "option skip must be true or false"),
        (["--variant", "adafocus", "--option", "hidden=2.5"], "option hidden must be an integer"),
        (["--variant", "adafocus", "--epochs", "5"], "variant adafocus has no option 'epochs'"),
        (["--variant", "adafocus", "--width", "512"], "variant adafocus has no option 'width'"),
        (["--variant", "nsnet", "--stages", "2"], "trained in stages (adafocus)"),
        (["--variant", "nsnet", "--option", "hidden=8"], "variant nsnet has no option 'hidden'"),
        (["--variant", "nope"], "unknown variant 'nope'"),
    ]
    for extra, match in bad:
        res = CliRunner().invoke(app, ["fit-sampler", str(store.path), "--out", str(tmp_path / "bad"), *extra, *fast[-3:]])
        assert res.exit_code == 2 and match in res.output, res.output
        assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["fit-sampler", str(store.path), "--out", str(tmp_path / "b"), "--option", "hidden"])
    assert res.exit_code == 2 and "KEY=VALUE" in res.output
    res = CliRunner().invoke(app, ["fit-sampler", str(stores["bare"].path), "--out", str(tmp_path / "b"), "--variant",
                                   "adafocus", *fast])
    assert res.exit_code == 2 and "nsnet extract --patches G --patch-size P" in res.output
