"""Sharding extraction over torchrun ranks: each rank owns whole store chunks, round-robin."""

from __future__ import annotations

import os
from typing import Iterable

import torch


class TorchrunRanks:
    """The torchrun environment: rank, world size, and a barrier (no-op when not distributed)."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.active = self.world > 1
        if self.active and not torch.distributed.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            torch.distributed.init_process_group(backend)
        if self.active:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // self.world))

    def barrier(self) -> None:
        """Waits for every rank (returns at once when not distributed)."""
        if self.active:
            torch.distributed.barrier()

    def close(self) -> None:
        """Tears the process group down; returns nothing."""
        if self.active and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def chunks_for_rank(chunk_ids: Iterable[int], rank: int, world_size: int) -> list[int]:
    """Returns the chunk ids that ``rank`` owns: round-robin over whole chunks."""
    return [c for c in chunk_ids if c % world_size == rank]
