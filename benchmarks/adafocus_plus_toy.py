"""Why AdaFocus+'s π' keeps informative frames less selectively next to the candidate policy on the unit
tests' planted-quadrant toy (30 % empty frames), though not on the picture-in-picture benchmark (issue 19).

For each π (the paper's: ``policy_input=map shared_critic=true``; the default: ``candidates``, detached
critic; the two mixed settings, to tell the policy's input from the critic; and the default with a larger
PPO entropy bonus, which keeps π' from saturating) and seed, AdaFocus+ is trained on the toy with the test's settings, and on 200 val videos this
records:

* the keep mask's selectivity: share of informative frames kept minus share of empty frames kept;
* π''s keep probability p^B on informative and on empty frames, and the share of frames where it is
  above 0.99 (a saturated π': the threshold that keeps 70 % then splits near-equal values);
* the reward π' is trained with (Eq. 10 at keep = 1, with the λP² penalty), on informative and on
  empty frames, with π's chosen candidates: the signal that should make π' selective;
* π's hit rate on informative frames (its candidate lies in the planted quadrant).

Writes one JSON with the per-seed rows and, per π, mean ± sample std over seeds and the selectivity's
difference to the default with its t-interval over the seeds (paired by seed).

    python benchmarks/adafocus_plus_toy.py --seeds 0 1 2 3 4 5 --out benchmarks/results/adafocus_plus_toy.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.run_auto import t_interval  # noqa: E402
from nsnet.sampler.adafocus.rewards import rollout_rewards  # noqa: E402
from nsnet.sampler.config import sampler_config  # noqa: E402
from nsnet.sampler.train import train_sampler  # noqa: E402
from nsnet.toys.quadrant import QuadrantSpec, quadrant_arrays  # noqa: E402

SPEC = QuadrantSpec(num_videos=256, empty=0.3)  # tests/test_adafocus_train.py's AdaFocus+ toy
OPTS = dict(hidden=64, policy_hidden=64, policy_channels=16, dropout=0.0, stage1_epochs=15, stage2_epochs=20,
            stage3_epochs=5, lr=3e-3, policy_lr=3e-3, skip=True, keep_ratio=0.7, drop_local=0.3)
DEFAULT = "default (candidates, detached critic)"
POLICIES = {"paper π (map, shared critic)": dict(policy_input="map", shared_critic=True),
            DEFAULT: dict(policy_input="candidates", shared_critic=False),
            "candidates, shared critic": dict(policy_input="candidates", shared_critic=True),
            "map, detached critic": dict(policy_input="map", shared_critic=False),
            "default, entropy_coef 0.05": dict(policy_input="candidates", shared_critic=False, entropy_coef=0.05),
            "default, entropy_coef 0.2": dict(policy_input="candidates", shared_critic=False, entropy_coef=0.2)}


def plus_figures(model: Any, val: Any, target: np.ndarray, lam: float) -> dict[str, float]:
    """Returns the figures of one trained AdaFocus+ ``model`` (trained with penalty ``lam`` P^2) on the ``val``
    arrays (module docstring)."""
    informative = target.any(axis=2)
    maps = torch.from_numpy(val.light_maps)
    with torch.no_grad():
        cand = model.choose_patches(maps)
        keep = model.keep_mask(maps).numpy()
        p_keep = model.keep_probs(maps).numpy()
        feats = torch.from_numpy(val.patch_features).float()
        chosen = feats[torch.arange(val.N)[:, None], torch.arange(val.T)[None], cand]
        penalty = lam * float(model.cfg.patch_size) ** 2
        _, reward = rollout_rewards(model.classifier, torch.from_numpy(val.light), chosen, chosen,
                                    torch.from_numpy(val.labels).float(), bool(val.multilabel),
                                    torch.ones(val.N, val.T, dtype=torch.bool), penalty)
    reward = reward.numpy()
    hits = np.take_along_axis(target, cand.numpy()[..., None], axis=2)[..., 0]
    return {"selectivity": float(keep[informative].mean() - keep[~informative].mean()),
            "kept_informative": float(keep[informative].mean()), "kept_empty": float(keep[~informative].mean()),
            "p_keep_informative": float(p_keep[informative].mean()), "p_keep_empty": float(p_keep[~informative].mean()),
            "saturated": float((p_keep > 0.99).mean()),
            "reward_informative": float(reward[informative].mean()), "reward_empty": float(reward[~informative].mean()),
            "hit": float(hits[informative].mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    train, _ = quadrant_arrays(SPEC, "train")
    val, target = quadrant_arrays(dataclasses.replace(SPEC, num_videos=200), "val")
    rows = []
    for label, policy in POLICIES.items():
        for seed in args.seeds:
            cfg = sampler_config(variant="adafocus", batch_size=32, device="cpu", seed=seed, **OPTS, **policy)
            model = train_sampler(train, cfg).model.eval()
            rows.append({"policy": label, "seed": seed, **plus_figures(model, val, target, cfg.options.lam)})
            print(json.dumps(rows[-1]), flush=True)
    keys = [k for k in rows[0] if k not in ("policy", "seed")]
    summary = {label: {k: {"mean": float(np.mean(v := [r[k] for r in rows if r["policy"] == label])),
                           "std": float(np.std(v, ddof=1))} for k in keys} for label in POLICIES}
    default = {r["seed"]: r["selectivity"] for r in rows if r["policy"] == DEFAULT}
    for label in POLICIES:  # selectivity - the default's, paired by seed: t-interval over the seeds
        if label != DEFAULT:
            diffs = [r["selectivity"] - default[r["seed"]] for r in rows if r["policy"] == label]
            summary[label]["selectivity_vs_default"] = {"diff": float(np.mean(diffs)), "seeds_ci": t_interval(diffs)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"std_ddof": 1, "seeds": args.seeds, "rows": rows, "summary": summary}, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
