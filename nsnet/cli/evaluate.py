"""typer commands ``nsnet evaluate`` and ``nsnet predict`` (registered by :mod:`nsnet.cli`).

Bad option values are typer errors (choices, ranges, budget syntax). Problems with the data -- a
store or run that cannot be read, a run trained on another store, a budget above T, an unreadable
video -- print one line to stderr and exit with code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from nsnet.cli.common import (DeviceOption, JitOption, Quiet, Seed, StorageOptions, StoreDecoder, StoreDecoderOption,
                              apply_runtime_options, choices, use_storage_options)
from nsnet.errors import user_errors
from nsnet.evaluate.config import PATHS
from nsnet.options import Device
from nsnet.sampler.fusion import DEFAULT_ALPHA, DEFAULT_FUSION, FUSIONS

if TYPE_CHECKING:
    from nsnet.evaluate.config import EvaluateConfig

Fusion = choices("Fusion", FUSIONS)
ScorePath = choices("ScorePath", PATHS)


def _budgets(values: Optional[list[str]]) -> list[int]:
    from nsnet.evaluate.config import EvaluateError, parse_budgets

    if not values:
        return []
    try:
        return parse_budgets(values)
    except EvaluateError as err:
        raise typer.BadParameter(str(err), param_hint="--budget") from None


def _methods(values: Optional[list[str]]) -> list[str]:
    from nsnet.evaluate.config import EvaluateError, parse_method

    try:
        return [parse_method(v) for part in (values or []) for v in part.split(",") if v.strip()]
    except EvaluateError as err:
        raise typer.BadParameter(str(err), param_hint="--method") from None


@user_errors
def evaluate_command(
    store: Annotated[str, typer.Argument(help="Feature store (a folder or a URL) with the split to evaluate.")],
    run: Annotated[Optional[list[Path]], typer.Option(
        "--run", help="A trained run directory (fit-sampler --out), repeatable: each is used by the methods of the "
        "variant it records (nsnet, maxconf-l, tsqnet, adafocus, ...).")] = None,
    budget: Annotated[Optional[list[str]], typer.Option(
        "--budget", "-k", help="Frames K per video: repeat it or give a list (1,5,10) or a range (1..10).")] = None,
    method: Annotated[Optional[list[str]], typer.Option(
        "--method", "-m", help="A registered sampler (nsnet, fsm, vgm, uniform, topk = maxconf, oracle, ...; an "
        "unknown name lists them all) or fused:<fusion>; repeatable. Default: every registered one that applies.")] = None,
    fusion: Annotated[Fusion, typer.Option("--fusion", help="How `nsnet` fuses FSM and VGM (supp. A.3).")] = Fusion(DEFAULT_FUSION),
    alpha: Annotated[float, typer.Option("--alpha", min=0.0, max=1.0, help="Fusion weight (sum, union).")] = DEFAULT_ALPHA,
    path: Annotated[ScorePath, typer.Option(
        "--path", help="reload: decode the chosen frames and run the recognizer; cached: the store's logits.")] = ScorePath("reload"),
    split: Annotated[str, typer.Option("--split", help="Split to evaluate.")] = "val",
    sweep: Annotated[Optional[str], typer.Option(
        "--sweep", help="Budgets for the mAP-vs-GFLOPs curve (tradeoff.png), e.g. 1..10.")] = None,
    plots: Annotated[bool, typer.Option("--plots", help="Also draw per-class saliency curves and chosen-frame strips.")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output directory (default RUN/eval).")] = None,
    run_maxconf_l: Annotated[Optional[Path], typer.Option("--run-maxconf-l", hidden=True, help="Same as --run.")] = None,
    run_scsampler: Annotated[Optional[Path], typer.Option("--run-scsampler", hidden=True, help="Same as --run.")] = None,
    run_tsqnet: Annotated[Optional[Path], typer.Option("--run-tsqnet", hidden=True, help="Same as --run.")] = None,
    run_adafocus: Annotated[Optional[Path], typer.Option("--run-adafocus", hidden=True, help="Same as --run.")] = None,
    seed: Seed = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=4096, help="Frames per recognizer forward.")] = 64,
    workers: Annotated[int, typer.Option("--workers", min=0, max=64, help="Decoding worker processes.")] = 2,
    device: DeviceOption = Device.auto,
    decoder: StoreDecoderOption = StoreDecoder("store"),
    jit: JitOption = True,
    storage_option: StorageOptions = None,
    quiet: Quiet = False,
) -> None:
    """Evaluate samplers at budget K: mAP, top-1, GFLOPs per video and time (JSON, CSV, Markdown)."""
    use_storage_options(storage_option)
    from nsnet.evaluate.config import EvaluateConfig

    budgets = _budgets(budget)
    sweep_ks = _budgets([sweep]) if sweep else []
    if not budgets and not sweep_ks:
        raise typer.BadParameter("give at least one budget (--budget K) or a sweep (--sweep 1..10)", param_hint="--budget")
    cfg = EvaluateConfig(
        store=store, runs=[*(run or []), *(r for r in (run_maxconf_l, run_scsampler, run_tsqnet, run_adafocus) if r)],
        budgets=budgets, methods=_methods(method), fusion=fusion.value, alpha=alpha, path=path.value, split=split,
        sweep=sweep_ks, plots=plots, out=out, seed=seed, batch_size=batch_size, workers=workers, device=device.value,
        quiet=quiet,
    )
    apply_runtime_options(decoder.value, jit)
    run_evaluate(cfg)


def run_evaluate(cfg: EvaluateConfig) -> dict[str, Path]:
    """Runs the evaluation, writes results (and figures) and prints the table; returns the files."""
    from rich.console import Console

    from nsnet.evaluate.figures import draw_figures
    from nsnet.evaluate.report import markdown_table, write_reports
    from nsnet.evaluate.run import evaluate
    from nsnet.progress import console

    log = console(cfg.quiet)
    result = evaluate(cfg, log, on_row=lambda r: log.print(
        f"{r.label:>22} K={r.K:<4} mAP {100 * r.mAP:6.2f}  top-1 {100 * r.top1:6.2f}  "
        f"{r.gflops:8.3f} GFLOPs  {r.seconds:6.2f}s"))
    out_dir = cfg.out_dir()
    figures, fig_notes = draw_figures(result, out_dir, sweep=bool(cfg.sweep), plots=cfg.plots)
    result.notes.extend(fig_notes)
    files = write_reports(result, out_dir)
    files.update({p.stem: p for p in figures})
    stdout = Console(highlight=False, soft_wrap=True)
    stdout.print(f"\n{result.meta['split']}: {result.meta['videos']} videos, T={result.meta['T']}, "
                 f"path={cfg.path}\n", markup=False)
    stdout.print(markdown_table(result.rows), markup=False)
    for note in result.notes:
        stdout.print(f"note: {note}", markup=False)
    stdout.print(f"results: {files['json']}, {files['csv']}, {files['md']}", markup=False)
    for fig in figures:
        stdout.print(f"figure: {fig}", markup=False)
    return files


@user_errors
def predict_command(
    video: Annotated[Path, typer.Argument(help="Video file.")],
    run: Annotated[list[Path], typer.Option(
        "--run", help="Sampler run directory (fit-sampler --out), repeatable: the first one's method is the default; "
        "e.g. an NSNet and an AdaFocus run give nsnet+adafocus.")],
    budget: Annotated[int, typer.Option("--budget", "-k", min=1, max=100_000, help="Frames K the recognizer sees.")] = 5,
    store: Annotated[Optional[str], typer.Option(
        "--store", help="Feature store (folder or URL) the run was trained on (default: the one the run records).")]
        = None,
    method: Annotated[Optional[str], typer.Option(
        "--method", help="A registered method the runs allow, or uniform / dense / random (default: the first "
        "run's own).")] = None,
    run_adafocus: Annotated[Optional[Path], typer.Option("--run-adafocus", hidden=True, help="Same as --run.")] = None,
    fusion: Annotated[Fusion, typer.Option("--fusion", help="NSNet fusion strategy.")] = Fusion(DEFAULT_FUSION),
    alpha: Annotated[float, typer.Option("--alpha", min=0.0, max=1.0, help="Fusion weight (sum, union).")] = DEFAULT_ALPHA,
    top: Annotated[int, typer.Option("--top", min=1, max=1000, help="Classes to print.")] = 5,
    device: DeviceOption = Device.auto,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    decoder: StoreDecoderOption = StoreDecoder("store"),
    jit: Annotated[bool, typer.Option("--jit/--no-jit", help="Frozen TorchScript inference on CPU; off by default "
                                      "here: freezing costs about 1 s per model, more than one video's forward saves.")] = False,
    storage_option: StorageOptions = None,
) -> None:
    """Recognise one video: light extractor on T frames, sampler picks K, recognizer on those K."""
    from nsnet.evaluate.predict import predict_video

    use_storage_options(storage_option)
    apply_runtime_options(decoder.value, jit)
    runs = [*run, *([run_adafocus] if run_adafocus else [])]
    pred = predict_video(video, runs[0], budget, store=store, device=device.value, fusion=fusion.value, alpha=alpha,
                         method=method, top=top, extra_runs=runs[1:])
    from nsnet.extract.video import backend_for, current_decoder

    decoded_by = {"decoder": current_decoder(), "backend": backend_for(video)}  # the store's, unless --decoder
    if as_json:
        typer.echo(json.dumps({**pred.to_dict(), **decoded_by}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False, soft_wrap=True)
    out.print(f"{pred.video} ({pred.method}, K={pred.K} of T={pred.T})", markup=False)
    table = Table()
    table.add_column("class")
    table.add_column("score", justify="right")
    for entry in pred.top:
        table.add_row(str(entry["class"]), f"{entry['score']:.4f}")
    out.print(table)
    if any(f.patch is not None for f in pred.frames):
        out.print("frames and patch boxes (x0, y0, x1, y1 in video pixels):", markup=False)
        for f in pred.frames:
            where = "skipped (AdaFocus+)" if f.box is None else "box " + ", ".join(f"{v:.0f}" for v in f.box)
            out.print(f"  {f.time_s:.2f}s (#{f.frame}) patch {f.patch}: {where}", markup=False)
    else:
        times = ", ".join(f"{f.time_s:.2f}s (#{f.frame})" for f in pred.frames)
        out.print(f"frames: {times}", markup=False)
    out.print(f"time: {pred.seconds['total']:.3f}s; decoder {decoded_by['decoder']} ({decoded_by['backend']})", markup=False)
