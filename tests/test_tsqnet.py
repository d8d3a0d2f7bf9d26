"""TSQNet: TSQ layer by hand, class-specific classifier, swap attention, inference rules, every
ablation switch, and the planted two-event toy where class specificity matters."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from nsnet.sampler.base import SamplerInputs
from nsnet.sampler.config import SamplerConfigError, sampler_config
from nsnet.sampler.registry import create_sampler
from nsnet.toys.planted import top_k_precision
from nsnet.sampler.run import SamplerRun
from nsnet.sampler.tsqnet.model import (
    CSClassifier,
    TSQLayer,
    TSQNet,
    TSQNetConfig,
    aggregate_saliency,
)
from nsnet.sampler.tsqnet.samplers import union_select
from nsnet.sampler.losses import classification_loss
from nsnet.toys.two_event import TwoEventSpec, two_event_arrays
from nsnet.sampler.tsqnet.train import TSQPriors, train_tsqnet


def _identity_layer(width: int) -> TSQLayer:
    layer = TSQLayer(width, heads=1, self_attention=False, dropout=0.0).eval()
    with torch.no_grad():
        for lin in (layer.q, layer.k, layer.v):
            lin.weight.copy_(torch.eye(width))
    return layer


def test_tsq_attention_and_response_by_hand() -> None:
    # 2 classes, 3 frames, d = 2, W_q = W_k = W_v = I
    queries = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])
    frames = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])
    layer = _identity_layer(2)
    attn = layer.attention(queries, frames)[:, 0]  # one head
    r2 = math.sqrt(2.0)
    rows = [[2 / r2, 0.0, 1 / r2], [0.0, 2 / r2, 2 / r2]]  # q_c . x_i / sqrt(d)
    want = torch.tensor([[math.exp(v) / sum(math.exp(w) for w in row) for v in row] for row in rows])
    assert torch.allclose(attn[0], want, atol=1e-6)
    r = layer.respond(attn[:, None], frames)[0]
    hand = [[sum(want[c, i] * frames[0, i, j] for i in range(3)) for j in range(2)] for c in range(2)]
    assert torch.allclose(r, torch.tensor(hand), atol=1e-6)
    # R_hat = LayerNorm(R + FFN(R))
    assert torch.allclose(layer.refine(r[None])[0], layer.ln(r + layer.ffn(r)), atol=1e-6)


def test_class_specific_classifier_equals_separate_linears() -> None:
    torch.manual_seed(0)
    cs = CSClassifier(3, 5)
    r = torch.randn(4, 3, 5)
    z = cs(r)
    for c in range(3):
        lin = torch.nn.Linear(5, 1)
        with torch.no_grad():
            lin.weight.copy_(cs.weight[c : c + 1])
            lin.bias.copy_(cs.bias[c : c + 1])
        assert torch.allclose(z[:, c], lin(r[:, c])[:, 0], atol=1e-6)


def _priors(cfg: TSQNetConfig, seed: int = 0) -> TSQPriors:
    g = np.random.default_rng(seed)
    emb = g.standard_normal((cfg.num_objects, cfg.text_dim)).astype(np.float32)
    return TSQPriors(g.standard_normal((cfg.num_objects, cfg.obj_in_dim)).astype(np.float32),
                     np.zeros(cfg.num_objects, np.float32), emb / np.linalg.norm(emb, axis=1, keepdims=True),
                     g.standard_normal((cfg.num_classes, cfg.text_dim)).astype(np.float32))


def _small(**kw) -> TSQNet:
    base = dict(in_dim=6, obj_in_dim=6, num_classes=3, num_frames=5, text_dim=4, num_objects=7, width=8, dropout=0.0)
    cfg = TSQNetConfig(**{**base, **kw})
    torch.manual_seed(0)
    model = TSQNet(cfg)
    if model.tqm is not None:
        pri = _priors(cfg)
        with torch.no_grad():
            model.obj_weight.copy_(torch.from_numpy(pri.obj_weight))
            model.obj_embed.copy_(torch.from_numpy(pri.obj_embed))
    return model


def test_swap_attention_values_and_total_loss() -> None:
    model = _small().eval()
    torch.manual_seed(1)
    x = torch.randn(2, 5, 6)
    y = torch.eye(3)[[0, 2]]
    x_t = model.object_features(x)
    out, losses = model(x, x_t, y)
    mv, mt = model.vqm(x), model.tqm(x_t)
    # R^{t->v} = A^t V^v through VQM's FFN + classifier
    last = model.vqm.layers[-1]
    r_tv = mt["attn"][:, 0] @ last.v(mv["frames"])
    z_tv = model.vqm.classifier(last.refine(r_tv))
    assert torch.allclose(model.vqm.swapped(mt["attn"], mv["frames"]), z_tv, atol=1e-6)
    last_t = model.tqm.layers[-1]
    z_vt = model.tqm.classifier(last_t.refine(mv["attn"][:, 0] @ last_t.v(mt["frames"])))
    ce = lambda z: classification_loss(z, y, False)  # noqa: E731
    want = ce(out["z_v"]) + ce(out["z_t"]) + 0.6 * ce(z_tv) + 0.6 * ce(z_vt)
    assert torch.allclose(losses["loss"], want, atol=1e-6)
    assert torch.allclose(ce(out["z_v"]), torch.nn.functional.cross_entropy(out["z_v"], torch.tensor([0, 2])))


def test_object_features_keep_the_top_objects() -> None:
    model = _small(object_topk=2)
    x = torch.randn(1, 5, 6)
    o = torch.softmax(x @ model.obj_weight.t(), dim=-1)
    top = torch.topk(o, 2, dim=-1)
    kept = torch.zeros_like(o).scatter(-1, top.indices, top.values)
    scale = math.sqrt(4)  # sqrt(E): unit-norm embeddings -> unit per-dimension scale
    assert torch.allclose(model.object_features(x), kept @ model.obj_embed * scale, atol=1e-5)
    everything = _small(object_topk=0)
    assert torch.allclose(everything.object_features(x), o @ everything.obj_embed * scale, atol=1e-5)


def test_union_with_deferral_supplementary_example() -> None:
    # 5 of 16 frames: 3 from VQM, 2 from TQM
    s_v = np.zeros((1, 16))
    s_v[0, [4, 9, 1, 7, 12]] = [5, 4, 3, 2, 1]
    s_t = np.zeros((1, 16))
    s_t[0, [14, 2]] = [2, 1]
    assert union_select(s_v, s_t, 5).tolist() == [[4, 9, 1, 14, 2]]
    s_t2 = np.zeros((1, 16))
    s_t2[0, [9, 14]] = [2, 1]  # frame 9 is a VQM pick already: defer to the VQM ranking (7)
    assert union_select(s_v, s_t2, 5).tolist() == [[4, 9, 1, 14, 7]]
    s_t3 = np.zeros((1, 16))
    s_t3[0, [4, 1]] = [2, 1]  # both duplicates: 7 and 12 from VQM
    assert union_select(s_v, s_t3, 5).tolist() == [[4, 9, 1, 7, 12]]


def test_union_with_ties_and_small_budgets() -> None:
    flat = np.zeros((1, 8))
    assert union_select(flat, flat, 5).tolist() == [[0, 1, 2, 3, 4]]  # ties: lower index first
    s_v = np.array([[0.0, 1, 1, 0, 0, 0, 0, 0]])
    s_t = np.array([[0.0, 0, 0, 1, 1, 0, 0, 0]])
    assert union_select(s_v, s_t, 1).tolist() == [[1]]  # round(0.6) = 1 from VQM, 0 from TQM
    assert union_select(s_v, s_t, 2).tolist() == [[1, 3]]  # round(1.2) = 1 + 1
    assert union_select(s_v, s_t, 4, lambda_v=0.5).tolist() == [[1, 2, 3, 4]]
    with pytest.raises(ValueError):
        union_select(s_v, s_t, 9)


def test_top5_aggregation() -> None:
    torch.manual_seed(0)
    A = torch.softmax(torch.randn(2, 7, 6), dim=-1)
    z = torch.randn(2, 7)
    s = aggregate_saliency(A, z, topk=5)
    p = torch.softmax(z, dim=1)
    for b in range(2):
        top = torch.argsort(z[b], descending=True)[:5]
        assert torch.allclose(s[b], sum(p[b, c] * A[b, c] for c in top), atol=1e-6)
    ml = aggregate_saliency(A, z, topk=2, multilabel=True)
    top2 = torch.topk(z, 2, dim=1).indices
    want = (torch.sigmoid(z).gather(1, top2)[..., None] * A.gather(1, top2[..., None].expand(-1, -1, 6))).sum(1)
    assert torch.allclose(ml, want, atol=1e-6)
    assert torch.equal(aggregate_saliency(A[:, :1], z), A[:, 0])  # class-agnostic attention: its own row


SWITCHES = [
    {},
    {"attention": "ca", "classifier": "ca"},
    {"classifier": "ca"},
    {"modality": "visual"},
    {"modality": "textual"},
    {"alpha": 0.0, "beta": 1.0},
    {"object_topk": 0},
    {"self_attention": True},
    {"layers": 2},
    {"heads": 2},
    {"aggregate_topk": 1},
    {"multilabel": True},
]


@pytest.mark.parametrize("switch", SWITCHES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "default")
def test_every_switch_trains_a_step(switch: dict) -> None:
    model = _small(**switch).train()
    x = torch.randn(4, 5, 6)
    y = torch.eye(3)[[0, 1, 2, 1]]
    if switch.get("multilabel"):
        y[0, 2] = 1.0
    _, losses = model(x if model.vqm else None, model.object_features(x) if model.tqm else None, y)
    assert torch.isfinite(losses["loss"])
    losses["loss"].backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
    assert sum(float(p.grad.abs().sum()) for p in model.parameters()) > 0
    sal = model.eval().saliency(x)
    assert set(sal) == {"vqm", "tqm"} & ({"vqm"} if model.tqm is None else {"tqm"} if model.vqm is None else {"vqm", "tqm"})
    for s in sal.values():
        assert s.shape == (4, 5) and torch.isfinite(s).all()


def test_bad_switches_are_config_errors() -> None:
    for bad, key in (({"attention": "ca", "classifier": "cs"}, "attention"), ({"modality": "audio"}, "modality"),
                     ({"nope": 1}, "nope"), ({"lambda_v": 2.0}, "lambda_v"), ({"layers": 2.5}, "layers"),
                     ({"self_attention": 1}, "self_attention")):
        with pytest.raises(SamplerConfigError, match=key):
            sampler_config(variant="tsqnet", **bad)
    with pytest.raises(SamplerConfigError, match="option layers must be an integer"):
        sampler_config(variant="tsqnet", text=True, layers="2.5")
    with pytest.raises(SamplerConfigError, match="option self_attention must be true or false"):
        sampler_config(variant="tsqnet", text=True, self_attention="1")
    assert sampler_config(variant="tsqnet", width=384, heads=3).options.heads == 3
    with pytest.raises(SamplerConfigError, match="divisible"):
        sampler_config(variant="tsqnet", width=32, heads=3)
    with pytest.raises(SamplerConfigError, match="variant nsnet has no option 'modality'"):
        sampler_config(variant="nsnet", modality="visual")
    cfg = sampler_config(variant="tsqnet")
    assert cfg.options.lr_milestones == [0.25, 0.5, 0.75] and cfg.options.objects == "light"
    assert cfg.needs_rec_logits() and not cfg.needs_rec_features() and cfg.resolved() == cfg
    # an explicit value always wins: NSNet's milestones given to TSQNet are used as given
    assert sampler_config(variant="tsqnet", lr_milestones=[50 / 120, 75 / 120]).options.lr_milestones == [50 / 120, 75 / 120]


def _train(spec: TwoEventSpec, seed: int = 0, epochs: int = 40, **switch):
    arrays, _, priors = two_event_arrays(spec, "train")
    cfg = sampler_config(name="toy", variant="tsqnet", epochs=epochs, width=32, batch_size=16, lr=0.03, device="cpu",
                        seed=seed, **{"object_topk": 3, **switch})
    result = train_tsqnet(arrays, cfg, priors=priors)
    return SamplerRun(run_dir=None, config=cfg, model=result.model, prototypes=None, meta={}), result


@pytest.mark.slow
def test_class_specificity_matters_on_the_two_event_toy() -> None:
    spec = TwoEventSpec()
    val, mask, _ = two_event_arrays(dataclasses.replace(spec, num_videos=48), "val")
    inputs = SamplerInputs(light=val.light)
    cs, res = _train(spec)
    ca, _ = _train(spec, attention="ca", classifier="ca")
    assert res.history[-1] < res.history[0]
    k = 3  # as many as the labelled class's frames
    prec = {name: {s: top_k_precision(create_sampler(s, run=run).select(inputs, k), mask) for s in ("tsqnet", "vqm")}
            for name, run in (("cs", cs), ("ca", ca))}
    assert prec["cs"]["tsqnet"] >= 0.8 and prec["cs"]["vqm"] >= 0.8, prec
    assert prec["ca"]["tsqnet"] < 0.8 and prec["ca"]["vqm"] < 0.8, prec
    assert prec["cs"]["tsqnet"] > prec["ca"]["tsqnet"] + 0.2, prec


def test_tsqnet_sampler_rules() -> None:
    spec = TwoEventSpec(num_videos=16, num_frames=8)
    run, _ = _train(spec, epochs=1)
    val, _, _ = two_event_arrays(spec, "val")
    inputs = SamplerInputs(light=val.light)
    tsq, vqm, tqm = (create_sampler(n, run=run) for n in ("tsqnet", "vqm", "tqm"))
    s_v, s_t = vqm.scores(inputs), tqm.scores(inputs)
    assert np.array_equal(tsq.select(inputs, 4), union_select(s_v, s_t, 4, 0.6))
    assert np.allclose(tsq.scores(inputs), 0.6 * s_v + 0.4 * s_t)
    visual, _ = _train(spec, epochs=1, modality="visual", visual_init="random")
    with pytest.raises(ValueError, match="TQM"):
        create_sampler("tsqnet", run=visual)
    assert create_sampler("vqm", run=visual).select(inputs, 2).shape == (16, 2)
