"""Runs saved before the options scheme (flat ``config.json``, resolved ``tsqnet`` / ``adafocus`` dicts)
load with exactly the options they were trained with."""

from __future__ import annotations

import json

import pytest

from nsnet.sampler.config import SamplerConfig, sampler_config

# the "config" of three runs written at 3d2cb1d (before the move): nsnet, tsqnet and adafocus (skip=true)
LEGACY = {
    'nsnet': json.loads("{\"adafocus\": {}, \"attn_dropout\": 0.2, \"batch_size\": 64, \"branches\": \"both\", \"cls_dropout\": 0.9, \"device\": \"cpu\", \"encoder\": \"transformer\", \"encoder_dropout\": 0.1, \"epochs\": 3, \"fsm\": \"ns\", \"fsm_saliency\": \"max\", \"gamma\": 0.2, \"guide\": \"prototype\", \"guide_quantile\": 0.02, \"guide_temperature\": 1.0, \"heads\": 2, \"layers\": 2, \"lr\": 0.01, \"lr_decay\": 0.1, \"lr_milestones\": [0.4166666666666667, 0.625], \"max_shift\": 0.1, \"momentum\": 0.9, \"name\": \"nsnet\", \"pos_dropout\": 0.2, \"proto_eps\": 0.3, \"ranking_margin\": 0.1, \"seed\": 0, \"train_split\": \"train\", \"tsqnet\": {}, \"val_split\": \"val\", \"variant\": \"nsnet\", \"vgm\": \"ns\", \"weight_decay\": 0.0, \"width\": 16}"),
    'tsqnet': json.loads("{\"adafocus\": {}, \"attn_dropout\": 0.2, \"batch_size\": 64, \"branches\": \"both\", \"cls_dropout\": 0.9, \"device\": \"cpu\", \"encoder\": \"transformer\", \"encoder_dropout\": 0.1, \"epochs\": 3, \"fsm\": \"ns\", \"fsm_saliency\": \"max\", \"gamma\": 0.2, \"guide\": \"prototype\", \"guide_quantile\": 0.02, \"guide_temperature\": 1.0, \"heads\": 8, \"layers\": 2, \"lr\": 0.01, \"lr_decay\": 0.1, \"lr_milestones\": [0.25, 0.5, 0.75], \"max_shift\": 0.1, \"momentum\": 0.9, \"name\": \"t\", \"pos_dropout\": 0.2, \"proto_eps\": 0.3, \"ranking_margin\": 0.1, \"seed\": 0, \"train_split\": \"train\", \"tsqnet\": {\"aggregate_topk\": 5, \"alpha\": 0.6, \"attention\": \"cs\", \"beta\": 0.6, \"classifier\": \"cs\", \"dropout\": 0.1, \"heads\": 1, \"lambda_v\": 0.6, \"layers\": 1, \"modality\": \"both\", \"object_topk\": 10, \"objects\": \"light\", \"self_attention\": false, \"text_init\": \"names\", \"visual_init\": \"prototype\"}, \"val_split\": \"val\", \"variant\": \"tsqnet\", \"vgm\": \"ns\", \"weight_decay\": 0.0, \"width\": 16}"),
    'adafocus': json.loads("{\"adafocus\": {\"clip\": 0.2, \"drop_local\": 0.0, \"dropout\": 0.2, \"entropy_coef\": 0.01, \"gamma\": 0.7, \"hidden\": 16, \"keep_ratio\": 0.5, \"lam\": 1e-06, \"lr\": 0.001, \"policy_channels\": 4, \"policy_hidden\": 16, \"policy_lr\": 0.001, \"ppo_epochs\": 2, \"skip\": true, \"stage1_epochs\": 2, \"stage2_epochs\": 2, \"stage3_epochs\": 1, \"stage3_lr\": 0.0001, \"value_coef\": 0.5}, \"attn_dropout\": 0.2, \"batch_size\": 64, \"branches\": \"both\", \"cls_dropout\": 0.9, \"device\": \"cpu\", \"encoder\": \"transformer\", \"encoder_dropout\": 0.1, \"epochs\": 120, \"fsm\": \"ns\", \"fsm_saliency\": \"max\", \"gamma\": 0.2, \"guide\": \"prototype\", \"guide_quantile\": 0.02, \"guide_temperature\": 1.0, \"heads\": 8, \"layers\": 2, \"lr\": 0.01, \"lr_decay\": 0.1, \"lr_milestones\": [0.4166666666666667, 0.625], \"max_shift\": 0.1, \"momentum\": 0.9, \"name\": \"a\", \"pos_dropout\": 0.2, \"proto_eps\": 0.3, \"ranking_margin\": 0.1, \"seed\": 0, \"train_split\": \"train\", \"tsqnet\": {}, \"val_split\": \"val\", \"variant\": \"adafocus\", \"vgm\": \"ns\", \"weight_decay\": 0.0, \"width\": 512}"),
}


@pytest.mark.parametrize("variant", sorted(LEGACY))
def test_a_legacy_config_loads_with_the_options_it_was_trained_with(variant: str) -> None:
    cfg = SamplerConfig.from_dict(LEGACY[variant])
    want = {
        "nsnet": sampler_config("nsnet", name="nsnet", device="cpu", epochs=3, width=16, heads=2),
        # TSQNet's layers / heads are its own (1 / 1), not NSNet's flat 2 / 8; its milestones were 25/50/75 %
        "tsqnet": sampler_config("tsqnet", name="t", device="cpu", epochs=3, width=16),
        # AdaFocus's lr is its own 1e-3, not NSNet's flat 1e-2; its batch size was the flat 64
        "adafocus": sampler_config("adafocus", name="a", device="cpu", hidden=16, policy_hidden=16, policy_channels=4,
                                   stage1_epochs=2, stage2_epochs=2, stage3_epochs=1, skip=True, keep_ratio=0.5),
    }[variant]
    assert cfg == want
    assert SamplerConfig.from_dict(cfg.to_dict()) == cfg  # and the new form round-trips
