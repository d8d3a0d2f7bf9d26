"""typer commands ``nsnet fit-sampler`` and ``nsnet ablate`` (registered by :mod:`nsnet.cli`).

Options follow one scheme (:mod:`nsnet.sampler.options`): the few common flags below, and every
option of the chosen variant as ``--option KEY=VALUE`` (repeatable; ``--help-options`` lists the
variant's keys, types, defaults and ranges). A bad key, a value of the wrong type or out of range,
or an option the variant does not have print one ``error:`` line naming the key and exit with code
2, as do errors about the data (a store that cannot be read, a split without videos, missing
recognizer logits, a run / store mismatch, an invalid grid). The flags of earlier versions that
name one option (``--epochs``, ``--width``, ``--lr``, ``--fsm``...; ``--tsq`` / ``--adafocus
KEY=VALUE``) still work, hidden: each sets exactly that option of the chosen variant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nsnet.cli.common import DeviceOption, Quiet, Seed, StorageOptions, choices, use_storage_options
from nsnet.errors import user_errors
from nsnet.options import Device
from nsnet.sampler.options import SamplerConfigError

AblateEngine = choices("AblateEngine", ("local", "ray"))

def _hidden(flag: str) -> object:
    """Returns the typer option of a hidden flag of earlier versions: the spelling of one option."""
    return typer.Option(flag, hidden=True, help=f"Same as --option {flag.lstrip('-').replace('-', '_')}=VALUE.")


def parse_key_values(items: Optional[list[str]], flag: str = "--option") -> dict[str, str]:
    """Returns {KEY: VALUE} (strings, converted later by the option's type) of repeated ``KEY=VALUE``
    items; a malformed item or a key given twice raise SamplerConfigError."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SamplerConfigError(f"{flag} expects KEY=VALUE, got {item!r}")
        if key in out:
            raise SamplerConfigError(f"option {key} is given twice")
        out[key] = raw.strip()
    return out


@user_errors
def fit_sampler_command(
    store: Annotated[str, typer.Argument(help="Feature store (a folder or a URL) with the train split.")],
    out: Annotated[Optional[Path], typer.Option("--out", help="Run directory to write (sampler.pt + config.json).")] = None,
    variant: Annotated[str, typer.Option("--variant", help="Which sampler to train: auto (the best "
                                         "candidate on a train holdout) or a registered variant (nsnet, maxconf-l, "
                                         "scsampler, oracle, tsqnet, adafocus, ...).")] = "nsnet",
    option: Annotated[Optional[list[str]], typer.Option(
        "--option", "-o", help="An option of the variant, KEY=VALUE (repeatable); see --help-options.")] = None,
    help_options: Annotated[bool, typer.Option("--help-options", help="List the variant's options and exit.")] = False,
    seed: Seed = 0,
    device: DeviceOption = Device.auto,
    train_split: Annotated[str, typer.Option("--train-split", help="Split to train on; a percent slice such as "
                                             "train[:80%] holds the rest out for tuning.")] = "train",
    stages: Annotated[Optional[str], typer.Option(
        "--stages", help="Variants trained in stages (adafocus): the stages to run, e.g. 1,2,3 (default) or 2,3 to "
        "resume from the run's stage1.pt.")] = None,
    storage_option: StorageOptions = None,
    quiet: Quiet = False,
    epochs: Annotated[Optional[str], _hidden("--epochs")] = None,
    width: Annotated[Optional[str], _hidden("--width")] = None,
    lr: Annotated[Optional[str], _hidden("--lr")] = None,
    batch_size: Annotated[Optional[str], _hidden("--batch-size")] = None,
    vgm: Annotated[Optional[str], _hidden("--vgm")] = None,
    fsm: Annotated[Optional[str], _hidden("--fsm")] = None,
    guide: Annotated[Optional[str], _hidden("--guide")] = None,
    guide_temperature: Annotated[Optional[str], _hidden("--guide-temperature")] = None,
    guide_quantile: Annotated[Optional[str], _hidden("--guide-quantile")] = None,
    fsm_saliency: Annotated[Optional[str], _hidden("--fsm-saliency")] = None,
    encoder: Annotated[Optional[str], _hidden("--encoder")] = None,
    objects: Annotated[Optional[str], _hidden("--objects")] = None,
    tsq: Annotated[Optional[list[str]], typer.Option("--tsq", hidden=True, help="Same as --option.")] = None,
    adafocus: Annotated[Optional[list[str]], typer.Option("--adafocus", hidden=True, help="Same as --option.")] = None,
) -> None:
    """Train a sampler variant (NSNet, TSQNet, AdaFocus, a baseline...) on a feature store's cached tensors."""
    use_storage_options(storage_option)
    from nsnet.sampler.config import COMMON_FIELDS, sampler_config
    from nsnet.sampler.options import options_help
    from nsnet.sampler.variants import variant_spec

    if help_options:
        spec = variant_spec(variant)
        typer.echo(f"options of variant {variant} ({spec.summary}), each --option KEY=VALUE:")
        for line in [*options_help(variant, spec.options), *(spec.help_notes() if spec.help_notes else [])]:
            typer.echo(f"  {line}")
        return
    if out is None:
        raise SamplerConfigError("missing option --out: the run directory to write")
    flags = dict(epochs=epochs, width=width, lr=lr, batch_size=batch_size, vgm=vgm, fsm=fsm, guide=guide,
                 guide_temperature=guide_temperature, guide_quantile=guide_quantile, fsm_saliency=fsm_saliency,
                 encoder=encoder, objects=objects)
    values = parse_key_values([*(option or []), *(tsq or []), *(adafocus or [])])
    common = sorted(set(values) & set(COMMON_FIELDS))
    if common:
        raise SamplerConfigError(f"{common[0]} is not an option of a variant: use --{common[0].replace('_', '-')}")
    for name, value in flags.items():
        if value is not None:
            if name in values:
                raise SamplerConfigError(f"option {name} is given twice")
            values[name] = value
    cfg = sampler_config(variant, text=True, name=out.name or "run", seed=seed, device=device.value,
                         train_split=train_split, **values)
    from nsnet.sampler.train import fit_sampler

    run_dir = fit_sampler(store, out, cfg, progress=not quiet, stages=stages)
    from nsnet.sampler.auto.report import print_choice, run_summary

    summary = run_summary(run_dir)
    for line in summary["warnings"]:  # shown even with --quiet
        typer.echo(line, err=True)
    if variant == "auto":
        print_choice(summary["auto"])
    typer.echo(f"sampler run written to {run_dir}")


@user_errors
def ablate_command(
    store: Annotated[str, typer.Argument(help="Feature store (a folder or a URL) with train and val splits (and logits).")],
    grid: Annotated[Path, typer.Option("--grid", help="JSON list of runs: name, variant and option KEY: VALUE pairs.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the runs, ablation.csv and ablation.md.")],
    k: Annotated[int, typer.Option("--k", min=1, help="Frames selected per val video.")] = 5,
    device: Annotated[Optional[Device], typer.Option("--device", help="Where to train (default: each grid entry's "
                                                     "own, auto unless set).")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=1024,
        help="Grid entries trained at once in local worker processes (each reads the store once).")] = 1,
    engine: Annotated[AblateEngine, typer.Option("--engine",
        help="local: this machine (--jobs); ray: one Ray task per entry (--out shared by every node).")]
        = AblateEngine("local"),
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, max=1024,
        help="Torch threads per entry (default: all cores when serial, cores / --jobs in parallel). The same "
        "--threads gives the same table whatever --jobs or --engine.")] = None,
    ray_address: Annotated[Optional[str], typer.Option("--ray-address",
        help="Ray cluster to join (default: RAY_ADDRESS, else a new local one). Needs --engine ray.")] = None,
    storage_option: StorageOptions = None,
    quiet: Quiet = False,
) -> None:
    """Train a grid of sampler configs on one store and compare them on its val split."""
    from nsnet.sampler.ablate import ablate

    use_storage_options(storage_option)
    if ray_address and engine.value != "ray":
        raise SamplerConfigError("--ray-address needs --engine ray")
    out_dir = ablate(store, grid, out, k=k, progress=not quiet, device=device.value if device else None, jobs=jobs,
                     engine=engine.value, threads=threads, ray_address=ray_address)
    typer.echo(f"ablation written to {out_dir / 'ablation.md'}")
