"""`nsnet evaluate`: select K frames per video with each method, score them, report mAP / top-1 /
GFLOPs / seconds.

Two scoring paths give the same predictions (up to float tolerance):

* ``reload`` (default, the real one): decode only the chosen frames of each video and run the
  recognizer (rebuilt from the store's spec, hash-checked, plus its head) on them
  (:mod:`nsnet.evaluate.reload`). Methods whose recognizer needs all T frames (dense, topk,
  oracle) share one all-T pass: decode T frames, run the recognizer on all of them, select from
  those fresh outputs.
* ``cached``: gather the store's per-frame logits (:mod:`nsnet.evaluate.cached`).

The video prediction is the mean of the per-frame softmax (sigmoid for multi-label stores) over
the chosen frames. mAP is the mean over classes of scikit-learn's average precision; classes with
no positive video in the evaluated split are excluded (listed in the notes).
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from nsnet import __version__
from nsnet.evaluate.cached import cached_logits, gather_frames
from nsnet.evaluate.config import EvaluateConfig, EvaluateError
from nsnet.evaluate.costs import ComponentCosts, measure_costs
from nsnet.evaluate.methods import MethodSpec, build_sampler, resolve_methods, select_positions
from nsnet.evaluate.patch_eval import fixed_policy_notes, patch_method_gflops, policy_usage
from nsnet.metrics import average_frame_predictions, mean_average_precision, top1_accuracy
from nsnet.evaluate.reload import ReloadOutput, reload_outputs
from nsnet.device import resolve_device
from nsnet.extract.models import FrameModel
from nsnet.extract.transforms import FrameTransform, decode_short_side
from nsnet.extract.video import use_store_decoder
from nsnet.progress import console, progress_bar
from nsnet.sampler.auto.sampler import AUTO, run_keys
from nsnet.sampler.base import Sampler, SamplerError, SamplerInputs
from nsnet.sampler.data import SamplerArrays, load_sampler_arrays
from nsnet.store import FeatureStore
from nsnet.store import schema as S


@dataclass
class EvalRow:
    """One result line: a method at one budget K (fractions in [0, 1], GFLOPs per video)."""

    method: str
    label: str
    fusion: str | None
    K: int
    mAP: float
    top1: float
    gflops: float
    seconds: float
    path: str
    videos: int
    failed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Returns the row as a JSON-able dict."""
        return asdict(self)


@dataclass
class EvaluationResult:
    """All rows plus what is needed to report and plot them."""

    rows: list[EvalRow]
    notes: list[str]
    meta: dict[str, Any]
    costs: ComponentCosts
    selections: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)
    patches: dict[tuple[str, int], Any] = field(default_factory=dict)  # patch methods: their PatchScore
    patch_policy: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)  # learned π: policy_usage
    context: "EvalContext | None" = None


def load_runs(run_dirs: list[Any], store: Any, device: str) -> dict[str, Any]:
    """Returns the runs of ``run_dirs`` (checked against ``store``) keyed by the variant each records
    (the run of ``fit-sampler --variant auto`` by ``auto``, and by its variant unless a plain run of that
    variant is given); two runs of one key raise EvaluateError."""
    from nsnet.sampler.run import load_run

    runs: dict[str, Any] = {}
    loaded = [load_run(run_dir, store=store, device=device) for run_dir in run_dirs]
    for run in sorted(loaded, key=lambda r: AUTO in run_keys(r)):  # an auto run's variant key yields to a plain run
        key = AUTO if AUTO in run_keys(run) else run.config.variant
        if key in runs:
            raise EvaluateError(f"two {key} runs ({runs[key].run_dir}, {run.run_dir}); pass one run per variant")
        runs[key] = run
        if key == AUTO and run.config.variant != AUTO:
            runs.setdefault(run.config.variant, run)
    return runs


