"""AdaFocus model, PPO and rewards: hand-made batches, shapes of every module, the inference API,
options, and one training step of every option with finite loss and gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nsnet.sampler.adafocus.model import (
    AdaFocus,
    AdaFocusConfig,
    PatchClassifier,
    PatchPolicy,
    SkipPolicy,
    label_confidence,
)
from nsnet.sampler.adafocus.options import AdaFocusOptions, parse_stages
from nsnet.sampler.adafocus.policy import ppo_batch_loss, rollout
from nsnet.sampler.adafocus.rewards import rollout_rewards, sample_categorical, solve_threshold
from nsnet.sampler.config import SamplerConfigError, sampler_config
from nsnet.sampler.losses import classification_loss as shared_loss
from nsnet.sampler.adafocus.ppo import advantages, discounted_returns, ppo_clip_loss, ppo_loss, value_loss

N, T, D, H, W, D2, A, C = 3, 5, 6, 2, 3, 4, 9, 4


def _model(skip: bool = False, multilabel: bool = False, threshold: float | None = None, seed: int = 0) -> AdaFocus:
    torch.manual_seed(seed)
    cfg = AdaFocusConfig(global_dim=D, map_dim=D, map_height=H, map_width=W, local_dim=D2, num_candidates=A,
                         num_classes=C, num_frames=T, patch_size=8, multilabel=multilabel, hidden=7,
                         policy_hidden=5, policy_channels=3, dropout=0.0, skip=skip, threshold=threshold)
    return AdaFocus(cfg).eval()


def _inputs(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(N, T, D, H, W, generator=g), torch.randn(N, T, D, generator=g),
            torch.randn(N, T, D2, generator=g))


# ----------------------------------------------------------------------------- PPO by hand
def test_discounted_returns_by_hand() -> None:
    r = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]])
    assert torch.allclose(discounted_returns(r, 0.5), torch.tensor([[1.5, 1.0, 2.0], [0.5, 1.0, 0.0]]))
    ones = discounted_returns(torch.ones(1, 3), 0.7)  # the paper's gamma
    assert torch.allclose(ones, torch.tensor([[1 + 0.7 + 0.49, 1.7, 1.0]]))
    assert torch.equal(discounted_returns(r, 0.0), r)
    with pytest.raises(ValueError):
        discounted_returns(r, 1.5)


def test_advantages_by_hand() -> None:
    returns = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    values = torch.tensor([[0.0, 1.0], [1.0, 1.0]], requires_grad=True)
    raw = advantages(returns, values, normalise=False)
    assert torch.equal(raw, torch.tensor([[1.0, 1.0], [2.0, 3.0]])) and not raw.requires_grad
    centred = torch.tensor([-0.75, -0.75, 0.25, 1.25])
    std = math.sqrt((0.5625 + 0.5625 + 0.0625 + 1.5625) / 3)  # unbiased
    assert torch.allclose(advantages(returns, values).flatten(), centred / std, atol=1e-6)


def test_ppo_clipped_objective_by_hand() -> None:
    ratios = torch.tensor([1.5, 0.5, 1.0, 0.7])
    adv = torch.tensor([1.0, 1.0, -1.0, -2.0])
    old = torch.tensor([-1.0, -2.0, -0.5, -3.0])
    new = (old + ratios.log()).requires_grad_(True)
    loss = ppo_clip_loss(new, old, adv, clip=0.2)
    # min(rho A, clip(rho) A): min(1.5, 1.2) = 1.2; min(0.5, 0.8) = 0.5; min(-1, -1) = -1; min(-1.4, -1.6) = -1.6
    assert loss.item() == pytest.approx(-(1.2 + 0.5 - 1.0 - 1.6) / 4)
    loss.backward()
    # clipped terms (1 and 4) carry no gradient; d(-rho A / 4)/d logp = -rho A / 4 for the others
    assert torch.allclose(new.grad, torch.tensor([0.0, -0.5 / 4, 1.0 / 4, 0.0]))
    assert value_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0])).item() == pytest.approx(2.5)
    entropy = torch.tensor([0.5, 1.5])
    total = ppo_loss(new, old, adv, torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0]), entropy,
                     clip=0.2, value_coef=0.5, entropy_coef=0.1)
    assert total.item() == pytest.approx(0.225 + 0.5 * 2.5 - 0.1 * 1.0)


# ----------------------------------------------------------------------------- modules
def test_shapes_of_every_module() -> None:
    maps, g, loc = _inputs()
    clf = PatchClassifier(D, D2, 7, C)
    x = clf.inputs(g, loc)
    assert x.shape == (N, T, D + D2)
    logits, states = clf(x)
    assert logits.shape == (N, T, C) and states.shape == (N, T, 7)
    assert clf.step(x[:, 0], torch.zeros(N, 7)).shape == (N, C)
    pol = PatchPolicy(D, H * W, 3, 5, A)
    lg, v = pol(maps)
    assert lg.shape == (N, T, A) and v.shape == (N, T)
    z, vb = SkipPolicy(D, H * W, 3, 5)(maps)
    assert z.shape == (N, T) and vb.shape == (N, T)
    model = _model(skip=True, threshold=0.5)
    k = 2  # any K <= T
    assert model.choose_patches(maps[:, :k]).shape == (N, k) and model.choose_patches(maps).dtype == torch.long
    assert model.keep_mask(maps[:, :k]).shape == (N, k) and model.keep_mask(maps).dtype == torch.bool
    assert model.keep_probs(maps).shape == (N, T)
    assert model.classify(g[:, :k], loc[:, :k]).shape == (N, C)


def test_step_from_the_previous_state_equals_the_sequence() -> None:
    torch.manual_seed(0)
    clf = PatchClassifier(D, D2, 7, C).eval()
    _, g, loc = _inputs()
    logits, states = clf(clf.inputs(g, loc))
    x = clf.inputs(g, loc)
    for t in range(T):
        h = torch.zeros(N, 7) if t == 0 else states[:, t - 1]
        assert torch.allclose(clf.step(x[:, t], h), logits[:, t], atol=1e-5)


def test_inference_api() -> None:
    maps, g, loc = _inputs()
    model = _model()
    pol_logits = model.policy(maps)[0]
    assert torch.equal(model.choose_patches(maps), pol_logits.argmax(-1))
    assert torch.equal(model.choose_patches(maps.half()), model.policy(maps.half().float())[0].argmax(-1))
    assert model.keep_mask(maps).all()  # plain AdaFocus keeps every frame
    probs = model.classify(g, loc)
    assert torch.allclose(probs.sum(1), torch.ones(N), atol=1e-5)  # softmax
    last = model.classifier(model.classifier.inputs(g, loc))[0][:, -1]
    assert torch.allclose(probs, torch.softmax(last, 1), atol=1e-6)
    multi = _model(multilabel=True).classify(g, loc)
    assert ((multi > 0) & (multi < 1)).all() and not torch.allclose(multi.sum(1), torch.ones(N))
    # AdaFocus+: keep_mask = p^B >= rho; no threshold keeps every frame
    plus = _model(skip=True, threshold=0.5)
    pb = torch.sigmoid(plus.skip(maps)[0])
    assert torch.equal(plus.keep_mask(maps), pb >= 0.5) and torch.allclose(plus.keep_probs(maps), pb)
    assert torch.equal(plus.keep_mask(maps, threshold=0.0), torch.ones(N, T, dtype=torch.bool))
    assert _model(skip=True).keep_mask(maps).all()


def test_classify_with_a_keep_mask_zeroes_the_local_features() -> None:
    _, g, loc = _inputs()
    model = _model()
    keep = torch.tensor([[True, False, True, False, True]] * N)
    masked = model.classify(g, loc, keep)
    assert torch.allclose(masked, model.classify(g, loc * keep[..., None]), atol=1e-6)  # Eq. 9
    other = loc.clone()
    other[~keep] = 100.0  # what a skipped frame's local feature holds does not matter
    assert torch.allclose(masked, model.classify(g, other, keep), atol=1e-6)
    assert not torch.allclose(masked, model.classify(g, loc), atol=1e-4)
    assert torch.allclose(model.classify(g, loc, torch.ones(N, T, dtype=torch.bool)), model.classify(g, loc))


def classification_loss(per_step: torch.Tensor, labels: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """f_C's loss: the shared classification loss with the video labels at every step (Eq. 5)."""
    return shared_loss(per_step, labels[:, None, :].expand_as(per_step), multilabel)


