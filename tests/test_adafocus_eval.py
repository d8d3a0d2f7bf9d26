"""AdaFocus everywhere a sampler goes: evaluate (cached == reload), GFLOPs, predict boxes, figures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import SMALL_CLI, T
from nsnet.cli import app
from nsnet.evaluate.config import EvaluateConfig, EvaluateError
from nsnet.evaluate.costs import count_module_gflops
from nsnet.evaluate.run import evaluate
from nsnet.extract.fit_recognizer import FitRecognizerConfig, fit_recognizer
from nsnet.extract.models import create_frame_model
from nsnet.extract.patches import PatchGrid
from nsnet.sampler.base import SamplerError, SamplerInputs
from nsnet.sampler.config import sampler_config
from nsnet.sampler.adafocus.methods import centre_candidate
from nsnet.sampler.registry import create_sampler, list_samplers, sampler_class
from nsnet.sampler.run import load_run
from nsnet.sampler.train import fit_sampler
from nsnet.store import FeatureStore
from nsnet.store import schema as S

runner = CliRunner()
G, P = 2, 32
TINY_AF = {"hidden": 16, "policy_hidden": 16, "policy_channels": 4, "stage1_epochs": 2, "stage2_epochs": 2,
           "stage3_epochs": 1}
PATCH_METHODS = [n for n in list_samplers() if getattr(sampler_class(n), "patch_policy", False)]


@pytest.fixture(scope="module")
def af(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Returns {"store", "ada", "plus", "nsnet"}: a patch store (G=2, P=32, fitted head) of the shared
    test videos, a tiny AdaFocus run, a tiny AdaFocus+ run and a tiny NSNet run on it."""
    root = tmp_path_factory.mktemp("af")
    store = root / "store.zarr"
    result = runner.invoke(app, ["extract", str(dataset), "--out", str(store), "--chunk-videos", "4", "--quiet",
                                 *SMALL_CLI, "--patches", str(G), "--patch-size", str(P)])
    assert result.exit_code == 0, result.output
    fit_recognizer(store, FitRecognizerConfig(quiet=True))
    runs = {"store": store}
    runs["ada"] = fit_sampler(store, root / "ada", sampler_config(name="ada", variant="adafocus", seed=0,
                                                                 **dict(TINY_AF)), progress=False)
    runs["plus"] = fit_sampler(store, root / "plus", sampler_config(
        name="plus", variant="adafocus", seed=0, **{**TINY_AF, "skip": True, "keep_ratio": 0.5}), progress=False)
    runs["nsnet"] = fit_sampler(store, root / "nsnet", sampler_config(name="ns", variant="nsnet", seed=0, epochs=2,
                                                                     width=16), progress=False)
    return runs


def _evaluate(af: dict[str, Path], path: str, methods: list[str], k: int = 2, plus: bool = False, **kw):
    cfg = EvaluateConfig(store=af["store"], runs=[af["nsnet"], af["plus" if plus else "ada"]], budgets=[k],
                         methods=methods, path=path, workers=0, device="cpu", quiet=True, **kw)
    return evaluate(cfg.validate())


def test_every_patch_method_is_registered_and_documented() -> None:
    assert set(PATCH_METHODS) == {"adafocus", "adafocus+", "random-patch", "centre-patch", "nsnet+adafocus",
                                  "tsqnet+adafocus"}
    from nsnet.evaluate.config import __doc__ as doc
    from nsnet.sampler.registry import table_order

    for name in PATCH_METHODS:
        assert name in table_order() and name in doc


