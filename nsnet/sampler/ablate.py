"""Ablation grids: train several sampler configs on one store and compare them on its val split.

The grid file is a JSON list of objects, each one run: a unique ``"name"`` (the run's
sub-directory), its ``"variant"`` (default nsnet), optionally the common fields (``seed``,
``device``, ``train_split``, ``val_split``) and any option of that variant as ``"KEY": VALUE`` --
the same keys as ``nsnet fit-sampler --option KEY=VALUE``, checked the same way, e.g.::

    [{"name": "ns", "variant": "nsnet", "epochs": 30},
     {"name": "fsm-video", "variant": "nsnet", "fsm": "video", "branches": "fsm"},
     {"name": "maxconf-l", "variant": "maxconf-l"},
     {"name": "tsq-ca", "variant": "tsqnet", "attention": "ca", "classifier": "ca"}]

Each run is trained on the train split and scored on the val split by its variant's ``ablate``
hook (:mod:`nsnet.sampler.variants`): K frames per video scored with the store's cached recognizer
logits (mean of the K per-frame softmax, sigmoid if multi-label) -> mAP and top-1, plus what the
variant adds (NSNet: each branch alone, ``mAP_fsm`` / ``mAP_vgm``; TSQNet: ``mAP_vqm`` /
``mAP_tqm``; AdaFocus: all T frames with one chosen patch each and ``mAP_random_patch``). The
``options`` column lists the options that differ from the variant's defaults. An untrained
``uniform`` row is the reference. Results go to ``ablation.csv`` and ``ablation.md``.

Resumable: an entry whose run directory already holds a run of the same config (trained on the
same store) is loaded, not retrained. An entry whose training diverges (non-finite loss) becomes a
row with its ``error`` and no scores; the other entries still run.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import torch

from nsnet.progress import progress_bar
from nsnet.sampler.ablate_entry import grid_row, video_scores
from nsnet.sampler.ablate_parallel import default_threads, grid_data, process_rows, ray_rows
from nsnet.sampler.config import SamplerConfig, SamplerConfigError, sampler_config
from nsnet.sampler.registry import create_sampler

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
COLUMNS = ("name", "variant", "options", "train_s", "final_loss", "k", "mAP", "top1")  # then each variant's extras, error


def load_grid(grid_file: str | Path) -> list[SamplerConfig]:
    """Returns the resolved configs of a grid file (raises SamplerConfigError on bad entries)."""
    try:
        entries = json.loads(Path(grid_file).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SamplerConfigError(f"{grid_file}: cannot read the grid ({err})") from err
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise SamplerConfigError(f"{grid_file}: the grid must be a non-empty JSON list of objects")
    configs, seen = [], set()
    for i, entry in enumerate(entries):
        name = entry.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise SamplerConfigError(f"{grid_file}: entry {i} needs a \"name\" made of letters, digits, . _ + -")
        if name in seen:
            raise SamplerConfigError(f"{grid_file}: duplicate run name {name!r}")
        seen.add(name)
        values = dict(entry)
        nested = [key for key, value in values.items() if isinstance(value, dict)]
        if nested:
            raise SamplerConfigError(f"{grid_file}: entry {name!r}: {nested[0]!r} holds a dict; give each option "
                                     "as a key of the entry (e.g. \"attention\": \"ca\")")
        try:
            configs.append(sampler_config(str(values.pop("variant", "nsnet")), **values))
        except SamplerConfigError as err:
            raise SamplerConfigError(f"{grid_file}: entry {name!r}: {err}") from None
    return configs


def _fmt(value: Any) -> str:
    """Returns a CSV cell: floats with 4 decimals, None as an empty cell."""
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)


def ablate(store_path: str | Path, grid_file: str | Path, out_dir: str | Path, *, k: int = 5,
           progress: bool = True, device: str | None = None, jobs: int = 1, engine: str = "local",
           threads: int | None = None, ray_address: str | None = None) -> Path:
    """Trains every grid entry on the store's train split, scores it on the val split, writes
    ``out_dir/ablation.csv`` and ``out_dir/ablation.md``; returns ``out_dir``. ``device`` (when
    given) replaces every entry's own. ``jobs`` > 1 trains entries in that many local processes,
    ``engine="ray"`` as Ray tasks (:mod:`~nsnet.sampler.ablate_parallel`); ``threads`` is the torch
    threads of each entry (default: torch's current setting when serial, this machine's cores / ``jobs``
    in parallel; the same value gives the same table)."""
    from nsnet.store import FeatureStore

    configs = load_grid(grid_file)
    if device is not None:
        configs = [dataclasses.replace(c, device=device) for c in configs]
    out_dir = Path(out_dir)
    if engine not in ("local", "ray") or jobs < 1:
        raise SamplerConfigError(f"ablate: engine must be local or ray and jobs >= 1, got {engine!r}, {jobs}")
    store = FeatureStore.open(store_path) if isinstance(store_path, (str, Path)) else store_path
    splits = {c.train_split for c in configs}, {c.val_split for c in configs}
    if len(splits[0]) != 1 or len(splits[1]) != 1:
        raise SamplerConfigError("all grid entries must use the same train_split and val_split")
    data = grid_data(store, configs)
    train, val = data.arrays(store)
    ref = video_scores(create_sampler("uniform"), val, val, k)
    rows: list[dict[str, Any]] = [{"name": "uniform (untrained)", "variant": "uniform", "k": k, **ref}]
    if engine == "local" and jobs == 1:
        previous = torch.get_num_threads()
        torch.set_num_threads(threads or previous)
        try:
            rows += [grid_row(cfg, train, val, out_dir, store, k, progress) for cfg in configs]
        finally:
            torch.set_num_threads(previous)
    else:
        with progress_bar(disable=not progress) as bar:
            task = bar.add_task(f"ablate ({engine})", total=len(configs))
            threads = threads or default_threads(jobs if engine == "local" else 1)
            rows += (ray_rows(configs, data, (train, val), out_dir, k, threads, ray_address,
                              lambda: bar.advance(task))
                     if engine == "ray" else
                     process_rows(configs, data, out_dir, k, jobs, threads, lambda: bar.advance(task)))
    _write_tables(rows, out_dir, store, k)
    return out_dir


def _write_tables(rows: list[dict[str, Any]], out_dir: Path, store: Any, k: int) -> None:
    """Writes ``ablation.csv`` and ``ablation.md`` from the result rows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    extra = [c for row in rows for c in row if c not in COLUMNS and c != "error"]
    columns = (*COLUMNS, *dict.fromkeys(extra), "error")
    with open(out_dir / "ablation.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _fmt(row.get(c)) for c in columns})
    lines = [
        "# Sampler ablation",
        "",
        f"Store `{getattr(store, 'path', store)}` (fingerprint `{str(store.fingerprint)[:12]}`), "
        f"K = {k} frames per val video, scored with the cached recognizer logits.",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows:
        cells = []
        for c in columns:
            v = row.get(c)
            cells.append(f"{100 * v:.2f}" if c.startswith(("mAP", "top1")) and isinstance(v, float) else _fmt(v))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "mAP / top1 in %; train_s = training seconds; final_loss = mean loss of the last epoch."]
    (out_dir / "ablation.md").write_text("\n".join(lines) + "\n")
