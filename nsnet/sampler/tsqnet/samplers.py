"""Samplers of a trained TSQNet run (registered as ``tsqnet``, ``vqm`` and ``tqm``).

* ``tsqnet`` -- the union of the top lambda_v K frames of VQM and the top K - lambda_v K of TQM,
  duplicates refilled from the VQM ranking (:func:`union_select`); its
  :meth:`scores` (for plots) is lambda_v s^v + (1 - lambda_v) s^t.
* ``vqm`` / ``tqm`` -- top-K of one module's aggregated class-specific saliency (Eq. 5).

Inputs are the cached light features (``objects="light"``) plus, for a run whose object scores come
from the recognizer, the recognizer features of all T frames.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from nsnet.numeric import check_budget
from nsnet.sampler.base import Sampler, SamplerError, SamplerInputs
from nsnet.sampler.registry import register_sampler
from nsnet.sampler.run import SamplerRun, check_run_matches, load_run


def union_select(s_v, s_t, k: int, lambda_v: float = 0.6):
    """Returns np.int64 [N, K]: per video the top round(lambda_v K) frames of ``s_v`` (rounded half
    up), then the top K - that of ``s_t`` not already chosen, then -- duplicates left the union
    short -- the next frames of the ``s_v`` ranking until K (supp. "Saliency score fusion"). Ties go
    to the lower frame index."""

    s_v, s_t = np.asarray(s_v, np.float64), np.asarray(s_t, np.float64)
    n, t = s_v.shape
    if not 1 <= k <= t:
        raise ValueError(f"budget K must satisfy 1 <= K <= T={t}, got K={k}")
    kv = min(k, int(math.floor(lambda_v * k + 0.5)))
    rank_v = np.argsort(-s_v, axis=1, kind="stable")
    rank_t = np.argsort(-s_t, axis=1, kind="stable")
    out = np.empty((n, k), np.int64)
    for b in range(n):
        chosen = list(rank_v[b, :kv])
        for i in rank_t[b, : k - kv]:
            if i not in chosen:
                chosen.append(int(i))
        for i in rank_v[b, kv:]:
            if len(chosen) == k:
                break
            if i not in chosen:
                chosen.append(int(i))
        out[b] = chosen
    return out


class TSQNetRunSampler(Sampler):
    """A sampler whose saliency comes from a trained TSQNet run."""

    trained = True
    variants = ("tsqnet",)
    modules: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, run_dir: str | Path | None = None, *, run: SamplerRun | None = None, store: Any = None,
        device: str = "cpu", batch_size: int = 256, lambda_v: float | None = None,
        aggregate_topk: int | None = None,
    ) -> None:
        if run is None:
            if run_dir is None:
                raise SamplerError(f"sampler {self.name!r} needs a trained tsqnet run: pass run_dir=... or run=...")
            run = load_run(run_dir, store=store, device=device)
        elif store is not None:
            check_run_matches(run.meta, store, run.run_dir)
        if run.config.variant != "tsqnet":
            raise SamplerError(f"sampler {self.name!r} needs a run of variant tsqnet; "
                               f"{run.run_dir} is a {run.config.variant} run")
        model = run.model
        have = {m for m in ("vqm", "tqm") if getattr(model, m) is not None}
        missing = [m for m in self.modules if m not in have]
        if missing:
            raise SamplerError(f"sampler {self.name!r} needs the {'/'.join(missing).upper()} module, which run "
                               f"{run.run_dir} did not train (modality {model.cfg.modality})")
        self.run, self.device, self.batch_size = run, torch.device(device), int(batch_size)
        self.lambda_v = float(model.cfg.lambda_v if lambda_v is None else lambda_v)
        self.aggregate_topk = int(model.cfg.aggregate_topk if aggregate_topk is None else aggregate_topk)
        self.recognizer_objects = "tqm" in self.modules and model.cfg.objects == "recognizer"
        self.requires = ("rec_features",) if self.recognizer_objects else ()
        model.to(self.device).eval()

    def module_scores(self, inputs: SamplerInputs) -> dict[str, np.ndarray]:
        """Returns ``{"vqm": s^v, "tqm": s^t}`` [N, T] float64 for the run's modules."""
        self.check(inputs)
        cfg = self.run.model.cfg
        if inputs.T != cfg.num_frames or inputs.light.shape[2] != cfg.in_dim:
            raise SamplerError(f"inputs are [*, T={inputs.T}, D={inputs.light.shape[2]}] but run {self.run.run_dir} "
                               f"was trained on T={cfg.num_frames}, D={cfg.in_dim}")
        parts: dict[str, list[np.ndarray]] = {}
        with torch.no_grad():
            for lo in range(0, inputs.N, self.batch_size):
                light = torch.from_numpy(inputs.light[lo : lo + self.batch_size]).to(self.device)
                src = None
                if self.recognizer_objects:
                    src = torch.from_numpy(inputs.rec_features[lo : lo + self.batch_size]).to(self.device)
                for key, value in self.run.model.saliency(light, src, self.aggregate_topk, self.modules).items():
                    parts.setdefault(key, []).append(value.double().cpu().numpy())
        return {key: np.concatenate(chunks) for key, chunks in parts.items()}


@register_sampler("tsqnet")
class TSQNetSampler(TSQNetRunSampler):
    """TSQNet: VQM and TQM frames united (lambda_v K from VQM)."""

    modules = ("vqm", "tqm")
    branches = ("objects", "vqm", "tqm")  # cost parts (nsnet.evaluate.costs): object head, VQM, TQM
    table_order = 10

    def scores(self, inputs: SamplerInputs) -> np.ndarray:
        """Returns lambda_v s^v + (1 - lambda_v) s^t [N, T]."""
        s = self.module_scores(inputs)
        return self.lambda_v * s["vqm"] + (1.0 - self.lambda_v) * s["tqm"]

    def select(self, inputs: SamplerInputs, k: int) -> np.ndarray:
        """Returns np.int64 [N, K]: the union-with-deferral of the two modules' rankings."""
        check_budget(k, inputs.T)
        s = self.module_scores(inputs)
        return union_select(s["vqm"], s["tqm"], k, self.lambda_v)


@register_sampler("vqm")
class VQMSampler(TSQNetRunSampler):
    """Top-K of the visual query module's saliency."""

    modules = ("vqm",)
    branches = ("vqm",)
    table_order = 11

    def scores(self, inputs: SamplerInputs) -> np.ndarray:
        return self.module_scores(inputs)["vqm"]


@register_sampler("tqm")
class TQMSampler(TSQNetRunSampler):
    """Top-K of the textual query module's saliency."""

    modules = ("tqm",)
    branches = ("objects", "tqm")
    table_order = 12

    def scores(self, inputs: SamplerInputs) -> np.ndarray:
        return self.module_scores(inputs)["tqm"]

