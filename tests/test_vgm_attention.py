"""VGM (paper Eq. 2-3): the non-salient feature x_ns = sum_i (1 - alpha_i) / T x_i uses the
attention itself, never its dropped-out copy, so 1 - alpha_i stays in [0, 1] in training too."""

from __future__ import annotations

import torch

from nsnet.sampler.nsnet.model import VGM, NSNetConfig


def _vgm(attn_dropout: float) -> VGM:
    cfg = NSNetConfig(in_dim=2, num_classes=1, num_frames=3, width=2, attn_dropout=attn_dropout, cls_dropout=0.0)
    vgm = VGM(cfg)
    with torch.no_grad():
        vgm.attn.weight.copy_(torch.tensor([[1.0, 0.0]]))  # logit = h[..., 0]
        vgm.attn.bias.zero_()
        vgm.classifier.weight.copy_(torch.eye(2))  # C + 1 = 2 outputs: the feature itself
        vgm.classifier.bias.zero_()
    return vgm


def test_non_salient_feature_by_hand_in_train_mode() -> None:
    # h[..., 0] = 0 everywhere -> sigmoid = 1/2 -> alpha = [1/3, 1/3, 1/3].
    # x_ns = sum_i (1 - 1/3) / 3 * h_i = (2/9) * [0, 1 + 2 + 3] = [0, 4/3], whatever the dropout
    # mask on alpha (with p = 0.5 a dropped-out alpha_i is 0 or 2/3).
    h = torch.tensor([[[0.0, 1.0], [0.0, 2.0], [0.0, 3.0]]])
    vgm = _vgm(attn_dropout=0.5).train()
    for seed in range(20):
        torch.manual_seed(seed)
        alpha, sal, ns = vgm(h)
        torch.testing.assert_close(alpha, torch.full((1, 3), 1 / 3))
        torch.testing.assert_close(ns, torch.tensor([[0.0, 4.0 / 3.0]]))
        # x_sal = sum_i a_i h_i with a = dropout(alpha): each a_i in {0, 2/3}
        scaled = sal[0, 1].item() * 1.5  # = sum of the kept h_i[1] in {1, 2, 3}
        assert abs(scaled - round(scaled)) < 1e-5 and 0 <= round(scaled) <= 6


def test_one_minus_alpha_never_negative_with_a_peaked_attention() -> None:
    # alpha_0 = 0.9 > 1 - p: dropout's 1/(1-p) rescaling would make 1 - a_0 = 1 - 0.9/0.8 < 0.
    h = torch.tensor([[[4.0, 1.0], [-3.0, 0.0], [-3.0, 0.0]]])
    vgm = _vgm(attn_dropout=0.2).train()
    s = torch.sigmoid(torch.tensor([4.0, -3.0, -3.0]))
    alpha = s / s.sum()
    expected = ((1 - alpha)[:, None] * h[0]).sum(0) / 3  # only frame 0 has a non-zero 2nd feature
    for seed in range(20):
        torch.manual_seed(seed)
        _, _, ns = vgm(h)
        torch.testing.assert_close(ns[0], expected)
        assert ns[0, 1] > 0


def test_complement_pooling_by_hand() -> None:
    # ns_pool="complement": x_ns = sum_i (1 - s_i) h_i / sum_i (1 - s_i), s = sigmoid(h[..., 0]).
    # h[..., 0] = [ln 4, 0, -ln 4] -> s = [0.8, 0.5, 0.2] -> 1 - s = [0.2, 0.5, 0.8] (sum 1.5);
    # x_ns[1] = (0.2 * 1 + 0.5 * 2 + 0.8 * 3) / 1.5 = 3.6 / 1.5 = 2.4 (the "mean" rule gives ~ the mean, 2).
    import math

    cfg = NSNetConfig(in_dim=2, num_classes=1, num_frames=3, width=2, cls_dropout=0.0, ns_pool="complement")
    vgm = VGM(cfg)
    with torch.no_grad():
        vgm.attn.weight.copy_(torch.tensor([[1.0, 0.0]]))
        vgm.attn.bias.zero_()
        vgm.classifier.weight.copy_(torch.eye(2))
        vgm.classifier.bias.zero_()
    h = torch.tensor([[[math.log(4), 1.0], [0.0, 2.0], [-math.log(4), 3.0]]])
    _, _, ns = vgm.eval()(h)
    torch.testing.assert_close(ns[0, 1], torch.tensor(2.4))
    torch.testing.assert_close(ns[0, 0], torch.tensor((0.2 * math.log(4) - 0.8 * math.log(4)) / 1.5))


def test_vgm_guide_term_by_hand() -> None:
    # vgm_guide = w adds -w * sum_i (g_i / sum g) log alpha_i. With h[..., 0] = 0 the attention is
    # alpha = [1/3, 1/3, 1/3]; any g gives -w * log(1/3) = w * ln 3. The term is absent at w = 0.
    import math

    from nsnet.sampler.nsnet.model import NSNet

    def losses(weight: float) -> dict:
        cfg = NSNetConfig(in_dim=2, num_classes=1, num_frames=3, width=4, heads=1, encoder="frame", use_fsm=False,
                          cls_dropout=0.0, vgm_guide=weight)
        model = NSNet(cfg).eval()
        with torch.no_grad():
            model.vgm.attn.weight.zero_()
            model.vgm.attn.bias.zero_()
        g = torch.tensor([[0.9, 0.05, 0.05]])
        return model(torch.randn(1, 3, 2), torch.tensor([[1.0]]), g)[1]

    assert "vgm_guide" not in losses(0.0)
    out = losses(2.0)
    torch.testing.assert_close(out["vgm_guide"], torch.tensor(2.0 * math.log(3)))
    torch.testing.assert_close(out["loss"], out["vgm"] + out["vgm_guide"])


def test_vgm_guide_power_sharpens_the_target_by_hand() -> None:
    # target = g^p / sum g^p; with the attention pinned to [1/2, 1/4, 1/4] the term is
    # -(t_0 ln 1/2 + (t_1 + t_2) ln 1/4). p = 1 is the plain normalised guide.
    import math

    from nsnet.sampler.nsnet.model import NSNet

    g = torch.tensor([[0.9, 0.05, 0.05]])

    def term(power: float) -> torch.Tensor:
        cfg = NSNetConfig(in_dim=2, num_classes=1, num_frames=3, width=4, heads=1, encoder="frame", use_fsm=False,
                          cls_dropout=0.0, vgm_guide=1.0, vgm_guide_power=power)
        model = NSNet(cfg).eval()
        forward = model.vgm.forward
        model.vgm.forward = lambda h: (torch.tensor([[0.5, 0.25, 0.25]]), *forward(h)[1:])
        return model(torch.randn(1, 3, 2), torch.tensor([[1.0]]), g)[1]["vgm_guide"]

    for power in (1.0, 2.0):
        t = [v**power for v in (0.9, 0.05, 0.05)]
        t = [v / sum(t) for v in t]
        want = -(t[0] * math.log(0.5) + (t[1] + t[2]) * math.log(0.25))
        torch.testing.assert_close(term(power), torch.tensor(want))
    assert term(4.0) < term(1.0)  # a sharper target asks less of the frames the attention already ignores