class EvalContext:
    """The opened store, split arrays, runs, samplers and (reload path) recognizer of one evaluation."""

    def __init__(self, cfg: EvaluateConfig, log: Any = None) -> None:
        self.cfg = cfg.validate()
        self.log = log or console(cfg.quiet)
        self.device = resolve_device(cfg.device)
        self.store = FeatureStore.open(cfg.store)
        use_store_decoder(self.store.attrs)  # reloaded frames are decoded as the stored ones were
        store = self.store
        self.T = store.T
        too_big = [k for k in cfg.all_budgets() if k > self.T]
        if too_big:
            raise EvaluateError(f"budget K={too_big[0]} exceeds the store's T={self.T} frames per video")
        self.rows = np.asarray(store.valid_indices(cfg.split), dtype=np.int64)
        if self.rows.size == 0:
            raise EvaluateError(f"{cfg.store}: no extracted videos in split {cfg.split!r}")
        self.runs = load_runs(cfg.runs, store, str(self.device))
        self.methods, self.notes = resolve_methods(cfg.methods, cfg.fusion, self.runs)
        if cfg.path == "cached" and not store.has_logits:
            raise EvaluateError(f"{cfg.store}: the store has no recognizer logits for --path cached; "
                                f"run `nsnet fit-recognizer {cfg.store}` first")
        self.samplers: dict[str, Sampler] = {}
        for m in list(self.methods):
            try:
                self.samplers[m.name] = build_sampler(m, self.runs, alpha=cfg.alpha, seed=cfg.seed,
                                                      multilabel=store.multilabel, device=str(self.device))
            except SamplerError as err:  # e.g. adafocus+ of a run without the skip policy
                if cfg.methods:
                    raise
                self.methods.remove(m)
                self.notes.append(f"{m.label} skipped: {err}")
        needs_features = any("rec_features" in getattr(s, "requires", ()) for s in self.samplers.values())
        # a sampler that needs them but not all T frames on reload (e.g. TSQNet's objects from the
        # recognizer) reads the cached recognizer features on either path
        cached_features = any("rec_features" in getattr(s, "requires", ()) for m, s in self.samplers.items()
                              if not self.spec(m).all_frames)
        self.arrays: SamplerArrays = load_sampler_arrays(
            store, cfg.split, rec_features=(needs_features and cfg.path == "cached") or cached_features,
            rec_logits=store.has_logits)
        self.labels = self.arrays.labels
        self.inputs: SamplerInputs = self.arrays
        self.keep_full_features = needs_features
        self.recognizer: FrameModel | None = None
        self._full: ReloadOutput | None = None
        if cfg.path == "reload":
            from nsnet.extract.recognizer import load_recognizer

            self.recognizer = load_recognizer(store, self.device)
            self.rec_transform = FrameTransform.from_spec(store.recognizer_spec)
            self.short_side = decode_short_side(FrameTransform.from_spec(store.extractor_spec), self.rec_transform)
            self.paths = [str(p) for p in store.read(S.PATH, self.rows)]
            self.frame_indices = store.read(S.FRAME_INDICES, self.rows).astype(np.int64)
        missing = [store.class_names[c] for c in np.nonzero(self.labels.sum(axis=0) == 0)[0]]
        if missing:
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            self.notes.append(f"mAP excludes {len(missing)} of {store.num_classes} classes with no positive video "
                              f"in split {cfg.split!r}: {shown}")
        self.excluded_classes = missing
        self.grid = None
        if any(m.patch for m in self.methods):
            from nsnet.evaluate.patch_eval import require_patch_arrays

            self.grid = require_patch_arrays(store)

    def spec(self, name: str) -> MethodSpec:
        """Returns the MethodSpec of the evaluated method ``name``."""
        return next(m for m in self.methods if m.name == name)

    # ------------------------------------------------------------------ reload helpers
    def reload(self, positions: np.ndarray, desc: str, keep_features: bool = False) -> ReloadOutput:
        """Returns the recognizer outputs on the chosen positions [N, K] (decoding only them)."""
        frame_numbers = np.take_along_axis(self.frame_indices, positions, axis=1)
        with progress_bar(disable=self.cfg.quiet, transient=True) as bar:
            task = bar.add_task(desc, total=len(self.paths))
            return reload_outputs(self.paths, frame_numbers, self.recognizer, self.rec_transform, self.short_side,
                                  batch_size=self.cfg.batch_size, workers=self.cfg.workers,
                                  keep_features=keep_features, on_video=lambda: bar.advance(task))

    def full_pass(self) -> ReloadOutput:
        """Returns (computed once) the recognizer outputs on all T frames of every video."""
        if self._full is None:
            all_positions = np.tile(np.arange(self.T, dtype=np.int64), (self.rows.size, 1))
            self._full = self.reload(all_positions, f"reload all T={self.T}", keep_features=self.keep_full_features)
        return self._full


