"""Joining or starting a Ray cluster, for the commands that can run on one (`extract`, `ablate`)."""

from __future__ import annotations

import logging
from typing import Any

from nsnet.errors import UserError, first_line


class RayUnavailableError(UserError, RuntimeError):
    """Ray is not installed, or the cluster cannot be started or reached."""


def init_ray(address: str | None = None) -> Any:
    """Returns the ``ray`` module connected to ``address`` (None: ``RAY_ADDRESS`` if set, else a new
    local cluster on this machine's CPUs/GPUs); a cluster this process already joined is kept."""
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data is a separate extra: ray[data])
    except ImportError as err:
        raise RayUnavailableError(f"--engine ray needs Ray Data: pip install 'ray[data]' ({err})") from None
    if not ray.is_initialized():
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise RayUnavailableError(f"cannot start or reach the Ray cluster {address or '(local)'}: "
                                      f"{first_line(err)}") from None
    ray.data.DataContext.get_current().enable_progress_bars = False  # ours count videos / entries, theirs blocks
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # no "execution plan" / progress-bar notes
    return ray