@pytest.mark.parametrize("name", ["adafocus", "adafocus+", "random-patch", "centre-patch", "nsnet+adafocus"])
def test_patch_method_interface(name: str, af: dict[str, Path]) -> None:
    store = FeatureStore.open(af["store"])
    rows = store.valid_indices("val")
    ada = load_run(af["plus" if name == "adafocus+" else "ada"], store=store)
    frame_run = load_run(af["nsnet"], store=store) if name == "nsnet+adafocus" else None
    method = create_sampler(name, run=ada, frame_run=frame_run, seed=1)
    inputs = SamplerInputs(light=store.read(S.LIGHT_FEATURES, rows))
    pos = method.frames(inputs, 3)
    assert pos.shape == (rows.size, 3 if name == "nsnet+adafocus" else T)
    assert np.all(np.diff(pos, axis=1) > 0)  # time order, distinct
    maps = np.take_along_axis(store.read(S.LIGHT_MAPS, rows), pos[:, :, None, None, None], axis=1)
    choices, keep = method.choose(maps), method.keep(maps)
    assert choices.shape == pos.shape and choices.min() >= 0 and choices.max() < G * G
    if name == "centre-patch":
        assert np.all(choices == PatchGrid.from_attrs(store.patches).centre_index())
    if name != "adafocus+":
        assert keep.all()
    else:
        assert keep.dtype == bool and keep.shape == pos.shape
    local = np.zeros(pos.shape + (store.recognizer_spec["feature_dim"],), np.float32)
    probs = method.predict(np.take_along_axis(inputs.light, pos[:, :, None], axis=1), local, keep)
    assert probs.shape == (rows.size, store.num_classes)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_centre_candidate_is_the_grid_centre(af: dict[str, Path]) -> None:
    run = load_run(af["ada"])
    assert centre_candidate(run) == PatchGrid.from_attrs(run.meta["patches"]).centre_index()


def test_patch_methods_need_their_runs(af: dict[str, Path]) -> None:
    ada = load_run(af["ada"])
    with pytest.raises(SamplerError, match="skip policy"):
        create_sampler("adafocus+", run=ada)
    with pytest.raises(SamplerError, match="nsnet run"):
        create_sampler("nsnet+adafocus", run=ada)
    with pytest.raises(SamplerError, match="AdaFocus run"):
        create_sampler("adafocus", run=load_run(af["nsnet"]))


def test_reload_equals_cached_for_every_patch_method(af: dict[str, Path]) -> None:
    """The reload path (decode, light CNN on whole frames, crop the chosen patch, local CNN on it)
    chooses the same patches and gives the same predictions as the cached candidate features."""
    methods = ["adafocus", "random-patch", "centre-patch", "nsnet+adafocus"]
    cached = _evaluate(af, "cached", methods)
    reload = _evaluate(af, "reload", methods)
    for key, c in cached.patches.items():
        r = reload.patches[key]
        assert r.ok.all()
        np.testing.assert_array_equal(r.positions, c.positions)
        np.testing.assert_array_equal(r.choices, c.choices)
        np.testing.assert_allclose(r.probs, c.probs, atol=1e-4)
    by_path = {(row.method, row.path): row for row in cached.rows + reload.rows}
    for m in methods:
        assert by_path[(m, "reload")].mAP == pytest.approx(by_path[(m, "cached")].mAP, abs=1e-9)
        assert by_path[(m, "reload")].gflops == pytest.approx(by_path[(m, "cached")].gflops)
    plus_c = _evaluate(af, "cached", ["adafocus+"], plus=True).patches[("adafocus+", T)]
    plus_r = _evaluate(af, "reload", ["adafocus+"], plus=True).patches[("adafocus+", T)]
    np.testing.assert_array_equal(plus_r.keep, plus_c.keep)
    np.testing.assert_allclose(plus_r.probs, plus_c.probs, atol=1e-4)


def test_patch_method_gflops_add_up(af: dict[str, Path]) -> None:
    res = _evaluate(af, "cached", ["adafocus", "random-patch", "nsnet+adafocus", "dense"], k=2)
    costs = res.costs
    parts = costs.samplers["adafocus"]
    store = FeatureStore.open(af["store"])
    spec = store.recognizer_spec
    local = create_frame_model(spec["name"], "none", input_size=spec["input_size"],
                               resize_short=spec["resize_short"]).backbone.eval()
    import torch

    assert parts["local_per_patch"] == pytest.approx(count_module_gflops(local, torch.zeros(1, 3, P, P)))
    assert 0 < parts["local_per_patch"] < costs.rec_per_frame
    assert parts["policy_step"] > 0 and parts["classifier_step"] > 0
    rows = {r.method: r for r in res.rows}
    per_frame = parts["classifier_step"] + parts["local_per_patch"]
    assert rows["adafocus"].gflops == pytest.approx(costs.light_per_frame * T + (per_frame + parts["policy_step"]) * T)
    assert rows["random-patch"].gflops == pytest.approx(costs.light_per_frame * T + per_frame * T)
    assert rows["nsnet+adafocus"].gflops == pytest.approx(
        costs.light_per_frame * T + costs.frame_sampler_cost("nsnet") + (per_frame + parts["policy_step"]) * 2)
    assert rows["nsnet+adafocus"].K == 2 and rows["adafocus"].K == T