def _metrics(logits: np.ndarray, labels: np.ndarray, ok: np.ndarray, multilabel: bool) -> tuple[float, float]:
    """Returns (mAP, top-1) of the videos in ``ok`` from their chosen frames' logits."""
    if not ok.any():
        raise EvaluateError("no video could be scored (every video failed to decode)")
    return _prob_metrics(average_frame_predictions(logits[ok], multilabel), labels[ok], np.ones(int(ok.sum()), bool))


def _prob_metrics(probs: np.ndarray, labels: np.ndarray, ok: np.ndarray) -> tuple[float, float]:
    """Returns (mAP, top-1) of the videos in ``ok`` from their video-level class probabilities."""
    if not ok.any():
        raise EvaluateError("no video could be scored (every video failed to decode)")
    return mean_average_precision(probs[ok], labels[ok]), top1_accuracy(probs[ok], labels[ok])


def _score_patch(ctx: EvalContext, spec: MethodSpec, sampler: Any, k: int) -> Any:
    """Returns the PatchScore of a patch method (AdaFocus family) on the configured path."""
    from nsnet.evaluate import patch_eval

    if ctx.cfg.path == "cached":
        return patch_eval.score_cached(ctx.store, ctx.rows, sampler, ctx.inputs, k)
    from nsnet.extract.recognizer import load_extractor

    if getattr(ctx, "extractor", None) is None:
        ctx.extractor = load_extractor(ctx.store.extractor_spec, ctx.device)
    return patch_eval.score_reload(
        ctx.paths, ctx.frame_indices, ctx.grid, sampler, ctx.inputs, k, extractor=ctx.extractor, local=ctx.recognizer,
        light_tf=FrameTransform.from_spec(ctx.store.extractor_spec), rec_tf=ctx.rec_transform,
        short_side=ctx.short_side, batch_size=ctx.cfg.batch_size, workers=ctx.cfg.workers, quiet=ctx.cfg.quiet,
        desc=f"reload {spec.label} K={k}", map_stride=ctx.store.patches.get("map_stride"))


