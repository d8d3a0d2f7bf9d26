"""Every model variant / ablation switch: one training step with finite loss and gradients;
saliency definitions; config validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nsnet.sampler.config import SamplerConfig, SamplerConfigError, sampler_config
from nsnet.sampler.nsnet.model import NSNet, NSNetConfig
from nsnet.toys.planted import PlantedSpec, planted_saliency_arrays
from nsnet.sampler.loop import roll_frames
from nsnet.sampler.nsnet.train import _guide, model_config
from nsnet.sampler.train import train_sampler

SPEC = PlantedSpec(num_videos=12, num_classes=3, num_frames=6, light_dim=8, rec_dim=6, salient=2)
SMALL = dict(width=16, heads=4, epochs=1, batch_size=8, device="cpu")

# (id, SamplerConfig overrides): the ablation switches of Table 6a/6c/6d and supp. B.1, plus baselines.
VARIANTS = [
    ("nsnet", {}),
    *[(f"encoder-{e}", {"encoder": e}) for e in ("lstm", "mlp", "conv1d", "frame")],
    *[(f"fsm-{m}", {"fsm": m}) for m in ("video", "nonsalient", "regression", "ranking", "baseline+")],
    *[(f"vgm-{m}", {"vgm": m}) for m in ("baseline", "nonsalient")],
    ("guide-response", {"guide": "response"}),
    ("fsm-only", {"branches": "fsm"}),
    ("vgm-only", {"branches": "vgm"}),
    ("maxconf-l", {"variant": "maxconf-l"}),
    ("scsampler", {"variant": "scsampler"}),
]


@pytest.fixture(scope="module")
def arrays():
    return planted_saliency_arrays(SPEC)[0]


@pytest.mark.parametrize("overrides", [v[1] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_training_step_has_finite_loss_and_gradients(arrays, overrides) -> None:
    cfg = sampler_config(**SMALL, **overrides).resolved()
    torch.manual_seed(0)
    model = NSNet(model_config(cfg.options, arrays.D, arrays.C, arrays.T))
    guide, _ = _guide(arrays, cfg.options)
    model.train()
    g = None if guide is None else torch.from_numpy(guide.g)
    _, losses = model(torch.from_numpy(arrays.light), torch.from_numpy(arrays.labels), g)
    assert torch.isfinite(losses["loss"])
    losses["loss"].backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(param.grad).all(), f"{name} has a non-finite gradient"
    model.eval()
    sal = model.saliency(torch.from_numpy(arrays.light))
    expected = {"both": {"fsm", "vgm"}, "fsm": {"fsm"}, "vgm": {"vgm"}}[cfg.options.branches]
    assert set(sal) == expected
    for s in sal.values():
        assert s.shape == (arrays.N, arrays.T)
        assert torch.all(s >= 0)
        torch.testing.assert_close(s.sum(dim=1), torch.ones(arrays.N))


@pytest.mark.parametrize("overrides", [v[1] for v in VARIANTS[:3]], ids=[v[0] for v in VARIANTS[:3]])
def test_train_sampler_runs_an_epoch(arrays, overrides) -> None:
    result = train_sampler(arrays, sampler_config(**SMALL, **overrides))
    assert len(result.history) == 1 and np.isfinite(result.history[0])


def _model(fsm: str, saliency: str = "max") -> NSNet:
    cfg = NSNetConfig(in_dim=4, num_classes=3, num_frames=2, width=8, heads=2, fsm=fsm, fsm_saliency=saliency)
    return NSNet(cfg)


def test_fsm_saliency_is_max_real_class_then_softmax_over_time() -> None:
    fsm = _model("ns").fsm
    out = torch.log(torch.tensor([[[0.1, 0.2, 0.1, 0.6], [0.5, 0.1, 0.1, 0.3]]]))  # last = non-salient
    expected = torch.softmax(torch.tensor([[0.2, 0.5]]), dim=1)
    torch.testing.assert_close(fsm.saliency(out), expected)


def test_fsm_saliency_predicted_class_rule() -> None:
    fsm = _model("video", "predicted-class").fsm
    # mean probabilities favour class 1 ((0.7 + 0.4)/2) over class 0 ((0.2 + 0.6)/2)
    out = torch.log(torch.tensor([[[0.2, 0.7, 0.1], [0.6, 0.4, 0.0001]]]))
    # frame 2's probabilities sum to 1.0001, so its class-1 probability is 0.4 / 1.0001
    torch.testing.assert_close(fsm.saliency(out), torch.softmax(torch.tensor([[0.7, 0.4 / 1.0001]]), dim=1))


def test_fsm_saliency_salient_rule_is_one_minus_nonsalient() -> None:
    fsm = _model("ns", "salient").fsm
    out = torch.log(torch.tensor([[[0.1, 0.2, 0.1, 0.6], [0.5, 0.1, 0.1, 0.3]]]))  # last = non-salient
    torch.testing.assert_close(fsm.saliency(out), torch.softmax(torch.tensor([[0.4, 0.7]]), dim=1))


def test_fsm_saliency_rule_argument_overrides_the_configured_rule() -> None:
    out = torch.log(torch.tensor([[[0.1, 0.2, 0.1, 0.6], [0.5, 0.1, 0.1, 0.3]]]))
    torch.testing.assert_close(_model("ns").fsm.saliency(out, rule="salient"), _model("ns", "salient").fsm.saliency(out))
    torch.testing.assert_close(_model("ns", "salient").fsm.saliency(out, rule="max"), _model("ns").fsm.saliency(out))
    with pytest.raises(ValueError, match="non-salient class"):
        _model("video").fsm.saliency(torch.zeros(1, 2, 3), rule="salient")


@pytest.mark.parametrize("mode,transform", [("regression", torch.sigmoid), ("ranking", lambda s: s)])
def test_score_fsm_saliency(mode, transform) -> None:
    fsm = _model(mode).fsm
    out = torch.tensor([[[0.3], [-1.0]]])
    torch.testing.assert_close(fsm.saliency(out), torch.softmax(transform(out[..., 0]), dim=1))


LN3 = float(np.log(3.0))


def _vgm_by_hand() -> tuple[NSNet, torch.Tensor]:
    """Returns a 3-class model whose VGM scores frames by their first feature (w = e_0, b = 0) and
    whose classifier reads features 0..3 as the 4 logits (3 classes + non-salient), and two frames
    h_1 = (0, 1, 0, ...) and h_2 = (ln 3, 0, 2, 0, ...): sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4."""
    model = _model("ns").eval()  # eval: dropout off
    with torch.no_grad():
        model.vgm.attn.weight.zero_()
        model.vgm.attn.weight[0, 0] = 1.0
        model.vgm.attn.bias.zero_()
        model.vgm.classifier.weight.copy_(torch.eye(4, 8))
        model.vgm.classifier.bias.zero_()
    h = torch.zeros(1, 2, 8)
    h[0, 0, 1] = 1.0
    h[0, 1, 0], h[0, 1, 2] = LN3, 2.0
    return model, h


def test_vgm_attention_by_hand() -> None:
    # Eq. 2: alpha_t = sigmoid(z_t) / sum_t sigmoid(z_t) = (1/2, 3/4) / (5/4) = (0.4, 0.6)
    model, h = _vgm_by_hand()
    torch.testing.assert_close(model.vgm.attention(h), torch.tensor([[0.4, 0.6]]))


def test_vgm_salient_and_non_salient_representations_by_hand() -> None:
    # Eq. 3: x_sal = sum_t alpha_t h_t = 0.4 h_1 + 0.6 h_2 = (0.6 ln 3, 0.4, 1.2, 0, ...);
    # x_ns = (1/T) sum_t (1 - alpha_t) h_t = (0.6 h_1 + 0.4 h_2) / 2 = (0.2 ln 3, 0.3, 0.4, 0, ...).
    model, h = _vgm_by_hand()
    alpha, sal, ns = model.vgm(h)
    torch.testing.assert_close(alpha, torch.tensor([[0.4, 0.6]]))
    torch.testing.assert_close(sal, torch.tensor([[0.6 * LN3, 0.4, 1.2, 0.0]]))
    torch.testing.assert_close(ns, torch.tensor([[0.2 * LN3, 0.3, 0.4, 0.0]]))


def test_output_widths() -> None:
    assert [NSNetConfig(4, 5, 2, fsm=m).fsm_outputs for m in ("video", "baseline+", "nonsalient", "ns", "ranking")] \
        == [5, 5, 6, 6, 1]
    assert [NSNetConfig(4, 5, 2, vgm=m).vgm_outputs for m in ("baseline", "nonsalient", "ns")] == [5, 6, 6]


def test_roll_frames_matches_torch_roll() -> None:
    x = torch.arange(2 * 5 * 3).reshape(2, 5, 3)
    out = roll_frames(x, torch.tensor([2, -1]))
    torch.testing.assert_close(out[0], torch.roll(x[0], 2, dims=0))
    torch.testing.assert_close(out[1], torch.roll(x[1], -1, dims=0))
    torch.testing.assert_close(roll_frames(x[..., 0], torch.tensor([2, -1]))[1], torch.roll(x[1, :, 0], -1))


@pytest.mark.parametrize("overrides,match", [
    ({"fsm": "nope"}, "fsm"),
    ({"variant": "maxconf-l", "fsm": "ns"}, "fixes fsm"),
    ({"variant": "scsampler", "encoder": "transformer"}, "fixes encoder"),
    ({"width": 30, "heads": 8}, "divisible"),
    ({"encoder": "lstm", "width": 31}, "even"),
    ({"epochs": 0}, "epochs"),
    ({"cls_dropout": 1.0}, "cls_dropout"),
    ({"fsm_saliency": "salient", "fsm": "video"}, "non-salient class"),
    ({"fsm_saliency": "sometimes"}, "fsm_saliency"),
    ({"variant": "scsampler", "fsm_saliency": "max"}, "fixes fsm_saliency"),
])
def test_bad_configs_are_rejected(overrides, match) -> None:
    with pytest.raises(SamplerConfigError, match=match):
        sampler_config(**overrides).resolved()


def test_variant_defaults() -> None:
    d = sampler_config().options
    assert (d.fsm, d.branches) == ("ns", "both")
    m = sampler_config(variant="maxconf-l").options
    assert (m.fsm, m.branches, m.encoder) == ("video", "fsm", "transformer")
    s = sampler_config(variant="scsampler").options
    assert (s.fsm, s.branches, s.encoder, s.fsm_saliency) == ("video", "fsm", "frame", "predicted-class")
    assert d.fsm_saliency == "max" == m.fsm_saliency
    assert not m.needs_guide() and not sampler_config(variant="maxconf-l").needs_rec_logits()
    assert d.needs_guide() and not sampler_config(fsm="video").options.needs_guide()
    with pytest.raises(SamplerConfigError, match="unknown"):
        SamplerConfig.from_dict({"nmae": "x", "options": {}})
    with pytest.raises(SamplerConfigError, match="variant nsnet has no option 'nmae'"):
        SamplerConfig.from_dict({"options": {"nmae": "x"}})