def test_label_confidence_and_loss_by_hand() -> None:
    logits = torch.tensor([[0.0, math.log(3.0)]])
    y = torch.tensor([[0.0, 1.0]])
    assert label_confidence(logits, y, False).item() == pytest.approx(0.75)  # softmax [1/4, 3/4]
    both = torch.tensor([[1.0, 1.0]])
    sig = torch.sigmoid(logits)[0]
    assert label_confidence(logits, both, True).item() == pytest.approx(float(sig.mean()))  # mean sigmoid over positives
    per_step = torch.randn(2, 3, 4)
    labels = F.one_hot(torch.tensor([1, 3]), 4).float()
    want = F.cross_entropy(per_step.reshape(6, 4), torch.tensor([1, 1, 1, 3, 3, 3]))
    assert classification_loss(per_step, labels, False).item() == pytest.approx(want.item(), rel=1e-6)
    bce = F.binary_cross_entropy_with_logits(per_step, labels[:, None].expand(2, 3, 4))
    assert classification_loss(per_step, labels, True).item() == pytest.approx(bce.item(), rel=1e-6)


@pytest.mark.parametrize("multilabel", [False, True])
def test_rollout_rewards_equal_a_brute_force_loop(multilabel: bool) -> None:
    _, g, chosen = _inputs()
    alt = torch.randn(N, T, D2, generator=torch.Generator().manual_seed(5))
    labels = torch.tensor([[1.0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 1, 0]])
    clf = _model(multilabel=multilabel).classifier
    keep = torch.tensor([[1.0, 0, 1, 1, 0], [0, 1, 1, 0, 1], [1, 1, 1, 1, 1]])
    r, r_skip = rollout_rewards(clf, g, chosen, alt, labels, multilabel)
    r2, r_skip2 = rollout_rewards(clf, g, chosen, alt, labels, multilabel, keep, penalty=0.01)
    assert r_skip is None

    def p_last(local: torch.Tensor, b: torch.Tensor, t: int) -> torch.Tensor:
        logits = clf(clf.inputs(g[:, : t + 1], local[:, : t + 1], b[:, : t + 1]))[0][:, -1]
        return label_confidence(logits, labels, multilabel)

    ones = torch.ones(N, T)
    for t in range(T):
        swapped = chosen.clone()
        swapped[:, t] = alt[:, t]  # only frame t changes; the previous patches stay (Eq. 7)
        want = p_last(chosen, ones, t) - p_last(swapped, ones, t)
        assert torch.allclose(r[:, t], want, atol=1e-5)
        kept, dropped = keep.clone(), keep.clone()
        kept[:, t], dropped[:, t] = 1, 0
        want2 = p_last(chosen, kept, t) - p_last(swapped, kept, t)
        assert torch.allclose(r2[:, t], want2, atol=1e-5)
        want_skip = keep[:, t] * (p_last(chosen, kept, t) - p_last(chosen, dropped, t) - 0.01)  # Eq. 10
        assert torch.allclose(r_skip2[:, t], want_skip, atol=1e-5)