def _score(ctx: EvalContext, spec: MethodSpec, sampler: Sampler, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Returns (positions [N, K], logits [N, K, C], ok mask [N], extra seconds not timed here)."""
    n = ctx.rows.size
    if ctx.cfg.path == "cached":
        positions = select_positions(sampler, spec, ctx.inputs, k)
        return positions, cached_logits(ctx.arrays.rec_logits, positions), np.ones(n, dtype=bool), 0.0
    if spec.all_frames:
        fresh_before = ctx._full is not None
        full = ctx.full_pass()
        fresh = SamplerInputs(
            light=ctx.inputs.light, labels=ctx.labels,
            rec_logits=np.nan_to_num(full.logits, nan=0.0),
            rec_features=None if full.features is None else np.nan_to_num(full.features, nan=0.0),
        )
        positions = select_positions(sampler, spec, fresh, k)
        # the shared all-T pass is charged to every method that needs it
        extra = full.wall_s if fresh_before else 0.0
        return positions, gather_frames(full.logits, positions), full.ok, extra
    positions = select_positions(sampler, spec, ctx.inputs, k)
    out = ctx.reload(positions, f"reload {spec.label} K={k}")
    return positions, out.logits, out.ok, 0.0


def evaluate(cfg: EvaluateConfig, log: Any = None, on_row: Callable[[EvalRow], None] | None = None) -> EvaluationResult:
    """Returns the EvaluationResult of every method at every budget on the store's split.

    Raises EvaluateError / RunMismatchError / StoreError / RecognizerError (one-line messages)
    for bad options, a run trained on another store, or a store that cannot serve the path.
    """
    ctx = EvalContext(cfg, log)
    used = {key for m in ctx.methods for key in (m.run_key, m.frame_key) if key}  # measure only the runs evaluated
    costs = measure_costs(ctx.store.recognizer_spec, ctx.store.extractor_spec, ctx.store.num_classes,
                          {k: v for k, v in ctx.runs.items() if k in used}, ctx.T, ctx.arrays.D, recognizer=ctx.recognizer)
    result = EvaluationResult(rows=[], notes=ctx.notes, meta=_meta(ctx), costs=costs, context=ctx)
    if cfg.path == "reload" and any(m.all_frames for m in ctx.methods):
        result.notes.append("dense, topk and oracle share one all-T reload pass; its time is in each of their rows")
    budgets = cfg.all_budgets()
    for spec in ctx.methods:
        sampler = ctx.samplers[spec.name]
        for k in ([ctx.T] if spec.ignores_budget else budgets):
            start = time.perf_counter()
            if spec.patch:
                score = _score_patch(ctx, spec, sampler, k)
                positions, ok = score.positions, score.ok
                m_ap, top1 = _prob_metrics(score.probs, ctx.labels, ok)
                gflops = patch_method_gflops(costs, spec, score, ctx.T, spec.frame_key)
                result.patches[(spec.name, int(k))] = score
                if "policy" in spec.branches and ok.any():
                    result.patch_policy[(spec.name, int(k))] = policy_usage(score.choices[ok], sampler.num_candidates)
            else:
                positions, logits, ok, extra = _score(ctx, spec, sampler, k)
                start -= extra
                m_ap, top1 = _metrics(logits, ctx.labels, ok, ctx.store.multilabel)
                gflops = costs.per_video(spec, int(k), ctx.T)
            seconds = time.perf_counter() - start
            row = EvalRow(method=spec.name, label=spec.label, fusion=spec.fusion, K=int(k), mAP=m_ap, top1=top1,
                          gflops=gflops, seconds=seconds, path=cfg.path,
                          videos=int(ok.sum()), failed=int((~ok).sum()))
            result.rows.append(row)
            result.selections[(spec.name, int(k))] = positions
            if on_row is not None:
                on_row(row)
    result.notes.extend(fixed_policy_notes(result.patch_policy, {m.name: m.label for m in ctx.methods}))
    failed = max((r.failed for r in result.rows), default=0)
    if failed:
        result.notes.append(f"up to {failed} videos failed to decode on reload and were left out of their rows")
    return result


def _meta(ctx: EvalContext) -> dict[str, Any]:
    """Returns the JSON-able description of the evaluation setting."""
    store, cfg = ctx.store, ctx.cfg
    return {
        "store": store.path,
        "fingerprint": store.fingerprint,
        "split": cfg.split,
        "videos": int(ctx.rows.size),
        "T": ctx.T,
        "num_classes": store.num_classes,
        "multilabel": store.multilabel,
        "path": cfg.path,
        "fusion": cfg.fusion,
        "alpha": cfg.alpha,
        "budgets": cfg.all_budgets(),
        "seed": cfg.seed,
        "device": str(ctx.device),
        "recognizer": store.recognizer_spec.get("name"),
        "light_extractor": store.extractor_spec.get("name"),
        "runs": {k: (None if v is None else str(v.run_dir)) for k, v in ctx.runs.items()},
        "methods": [m.name for m in ctx.methods],
        "excluded_classes": ctx.excluded_classes,
        "prediction": "mean over the chosen frames of the per-frame " + ("sigmoid" if store.multilabel else "softmax"),
        "map": "mean over classes of sklearn average_precision_score; classes without a positive video excluded",
        "gflops": "MACs / 1e9 per video (torch.utils.flop_counter): P_rec*K + P_light*T + the sampler network's "
                  "parts (NSNet: P_fem + P_fsm + P_vgm; TSQNet: object head + VQM + TQM)",
        "seconds": "wall time of selection + recognizer scoring in this evaluation (light features from the store)",
        "nsnet_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
