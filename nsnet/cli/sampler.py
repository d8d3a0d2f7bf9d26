"""typer commands ``nsnet fit-sampler`` and ``nsnet ablate`` (registered by :mod:`nsnet.cli`).

Bad option values are rejected by typer (enum choices, ranges). Errors about the data -- a store
that cannot be read, a split without videos, missing recognizer logits, a run / store mismatch,
an invalid grid -- print one line to stderr and exit with code 2.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from nsnet.cli.common import DeviceOption, Quiet, Seed
from nsnet.errors import user_errors
from nsnet.options import Device
from nsnet.sampler.config import (
    EncoderKind,
    FSMMode,
    FSMSaliency,
    GuideMode,
    SamplerConfig,
    Variant,
    VGMMode,
)


class ObjectSource(str, Enum):
    """Where TSQNet's ImageNet object scores come from (cached features of the store)."""

    light = "light"
    recognizer = "recognizer"


def _key_values(values: Optional[list[str]], hint: str) -> dict[str, Any]:
    """Returns {KEY: VALUE} of repeated ``KEY=VALUE`` options (values parsed as JSON when they are
    JSON: numbers, true/false; else kept as strings); a malformed item is a typer error."""
    opts: dict[str, Any] = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=hint)
        try:
            opts[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            opts[key.strip()] = raw
    return opts


def _tsq_options(objects: Optional[ObjectSource], values: Optional[list[str]]) -> dict[str, Any]:
    """Returns the TSQNet switches of ``--objects`` and ``--tsq KEY=VALUE``."""
    opts = _key_values(values, "--tsq")
    if objects is not None:
        opts["objects"] = objects.value
    return opts


@user_errors
def fit_sampler_command(
    store: Annotated[Path, typer.Argument(help="Feature store (zarr directory) with the train split.")],
    out: Annotated[Path, typer.Option("--out", help="Run directory to write (sampler.pt + config.json).")],
    variant: Annotated[Variant, typer.Option(help="Which sampler to train.")] = Variant.nsnet,
    vgm: Annotated[Optional[VGMMode], typer.Option(help="VGM objective (default: ns).")] = None,
    fsm: Annotated[Optional[FSMMode], typer.Option(help="FSM objective (default: ns; video for baselines).")] = None,
    guide: Annotated[GuideMode, typer.Option(help="Guiding saliency score: prototype (Eq. 1), calibrated "
                                             "(prototype, calibrated against other classes' frames) or response.")] = GuideMode.prototype,
    guide_temperature: Annotated[float, typer.Option("--guide-temperature", min=1e-6,
                                                     help="Temperature of the prototype softmax (Eq. 1).")] = 1.0,
    guide_quantile: Annotated[float, typer.Option("--guide-quantile", min=1e-6, max=1.0,
                                                  help="Calibrated guide: share rho of other classes' frames "
                                                  "allowed closer to the prototype.")] = 0.02,
    fsm_saliency: Annotated[Optional[FSMSaliency], typer.Option(
        "--fsm-saliency", help="FSM saliency rule: max over classes (paper), predicted-class, or salient = "
        "1 - p(non-salient) for data whose background is itself a class.")] = None,
    encoder: Annotated[Optional[EncoderKind], typer.Option(help="FEM encoder (default: transformer).")] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs (paper: 120).")] = 120,
    seed: Seed = 0,
    width: Annotated[int, typer.Option(min=1, help="FEM width d.")] = 512,
    lr: Annotated[float, typer.Option(min=1e-8, help="Initial learning rate.")] = 1e-2,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Videos per step.")] = 64,
    device: DeviceOption = Device.auto,
    quiet: Quiet = False,
    objects: Annotated[Optional[ObjectSource], typer.Option(
        "--objects", help="tsqnet: ImageNet object scores from the cached light features (default) or the "
        "recognizer features, through that model's ImageNet classifier.")] = None,
    tsq: Annotated[Optional[list[str]], typer.Option(
        "--tsq", help="tsqnet switch KEY=VALUE, repeatable: modality both|visual|textual, attention/classifier "
        "cs|ca, alpha, beta, object_topk, visual_init prototype|random, text_init names|random, "
        "self_attention, layers, heads, aggregate_topk, lambda_v.")] = None,
    train_split: Annotated[str, typer.Option("--train-split", help="Split to train on; a percent slice such as "
                                             "train[:80%] holds the rest out for tuning.")] = "train",
    adafocus: Annotated[Optional[list[str]], typer.Option(
        "--adafocus", help="adafocus option KEY=VALUE, repeatable: hidden (256, or --width when given), "
        "policy_hidden, policy_channels, dropout, stage1_epochs/stage2_epochs/stage3_epochs (10/15/5, or "
        "--epochs when given), lr (1e-3, or --lr when given), stage3_lr, policy_lr, gamma (0.7), clip, "
        "ppo_epochs, value_coef, entropy_coef, skip (AdaFocus+), lam, keep_ratio, drop_local.")] = None,
    stages: Annotated[Optional[str], typer.Option(
        "--stages", help="adafocus: training stages to run, e.g. 1,2,3 (default) or 2,3 to resume from the "
        "run's stage1.pt (redo stage 2 and 3).")] = None,
) -> None:
    """Train an NSNet, TSQNet, AdaFocus (or baseline) sampler on a feature store's cached tensors."""
    from nsnet.sampler.adafocus.train import parse_stages
    from nsnet.sampler.train import fit_sampler

    cfg = SamplerConfig(
        name=out.name or "run", variant=variant.value, vgm=vgm.value if vgm else None, fsm=fsm.value if fsm else None,
        guide=guide.value, guide_temperature=guide_temperature, guide_quantile=guide_quantile, fsm_saliency=fsm_saliency.value if fsm_saliency else None,
        encoder=encoder.value if encoder else None, epochs=epochs, seed=seed, width=width,
        lr=lr, batch_size=batch_size, device=device.value, train_split=train_split,
        tsqnet=_tsq_options(objects, tsq), adafocus=_key_values(adafocus, "--adafocus"),
    )
    run_dir = fit_sampler(store, out, cfg, progress=not quiet, stages=None if stages is None else parse_stages(stages))
    typer.echo(f"sampler run written to {run_dir}")


@user_errors
def ablate_command(
    store: Annotated[Path, typer.Argument(help="Feature store with train and val splits (and logits).")],
    grid: Annotated[Path, typer.Option("--grid", help="JSON list of SamplerConfig overrides, each with a name.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the runs, ablation.csv and ablation.md.")],
    k: Annotated[int, typer.Option("--k", min=1, help="Frames selected per val video.")] = 5,
    device: Annotated[Optional[Device], typer.Option("--device", help="Where to train (default: each grid entry's "
                                                     "own, auto unless set).")] = None,
    quiet: Quiet = False,
) -> None:
    """Train a grid of sampler configs on one store and compare them on its val split."""
    from nsnet.sampler.ablate import ablate

    out_dir = ablate(store, grid, out, k=k, progress=not quiet, device=device.value if device else None)
    typer.echo(f"ablation written to {out_dir / 'ablation.md'}")