def test_sampling_and_threshold() -> None:
    logits = torch.log(torch.tensor([[0.1, 0.6, 0.3]])).expand(20000, 3)
    draws = sample_categorical(logits, torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=3).float() / draws.numel()
    assert torch.allclose(freq, torch.tensor([0.1, 0.6, 0.3]), atol=0.015)
    probs = np.array([0.1, 0.9, 0.5, 0.7, 0.3])
    assert solve_threshold(probs, 0.4) == pytest.approx(0.7)  # the top 40 % (2 of 5) have p >= 0.7
    assert (probs >= solve_threshold(probs, 0.5)).sum() == 3  # ceil(2.5)
    assert solve_threshold(probs, 1.0) is None
    assert (probs >= solve_threshold(probs, 0.01)).sum() == 1


# ----------------------------------------------------------------------------- options
def test_options_defaults_and_rules() -> None:
    cfg = sampler_config(variant="adafocus")
    opts = cfg.options
    assert isinstance(opts, AdaFocusOptions)
    assert opts.hidden == 256 and opts.gamma == 0.7 and opts.clip == 0.2 and opts.skip is False
    assert (opts.stage1_epochs, opts.stage2_epochs, opts.stage3_epochs) == (10, 15, 5)
    assert cfg.needs_patches() and not cfg.needs_rec_logits() and not cfg.needs_rec_features()
    # no silent remapping: an option AdaFocus does not have is an error naming it, never another option
    for key in ("width", "epochs"):
        with pytest.raises(SamplerConfigError, match=f"variant adafocus has no option '{key}'"):
            sampler_config(variant="adafocus", **{key: 20})
    cfg = sampler_config(variant="adafocus", hidden=20, lr=0.005, stage2_epochs=7)
    assert (cfg.options.hidden, cfg.options.lr, cfg.options.stage1_epochs, cfg.options.stage2_epochs) == (20, 0.005, 10, 7)
    assert cfg.resolved() == cfg  # idempotent
    assert sampler_config(variant="adafocus", lr=1).options.lr == 1.0  # an int where a float goes is that float
    text = sampler_config(variant="adafocus", text=True, hidden="64", lr="1e-3", skip="true").options
    assert (text.hidden, text.lr, text.skip) == (64, 1e-3, True)


