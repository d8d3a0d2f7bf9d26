"""Evaluation time on the reload path: K = 1, 5, 10 vs dense (all T), in one run, vs a prediction.

On ``--clips`` real clips (seeded sample of ``fight/`` + ``noFight/`` of the Surveillance Camera
Fight dataset) a small store is extracted in a temporary directory (T = ``--frames``, light
extractor ``mobilenetv2_100`` at ``--extractor-size``, recognizer ``--recognizer`` with offline
package weights), the recognizer head is fitted and a small NSNet sampler trained. Then, in one
process:

(a) ``nsnet evaluate --path reload`` rows: ``uniform`` at K = 1, 5, 10, ``nsnet`` at K = 5 and
    ``dense`` (all T);
(b) right after, the components, measured alone on the same videos: decoding + preprocessing the same K frames
    of every video (``read_frames`` + the store's transform), the recognizer forward on N*K frames
    (in batches as evaluate runs them), and the light extractor per frame (for reference: the
    evaluation reads light features from the store).

(a) and (b) are repeated ``--repeats`` times back to back, so each ratio compares numbers taken
under the same machine load. Predicted time(K) = decode(K) + recognizer(N*K frames); the report
compares the median measured ratio
time(K=5) / time(dense) with the predicted one (target: measured <= 1.2 x predicted), i.e.
evaluation adds no cost beyond decoding and recognising the K frames it needs.

Usage: ``python benchmarks/bench_evaluate.py [--data ../shared/data/fight-surv] [--clips 6]
[--frames 50] [--recognizer tf_efficientnet_lite0] [--workers 1] [--repeats 2]``
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from _common import SHARED_DATA, ensure_repo_on_path, machine, print_line, print_table, ratio

ensure_repo_on_path()

import nsnet._compat  # noqa: E402,F401  (before timm)
import torch  # noqa: E402

from nsnet.evaluate.config import EvaluateConfig  # noqa: E402
from nsnet.extract.recognizer import load_extractor, load_recognizer  # noqa: E402
from nsnet.evaluate.run import evaluate  # noqa: E402
from nsnet.numeric import uniform_positions  # noqa: E402
from nsnet.extract.transforms import FrameTransform, decode_short_side  # noqa: E402
from nsnet.extract.video import probe_video, read_frames  # noqa: E402
from nsnet.store import FeatureStore  # noqa: E402
from nsnet.store import schema as S  # noqa: E402


def pick_clips(data: Path, n: int, seed: int) -> list[Path]:
    """Returns ``n`` clips, half from ``fight/`` and half from ``noFight/`` (seeded), sorted."""
    out: list[Path] = []
    for i, folder in enumerate(("fight", "noFight")):
        files = sorted((data / folder).glob("*.mp4"))
        want = n // 2 + (n % 2 if i == 0 else 0)
        if len(files) < want:
            raise SystemExit(f"{data / folder}: found {len(files)} clips, need {want} (is --data right?)")
        pick = np.random.default_rng(seed + i).choice(len(files), size=want, replace=False)
        out.extend(files[j] for j in sorted(pick))
    return out


def prepare(work: Path, clips: list[Path], frames: int, recognizer: str, extractor_size: int,
            sampler_epochs: int = 10) -> SimpleNamespace:
    """Extracts a store of ``clips`` (all in split "train"), fits the head and an NSNet sampler;
    returns paths (store, run, csv) and the setup seconds."""
    from nsnet.extract.config import ExtractConfig
    from nsnet.extract.pipeline import extract
    from nsnet.extract.fit_recognizer import FitRecognizerConfig, fit_recognizer
    from nsnet.sampler.config import sampler_config
    from nsnet.sampler.train import fit_sampler

    work.mkdir(parents=True, exist_ok=True)
    csv_path = work / "clips.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "split"])
        for c in clips:
            w.writerow([str(c.resolve()), c.parent.name, "train"])
    store, run = work / "store.zarr", work / "run"
    t0 = time.perf_counter()
    if not (store / "zarr.json").exists() or FeatureStore.open(store).status_counts()["pending"]:
        extract(ExtractConfig(annotations=csv_path, out=store, frames=frames, extractor="mobilenetv2_100",
                              extractor_size=extractor_size, weights="package", recognizer=recognizer,
                              recognizer_weights="package", workers=1, device="cpu", quiet=True))
    t1 = time.perf_counter()
    if not FeatureStore.open(store).attrs.get("recognizer_head"):
        fit_recognizer(store, FitRecognizerConfig(quiet=True))
    if not (run / "sampler.pt").exists():
        fit_sampler(store, run, sampler_config(epochs=sampler_epochs, device="cpu"), progress=False)
    return SimpleNamespace(store=store, run=run, csv=csv_path, extract_s=t1 - t0, setup_s=time.perf_counter() - t0)


class Components:
    """Times the parts of a reload evaluation alone, on the store's videos: decoding +
    preprocessing the K frames of every video, and the recognizer on the N*K frames."""

    def __init__(self, store_path: Path, batch_size: int) -> None:
        store = FeatureStore.open(store_path)
        rows = store.valid_indices("train")
        self.T = store.T
        self.paths = [str(p) for p in store.read(S.PATH, rows)]
        self.planned = store.read(S.FRAME_INDICES, rows).astype(np.int64)
        self.rec_tf = FrameTransform.from_spec(store.recognizer_spec)
        self.light_tf = FrameTransform.from_spec(store.extractor_spec)
        self.short = decode_short_side(self.light_tf, self.rec_tf)
        self.recognizer = load_recognizer(store, "cpu")
        self.extractor = load_extractor(store.extractor_spec, "cpu")
        self.batch_size = batch_size

    def _decode(self, k: int) -> list[torch.Tensor]:
        positions = np.arange(self.T) if k == self.T else uniform_positions(self.T, k)
        # a fresh probe per video, as evaluate's reload does
        return [self.rec_tf(torch.from_numpy(read_frames(p, self.planned[v, positions], self.short, probe_video(p))))
                for v, p in enumerate(self.paths)]

    @torch.inference_mode()
    def measure(self, budgets: list[int]) -> dict[str, Any]:
        """Returns {"decode_s": {K: s}, "recognizer_s": {K: s}, per-frame recognizer / light seconds}."""
        out: dict[str, Any] = {"decode_s": {}, "recognizer_s": {}, "videos": len(self.paths)}
        for k in budgets:
            t0 = time.perf_counter()
            x = torch.cat(self._decode(k))
            out["decode_s"][k] = time.perf_counter() - t0
            batches = [x[lo : lo + self.batch_size] for lo in range(0, x.shape[0], self.batch_size)]
            self.recognizer(batches[-1])  # warm-up (oneDNN primitive creation per batch shape)
            t0 = time.perf_counter()
            for xb in batches:
                self.recognizer(xb)
            out["recognizer_s"][k] = time.perf_counter() - t0
        frames = self.light_tf(torch.from_numpy(read_frames(self.paths[0], self.planned[0], self.short)))
        self.extractor(frames)
        t0 = time.perf_counter()
        self.extractor(frames)
        out["light_per_frame_s"] = (time.perf_counter() - t0) / frames.shape[0]
        out["rec_per_frame_s"] = out["recognizer_s"][self.T] / (self.T * len(self.paths))
        return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=SHARED_DATA / "fight-surv")
    p.add_argument("--clips", type=int, default=6)
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--recognizer", default="tf_efficientnet_lite0")
    p.add_argument("--extractor-size", type=int, default=112)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, default=None, help="Keep the store here (default: a temp dir, removed).")
    p.add_argument("--json", type=Path, default=None, help="Also write the numbers as JSON.")
    args = p.parse_args()

    print_line(f"machine: {machine()}")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_evaluate_"))
    try:
        clips = pick_clips(args.data, args.clips, args.seed)
        setup = prepare(work, clips, args.frames, args.recognizer, args.extractor_size)
        print_line(f"setup: {len(clips)} clips, T={args.frames}, extract {setup.extract_s:.1f}s, "
                   f"total setup {setup.setup_s:.1f}s ({work})")
        T = args.frames
        budgets = [1, 5, 10]
        comps = Components(setup.store, args.batch_size)
        repeats = []  # (evaluate seconds per row, components), measured back to back so both see the same load
        for _ in range(args.repeats):
            cfg = EvaluateConfig(store=setup.store, runs=[setup.run], budgets=budgets, methods=["uniform", "dense"],
                                 path="reload", split="train", workers=args.workers, batch_size=args.batch_size,
                                 device="cpu", quiet=True)
            nscfg = EvaluateConfig(store=setup.store, runs=[setup.run], budgets=[5], methods=["nsnet"], path="reload",
                                   split="train", workers=args.workers, batch_size=args.batch_size, device="cpu",
                                   quiet=True)
            secs = {(r.label, r.K): r.seconds for r in evaluate(cfg).rows + evaluate(nscfg).rows}
            repeats.append((secs, comps.measure(budgets + [T])))

        def predicted(comp: dict[str, Any], k: int) -> float:
            return comp["decode_s"][k] + comp["recognizer_s"][k]

        measured_r = [ratio(s[("uniform", 5)], s[("dense", T)]) for s, _ in repeats]
        predicted_r = [ratio(predicted(c, 5), predicted(c, T)) for _, c in repeats]
        secs, comp = min(repeats, key=lambda sc: sc[0][("dense", T)])  # the least disturbed repeat
        n = comp["videos"]
        table = []
        for (label, k), value in secs.items():
            kk = T if label == "dense" else k
            table.append({"method": label, "K": kk, "evaluate s": value, "s/video": value / n,
                          "decode s": comp["decode_s"][kk], "recognizer s": comp["recognizer_s"][kk],
                          "predicted s": predicted(comp, kk), "measured/predicted": ratio(value, predicted(comp, kk))})
        print_table(table, title=f"evaluate --path reload on {n} real clips (T={T}, {args.recognizer}, "
                                 f"workers={args.workers}; repeat with the fastest dense row)")
        measured = statistics.median(measured_r)
        pred = statistics.median(predicted_r)
        flops_ratio = 5 / T
        print_line(f"recognizer {1000 * comp['rec_per_frame_s']:.1f} ms/frame, light extractor "
                   f"{1000 * comp['light_per_frame_s']:.1f} ms/frame (not run by evaluate: features are cached)")
        per = ", ".join(f"{m:.3f}/{q:.3f}" for m, q in zip(measured_r, predicted_r))
        print_line(f"time(K=5)/time(dense) per repeat (measured/predicted): {per}")
        print_line(f"median: measured {measured:.3f}, predicted from components {pred:.3f} (recognizer FLOPs "
                   f"alone: {flops_ratio:.3f}); measured/predicted = {ratio(measured, pred):.2f} (target <= 1.2)")
        if args.json:
            args.json.write_text(json.dumps({"rows": table, "components": {k: (v if not isinstance(v, dict) else
                                 {str(a): b for a, b in v.items()}) for k, v in comp.items()},
                                 "measured_ratio": measured, "predicted_ratio": pred, "measured_per_repeat": measured_r,
                                 "predicted_per_repeat": predicted_r, "machine": machine()},
                                 indent=2))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
