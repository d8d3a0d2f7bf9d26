"""AdaFocus's candidate policy (``policy_input=candidates``), the mean reward baseline
(``reward=mean``) and the detached critic (``shared_critic=false``): the pooling geometry against
hand-computed cases, the mean baseline against the paper's reward averaged over alternatives, where
the value loss's gradient goes, and the three together learning the planted quadrant toy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from nsnet.sampler.adafocus.candidate_policy import CandidatePolicy, boxes_on_map, candidate_pooling
from nsnet.sampler.adafocus.model import AdaFocus, AdaFocusConfig
from nsnet.sampler.adafocus.rewards import rollout_rewards
from nsnet.sampler.config import sampler_config
from nsnet.sampler.options import SamplerConfigError
from nsnet.sampler.train import train_sampler
from nsnet.toys.quadrant import QuadrantSpec, quadrant_arrays


def test_pooling_hand_cases() -> None:
    pool = candidate_pooling([[0, 0, 1, 1], [0.5, 0, 1.5, 1], [0, 0, 2, 2], [5, 5, 6, 6]], 2, 2)
    assert pool.shape == (4, 4)
    assert pool[0].tolist() == [1, 0, 0, 0]
    assert pool[1].tolist() == [0.5, 0.5, 0, 0]
    assert pool[2].tolist() == [0.25] * 4
    assert pool[3].tolist() == [0.25] * 4  # off the map: uniform
    assert torch.allclose(pool.sum(1), torch.ones(4))


def test_boxes_on_map_maps_the_recognizer_crop_into_the_light_crop() -> None:
    geometry = {"frame_size": [224, 224], "boxes": [[0, 0, 224, 224], [0, 0, 112, 112]]}
    local = {"input_size": 224, "resize_short": 256}  # keeps 7/8 of the short side
    light = {"input_size": 112, "resize_short": 112}  # keeps all of it
    got = boxes_on_map(geometry, local, light, 4, 4)
    # 0.5 + (f - 0.5) * 0.875, times 4 cells: f = 0 -> 0.25, f = 1 -> 3.75, f = 0.5 -> 2
    assert got == [[0.25, 0.25, 3.75, 3.75], [0.25, 0.25, 2.0, 2.0]]
    assert boxes_on_map(geometry, {}, {}, 4, 4)[1] == [0.0, 0.0, 2.0, 2.0]  # no crop info: the same region


def test_candidate_policy_scores_a_candidate_from_its_own_cells() -> None:
    torch.manual_seed(0)
    boxes = [[c % 3, c // 3, c % 3 + 1, c // 3 + 1] for c in range(9)]  # one candidate per cell of a 3 x 3 map
    pi = CandidatePolicy(map_dim=4, map_cells=9, channels=8, hidden=16, boxes=boxes, map_height=3, map_width=3)
    maps = torch.randn(2, 5, 4, 3, 3)
    logits, values = pi(maps)
    assert logits.shape == (2, 5, 9) and values.shape == (2, 5)
    # changing one cell moves only that candidate's logit when the GRU context is held fixed
    with torch.no_grad():
        pi.gru.weight_ih_l0.zero_()
    base = pi(maps)[0]
    changed = maps.clone()
    changed[:, :, :, 1, 2] += 5.0  # cell (row 1, col 2) = candidate 5
    diff = (pi(changed)[0] - base).abs().amax(dim=(0, 1))
    assert diff[5] > 0 and torch.all(diff[torch.arange(9) != 5] == 0)


@pytest.mark.parametrize("policy_input", ["map", "candidates"])
def test_detached_critic_leaves_the_trunk_to_the_actor(policy_input: str) -> None:
    boxes = [[0, 0, 1, 1], [1, 0, 2, 1], [0, 1, 1, 2], [1, 1, 2, 2]]
    cfg = AdaFocusConfig(global_dim=4, map_dim=4, map_height=2, map_width=2, local_dim=4, num_candidates=4,
                         num_classes=3, num_frames=4, patch_size=8, policy_input=policy_input, candidate_boxes=boxes)
    policy = AdaFocus(cfg).policy
    maps = torch.randn(2, 3, 4, 2, 2)
    grads = {}
    for detach in (False, True):
        policy.zero_grad(set_to_none=True)
        policy.detach_critic = detach
        policy(maps)[1].pow(2).sum().backward()  # a value loss alone
        grads[detach] = (policy.conv.weight.grad, policy.critic.weight.grad)
    assert grads[False][0] is not None and grads[False][0].abs().sum() > 0  # the paper: the value loss shapes the conv
    assert grads[True][0] is None and grads[True][1].abs().sum() > 0  # detached: only the critic's own layer learns


def test_both_policies_build_the_shared_trunk_in_the_paper_order() -> None:
    """The shared trunk keeps each layer's name (checkpoints) and place in the order of initialisation
    (the same seed gives the same π as before the trunk was shared): conv, GRU, actor, critic."""
    from nsnet.sampler.adafocus.model import PatchPolicy, SkipPolicy

    boxes = [[0, 0, 2, 2], [2, 2, 4, 4]]
    assert [n for n, _ in PatchPolicy(8, 16, 4, 6, 2).named_children()] == ["conv", "gru", "actor", "critic"]
    assert [n for n, _ in SkipPolicy(8, 16, 4, 6).named_children()] == ["conv", "gru", "actor", "critic"]
    assert [n for n, _ in CandidatePolicy(8, 16, 4, 6, boxes, 4, 4).named_children()] == [
        "conv", "gru", "local", "context", "score", "critic"]
    torch.manual_seed(0)
    conv, gru, actor, critic = torch.nn.Conv2d(8, 4, 1), torch.nn.GRU(64, 6, batch_first=True), \
        torch.nn.Linear(6, 2), torch.nn.Linear(6, 1)
    torch.manual_seed(0)
    pi = PatchPolicy(8, 16, 4, 6, 2)
    for mine, ref in ((pi.conv, conv), (pi.gru, gru), (pi.actor, actor), (pi.critic, critic)):
        for a, b in zip(mine.parameters(), ref.parameters()):
            assert torch.equal(a, b)


def test_model_needs_boxes_for_the_candidate_policy() -> None:
    cfg = AdaFocusConfig(global_dim=4, map_dim=4, map_height=2, map_width=2, local_dim=4, num_candidates=4,
                         num_classes=3, num_frames=4, patch_size=8, policy_input="candidates")
    with pytest.raises(ValueError, match="candidate_boxes"):
        AdaFocus(cfg)
    model = AdaFocus(dataclasses.replace(cfg, candidate_boxes=[[0, 0, 1, 1], [1, 0, 2, 1], [0, 1, 1, 2], [1, 1, 2, 2]]))
    assert isinstance(model.policy, CandidatePolicy)
    assert model.choose_patches(torch.randn(3, 4, 4, 2, 2)).shape == (3, 4)


def test_options_reject_unknown_values() -> None:
    with pytest.raises(SamplerConfigError, match="policy_input"):
        sampler_config("adafocus", policy_input="everywhere")
    with pytest.raises(SamplerConfigError, match="reward"):
        sampler_config("adafocus", reward="median")


def test_mean_baseline_is_the_paper_reward_averaged_over_the_alternatives() -> None:
    torch.manual_seed(0)
    cfg = AdaFocusConfig(global_dim=6, map_dim=6, map_height=2, map_width=2, local_dim=5, num_candidates=4,
                         num_classes=3, num_frames=7, patch_size=8, hidden=8, dropout=0.0)
    f_c = AdaFocus(cfg).classifier.eval()
    g, chosen, alts = torch.randn(2, 7, 6), torch.randn(2, 7, 5), torch.randn(2, 7, 4, 5)
    labels = torch.eye(3)[[0, 2]]
    with torch.no_grad():
        mean, _ = rollout_rewards(f_c, g, chosen, alts, labels, False)
        each = torch.stack([rollout_rewards(f_c, g, chosen, alts[:, :, m], labels, False)[0] for m in range(4)])
        keep = torch.tensor([[1.0, 0, 1, 1, 0, 1, 1]] * 2)
        r_mean, r_skip = rollout_rewards(f_c, g, chosen, alts, labels, False, keep, 0.01)
        each_keep = [rollout_rewards(f_c, g, chosen, alts[:, :, m], labels, False, keep, 0.01) for m in range(4)]
    assert torch.allclose(mean, each.mean(0), atol=1e-6)
    assert torch.allclose(r_mean, torch.stack([r for r, _ in each_keep]).mean(0), atol=1e-6)
    assert torch.allclose(r_skip, each_keep[0][1], atol=1e-6)  # π''s reward does not use the baseline


TOY = QuadrantSpec(num_videos=256)
TOY_OPTS = dict(hidden=64, policy_hidden=64, policy_channels=16, dropout=0.0, stage1_epochs=15, stage2_epochs=20,
                stage3_epochs=5, lr=3e-3, policy_lr=3e-3)


def test_candidate_policy_with_mean_reward_and_detached_critic_learns_the_quadrant_toy() -> None:
    train, _ = quadrant_arrays(TOY, "train")
    val, target = quadrant_arrays(dataclasses.replace(TOY, num_videos=200), "val")
    cfg = sampler_config(variant="adafocus", batch_size=32, device="cpu", policy_input="candidates", reward="mean",
                         shared_critic=False, **TOY_OPTS)
    model = train_sampler(train, cfg).model
    cand = model.choose_patches(torch.from_numpy(val.light_maps)).numpy()
    hit = np.take_along_axis(target, cand[..., None], axis=2)[..., 0].mean()
    assert hit >= 0.9  # chance 25 %; the focus quadrant changes every frame
    assert len(np.unique(cand)) >= 8  # it moves with the focus, not one fixed candidate


def test_candidate_policy_is_the_default_and_old_runs_load_as_trained() -> None:
    """The default π is the candidate policy with a detached critic (issue 19); a run saved before
    those options existed (its config lacks them) was trained with the paper's π and loads as such."""
    from nsnet.sampler.config import SamplerConfig

    cfg = sampler_config("adafocus")
    assert (cfg.options.policy_input, cfg.options.shared_critic) == ("candidates", False)
    saved = cfg.to_dict()
    for key in ("policy_input", "shared_critic"):
        del saved["options"][key]
    old = SamplerConfig.from_dict(saved)
    assert (old.options.policy_input, old.options.shared_critic) == ("map", True)
    assert SamplerConfig.from_dict(cfg.to_dict()).options.policy_input == "candidates"  # a new run keeps its own
    nsnet = sampler_config("nsnet").to_dict()
    assert SamplerConfig.from_dict(nsnet) == sampler_config("nsnet")  # variants without changed defaults: as saved
