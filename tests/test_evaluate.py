"""Tests for `nsnet evaluate`: reload == cached, decoding only K frames, mAP on a hand-made store,
run/store mismatch, outputs and CLI errors.

The shared fixture extracts a tiny store from generated videos (tiny timm test models: a random
light extractor and a recognizer whose random weights are saved to a file, so the reload path can
rebuild it and check its hash), fits the recognizer head and trains a 2-epoch NSNet sampler.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

import nsnet._compat
from nsnet.evaluate.config import EvaluateConfig, EvaluateError, parse_budgets, parse_method
from nsnet.metrics import average_frame_predictions
from nsnet.store import schema as S

from utils import assert_reload_equals_cached, make_csv_dataset  # tests/utils.py

T = 8
_SETUP: dict[str, SimpleNamespace] = {}


def build_tiny_setup(root: Path) -> SimpleNamespace:
    """Returns (building once per session) a tiny extracted store, its CSV and a trained NSNet run."""
    if "tiny" in _SETUP:
        return _SETUP["tiny"]
    from nsnet.extract.config import ExtractConfig
    from nsnet.extract.pipeline import extract
    from nsnet.extract.fit_recognizer import FitRecognizerConfig, fit_recognizer
    from nsnet.sampler.config import sampler_config
    from nsnet.sampler.train import fit_sampler

    csv = make_csv_dataset(root / "data", num_videos=8, classes=("a", "b"), num_frames=20, val_fraction=0.5)
    timm = nsnet._compat.import_timm()
    torch.manual_seed(1)
    rec_weights = root / "rec.pth"
    torch.save(timm.create_model("test_resnet", pretrained=False, num_classes=0).state_dict(), rec_weights)
    store = root / "store.zarr"
    extract(ExtractConfig(annotations=csv, out=store, frames=T, extractor="test_efficientnet", extractor_size=32,
                          weights="none", recognizer="test_resnet", recognizer_size=32,
                          recognizer_weights=str(rec_weights), workers=0, device="cpu", quiet=True))
    fit_recognizer(store, FitRecognizerConfig(quiet=True))
    run = fit_sampler(store, root / "run", sampler_config(epochs=2, width=16, heads=2, device="cpu"), progress=False)
    _SETUP["tiny"] = SimpleNamespace(root=root, csv=csv, store=store, run=run, rec_weights=rec_weights)
    return _SETUP["tiny"]


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    return build_tiny_setup(tmp_path_factory.mktemp("tiny_eval"))


def _cfg(tiny: SimpleNamespace, **kw) -> EvaluateConfig:
    base = dict(store=tiny.store, runs=[tiny.run], budgets=[3], workers=0, quiet=True, device="cpu")
    base.update(kw)
    return EvaluateConfig(**base)


def _cli() -> typer.Typer:
    from nsnet.cli.evaluate import evaluate_command

    app = typer.Typer(pretty_exceptions_enable=False)
    app.command("evaluate")(evaluate_command)
    app.command("other")(lambda: None)  # keep "evaluate" a subcommand
    return app


# ------------------------------------------------------------------------------ parsing
def test_parse_budgets_and_methods() -> None:
    assert parse_budgets(["5"]) == [5]
    assert parse_budgets(["1,5,10", "5"]) == [1, 5, 10]
    assert parse_budgets("1..4") == [1, 2, 3, 4]
    for bad in ("0", "a", "3..1", "1.5"):
        with pytest.raises(EvaluateError):
            parse_budgets(bad)
    assert parse_method("maxconf") == "topk"
    assert parse_method("fused:sum") == "fused:sum"
    with pytest.raises(EvaluateError, match="unknown fusion"):
        parse_method("fused:avg")
    with pytest.raises(EvaluateError, match="unknown method"):
        parse_method("magic")


# ------------------------------------------------------------------------------ reload vs cached
def test_reload_equals_cached(tiny: SimpleNamespace) -> None:
    from nsnet.evaluate.run import EvalContext

    methods = ["nsnet", "fused:sum", "fsm", "uniform", "random", "dense", "topk", "oracle"]
    reload_ctx = EvalContext(_cfg(tiny, methods=methods, path="reload", workers=1))
    cached_ctx = EvalContext(_cfg(tiny, methods=methods, path="cached"))
    assert reload_ctx.recognizer is not None and cached_ctx.recognizer is None
    for spec, (logits_r, logits_c) in zip(reload_ctx.methods, assert_reload_equals_cached(reload_ctx, cached_ctx, 3)):
        np.testing.assert_allclose(average_frame_predictions(logits_r, False),
                                   average_frame_predictions(logits_c, False), atol=1e-3, err_msg=spec.name)


def test_evaluate_rows_same_on_both_paths(tiny: SimpleNamespace) -> None:
    from nsnet.evaluate.run import evaluate

    methods = ["nsnet", "uniform", "dense"]
    rows_r = evaluate(_cfg(tiny, methods=methods, budgets=[1, 3], path="reload")).rows
    rows_c = evaluate(_cfg(tiny, methods=methods, budgets=[1, 3], path="cached")).rows
    assert [(r.method, r.K) for r in rows_r] == [("fused:union", 1), ("fused:union", 3), ("uniform", 1),
                                                  ("uniform", 3), ("dense", T)]
    for r, c in zip(rows_r, rows_c):
        assert (r.path, c.path) == ("reload", "cached")
        assert r.mAP == pytest.approx(c.mAP, abs=1e-6) and r.top1 == pytest.approx(c.top1, abs=1e-6)
        assert r.gflops == pytest.approx(c.gflops) and r.videos == c.videos == 4


def test_reload_decodes_only_the_chosen_frames(tiny: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    import nsnet.evaluate.reload as reload_mod
    from nsnet.evaluate.run import evaluate
    from nsnet.store import FeatureStore

    calls: list[tuple[str, np.ndarray]] = []
    real = reload_mod.read_frames

    def spy(path, indices, short_side, info=None):
        calls.append((str(path), np.asarray(indices).copy()))
        return real(path, indices, short_side, info)

    monkeypatch.setattr(reload_mod, "read_frames", spy)
    result = evaluate(_cfg(tiny, methods=["uniform", "nsnet"], budgets=[2]))
    store = FeatureStore.open(tiny.store)
    rows = store.valid_indices("val")
    paths = [str(p) for p in store.read(S.PATH, rows)]
    frame_indices = store.read(S.FRAME_INDICES, rows)
    assert len(calls) == 2 * len(rows)  # one decode per video per method
    for name, chunk in (("uniform", calls[: len(rows)]), ("fused:union", calls[len(rows) :])):
        positions = result.selections[(name, 2)]
        for v, (path, indices) in enumerate(chunk):
            assert path == paths[v]
            assert indices.size == 2  # K frames, not T
            np.testing.assert_array_equal(indices, frame_indices[v, positions[v]])
    calls.clear()
    evaluate(_cfg(tiny, methods=["dense"], budgets=[2]))
    assert [c[1].size for c in calls] == [T] * len(rows)


# ------------------------------------------------------------------------------ metrics / costs
def _hand_store(path: Path) -> Path:
    """A store of 4 val videos x T=2 frames x 3 classes whose frame softmax is a known table."""
    from nsnet.store import FeatureStore, StoreLayout

    probs = np.array([[0.6, 0.1, 0.3], [0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.4, 0.5, 0.1]])
    labels = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0]], dtype=np.uint8)
    spec = {"name": "test_resnet", "input_size": 32, "resize_short": 34, "mean": [0.5] * 3, "std": [0.5] * 3,
            "weights": "none", "weights_sha256": "0" * 64, "feature_dim": 4, "num_classes": 0}
    layout = StoreLayout(video_ids=[f"v{i}" for i in range(4)], paths=[f"/nowhere/v{i}.mp4" for i in range(4)],
                         splits=["val"] * 4, labels=labels, class_names=["x", "y", "z"], multilabel=False, T=2,
                         extractor=dict(spec, name="test_efficientnet"), recognizer=spec, annotations={})
    store = FeatureStore.create(path, layout, light_dim=4, rec_dim=4)
    logits = np.repeat(np.log(probs)[:, None, :], 2, axis=1).astype(np.float32)
    store.write_chunk(0, {
        S.LIGHT_FEATURES: np.zeros((4, 2, 4), np.float16), S.REC_FEATURES: np.zeros((4, 2, 4), np.float16),
        S.REC_LOGITS: logits, S.FRAME_INDICES: np.tile(np.array([0, 1], np.int32), (4, 1)),
        S.NUM_FRAMES: np.full(4, 2), S.FPS: np.full(4, 10.0, np.float32), S.ERROR: np.array([""] * 4),
    })
    store.update_attrs(logits_source="hand-made")
    return path


def test_map_on_hand_made_store(tmp_path: Path) -> None:
    from nsnet.evaluate.run import evaluate

    store = _hand_store(tmp_path / "hand.zarr")
    result = evaluate(EvaluateConfig(store=store, budgets=[1], methods=["dense", "uniform"], path="cached", quiet=True))
    # class x: v0 .6(+) v1 .5(-) v3 .4(+) v2 .1(-) -> AP (1 + 2/3)/2 = 5/6
    # class y: v3 .5(-) v1 .3(+) v2 .2(+) v0 .1(-) -> AP (1/2 + 2/3)/2 = 7/12
    # class z: no positive video -> excluded; mAP = (5/6 + 7/12)/2 = 17/24
    # top-1: argmax x, x, z, y vs labels x, y, y, x -> 1/4
    for row in result.rows:
        assert row.mAP == pytest.approx(17 / 24)
        assert row.top1 == pytest.approx(0.25)
    assert any("excludes 1 of 3 classes" in n and "z" in n for n in result.notes)
    assert result.meta["excluded_classes"] == ["z"]


def test_method_cost_composition() -> None:
    from nsnet.evaluate.costs import ComponentCosts
    from nsnet.sampler.nsnet.hooks import sampler_gflops
    from nsnet.evaluate.methods import method_spec
    from nsnet.sampler.nsnet.model import NSNet, NSNetConfig

    costs = ComponentCosts(rec_per_frame=2.0, light_per_frame=0.5,
                           samplers={"nsnet": {"fem": 0.3, "fsm": 0.01, "vgm": 0.02},
                                     "maxconf-l": {"fem": 0.4, "fsm": 0.03, "vgm": 0.0}})
    k, t = 5, 10
    assert costs.per_video(method_spec("nsnet"), k, t) == pytest.approx(2 * 5 + 0.5 * 10 + 0.3 + 0.01 + 0.02)
    assert costs.per_video(method_spec("fused:sum"), k, t) == pytest.approx(15.33)
    assert costs.per_video(method_spec("fsm"), k, t) == pytest.approx(15.31)
    assert costs.per_video(method_spec("vgm"), k, t) == pytest.approx(15.32)
    assert costs.per_video(method_spec("maxconf-l"), k, t) == pytest.approx(15.43)
    for name in ("uniform", "random"):
        assert costs.per_video(method_spec(name), k, t) == pytest.approx(10.0)
    for name in ("dense", "topk", "oracle"):
        assert costs.per_video(method_spec(name), k, t) == pytest.approx(20.0)  # P_rec * T

    # the sampler network is counted in full, transformer attention included (MACs):
    # FEM = T*D*d + L*(6*T*d*d + 2*T*T*d); FSM = T*d*(C+1); VGM = T*d + 2*d*(C+1)
    tt, dd, d, c, layers = 6, 10, 8, 3, 2
    model = NSNet(NSNetConfig(in_dim=dd, num_classes=c, num_frames=tt, width=d, heads=2, layers=layers))
    got = sampler_gflops(model, tt, dd)
    assert got["fem"] * 1e9 == pytest.approx(tt * dd * d + layers * (6 * tt * d * d + 2 * tt * tt * d))
    assert got["fsm"] * 1e9 == pytest.approx(tt * d * (c + 1))
    assert got["vgm"] * 1e9 == pytest.approx(tt * d + 2 * d * (c + 1))


def test_recognizer_hash_is_checked(tiny: SimpleNamespace) -> None:
    from nsnet.extract.recognizer import RecognizerError, load_recognizer, rebuild_frame_model
    from nsnet.store import FeatureStore

    store = FeatureStore.open(tiny.store)
    model = load_recognizer(store)
    assert model.head is not None and model.head.out_features == 2
    with pytest.raises(RecognizerError, match="hash"):
        rebuild_frame_model(dict(store.recognizer_spec, weights_sha256="f" * 64), what="recognizer")
    with pytest.raises(RecognizerError, match="does not exist"):
        rebuild_frame_model(dict(store.recognizer_spec, weights="file:/nowhere/w.pth"))


# ------------------------------------------------------------------------------ refusals and CLI
@pytest.mark.slow
def test_refuses_run_store_mismatch(tiny: SimpleNamespace, tmp_path: Path) -> None:
    import shutil

    from nsnet.evaluate.run import evaluate
    from nsnet.sampler.run import RunMismatchError

    other = tmp_path / "other_run"
    shutil.copytree(tiny.run, other)
    payload = torch.load(other / "sampler.pt", weights_only=True)
    payload["meta"]["fingerprint"] = "0" * 64
    torch.save(payload, other / "sampler.pt")
    with pytest.raises(RunMismatchError, match="different store"):
        evaluate(_cfg(tiny, runs=[other], methods=["nsnet"]))
    res = CliRunner().invoke(_cli(), ["evaluate", str(tiny.store), "--run", str(other), "--budget", "2", "-q"])
    assert res.exit_code == 2
    assert "different store" in res.output and "Traceback" not in res.output


def test_cli_bad_values_are_typer_errors(tiny: SimpleNamespace) -> None:
    app, runner = _cli(), CliRunner()
    base = ["evaluate", str(tiny.store), "--run", str(tiny.run), "-q"]
    for extra in (["--budget", "abc"], ["--budget", "0"], ["--budget", "2", "--fusion", "avg"],
                  ["--budget", "2", "--method", "magic"], ["--budget", "2", "--path", "disk"], []):
        res = runner.invoke(app, base + extra)
        assert res.exit_code == 2, (extra, res.output)
        assert res.exception is None or isinstance(res.exception, SystemExit)
    res = runner.invoke(app, base + ["--budget", str(T + 1)])
    assert res.exit_code == 2 and "exceeds the store's T" in res.output
    res = runner.invoke(app, base + ["--budget", "2", "--split", "nope"])
    assert res.exit_code == 2 and "no extracted videos in split 'nope'" in res.output


@pytest.mark.slow
def test_cli_writes_results_and_figures(tiny: SimpleNamespace, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    args = ["evaluate", str(tiny.store), "--run", str(tiny.run), "--budget", "2", "--sweep", "1..3", "--plots",
            "--path", "cached", "--out", str(out), "-q", "--method", "nsnet", "--method", "uniform,dense",
            "--method", "maxconf-l"]
    res = CliRunner().invoke(_cli(), args)
    assert res.exit_code == 0, res.output
    data = json.loads((out / "results.json").read_text())
    assert {(r["method"], r["K"]) for r in data["rows"]} == {
        ("fused:union", 1), ("fused:union", 2), ("fused:union", 3), ("uniform", 1), ("uniform", 2),
        ("uniform", 3), ("dense", T)}
    assert all(r["path"] == "cached" for r in data["rows"])
    assert any("maxconf-l skipped" in n for n in data["notes"])
    assert data["meta"]["path"] == "cached" and data["costs"]["rec_per_frame"] > 0
    header = (out / "results.csv").read_text().splitlines()[0]
    assert header.startswith("method,label,fusion,K,mAP,top1,gflops,seconds,path")
    assert "| method | K | mAP (%) | top-1 (%) | GFLOPs | seconds | path |" in res.output
    for name in ("tradeoff.png", "saliency.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert len(list(out.glob("frames_*.png"))) == 3  # strip_videos=3: one per class first, then the next


def test_runs_are_keyed_by_their_variant(tiny: SimpleNamespace) -> None:
    from nsnet.evaluate.run import EvalContext, evaluate

    ctx = EvalContext(_cfg(tiny, methods=["nsnet", "uniform"], path="cached"))
    assert set(ctx.runs) == {"nsnet"} and ctx.runs["nsnet"].run_dir == Path(tiny.run)
    with pytest.raises(EvaluateError, match="two nsnet runs"):
        EvalContext(_cfg(tiny, runs=[tiny.run, tiny.run], methods=["nsnet"], path="cached"))
    res = evaluate(_cfg(tiny, runs=[], methods=["nsnet", "uniform"], path="cached"))
    assert [r.method for r in res.rows] == ["uniform"]  # nsnet without its run: skipped with a note
    assert any("nsnet" in n and "--run" in n for n in res.notes)
    with pytest.raises(EvaluateError, match="no method left"):
        evaluate(_cfg(tiny, runs=[], methods=["nsnet"], path="cached"))
