"""Grid entries of `nsnet ablate` in parallel: local worker processes (``--jobs N``) or Ray tasks
(``--engine ray``). Each worker reads the store's tensors once and trains whole entries; the rows come
back in grid order, so the table is the serial run's.

Torch's CPU kernels split their sums by thread, so a run trained with 1 thread differs from one with
2 threads in the 6th-7th digit of its losses: every entry trains with ``threads`` torch threads, on
every engine, and the same ``--threads`` gives the same table whatever ``--jobs``.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from nsnet.cluster import init_ray
from nsnet.sampler.ablate_entry import grid_row
from nsnet.sampler.config import SamplerConfig
from nsnet.sampler.data import SamplerArrays, load_sampler_arrays
from nsnet.store import FeatureStore, location_text, set_storage_options
from nsnet.store.location import current_storage_options


@dataclass(frozen=True)
class GridData:
    """What a worker needs to load the grid's arrays itself: the store and the splits and arrays."""

    store: str  # path or URL
    storage_options: dict
    train_split: str
    val_split: str
    rec_features: bool
    rec_logits: bool
    patches: bool

    def arrays(self, store: FeatureStore) -> tuple[SamplerArrays, SamplerArrays]:
        """Returns the (train, val) arrays of the grid, read from ``store`` once."""
        train = load_sampler_arrays(store, self.train_split, rec_features=self.rec_features,
                                    rec_logits=self.rec_logits, patches=self.patches)
        val = load_sampler_arrays(store, self.val_split, rec_features=self.rec_features, patches=self.patches)
        return train, val

    def load(self) -> tuple[FeatureStore, SamplerArrays, SamplerArrays]:
        """Returns (store, train arrays, val arrays) in a worker process (storage options set first)."""
        set_storage_options(self.storage_options)
        store = FeatureStore.open(self.store)
        return (store, *self.arrays(store))


def default_threads(jobs: int) -> int:
    """Returns the torch threads per entry that share this machine's cores among ``jobs`` workers."""
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


def grid_data(store: FeatureStore, configs: list[SamplerConfig]) -> GridData:
    """Returns the loading recipe of a grid's arrays (the union of what its entries need)."""
    return GridData(location_text(store), current_storage_options(), configs[0].train_split, configs[0].val_split,
                    any(c.needs_rec_features() for c in configs), any(c.needs_rec_logits() for c in configs),
                    any(c.needs_patches() for c in configs))


# ---------------------------------------------------------------- local worker processes
_WORKER: dict[str, Any] = {}


def _init_worker(data: GridData, threads: int) -> None:
    torch.set_num_threads(threads)
    _WORKER["store"], _WORKER["train"], _WORKER["val"] = data.load()


def _worker_row(cfg: SamplerConfig, out_dir: Path, k: int) -> dict[str, Any]:
    return grid_row(cfg, _WORKER["train"], _WORKER["val"], out_dir, _WORKER["store"], k, progress=False)


def process_rows(configs: list[SamplerConfig], data: GridData, out_dir: Path, k: int, jobs: int, threads: int,
                 done: Callable[[], None]) -> list[dict[str, Any]]:
    """Returns the rows of ``configs`` (grid order) trained by ``jobs`` worker processes; calls ``done``
    after each entry."""
    context = multiprocessing.get_context("spawn")  # no forked torch / OpenMP state
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker,
                             initargs=(data, threads)) as pool:
        futures = {pool.submit(_worker_row, cfg, out_dir, k): i for i, cfg in enumerate(configs)}
        rows: list[dict[str, Any] | None] = [None] * len(configs)
        for future in as_completed(futures):
            rows[futures[future]] = future.result()
            done()
    return [r for r in rows if r is not None]


# ---------------------------------------------------------------- Ray tasks
def _ray_row(cfg: SamplerConfig, train: SamplerArrays, val: SamplerArrays, data: GridData, out_dir: str, k: int,
             threads: int) -> dict[str, Any]:
    torch.set_num_threads(threads)
    set_storage_options(data.storage_options)
    return grid_row(cfg, train, val, Path(out_dir), FeatureStore.open(data.store), k, progress=False)


def ray_rows(configs: list[SamplerConfig], data: GridData, arrays: tuple[SamplerArrays, SamplerArrays], out_dir: Path,
             k: int, threads: int, address: str | None, done: Callable[[], None]) -> list[dict[str, Any]]:
    """Returns the rows of ``configs`` (grid order), one Ray task per entry; the driver's (train, val)
    ``arrays`` go to the cluster's object store once. ``out_dir`` must be reachable from every node."""
    ray = init_ray(address)
    train_ref, val_ref = ray.put(arrays[0]), ray.put(arrays[1])
    task = ray.remote(num_cpus=threads)(_ray_row)
    refs = [task.remote(cfg, train_ref, val_ref, data, str(out_dir), k, threads) for cfg in configs]
    pending = list(refs)
    while pending:
        finished, pending = ray.wait(pending, num_returns=1)
        done()
    return ray.get(refs)