def test_adafocus_plus_costs_follow_the_kept_frames(af: dict[str, Path]) -> None:
    res = _evaluate(af, "cached", ["adafocus+"], plus=True)
    score = res.patches[("adafocus+", T)]
    parts, costs = res.costs.samplers["adafocus"], res.costs
    kept = score.keep.sum(axis=1).mean()
    want = (costs.light_per_frame * T + (parts["classifier_step"] + parts["policy_step"] + parts["skip_step"]) * T
            + parts["local_per_patch"] * kept)
    assert res.rows[0].gflops == pytest.approx(want)


def test_evaluate_without_patch_arrays_is_one_line(af: dict[str, Path], store_path: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain.zarr"
    shutil.copytree(store_path, plain)
    with pytest.raises(Exception) as err:  # the run was trained on another store, or the store has no patches
        evaluate(EvaluateConfig(store=plain, runs=[af["ada"]], methods=["adafocus"], path="cached").validate())
    assert "\n" not in str(err.value)


def test_predict_prints_the_patch_boxes(af: dict[str, Path], dataset: Path) -> None:
    store = FeatureStore.open(af["store"])
    rows = store.valid_indices("val")
    video = Path(str(store.read(S.PATH, rows[:1])[0]))
    result = runner.invoke(app, ["predict", str(video), "--run", str(af["ada"]), "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    pred = json.loads(result.output)
    assert pred["method"] == "adafocus" and pred["K"] == T and len(pred["frames"]) == T
    cached = _evaluate(af, "cached", ["adafocus"]).patches[("adafocus", T)]
    assert [f["patch"] for f in pred["frames"]] == cached.choices[0].tolist()  # same patches as evaluate
    from nsnet.extract.video import probe_video

    info = probe_video(video)
    for f in pred["frames"]:
        x0, y0, x1, y1 = f["box"]
        assert -0.5 <= x0 < x1 <= info.width + 0.5 and -0.5 <= y0 < y1 <= info.height + 0.5
    text = runner.invoke(app, ["predict", str(video), "--run", str(af["nsnet"]), "--run-adafocus", str(af["ada"]),
                               "--method", "nsnet+adafocus", "-k", "2", "--device", "cpu"])
    assert text.exit_code == 0, text.output
    assert "patch boxes" in text.output and text.output.count(": box ") == 2


def test_plots_draw_the_chosen_patches(af: dict[str, Path], tmp_path: Path) -> None:
    res = runner.invoke(app, ["evaluate", str(af["store"]), "--run", str(af["nsnet"]), "--run-adafocus",
                              str(af["ada"]), "-m", "adafocus", "-m", "nsnet", "-k", "2", "--path", "cached",
                              "--plots", "--out", str(tmp_path), "--device", "cpu", "-q"])
    assert res.exit_code == 0, res.output
    assert list(tmp_path.glob("patches_*.png")), res.output


def test_draw_box_outlines_the_box() -> None:
    from nsnet.evaluate.figures import BOX_COLOUR, draw_box

    img = np.zeros((20, 30, 3), np.uint8)
    out = draw_box(img, (5, 4, 15, 12), width=1)
    assert (out[4, 5:15] == BOX_COLOUR).all() and (out[11, 5:15] == BOX_COLOUR).all()
    assert (out[4:12, 5] == BOX_COLOUR).all() and (out[4:12, 14] == BOX_COLOUR).all()
    assert (out[8, 10] == 0).all() and img.sum() == 0  # inside untouched, input not modified


def test_ablate_trains_and_scores_adafocus_entries(af: dict[str, Path], tmp_path: Path) -> None:
    import csv

    from nsnet.sampler.ablate import ablate

    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps([{"name": "af", "variant": "adafocus", **TINY_AF},
                                {"name": "af-h8", "variant": "adafocus", **TINY_AF, "hidden": 8}]))
    out = ablate(af["store"], grid, tmp_path / "abl", k=2, progress=False)
    rows = {r["name"]: r for r in csv.DictReader(open(out / "ablation.csv"))}
    assert "hidden=8" in rows["af-h8"]["options"] and "hidden=8" not in rows["af"]["options"]
    # each row is what a cached evaluation of its run reports: AdaFocus and random patches through the same f_C
    for name in ("af", "af-h8"):
        res = {r.method: r for r in _evaluate({**af, "ada": out / name}, "cached", ["adafocus", "random-patch"]).rows}
        assert float(rows[name]["mAP"]) == pytest.approx(res["adafocus"].mAP, abs=1e-4)
        assert float(rows[name]["top1"]) == pytest.approx(res["adafocus"].top1, abs=1e-4)
        assert float(rows[name]["mAP_random_patch"]) == pytest.approx(res["random-patch"].mAP, abs=1e-4)


def test_policy_usage_hand_case() -> None:
    from nsnet.evaluate.patch_eval import policy_usage

    usage = policy_usage(np.array([[0, 0], [1, 0]]), 4)  # candidate 0 on 3 of 4 frames
    assert usage["top_candidate"] == 0 and usage["top_share"] == pytest.approx(0.75)
    assert usage["entropy_bits"] == pytest.approx(-(0.75 * np.log2(0.75) + 0.25 * np.log2(0.25)))
    assert usage["distinct_per_video"] == pytest.approx(1.5)
    fixed = policy_usage(np.full((3, 4), 2), 4)
    assert fixed == {"top_candidate": 2, "top_share": 1.0, "entropy_bits": 0.0, "distinct_per_video": 1.0}
    with pytest.raises(EvaluateError, match="non-empty"):
        policy_usage(np.zeros((0, 2), dtype=int), 4)


def test_fixed_policy_gets_one_note_per_method() -> None:
    from nsnet.evaluate.patch_eval import fixed_policy_notes

    fixed = {"top_candidate": 7, "top_share": 1.0, "entropy_bits": 0.0, "distinct_per_video": 1.0}
    adaptive = {**fixed, "top_share": 0.5}
    notes = fixed_policy_notes({("nsnet+adafocus", 1): fixed, ("nsnet+adafocus", 2): fixed, ("nsnet+adafocus", 3): adaptive,
                                ("adafocus", 16): adaptive}, {"nsnet+adafocus": "NSNet+AdaFocus"})
    assert len(notes) == 1
    assert notes[0].startswith("NSNet+AdaFocus (K=1, 2): the policy chose candidate 7 on 100%")
    assert "centre-patch" in notes[0]
    assert fixed_policy_notes({("adafocus", 16): adaptive}, {}) == []


def test_evaluate_reports_where_learned_policies_look(af: dict[str, Path]) -> None:
    from nsnet.evaluate.patch_eval import policy_usage
    from nsnet.evaluate.report import result_dict

    res = _evaluate(af, "cached", ["adafocus", "random-patch", "centre-patch", "nsnet+adafocus"])
    assert set(res.patch_policy) == {("adafocus", T), ("nsnet+adafocus", 2)}  # learned π only
    for key, usage in res.patch_policy.items():
        assert usage == policy_usage(res.patches[key].choices, G * G)
        noted = [n for n in res.notes if "the policy chose" in n and f"K={key[1]})" in n]
        assert len(noted) == (usage["top_share"] >= 0.95)
    saved = result_dict(res)["patch_policy"]
    assert set(saved) == {f"adafocus@K{T}", "nsnet+adafocus@K2"}