@pytest.mark.parametrize("data,match", [
    ({"nope": 1}, "variant adafocus has no option 'nope'"),
    ({"hidden": 0}, "option hidden must be >= 1"),
    ({"hidden": 2.5}, "option hidden must be an integer"),
    ({"gamma": 1.5}, "option gamma must be <= 1"),
    ({"keep_ratio": 0.0}, "option keep_ratio must be > 0"),
    ({"skip": "yes"}, "option skip must be true or false"),
    ({"skip": 1}, "option skip must be true or false"),
    ({"lr": "fast"}, "option lr must be a finite number"),
    ({"dropout": 1.0}, "option dropout must be < 1"),
])
def test_bad_options_raise_config_errors(data: dict, match: str) -> None:
    with pytest.raises(SamplerConfigError, match=match):
        sampler_config(variant="adafocus", **data)


def test_adafocus_options_need_the_variant_and_stages_parse() -> None:
    with pytest.raises(SamplerConfigError, match="variant nsnet has no option 'hidden'"):
        sampler_config(variant="nsnet", hidden=8)
    assert parse_stages(None) == (1, 2, 3) and parse_stages("2,3") == (2, 3) and parse_stages(" 3 ") == (3,)
    assert parse_stages([1, 2]) == (1, 2) and parse_stages("3,2") == (2, 3)
    for bad in ("1,3", "0", "4", "a", ""):
        with pytest.raises(SamplerConfigError, match="stages"):
            parse_stages(bad)


# ----------------------------------------------------------------------------- one step of every option
def _grads_ok(params: list[torch.nn.Parameter]) -> bool:
    return all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in params)


@pytest.mark.parametrize("skip,multilabel,drop", [(False, False, 0.0), (True, False, 0.5), (False, True, 0.0),
                                                  (True, True, 0.0)])
def test_one_step_of_every_stage_has_finite_loss_and_gradients(skip: bool, multilabel: bool, drop: float) -> None:
    maps, g, _ = _inputs()
    model = _model(skip=skip, multilabel=multilabel).train()
    candidates = torch.randn(N, T, A, D2, generator=torch.Generator().manual_seed(3))
    labels = torch.tensor([[1.0, 0, 0, 0], [0, 1, 0, 1 if multilabel else 0], [0, 0, 1, 0]])
    local_of = lambda c: candidates.gather(2, c[..., None, None].expand(N, T, 1, D2))[:, :, 0]  # noqa: E731
    # stages I / III: f_C on (random or sampled) candidates, some local features dropped
    keep = (torch.rand(N, T, generator=torch.Generator().manual_seed(4)) >= drop) if drop else None
    x = model.classifier.inputs(g, local_of(torch.randint(A, (N, T))), keep)
    loss = classification_loss(model.classifier(x)[0], labels, multilabel)
    loss.backward()
    assert torch.isfinite(loss) and _grads_ok(list(model.classifier.parameters()))
    # stage II: a rollout and the PPO loss reach every parameter of π (and π')
    ro = rollout(model, maps, g, labels, local_of, torch.Generator().manual_seed(0), 0.7, penalty=0.01)
    assert ro.cand.shape == (N, T) and ro.ret.shape == (N, T) and (ro.keep is not None) == skip
    tracked = rollout(model, maps, g, labels, local_of, torch.Generator().manual_seed(0), 0.7, penalty=0.01, track=True)
    assert torch.equal(tracked.cand, ro.cand) and torch.allclose(tracked.adv, ro.adv) and tracked.outputs is not None
    loss = ppo_batch_loss(model, ro)
    assert torch.allclose(ppo_batch_loss(model, tracked), loss) and tracked.outputs is None  # kept outputs used once
    loss.backward()
    params = list(model.policy.parameters()) + ([] if model.skip is None else list(model.skip.parameters()))
    assert torch.isfinite(loss) and _grads_ok(params)
