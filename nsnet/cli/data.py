"""typer commands of the data stages: ``extract``, ``fit-recognizer``, ``info``, ``store export-h5 /
import-h5`` and ``demo-data`` (registered by :mod:`nsnet.cli`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from nsnet.cli.common import (Decoder, DecoderOption, DeviceOption, JitOption, Quiet, Seed, StorageOptions, StoreArg,
                              apply_runtime_options, choices, use_storage_options)
from nsnet.errors import ConfigError, user_errors
from nsnet.options import Device
from nsnet.extract.annotations.manifest import FORMATS

_err = Console(stderr=True, highlight=False, soft_wrap=True)  # soft_wrap: one error, one line, at any width


AnnotationFormat = choices("AnnotationFormat", FORMATS)
Engine = choices("Engine", ("local", "ray"))


@user_errors
def extract(
    annotations: Annotated[Path, typer.Argument(
        help="Annotation file or folder (ActivityNet JSON, Kinetics CSV, UCF101 lists, a folder per class, "
        "or a path,label[,split] CSV).")],
    out: Annotated[str, typer.Option("--out", "-o", help="Store (Zarr v3): a folder or a URL such as "
        "s3://bucket/prefix/store.zarr. Re-running on it resumes.")],
    format: Annotated[AnnotationFormat, typer.Option("--format", help="Annotation format.")] = AnnotationFormat("auto"),
    root: Annotated[Optional[Path], typer.Option("--root", help="Folder the video paths are relative to.")] = None,
    frames: Annotated[int, typer.Option("--frames", "-T", min=1, max=10000,
        help="T: frames pre-sampled per video.")] = 50,
    extractor: Annotated[str, typer.Option("--extractor", help="Light extractor (timm name).")] = "mobilenetv2_100",
    extractor_size: Annotated[int, typer.Option("--extractor-size", min=32, max=1024,
        help="Light extractor input size (224 or 112).")] = 224,
    weights: Annotated[str, typer.Option("--weights",
        help="Light extractor weights: hub | package | none | PATH.")] = "package",
    recognizer: Annotated[str, typer.Option("--recognizer", help="Recognizer (timm name).")] = "tf_efficientnet_lite0",
    recognizer_size: Annotated[Optional[int], typer.Option("--recognizer-size", min=32, max=1024,
        help="Recognizer crop (default: its native size).")] = None,
    recognizer_weights: Annotated[str, typer.Option("--recognizer-weights",
        help="Recognizer weights: hub | package | none | PATH.")] = "package",
    recognizer_checkpoint: Annotated[Optional[Path], typer.Option("--recognizer-checkpoint",
        help="Dataset checkpoint (with a C-class head) for the recognizer.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=4096, help="Frames per model forward.")] = 16,
    workers: Annotated[int, typer.Option("--workers", min=0, max=64, help="Decoding worker processes.")] = 2,
    device: DeviceOption = Device.auto,
    chunk_videos: Annotated[Optional[int], typer.Option("--chunk-videos", min=1, max=4096,
        help="Videos per store chunk (default 32).")] = None,
    patches: Annotated[Optional[int], typer.Option("--patches", min=1, max=32,
        help="AdaFocus: also cache a G x G grid of candidate patches per frame (light feature maps and the "
        "recognizer backbone's feature of every patch). Off by default.")] = None,
    patch_size: Annotated[Optional[int], typer.Option("--patch-size", min=1, max=1024,
        help="AdaFocus: candidate patch side P in recognizer-input pixels (default 96; needs --patches).")] = None,
    map_stride: Annotated[Optional[int], typer.Option("--map-stride", min=1, max=1024,
        help="AdaFocus: cache the light extractor's map at this stride (e.g. 16: 7 x 7 at 112 px, which "
        "locates things better) instead of its last map (needs --patches).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit non-zero when any video failed.")] = False,
    storage_option: StorageOptions = None,
    decoder: DecoderOption = Decoder("auto"),
    jit: JitOption = True,
    engine: Annotated[Engine, typer.Option("--engine",
        help="local: this machine (torchrun for ranks); ray: a Ray cluster (decode tasks + model actors).")]
        = Engine("local"),
    ray_address: Annotated[Optional[str], typer.Option("--ray-address",
        help="Ray cluster to join (default: RAY_ADDRESS, else a new local one). Needs --engine ray.")] = None,
    model_actors: Annotated[Optional[int], typer.Option("--model-actors", min=1, max=4096,
        help="Ray actors holding the models (default: one per GPU, or 1). Needs --engine ray.")] = None,
    quiet: Quiet = False,
) -> None:
    """Decode T frames per video once; cache light features, recognizer features/logits in a Zarr store."""
    use_storage_options(storage_option)
    from nsnet.extract.config import ExtractConfig
    from nsnet.extract.pipeline import extract as run_extract

    cfg = ExtractConfig(
        annotations=annotations, out=out, format=format.value, root=root, frames=frames, extractor=extractor,
        extractor_size=extractor_size, weights=weights, recognizer=recognizer, recognizer_size=recognizer_size,
        recognizer_weights=recognizer_weights, recognizer_checkpoint=recognizer_checkpoint, batch_size=batch_size,
        workers=workers, device=device.value, strict=strict, chunk_videos=chunk_videos,
        patches=patches, patch_size=patch_size, map_stride=map_stride, decoder=decoder.value,
        command="nsnet " + " ".join(sys.argv[1:]), quiet=quiet,
    )
    apply_runtime_options("store", jit)
    if engine.value == "ray":
        from nsnet.extract.ray_engine import extract_with_ray

        store = extract_with_ray(cfg, ray_address, model_actors)
    elif ray_address or model_actors:
        raise ConfigError("--ray-address and --model-actors need --engine ray")
    else:
        store = run_extract(cfg)
    failed = store.status_counts()["failed"]
    if strict and failed:
        _err.print(f"[red]error:[/red] {failed} videos failed (--strict)")
        raise typer.Exit(code=1)


@user_errors
def fit_recognizer(
    store: StoreArg,
    split: Annotated[str, typer.Option("--split", help="Split whose videos train the head.")] = "train",
    segments: Annotated[Optional[Path], typer.Option("--segments",
        help="Temporal annotations (ActivityNet JSON or spans.json): train only on frames inside labelled "
        "segments.")] = None,
    seed: Seed = 0,
    storage_option: StorageOptions = None,
    quiet: Quiet = False,
) -> None:
    """Fit a linear (TSN-style, frame-level) head on cached recognizer features; write per-frame logits."""
    use_storage_options(storage_option)
    from nsnet.extract.fit_recognizer import FitRecognizerConfig
    from nsnet.extract.fit_recognizer import fit_recognizer as run

    run(store, FitRecognizerConfig(split=split, segments=segments, seed=seed, quiet=quiet))


@user_errors
def info(
    store: StoreArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    storage_option: StorageOptions = None,
) -> None:
    """Print a summary of a feature store, or of a sampler run directory (with an automatic choice's table)."""
    use_storage_options(storage_option)
    from nsnet.store import FeatureStore
    from nsnet.store.info import store_summary, summary_table

    if _is_run_dir(store):
        _run_info(Path(store), as_json)
        return

    summary = store_summary(FeatureStore.open(store))
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        Console().print(summary_table(summary))


def _is_run_dir(target: str) -> bool:
    """Returns True when ``target`` is a local sampler run directory (config.json + sampler.pt)."""
    from nsnet.sampler.run import CHECKPOINT, CONFIG

    path = Path(target)
    return "://" not in target and (path / CONFIG).is_file() and (path / CHECKPOINT).is_file()


def _run_info(run_dir: Path, as_json: bool) -> None:
    """Prints a sampler run's summary; an auto run adds its candidates' table and the verdict."""
    from nsnet.sampler.auto.report import print_choice, run_summary

    summary = run_summary(run_dir)
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
        return
    out = Console(highlight=False, soft_wrap=True)
    for key in ("run", "variant", "seed", "store", "train_split", "train_videos", "train_seconds"):
        out.print(f"{key:>13}: {summary[key]}", markup=False)
    for line in summary["warnings"]:
        out.print(line, markup=False)
    record = summary["auto"]
    if record:
        print_choice(record)


@user_errors
def export_h5(
    store: StoreArg,
    file: Annotated[Path, typer.Argument(help="Output .h5 file.")],
    storage_option: StorageOptions = None,
) -> None:
    """Export every array of a store (and its attributes) to one HDF5 file."""
    use_storage_options(storage_option)
    from nsnet.store import FeatureStore
    from nsnet.store.h5 import export_h5 as run

    print(run(FeatureStore.open(store), file))


@user_errors
def import_h5(
    file: Annotated[Path, typer.Argument(help="HDF5 feature dump (needs light/features [N,T,D]).")],
    store: Annotated[str, typer.Argument(help="New store: a folder or a URL.")],
    chunk_videos: Annotated[Optional[int], typer.Option("--chunk-videos", min=1)] = None,
    storage_option: StorageOptions = None,
) -> None:
    """Create a store from an HDF5 feature dump (e.g. one made by export-h5)."""
    use_storage_options(storage_option)
    from nsnet.store.h5 import import_h5 as run

    print(run(file, store, chunk_videos).path)


@user_errors
def demo_data(
    out: Annotated[Path, typer.Argument(help="Folder for the generated videos, annotations.csv and spans.json.")],
    num_classes: Annotated[int, typer.Option("--classes", min=2, max=8, help="Classes (one real photo each).")] = 5,
    videos_per_class: Annotated[int, typer.Option("--videos-per-class", min=2, max=1000)] = 8,
    seconds: Annotated[float, typer.Option("--seconds", min=1.0, max=600.0)] = 8.0,
    seed: Seed = 0,
) -> None:
    """Generate the built-in untrimmed demo dataset (photos shown as short events in background footage)."""
    from nsnet.demo import DemoConfig, make_demo_dataset

    print(make_demo_dataset(DemoConfig(out_dir=out, num_classes=num_classes, videos_per_class=videos_per_class,
                                       seconds=seconds, seed=seed)))


